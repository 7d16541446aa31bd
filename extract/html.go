package extract

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxHTMLDepth bounds the element stack HTMLToText keeps. Elements nested
// deeper are still read, but their end tags are not matched and their
// "hidden" styles are not honoured.
const maxHTMLDepth = 256

type htmlElem struct {
	name  string
	skip  bool // hidden or non-rendered: its text is dropped
	pre   bool
	block int8 // line breaks around it: 0 inline, 1 line, 2 paragraph
}

var blockElems = map[atom.Atom]int8{
	atom.Address: 1, atom.Article: 2, atom.Aside: 1, atom.Blockquote: 2, atom.Body: 1, atom.Caption: 1,
	atom.Center: 1, atom.Dd: 1, atom.Details: 1, atom.Dialog: 1, atom.Div: 1, atom.Dl: 1, atom.Dt: 1,
	atom.Fieldset: 1, atom.Figcaption: 1, atom.Figure: 1, atom.Footer: 1, atom.Form: 1,
	atom.H1: 2, atom.H2: 2, atom.H3: 2, atom.H4: 2, atom.H5: 2, atom.H6: 2, atom.Header: 1, atom.Hr: 1,
	atom.Html: 1, atom.Legend: 1, atom.Li: 1, atom.Main: 1, atom.Nav: 1, atom.Ol: 1, atom.P: 2, atom.Pre: 1,
	atom.Section: 1, atom.Summary: 1, atom.Table: 1, atom.Tbody: 1, atom.Td: 1, atom.Tfoot: 1, atom.Th: 1,
	atom.Thead: 1, atom.Tr: 1, atom.Ul: 1, atom.Option: 1, atom.Select: 1,
}

var skipElems = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Head: true, atom.Title: true, atom.Noscript: true,
	atom.Template: true, atom.Svg: true, atom.Math: true, atom.Object: true, atom.Iframe: true,
	atom.Textarea: false, atom.Select: false, atom.Button: false,
}

var voidElems = map[atom.Atom]bool{
	atom.Area: true, atom.Base: true, atom.Br: true, atom.Col: true, atom.Embed: true, atom.Hr: true,
	atom.Img: true, atom.Input: true, atom.Link: true, atom.Meta: true, atom.Param: true, atom.Source: true,
	atom.Track: true, atom.Wbr: true, atom.Keygen: true,
}

// HTMLToText converts HTML to text keeping its block structure.
//
// Block elements (p, div, h1–h6, li, tr, td, …) become line breaks, so a
// code alone in an <h1> or a <td> stays alone on its line, while adjacent
// inline elements join: <span>3</span><span>8</span> gives "38". Runs of
// one-character lines (a code laid out one digit per cell) are joined.
// Dropped: <head>, <style>, <script>, <title>, <noscript>, <template>,
// <svg>, comments, and hidden elements (the hidden attribute,
// display:none, visibility:hidden, mso-hide:all, zero max-height, height,
// font-size or opacity, and classes named like preheader / preview-text).
// Link targets and image sources never enter the text. Input over
// MaxTextSize is truncated; time and memory are linear in the input.
func HTMLToText(s string) string {
	if len(s) > MaxTextSize {
		s = s[:MaxTextSize]
	}
	z := html.NewTokenizer(strings.NewReader(s))
	w := &textWriter{b: make([]byte, 0, len(s)/4+16)}
	var stack []htmlElem
	open := make(map[string]int) // elements of each name on the stack
	skip, pre := 0, 0
	rawSkip := false // the text of a skipped raw-text element that was not pushed
	var lower []byte // scratch buffer for lower-casing tags and styles

	pop := func() {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		open[e.name]--
		if e.skip {
			skip--
		}
		if e.pre {
			pre--
		}
		if e.block > 0 && skip == 0 {
			w.newline(int(e.block))
		}
	}
	for {
		tt := z.Next()
		wasRaw := rawSkip
		rawSkip = false
		switch tt {
		case html.ErrorToken:
			return w.finish()
		case html.TextToken:
			if skip > 0 || wasRaw {
				continue
			}
			w.text(z.Text(), pre > 0)
		case html.StartTagToken, html.SelfClosingTagToken:
			// Attributes are only parsed when the raw tag mentions
			// something that can hide it (TagAttr copies every attribute).
			raw := z.Raw()
			mayHide := mayHideTag(raw, &lower)
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			hidden := false
			for hasAttr && mayHide {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if hiddenAttr(string(k), v, &lower) {
					hidden = true
				}
			}
			if a == atom.Body {
				// A <head> left open by a sloppy sender ends here.
				for len(stack) > 0 && open["head"] > 0 {
					pop()
				}
			}
			if a == atom.Br && skip == 0 {
				w.br()
				continue
			}
			if voidElems[a] || tt == html.SelfClosingTagToken {
				if a == atom.Hr && skip == 0 {
					w.newline(1)
				}
				continue
			}
			e := htmlElem{name: string(name), skip: hidden || skipElems[a], pre: a == atom.Pre || a == atom.Textarea, block: blockElems[a]}
			if e.block > 0 && skip == 0 {
				w.newline(int(e.block))
			}
			if len(stack) >= maxHTMLDepth {
				rawSkip = e.skip
				continue
			}
			stack = append(stack, e)
			open[e.name]++
			if e.skip {
				skip++
			}
			if e.pre {
				pre++
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if open[string(name)] <= 0 {
				if a := atom.Lookup(name); blockElems[a] > 0 && skip == 0 {
					w.newline(int(blockElems[a]))
				} else if a == atom.Br && skip == 0 {
					w.br()
				}
				continue
			}
			for len(stack) > 0 {
				top := stack[len(stack)-1].name
				pop()
				if top == string(name) {
					break
				}
			}
		}
	}
}

// hideNeedles are the substrings a tag must contain to possibly be hidden.
var hideNeedles = [][]byte{[]byte("hidden"), []byte("display"), []byte("visibility"), []byte("mso-hide"),
	[]byte("height"), []byte("font-size"), []byte("opacity"), []byte("max-width"), []byte("width"),
	[]byte("preheader"), []byte("pre-header"), []byte("preview")}

// mayHideTag is a cheap pre-check on the raw tag text.
func mayHideTag(raw []byte, buf *[]byte) bool {
	if len(raw) > 64<<10 {
		return true
	}
	b := (*buf)[:0]
	for _, c := range raw {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	*buf = b
	for _, n := range hideNeedles {
		if bytes.Contains(b, n) {
			return true
		}
	}
	return false
}

// hiddenAttr reports whether an attribute hides its element.
func hiddenAttr(k string, v []byte, buf *[]byte) bool {
	switch strings.ToLower(k) {
	case "hidden":
		return true
	case "style":
		return hiddenStyle(v, buf)
	case "class", "id":
		l := strings.ToLower(string(v))
		return strings.Contains(l, "preheader") || strings.Contains(l, "preview-text") || strings.Contains(l, "previewtext") || strings.Contains(l, "pre-header")
	case "aria-hidden":
		return false
	}
	return false
}

// hiddenStyle reports whether an inline style hides the element.
func hiddenStyle(v []byte, buf *[]byte) bool {
	if len(v) > 4096 {
		v = v[:4096]
	}
	s := (*buf)[:0]
	defer func() { *buf = s }()
	for _, c := range v {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		s = append(s, c)
	}
	st := string(s) // one copy per style attribute
	if strings.Contains(st, "display:none") || strings.Contains(st, "visibility:hidden") || strings.Contains(st, "mso-hide:all") {
		return true
	}
	for _, p := range []string{"max-height:", "font-size:", "opacity:", "max-width:"} {
		if zeroProp(st, p) {
			return true
		}
	}
	if (zeroProp(st, "height:") || zeroProp(st, "width:") || zeroProp(st, "line-height:")) && strings.Contains(st, "overflow:hidden") {
		return true
	}
	return false
}

// zeroProp reports whether property p (including the colon) is set to a
// zero length somewhere in the normalised style st.
func zeroProp(st, p string) bool {
	for off := 0; off < len(st); {
		i := strings.Index(st[off:], p)
		if i < 0 {
			return false
		}
		i += off
		off = i + len(p)
		if i > 0 && st[i-1] != ';' && st[i-1] != '{' && st[i-1] != '"' && st[i-1] != '\'' {
			continue // e.g. "line-height:" when looking for "height:"
		}
		v := st[i+len(p):]
		if !strings.HasPrefix(v, "0") {
			continue
		}
		v = v[1:]
		for len(v) > 0 && v[0] == '0' {
			v = v[1:]
		}
		if len(v) > 0 && (v[0] == '.' || v[0] >= '1' && v[0] <= '9') {
			continue
		}
		return true
	}
	return false
}

// textWriter accumulates text with collapsed whitespace and bounded
// blank lines.
type textWriter struct {
	b         []byte
	pendingNL int
	space     bool
}

func (w *textWriter) newline(n int) {
	if n > w.pendingNL {
		w.pendingNL = n
	}
	w.space = false
}

func (w *textWriter) br() {
	if len(w.b) == 0 {
		return
	}
	// consecutive <br>s give at most one blank line
	w.pendingNL++
	if w.pendingNL > 2 {
		w.pendingNL = 2
	}
	w.space = false
}

func (w *textWriter) flushBreaks() {
	if len(w.b) > 0 && w.pendingNL > 0 {
		// trim trailing spaces
		for len(w.b) > 0 && w.b[len(w.b)-1] == ' ' {
			w.b = w.b[:len(w.b)-1]
		}
		for i := 0; i < w.pendingNL; i++ {
			w.b = append(w.b, '\n')
		}
	} else if w.space && len(w.b) > 0 && w.b[len(w.b)-1] != '\n' {
		w.b = append(w.b, ' ')
	}
	w.pendingNL = 0
	w.space = false
}

func (w *textWriter) text(t []byte, pre bool) {
	for len(t) > 0 {
		r, sz := utf8.DecodeRune(t)
		t = t[sz:]
		switch {
		case r == '\r':
			continue
		case r == '\n' && pre:
			w.pendingNL++
			if w.pendingNL > 2 {
				w.pendingNL = 2
			}
			continue
		case r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == 0xA0 || r == 0x3000 || (r > 0x2000 && r <= 0x200A) || r == 0x202F || r == 0x205F:
			if pre && w.pendingNL == 0 {
				w.flushBreaks()
				w.b = append(w.b, ' ')
				continue
			}
			w.space = true
			continue
		case r == 0xAD || r == 0x034F || (r >= 0x200B && r <= 0x200F) || r == 0x2060 || r == 0xFEFF || r == 0x061C:
			continue // invisible characters used as preheader padding
		case r < ' ' || r == 0x7f:
			continue
		}
		if w.pendingNL > 0 || w.space {
			w.flushBreaks()
		}
		w.b = utf8.AppendRune(w.b, r)
	}
}

// finish returns the text, joining runs of one-character lines (a code
// laid out one character per table cell or div).
func (w *textWriter) finish() string {
	b := w.b
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	out := make([]string, 0, len(lines))
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && singleAlnum(lines[j]) {
			j++
		}
		if j-i >= 4 && j-i <= 12 {
			var sb strings.Builder
			for k := i; k < j; k++ {
				sb.WriteString(strings.TrimSpace(lines[k]))
			}
			out = append(out, sb.String())
			i = j
			continue
		}
		if j == i {
			j = i + 1
		}
		out = append(out, lines[i:j]...)
		i = j
	}
	return strings.Join(out, "\n")
}

func singleAlnum(s string) bool {
	s = strings.TrimSpace(s)
	r, sz := utf8.DecodeRuneInString(s)
	return sz > 0 && sz == len(s) && (unicode.IsLetter(r) || unicode.IsDigit(r))
}
