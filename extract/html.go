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
	a     atom.Atom
	name  string // the tag name, kept only for elements with no atom
	skip  bool   // hidden or non-rendered: its text is dropped
	pre   bool
	block int8 // line breaks around it: 0 inline, 1 line, 2 paragraph
}

// is reports whether e is the element named name (whose atom is a).
func (e *htmlElem) is(a atom.Atom, name []byte) bool {
	if a != 0 || e.a != 0 {
		return e.a == a
	}
	return e.name == string(name)
}

// blockLevel gives the line breaks around an element.
func blockLevel(a atom.Atom) int8 {
	switch a {
	case atom.Article, atom.Blockquote, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.P:
		return 2
	case atom.Address, atom.Aside, atom.Body, atom.Caption, atom.Center, atom.Dd, atom.Details, atom.Dialog,
		atom.Div, atom.Dl, atom.Dt, atom.Fieldset, atom.Figcaption, atom.Figure, atom.Footer, atom.Form,
		atom.Header, atom.Hr, atom.Html, atom.Legend, atom.Li, atom.Main, atom.Nav, atom.Ol, atom.Pre,
		atom.Section, atom.Summary, atom.Table, atom.Tbody, atom.Td, atom.Tfoot, atom.Th, atom.Thead, atom.Tr,
		atom.Ul, atom.Option, atom.Select:
		return 1
	}
	return 0
}

// skipElem reports whether an element's content is not rendered.
func skipElem(a atom.Atom) bool {
	switch a {
	case atom.Script, atom.Style, atom.Head, atom.Title, atom.Noscript, atom.Template, atom.Svg, atom.Math,
		atom.Object, atom.Iframe:
		return true
	}
	return false
}

// voidElem reports whether an element has no end tag.
func voidElem(a atom.Atom) bool {
	switch a {
	case atom.Area, atom.Base, atom.Br, atom.Col, atom.Embed, atom.Hr, atom.Img, atom.Input, atom.Link,
		atom.Meta, atom.Param, atom.Source, atom.Track, atom.Wbr, atom.Keygen:
		return true
	}
	return false
}

// openCount counts the elements of each name on the stack: by atom, and by
// name for elements with no atom.
type openCount struct {
	byAtom map[atom.Atom]int32
	byName map[string]int32
}

func (o *openCount) get(a atom.Atom, name []byte) int32 {
	if a != 0 {
		return o.byAtom[a]
	}
	return o.byName[string(name)]
}

func (o *openCount) add(e *htmlElem, n int32) {
	if e.a != 0 {
		o.byAtom[e.a] += n
		return
	}
	if o.byName == nil {
		o.byName = make(map[string]int32)
	}
	o.byName[e.name] += n
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
	stack := make([]htmlElem, 0, 32)
	open := openCount{byAtom: make(map[atom.Atom]int32, 32)}
	skip, pre := 0, 0
	rawSkip := false // the text of a skipped raw-text element that was not pushed
	var lower []byte // scratch buffer for normalising styles

	pop := func() {
		e := &stack[len(stack)-1]
		open.add(e, -1)
		if e.skip {
			skip--
		}
		if e.pre {
			pre--
		}
		if e.block > 0 && skip == 0 {
			w.newline(int(e.block))
		}
		stack = stack[:len(stack)-1]
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
			// something that can hide it.
			mayHide := mayHideTag(z.Raw())
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			hidden := false
			for hasAttr && mayHide {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if hiddenAttr(k, v, &lower) {
					hidden = true
				}
			}
			if a == atom.Body {
				// A <head> left open by a sloppy sender ends here.
				for len(stack) > 0 && open.byAtom[atom.Head] > 0 {
					pop()
				}
			}
			if a == atom.Br && skip == 0 {
				w.br()
				continue
			}
			if voidElem(a) || tt == html.SelfClosingTagToken {
				if a == atom.Hr && skip == 0 {
					w.newline(1)
				}
				continue
			}
			e := htmlElem{a: a, skip: hidden || skipElem(a), pre: a == atom.Pre || a == atom.Textarea, block: blockLevel(a)}
			if e.block > 0 && skip == 0 {
				w.newline(int(e.block))
			}
			if len(stack) >= maxHTMLDepth {
				rawSkip = e.skip
				continue
			}
			if a == 0 {
				e.name = string(name)
			}
			stack = append(stack, e)
			open.add(&e, 1)
			if e.skip {
				skip++
			}
			if e.pre {
				pre++
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if open.get(a, name) <= 0 {
				if b := blockLevel(a); b > 0 && skip == 0 {
					w.newline(int(b))
				} else if a == atom.Br && skip == 0 {
					w.br()
				}
				continue
			}
			for len(stack) > 0 {
				match := stack[len(stack)-1].is(a, name)
				pop()
				if match {
					break
				}
			}
		}
	}
}

// mayHideTag is a cheap pre-check on the raw tag text: whether it mentions,
// in any ASCII case, something that can hide the element ("hidden",
// "display", "visibility", "mso-hide", "height", "width", "font-size",
// "opacity", "preheader", "pre-header", "preview"; "max-height" and
// "max-width" are covered by "height" and "width").
func mayHideTag(raw []byte) bool {
	if len(raw) > 64<<10 {
		return true
	}
	for i := 0; i < len(raw); i++ {
		for _, w := range hideWords[raw[i]] {
			if hasPrefixASCIIFold(raw[i:], w) {
				return true
			}
		}
	}
	return false
}

// hideWords are mayHideTag's words by their first byte, in either case.
var hideWords = func() (t [256][]string) {
	for _, w := range []string{"hidden", "height", "display", "visibility", "mso-hide", "font-size",
		"opacity", "width", "preheader", "pre-header", "preview"} {
		t[w[0]] = append(t[w[0]], w)
		t[w[0]-'a'+'A'] = t[w[0]]
	}
	return t
}()

// hasPrefixASCIIFold reports whether b starts with the lower-case ASCII string
// p, ignoring the case of ASCII letters in b.
func hasPrefixASCIIFold(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for j := 0; j < len(p); j++ {
		c := b[j]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p[j] {
			return false
		}
	}
	return true
}

// containsFold reports whether b contains the lower-case ASCII string p,
// ignoring the case of ASCII letters in b.
func containsFold(b []byte, p string) bool {
	for i := 0; i+len(p) <= len(b); i++ {
		if hasPrefixASCIIFold(b[i:], p) {
			return true
		}
	}
	return false
}

func isASCIIBytes(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hiddenAttr reports whether an attribute hides its element. Names and
// values are compared as strings.ToLower gives them; ASCII input (nearly
// all of it) is folded without a copy.
func hiddenAttr(k, v []byte, buf *[]byte) bool {
	var key string
	if isASCIIBytes(k) {
		if len(k) > len("aria-hidden") {
			return false
		}
		var kb [len("aria-hidden")]byte
		for i, c := range k {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			kb[i] = c
		}
		switch string(kb[:len(k)]) {
		case "hidden":
			return true
		case "style":
			return hiddenStyle(v, buf)
		case "class", "id":
			return hiddenClass(v)
		}
		return false
	}
	key = strings.ToLower(string(k))
	switch key {
	case "hidden":
		return true
	case "style":
		return hiddenStyle(v, buf)
	case "class", "id":
		return hiddenClass(v)
	}
	return false
}

// hiddenClass reports whether a class or id names a preheader.
func hiddenClass(v []byte) bool {
	if isASCIIBytes(v) {
		return containsFold(v, "preheader") || containsFold(v, "preview-text") || containsFold(v, "previewtext") || containsFold(v, "pre-header")
	}
	l := strings.ToLower(string(v))
	return strings.Contains(l, "preheader") || strings.Contains(l, "preview-text") || strings.Contains(l, "previewtext") || strings.Contains(l, "pre-header")
}

// hiddenStyle reports whether an inline style hides the element.
func hiddenStyle(v []byte, buf *[]byte) bool {
	if len(v) > 4096 {
		v = v[:4096]
	}
	st := (*buf)[:0]
	for _, c := range v {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		st = append(st, c)
	}
	*buf = st
	if bytes.Contains(st, []byte("display:none")) || bytes.Contains(st, []byte("visibility:hidden")) || bytes.Contains(st, []byte("mso-hide:all")) {
		return true
	}
	for _, p := range [...]string{"max-height:", "font-size:", "opacity:", "max-width:"} {
		if zeroProp(st, p) {
			return true
		}
	}
	if (zeroProp(st, "height:") || zeroProp(st, "width:") || zeroProp(st, "line-height:")) && bytes.Contains(st, []byte("overflow:hidden")) {
		return true
	}
	return false
}

// zeroProp reports whether property p (including the colon) is set to a
// zero length somewhere in the normalised style st.
func zeroProp(st []byte, p string) bool {
	for off := 0; off < len(st); {
		i := bytes.Index(st[off:], []byte(p))
		if i < 0 {
			return false
		}
		i += off
		off = i + len(p)
		if i > 0 && st[i-1] != ';' && st[i-1] != '{' && st[i-1] != '"' && st[i-1] != '\'' {
			continue // e.g. "line-height:" when looking for "height:"
		}
		v := st[i+len(p):]
		if len(v) == 0 || v[0] != '0' {
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
		if c := t[0]; c > ' ' && c < 0x7f {
			// a run of printable ASCII is copied as it is
			j := 1
			for j < len(t) && t[j] > ' ' && t[j] < 0x7f {
				j++
			}
			if w.pendingNL > 0 || w.space {
				w.flushBreaks()
			}
			w.b = append(w.b, t[:j]...)
			t = t[j:]
			continue
		}
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
// laid out one character per table cell or div). Joining only removes
// bytes, so it is done in place.
func (w *textWriter) finish() string {
	b := w.b
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return ""
	}
	out := b[:0]
	// next returns the line starting at i and the index after its '\n'
	// (len(b)+1 for the last line).
	next := func(i int) ([]byte, int) {
		if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
			return b[i : i+j], i + j + 1
		}
		return b[i:], len(b) + 1
	}
	first := true
	emit := func(line []byte) {
		if !first {
			out = append(out, '\n')
		}
		first = false
		out = append(out, line...)
	}
	for i := 0; i <= len(b); {
		// count the run of one-character lines starting here
		n, j := 0, i
		for j <= len(b) {
			line, nj := next(j)
			if !singleAlnum(line) {
				break
			}
			n++
			j = nj
		}
		if n >= 4 && n <= 12 {
			if !first {
				out = append(out, '\n')
			}
			first = false
			for k := i; k < j; {
				line, nk := next(k)
				out = append(out, bytes.TrimSpace(line)...)
				k = nk
			}
			i = j
			continue
		}
		if n == 0 {
			n = 1
		}
		for ; n > 0; n-- {
			line, ni := next(i)
			emit(line)
			i = ni
		}
	}
	return string(out)
}

func singleAlnum(s []byte) bool {
	s = bytes.TrimSpace(s)
	r, sz := utf8.DecodeRune(s)
	return sz > 0 && sz == len(s) && (unicode.IsLetter(r) || unicode.IsDigit(r))
}
