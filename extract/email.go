package extract

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// Email is a decoded e-mail: the Message to pass to Extract plus the
// header facts the relay needs.
type Email struct {
	Message
	MessageID string    // Message-ID without the angle brackets; "" if absent
	Date      time.Time // zero if absent or unparseable
}

// Limits of ParseEmail besides MaxEmailSize.
const (
	maxMIMEDepth    = 12       // nested multiparts / message/rfc822
	maxMIMEParts    = 256      // parts visited in total
	maxHeaderFields = 1000     // fields kept per header block
	maxFieldBytes   = 64 << 10 // bytes kept per header field
	maxHeaderText   = 16 << 10 // bytes kept of the decoded Subject and From
	maxEmailText    = 1 << 20  // bytes kept of text/plain
	maxEmailHTML    = 2 << 20  // bytes kept of text/html
	maxBoundaryLen  = 200      // longest boundary accepted (RFC 2046 says 70)
	maxCharsetLabel = 64       // longest charset label considered
)

// ParseEmail decodes a raw RFC 5322 message into an Email with Source
// "email", Sender = the decoded From header, Subject decoded (RFC 2047
// encoded words in any supported charset), Text = the text/plain parts
// joined by blank lines and HTML = the text/html parts.
//
// It handles multipart/alternative, mixed, related and nested multiparts,
// message/rfc822 (forwarded mail: its Subject and body are included),
// quoted-printable and base64 (both decoded leniently), and declared
// charsets through github.com/emersion/go-message/charset (UTF-8,
// ISO-8859-x, Windows-125x, GB2312/GBK/GB18030, Shift_JIS, EUC-JP,
// ISO-2022-JP, EUC-KR, Big5, KOI8 ...), with the aliases mail clients use
// (ks_c_5601-1987, cp932, ...). Like a mail client, undeclared or
// unknown charsets are read as UTF-8 when valid and as Windows-1252
// otherwise, ISO-8859-1 is read as Windows-1252, attachments are skipped,
// and a multipart without a usable boundary is read as text.
//
// Limits: input over MaxEmailSize gives an error wrapping ErrTooLarge;
// nesting deeper than 12 levels or more than 256 parts are not visited;
// the Text keeps at most 1 MiB and the HTML 2 MiB, Subject and Sender
// 16 KiB each, so the Message always fits MaxTextSize. Input that does
// not start with a header field, or whose structure is broken with no
// text left to recover, gives an error wrapping ErrMalformed. On error
// the Email is the zero value.
func ParseEmail(raw []byte) (Email, error) {
	if len(raw) > MaxEmailSize {
		return Email{}, fmt.Errorf("%w: message is %d bytes, the limit is %d", ErrTooLarge, len(raw), MaxEmailSize)
	}
	h, body, ok := readHeader(raw, true)
	if !ok {
		return Email{}, fmt.Errorf("%w: no RFC 5322 header fields", ErrMalformed)
	}
	var e Email
	e.Source = "email"
	e.Sender = decodeHeaderText(h.get("from"))
	e.Subject = decodeHeaderText(h.get("subject"))
	e.MessageID = parseMessageID(h.getString("message-id"))
	if ds := strings.TrimSpace(h.getString("date")); ds != "" {
		if t, err := mail.ParseDate(ds); err == nil {
			e.Date = t
		}
	}
	w := &mimeWalker{}
	w.walk(h, body, 0)
	if w.broken && w.text.n == 0 && w.html.n == 0 {
		return Email{}, fmt.Errorf("%w: %s", ErrMalformed, w.why)
	}
	e.Text = w.text.String()
	e.HTML = w.html.String()
	return e, nil
}

// LooksLikeEmail reports whether b starts with an RFC 5322 header block
// (at least one well-known field such as From, To, Subject, Date,
// Received or MIME-Version). It is meant for telling a raw e-mail from
// an SMS body on input of unknown kind.
func LooksLikeEmail(b []byte) bool {
	if len(b) > 64<<10 {
		b = b[:64<<10]
	}
	h, _, ok := readHeader(b, true)
	if !ok {
		return false
	}
	for _, f := range h {
		switch f.name {
		case "from", "to", "subject", "date", "message-id", "received", "return-path", "mime-version",
			"content-type", "delivered-to", "reply-to", "sender", "dkim-signature", "x-mailer", "cc":
			return true
		}
	}
	return false
}

type field struct {
	name string // lower case
	val  []byte // unfolded raw value
}

type header []field

func (h header) get(name string) []byte {
	for i := range h {
		if h[i].name == name {
			return h[i].val
		}
	}
	return nil
}

func (h header) getString(name string) string { return string(h.get(name)) }

// readHeader parses the header block at the start of b. For a top-level
// message (top) it requires at least one header field; for a MIME part a
// missing header simply means defaults. It returns the body that follows.
func readHeader(b []byte, top bool) (header, []byte, bool) {
	pos := 0
	if top {
		if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
			pos = 3
		}
		for pos < len(b) && (b[pos] == '\r' || b[pos] == '\n') {
			pos++
		}
		if bytes.HasPrefix(b[pos:], []byte("From ")) { // mbox separator
			if i := bytes.IndexByte(b[pos:], '\n'); i >= 0 {
				pos += i + 1
			} else {
				return nil, nil, false
			}
		}
	}
	var h header
	for pos < len(b) {
		next := len(b)
		line := b[pos:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
			next = pos + i + 1
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimRight(line, " \t")) == 0 {
			if len(line) == 0 || len(h) > 0 || !top {
				return h, b[next:], len(h) > 0 || !top
			}
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) == 0 {
				if top {
					return nil, nil, false
				}
				return nil, b, true
			}
			f := &h[len(h)-1]
			if len(f.val) < maxFieldBytes {
				t := bytes.TrimSpace(line)
				if len(f.val) > 0 && len(t) > 0 {
					f.val = append(f.val, ' ')
				}
				f.val = append(f.val, t...)
			}
			pos = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		name := []byte(nil)
		if colon > 0 {
			name = bytes.TrimRight(line[:colon], " \t")
		}
		if len(name) == 0 || !validFieldName(name) {
			if len(h) == 0 {
				if top {
					return nil, nil, false
				}
				return nil, b, true // a part without header lines
			}
			return h, b[pos:], true // missing blank line: the body starts here
		}
		if len(h) < maxHeaderFields {
			v := bytes.TrimSpace(line[colon+1:])
			if len(v) > maxFieldBytes {
				v = v[:maxFieldBytes]
			}
			h = append(h, field{name: strings.ToLower(string(name)), val: append([]byte(nil), v...)})
		}
		pos = next
	}
	return h, nil, len(h) > 0 || !top
}

func validFieldName(n []byte) bool {
	if len(n) > 76 {
		return false
	}
	for _, c := range n {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

func parseMessageID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	if len(v) > 998 {
		v = v[:998]
	}
	return v
}

// headerDecoder decodes RFC 2047 encoded words in any charset the body
// decoder knows. It holds no state.
var headerDecoder = &mime.WordDecoder{CharsetReader: func(label string, input io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(io.LimitReader(input, maxFieldBytes))
	if err != nil {
		return nil, err
	}
	return strings.NewReader(decodeCharset(b, label, false)), nil
}}

// decodeHeaderText decodes a header value for display: encoded words,
// raw 8-bit bytes (UTF-8, else Windows-1252), no control characters.
func decodeHeaderText(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	s := string(v)
	if !utf8.ValidString(s) {
		s = decodeCharset(v, "", false)
	}
	if strings.Contains(s, "=?") {
		if dec, err := headerDecoder.DecodeHeader(s); err == nil {
			s = dec
		} else {
			s = decodeWordsLenient(s)
		}
	}
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError {
			return '\uFFFD'
		}
		if r < ' ' || r == 0x7f {
			if r == '\t' {
				return ' '
			}
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxHeaderText {
		s = truncateUTF8(s, maxHeaderText)
	}
	return s
}

// decodeWordsLenient decodes encoded words one by one, keeping those that
// fail as they are.
func decodeWordsLenient(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "=?")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		// =?charset?enc?text?=
		q1 := strings.IndexByte(s[2:], '?')
		if q1 < 0 || q1+5 > len(s) {
			b.WriteString(s)
			return b.String()
		}
		rest := s[2+q1+1:]
		if len(rest) < 2 || rest[1] != '?' {
			b.WriteString("=?")
			s = s[2:]
			continue
		}
		end := strings.Index(rest[2:], "?=")
		if end < 0 {
			b.WriteString(s)
			return b.String()
		}
		word := s[:2+q1+1+2+end+2]
		if dec, err := headerDecoder.Decode(word); err == nil {
			b.WriteString(dec)
		} else {
			b.WriteString(word)
		}
		s = s[len(word):]
	}
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// mimeWalker collects the text of a MIME tree.
type mimeWalker struct {
	parts  int
	text   textParts
	html   textParts
	broken bool
	why    string
}

// textParts collects decoded parts, joined by blank lines only at the end
// (a message with one text/html part keeps that part's string as it is).
type textParts struct {
	parts []string
	n     int // length of the joined text
}

func (p *textParts) String() string {
	switch len(p.parts) {
	case 0:
		return ""
	case 1:
		return p.parts[0]
	}
	return strings.Join(p.parts, "\n\n")
}

func (w *mimeWalker) fail(why string) {
	if !w.broken {
		w.broken, w.why = true, why
	}
}

func (w *mimeWalker) walk(h header, body []byte, depth int) {
	if depth > maxMIMEDepth {
		w.fail("MIME nesting too deep")
		return
	}
	if w.parts >= maxMIMEParts {
		w.fail("too many MIME parts")
		return
	}
	w.parts++
	mt, params := parseContentType(h.getString("content-type"))
	if disp := strings.ToLower(strings.TrimSpace(h.getString("content-disposition"))); strings.HasPrefix(disp, "attachment") {
		return
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		boundary := params["boundary"]
		if boundary == "" || len(boundary) > maxBoundaryLen {
			boundary = sniffBoundary(body)
		}
		var parts [][]byte
		found := false
		if boundary != "" {
			parts, found = splitMultipart(body, boundary)
		}
		if !found {
			// No usable boundary: show the body as text, like a mail client.
			w.fail("multipart without a usable boundary")
			w.addText(decodeTransfer(h, body), params["charset"], false)
			return
		}
		for _, p := range parts {
			ph, pb, _ := readHeader(p, false)
			w.walk(ph, pb, depth+1)
		}
	case mt == "message/rfc822" || mt == "message/global":
		inner := decodeTransfer(h, body)
		ih, ib, ok := readHeader(inner, true)
		if !ok {
			w.addText(inner, "", false)
			return
		}
		if s := decodeHeaderText(ih.get("subject")); s != "" {
			w.addText([]byte(s), "utf-8", false)
		}
		w.walk(ih, ib, depth+1)
	case mt == "text/html":
		w.addText(decodeTransfer(h, body), params["charset"], true)
	case mt == "text/plain" || mt == "text" || mt == "":
		w.addText(decodeTransfer(h, body), params["charset"], false)
	}
}

// addText decodes b from its charset and appends it to the text or HTML.
func (w *mimeWalker) addText(b []byte, label string, isHTML bool) {
	dst, limit := &w.text, maxEmailText
	if isHTML {
		dst, limit = &w.html, maxEmailHTML
	}
	room := limit - dst.n
	if room <= 2 {
		return
	}
	if len(b) > room*2 { // decoding never shrinks text by more than half
		b = b[:room*2]
	}
	s := decodeCharset(b, label, isHTML)
	s = strings.TrimRight(normalizeNewlines(s), " \t\n")
	if strings.TrimSpace(s) == "" {
		return
	}
	if dst.n > 0 {
		dst.n += 2
		room -= 2
	}
	s = truncateUTF8(s, room)
	dst.parts = append(dst.parts, s)
	dst.n += len(s)
}

func normalizeNewlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 && strings.IndexByte(s, 0) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			b.WriteByte('\n')
		case 0:
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// parseContentType returns the lower-case media type and parameters,
// falling back to a lenient parse when mime.ParseMediaType refuses the
// value (unquoted specials in boundaries are common).
func parseContentType(v string) (string, map[string]string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "text/plain", map[string]string{}
	}
	mt, params, err := mime.ParseMediaType(v)
	if err == nil && strings.Contains(mt, "/") {
		return mt, params
	}
	params = map[string]string{}
	parts := strings.Split(v, ";")
	mt = strings.ToLower(strings.TrimSpace(parts[0]))
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		val = strings.Trim(val, "\"'")
		if _, dup := params[k]; !dup {
			params[k] = val
		}
	}
	if !strings.Contains(mt, "/") {
		mt = "text/plain"
	}
	return mt, params
}

// sniffBoundary guesses the boundary of a multipart body whose header
// lacks one: the first line starting with "--".
func sniffBoundary(body []byte) string {
	for n := 0; n < 64 && len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) > 2 && len(line) <= maxBoundaryLen+2 && bytes.HasPrefix(line, []byte("--")) && !bytes.ContainsAny(line, " \t") {
			return string(line[2:])
		}
	}
	return ""
}

// splitMultipart splits body at "--boundary" lines. An unterminated last
// part is kept (lenient). found reports whether any delimiter was seen.
func splitMultipart(body []byte, boundary string) (parts [][]byte, found bool) {
	delim := []byte("--" + boundary)
	cur := -1
	i := 0
	for i < len(body) {
		j := bytes.Index(body[i:], delim)
		if j < 0 {
			break
		}
		j += i
		if j > 0 && body[j-1] != '\n' {
			i = j + 1
			continue
		}
		after := j + len(delim)
		closing := bytes.HasPrefix(body[after:], []byte("--"))
		k := after
		if closing {
			k += 2
		}
		for k < len(body) && (body[k] == ' ' || body[k] == '\t' || body[k] == '\r') {
			k++
		}
		if k < len(body) && body[k] != '\n' {
			i = j + 1 // "--boundary" is only a prefix of this line
			continue
		}
		if cur >= 0 {
			parts = append(parts, trimPartEnd(body[cur:j]))
		}
		found = true
		if closing || len(parts) >= maxMIMEParts {
			return parts, true
		}
		cur = k + 1
		if cur > len(body) {
			cur = len(body)
		}
		i = cur
	}
	if cur >= 0 && cur < len(body) {
		parts = append(parts, body[cur:])
	}
	return parts, found
}

func trimPartEnd(p []byte) []byte {
	p = bytes.TrimSuffix(p, []byte("\n"))
	return bytes.TrimSuffix(p, []byte("\r"))
}

// decodeTransfer undoes the Content-Transfer-Encoding of a body.
func decodeTransfer(h header, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(h.getString("content-transfer-encoding"))) {
	case "base64":
		return decodeBase64Lenient(body)
	case "quoted-printable":
		return decodeQPLenient(body)
	}
	return body
}

// decodeBase64Lenient decodes base64 skipping anything outside the
// alphabet (line breaks, spaces, garbage) and stopping at padding.
func decodeBase64Lenient(b []byte) []byte {
	out := make([]byte, 0, len(b)*3/4+3)
	var acc uint32
	n := 0
	for _, c := range b {
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+' || c == '-':
			v = 62
		case c == '/' || c == '_':
			v = 63
		case c == '=':
			// padding ends a quantum; concatenated base64 blocks go on
			switch n {
			case 2:
				out = append(out, byte(acc>>4))
			case 3:
				out = append(out, byte(acc>>10), byte(acc>>2))
			}
			acc, n = 0, 0
			continue
		default:
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return out
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// decodeQPLenient decodes quoted-printable; invalid escapes are kept as
// they are.
func decodeQPLenient(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			// copy up to the next '=' at once
			j := bytes.IndexByte(b[i:], '=')
			if j < 0 {
				j = len(b) - i
			}
			out = append(out, b[i:i+j]...)
			i += j - 1
			continue
		}
		// soft line break: "=" [spaces] CRLF / LF
		k := i + 1
		for k < len(b) && (b[k] == ' ' || b[k] == '\t') {
			k++
		}
		if k < len(b) && b[k] == '\r' && k+1 < len(b) && b[k+1] == '\n' {
			i = k + 1
			continue
		}
		if k < len(b) && b[k] == '\n' {
			i = k
			continue
		}
		if k >= len(b) {
			break
		}
		if i+2 < len(b) {
			hi, ok1 := unhex(b[i+1])
			lo, ok2 := unhex(b[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		out = append(out, '=')
	}
	return out
}

// charsetAliases maps labels mail clients use to what the decoders know,
// following the WHATWG encoding rules where they differ from IANA.
var charsetAliases = map[string]string{
	"iso-8859-1": "windows-1252", "iso8859-1": "windows-1252", "iso_8859-1": "windows-1252", "latin1": "windows-1252",
	"l1": "windows-1252", "cp1252": "windows-1252", "x-cp1252": "windows-1252", "us-ascii": "",
	"ascii": "", "ansi_x3.4-1968": "", "iso-8859-9": "windows-1254",
	"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "euc-cn": "gb18030", "x-euc-cn": "gb18030",
	"gb_2312-80": "gb18030", "x-gbk": "gb18030", "chinese": "gb18030", "csgb2312": "gb18030",
	"cp932": "shift_jis", "ms932": "shift_jis", "windows-932": "shift_jis", "x-ms-cp932": "shift_jis",
	"sjis": "shift_jis", "shift-jis": "shift_jis", "x-sjis": "shift_jis", "ms_kanji": "shift_jis",
	"ks_c_5601-1987": "euc-kr", "ks_c_5601": "euc-kr", "cp949": "euc-kr", "uhc": "euc-kr", "windows-949": "euc-kr",
	"x-windows-949": "euc-kr", "korean": "euc-kr", "euc_kr": "euc-kr", "ksc5601": "euc-kr",
	"big-5": "big5", "cn-big5": "big5", "x-x-big5": "big5", "big5-hkscs": "big5", "cp950": "big5",
	"utf8": "utf-8", "unicode-1-1-utf-8": "utf-8", "x-unknown": "", "unknown-8bit": "", "default": "",
	"x-user-defined": "", "unknown": "",
}

// decodeCharset converts b from the named charset to UTF-8. Unknown or
// missing labels fall back to UTF-8 when valid, else Windows-1252.
func decodeCharset(b []byte, label string, isHTML bool) string {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), "\"'"))
	if len(label) > maxCharsetLabel {
		label = ""
	}
	if a, ok := charsetAliases[label]; ok {
		label = a
	}
	if label == "" && isHTML && !utf8.Valid(b) {
		label = sniffMetaCharset(b)
		if a, ok := charsetAliases[label]; ok {
			label = a
		}
	}
	if label == "" || label == "utf-8" || (label == "windows-1252" && isASCII(b)) {
		if utf8.Valid(b) {
			return string(b)
		}
		if label == "utf-8" {
			return strings.ToValidUTF8(string(b), "\uFFFD")
		}
		label = "windows-1252"
	}
	r, err := charset.Reader(label, bytes.NewReader(b))
	if err != nil || r == nil {
		if utf8.Valid(b) {
			return string(b)
		}
		r, err = charset.Reader("windows-1252", bytes.NewReader(b))
		if err != nil || r == nil {
			return strings.ToValidUTF8(string(b), "\uFFFD")
		}
	}
	out, _ := io.ReadAll(io.LimitReader(r, int64(len(b))*4+16))
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// sniffMetaCharset finds <meta charset=...> in the first 2 KiB of HTML.
func sniffMetaCharset(b []byte) string {
	if len(b) > 2048 {
		b = b[:2048]
	}
	l := bytes.ToLower(b)
	i := bytes.Index(l, []byte("charset="))
	if i < 0 {
		return ""
	}
	v := l[i+len("charset="):]
	v = bytes.TrimLeft(v, "\"' ")
	end := 0
	for end < len(v) && end < maxCharsetLabel && (v[end] == '-' || v[end] == '_' || v[end] == '.' || v[end] == ':' || v[end] >= '0' && v[end] <= '9' || v[end] >= 'a' && v[end] <= 'z') {
		end++
	}
	return string(v[:end])
}
