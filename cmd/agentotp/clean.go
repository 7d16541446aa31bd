package main

import (
	"io"
	"unicode/utf8"
)

// cleanWriter passes text through with the characters that drive a
// terminal removed: C0 controls but tab and newline (a carriage return
// only before a newline), DEL, C1 controls, escape sequences whole (CSI,
// OSC, DCS and the other strings, and two-character escapes), and the
// bidirectional overrides and isolates that reorder what is shown. Bytes
// that are not UTF-8 become U+FFFD. It keeps state across writes, so a
// sequence split between two writes is still removed.
type cleanWriter struct {
	w       io.Writer
	state   cleanState
	pending []byte // an incomplete UTF-8 sequence at the end of a write
	cr      bool   // a carriage return waiting for its newline
	out     []byte
}

type cleanState int

const (
	stText      cleanState = iota
	stEsc                  // after ESC
	stEscInter             // after ESC and intermediate bytes
	stCSI                  // in a control sequence
	stString               // in an OSC, DCS, SOS, PM or APC string
	stStringEsc            // ESC inside a string: ST if '\' follows
)

func newCleanWriter(w io.Writer) *cleanWriter { return &cleanWriter{w: w} }

// cleanString returns s as a cleanWriter would write it.
func cleanString(s string) string {
	var c cleanWriter
	return string(c.clean(nil, []byte(s)))
}

// Write cleans p and writes the result; it reports len(p) on success.
func (c *cleanWriter) Write(p []byte) (int, error) {
	c.out = c.clean(c.out[:0], p)
	if len(c.out) == 0 {
		return len(p), nil
	}
	if _, err := c.w.Write(c.out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *cleanWriter) clean(out, p []byte) []byte {
	if len(c.pending) > 0 {
		p = append(c.pending, p...)
		c.pending = nil
	}
	for len(p) > 0 {
		if c.state == stText && !c.cr {
			// Fast path: a run of printable ASCII passes as it is.
			i := 0
			for i < len(p) && p[i] >= 0x20 && p[i] < 0x7f {
				i++
			}
			out = append(out, p[:i]...)
			if p = p[i:]; len(p) == 0 {
				break
			}
		}
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError && n <= 1 {
			if !utf8.FullRune(p) {
				c.pending = append([]byte(nil), p...)
				return out
			}
			r = utf8.RuneError // an invalid byte
		}
		seg := p[:n]
		p = p[n:]
		out = c.rune(out, r, seg)
	}
	return out
}

// rune handles one character, seg being its bytes.
func (c *cleanWriter) rune(out []byte, r rune, seg []byte) []byte {
	switch c.state {
	case stEsc:
		switch {
		case r == '[':
			c.state = stCSI
		case r == ']' || r == 'P' || r == 'X' || r == '^' || r == '_':
			c.state = stString
		case r >= 0x20 && r <= 0x2f:
			c.state = stEscInter
		case r >= 0x30 && r <= 0x7e:
			c.state = stText
		default:
			c.state = stText
			return c.rune(out, r, seg)
		}
		return out
	case stEscInter:
		switch {
		case r >= 0x20 && r <= 0x2f:
		case r >= 0x30 && r <= 0x7e:
			c.state = stText
		default:
			c.state = stText
			return c.rune(out, r, seg)
		}
		return out
	case stCSI:
		switch {
		case r >= 0x20 && r <= 0x3f: // parameters and intermediates
		case r >= 0x40 && r <= 0x7e:
			c.state = stText
		default: // not a well-formed sequence: it ends here
			c.state = stText
			return c.rune(out, r, seg)
		}
		return out
	case stString, stStringEsc:
		switch {
		case r == 0x07 || r == 0x9c:
			c.state = stText
		case c.state == stStringEsc && r == '\\':
			c.state = stText
		case r == 0x1b:
			c.state = stStringEsc
		case r == '\n':
			// A terminal would go on swallowing; ending at the line keeps
			// the rest of the output readable.
			c.state = stText
			return c.rune(out, r, seg)
		default:
			c.state = stString
		}
		return out
	}
	if c.cr {
		c.cr = false
		if r == '\n' {
			out = append(out, '\r')
		}
	}
	switch {
	case r == '\n' || r == '\t':
		return append(out, seg...)
	case r == '\r':
		c.cr = true
	case r == 0x1b:
		c.state = stEsc
	case r == 0x9b:
		c.state = stCSI
	case r == 0x90 || r == 0x98 || r == 0x9d || r == 0x9e || r == 0x9f:
		c.state = stString
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
	case isBidiControl(r):
	case r == utf8.RuneError && len(seg) == 1:
		return utf8.AppendRune(out, utf8.RuneError)
	default:
		return append(out, seg...)
	}
	return out
}

// isBidiControl reports the marks, embeddings, overrides and isolates
// that change the order in which text is displayed.
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
