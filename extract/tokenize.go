package extract

import (
	"math"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// tokKind is the kind of a token produced by tokenize.
type tokKind uint8

const (
	tkWord    tokKind = iota + 1 // letters (any non-CJK script), no digits
	tkNum                        // digits only (any script, folded to ASCII)
	tkAlnum                      // ASCII(-like) letters and digits mixed
	tkCJK                        // one Han / Hiragana / Katakana character
	tkPunct                      // one punctuation or symbol rune
	tkNewline                    // one line break
)

// Script classes of word tokens, used by the keyword matcher.
const (
	scOther   uint8 = iota
	scLatin         // ASCII-like letters, possibly with non-ASCII Latin letters
	scHangul        // Korean: keywords may sit inside a word (particles attached)
	scSemitic       // Hebrew / Arabic: one-letter proclitics attach to words
	scLoose         // Thai, Lao, Khmer, Burmese: no spaces between words, keywords matched anywhere
)

// token is one lexical unit of the analysed text. Offsets are byte offsets,
// either into the original text (os, oe) or into the folded buffer (fs, fe).
type token struct {
	os, oe int32
	fs, fe int32
	line   int32   // line index (0-based)
	sent   int32   // sentence index
	pos    float32 // distance coordinate of significant tokens
	nrunes int32   // runes of the original token
	// ndig is the number of digits in the token, saturated at 65535 (every
	// test of it is against a small number; the saturation keeps the
	// token at 40 bytes).
	ndig   uint16
	kind   tokKind
	script uint8
	// spaceBefore: whitespace or a line start directly before the token.
	spaceBefore bool
	// upper: every letter is an ASCII(-like) capital letter (words, alnums).
	upper bool
	// title: first letter is a capital, the rest are not (words).
	title bool
}

func (t *token) significant() bool {
	return t.kind == tkWord || t.kind == tkNum || t.kind == tkAlnum || t.kind == tkCJK
}

// doc is a tokenized text.
type doc struct {
	text   string
	folded []byte
	toks   []token
	// lineSig[i] is the number of significant tokens on line i.
	lineSig []int32
}

// rune classes used while building runs.
const (
	rcSpace = iota
	rcNewline
	rcIgnore
	rcDigit
	rcASCII // ASCII letter or a compatibility form of one (full-width etc.)
	rcLetter
	rcCJK
	rcCJKMark // voicing marks and the like that belong to the previous CJK char
	rcPunct
)

func classify(r rune) int {
	if r < utf8.RuneSelf {
		switch {
		case r == '\n' || r == '\r':
			return rcNewline
		case r == ' ' || r == '\t' || r == '\f' || r == '\v':
			return rcSpace
		case r >= '0' && r <= '9':
			return rcDigit
		case (r|0x20) >= 'a' && (r|0x20) <= 'z':
			return rcASCII
		case r < ' ' || r == 0x7f:
			return rcIgnore
		}
		return rcPunct
	}
	switch {
	case r == 0x2028 || r == 0x2029 || r == 0x85:
		return rcNewline
	case r == 0x3099 || r == 0x309A || r == 0xFF9E || r == 0xFF9F:
		return rcCJKMark
	case unicode.IsSpace(r):
		return rcSpace
	case unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Cc, r) || r == 0x034F || r == utf8.RuneError:
		if r == utf8.RuneError {
			return rcPunct
		}
		return rcIgnore
	case unicode.IsDigit(r):
		return rcDigit
	case isCJK(r):
		return rcCJK
	}
	if _, ok := asciiAlnum(r); ok {
		return rcASCII
	}
	if unicode.IsLetter(r) || unicode.IsMark(r) {
		return rcLetter
	}
	return rcPunct
}

// isCJK reports whether r is a Han, Hiragana or Katakana character (each is
// its own token: these scripts do not separate words with spaces).
func isCJK(r rune) bool {
	if r < 0x2E80 {
		return false
	}
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || r == 0x30FC || r == 0xFF70 || r == 0x3005
}

func isHangul(r rune) bool {
	return r >= 0x1100 && unicode.Is(unicode.Hangul, r)
}

// digitValue maps any Unicode decimal digit (Nd) to its ASCII digit.
func digitValue(r rune) (byte, bool) {
	if r >= '0' && r <= '9' {
		return byte(r), true
	}
	if r < 0x80 {
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if r < rune(rg.Lo) {
			return 0, false
		}
		if r <= rune(rg.Hi) {
			return byte('0' + (r-rune(rg.Lo))%10), true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r < rune(rg.Lo) {
			return 0, false
		}
		if r <= rune(rg.Hi) {
			return byte('0' + (r-rune(rg.Lo))%10), true
		}
	}
	return 0, false
}

// asciiAlnum returns the ASCII letter or digit a rune stands for under NFKC
// (full-width forms, mathematical alphanumerics, circled letters...).
func asciiAlnum(r rune) (byte, bool) {
	if r < utf8.RuneSelf {
		if (r >= '0' && r <= '9') || (r|0x20) >= 'a' && (r|0x20) <= 'z' {
			return byte(r), true
		}
		return 0, false
	}
	if d, ok := digitValue(r); ok {
		return d, true
	}
	switch {
	case r >= 0xFF21 && r <= 0xFF3A:
		return byte('A' + r - 0xFF21), true
	case r >= 0xFF41 && r <= 0xFF5A:
		return byte('a' + r - 0xFF41), true
	case r < 0x2100:
		return 0, false
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	d := norm.NFKC.Properties(buf[:n]).Decomposition()
	if len(d) == 1 && d[0] < utf8.RuneSelf {
		c := d[0]
		if (c >= '0' && c <= '9') || (c|0x20) >= 'a' && (c|0x20) <= 'z' {
			return c, true
		}
	}
	return 0, false
}

// foldSimple maps runes that NFKD does not decompose but that people
// commonly write without their diacritic.
func foldSimple(r rune) rune {
	switch r {
	case 'ς':
		return 'σ'
	case 'ı', 'İ':
		return 'i'
	case 'ł', 'Ł':
		return 'l'
	case 'đ', 'Đ':
		return 'd'
	case 'ø', 'Ø':
		return 'o'
	case 'ـ': // Arabic tatweel
		return -1
	}
	return unicode.ToLower(r)
}

// appendFold appends the folded form of r to dst: digits become ASCII,
// compatibility forms are decomposed, combining marks are dropped and the
// result is lower-cased. Keywords are folded with the same function, so
// matching is insensitive to case, width and diacritics.
func appendFold(dst []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(dst, byte(r))
	}
	if d, ok := digitValue(r); ok {
		return append(dst, d)
	}
	if r >= 0xAC00 && r <= 0xD7A3 { // Hangul syllables: keep composed
		return utf8.AppendRune(dst, r)
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	dec := norm.NFKD.Properties(buf[:n]).Decomposition()
	if dec == nil {
		if unicode.Is(unicode.Mn, r) {
			return dst
		}
		if f := foldSimple(r); f >= 0 {
			dst = utf8.AppendRune(dst, f)
		}
		return dst
	}
	for len(dec) > 0 {
		c, w := utf8.DecodeRune(dec)
		dec = dec[w:]
		if unicode.Is(unicode.Mn, c) {
			continue
		}
		if d, ok := digitValue(c); ok {
			dst = append(dst, d)
			continue
		}
		if f := foldSimple(c); f >= 0 {
			dst = utf8.AppendRune(dst, f)
		}
	}
	return dst
}

// foldString folds a whole string (used for keyword tables).
func foldString(s string) string {
	var b []byte
	for _, r := range s {
		b = appendFold(b, r)
	}
	return string(b)
}

func scriptOf(r rune) uint8 {
	switch {
	case r < 0x250:
		return scLatin
	case isHangul(r):
		return scHangul
	case r >= 0x0590 && r <= 0x06FF, r >= 0x0750 && r <= 0x077F, r >= 0xFB1D && r <= 0xFDFF, r >= 0xFE70 && r <= 0xFEFF:
		return scSemitic
	case r >= 0x0E00 && r <= 0x0EFF, r >= 0x1780 && r <= 0x17FF, r >= 0x1000 && r <= 0x109F:
		return scLoose
	}
	if unicode.Is(unicode.Latin, r) {
		return scLatin
	}
	return scOther
}

func isSentenceEnd(r rune) bool {
	switch r {
	case '.', '!', '?', ';', '。', '！', '？', '؟', '।', '｡', '…':
		return true
	}
	return false
}

// tokenize splits text into tokens and builds the folded buffer. It is a
// single left-to-right pass, linear in len(text).
func tokenize(text string) *doc {
	d := &doc{text: text}
	d.folded = make([]byte, 0, len(text)+len(text)/8)
	d.toks = make([]token, 0, estimateTokens(text))

	var (
		line, sent  int32
		pos         float32
		lastSigCJK  bool
		haveSig     bool
		spaceBefore = true
		cur         *token // current open run (word/num/alnum)
		curD, curL  bool   // current run has digits / non-ASCII letters
		curLower    bool
		curUpper    bool
		curFirstUp  bool
		curRestLow  bool
		lineSig     int32
		newlines    int // consecutive newlines seen
	)
	closeRun := func() {
		if cur == nil {
			return
		}
		t := cur
		switch {
		case t.ndig > 0 && (curUpper || curLower):
			t.kind = tkAlnum
		case t.ndig > 0:
			t.kind = tkNum
		default:
			t.kind = tkWord
		}
		t.upper = curUpper && !curLower && !curL
		t.title = curFirstUp && curRestLow && t.ndig == 0
		cur = nil
	}
	addSig := func(t *token, cjk bool) {
		switch {
		case !haveSig || t.spaceBefore:
			pos++
		case cjk || lastSigCJK:
			pos += 0.5
		default:
			pos += 0.3
		}
		t.pos = pos
		haveSig = true
		lastSigCJK = cjk
		lineSig++
	}

	for i := 0; i < len(text); {
		var r rune
		var w, c int
		if b := text[i]; b < utf8.RuneSelf {
			r, w, c = rune(b), 1, int(asciiClass[b])
		} else {
			r, w = utf8.DecodeRuneInString(text[i:])
			c = classify(r)
		}
		switch c {
		case rcSpace:
			closeRun()
			spaceBefore = true
			i += w
			continue
		case rcIgnore:
			i += w
			continue
		case rcNewline:
			closeRun()
			if r == '\n' && i > 0 && text[i-1] == '\r' {
				i += w
				continue
			}
			newlines++
			if newlines == 2 {
				sent++
			}
			d.toks = append(d.toks, token{os: int32(i), oe: int32(i + w), fs: int32(len(d.folded)), fe: int32(len(d.folded)), line: line, sent: sent, kind: tkNewline})
			d.lineSig = append(d.lineSig, lineSig)
			lineSig = 0
			line++
			spaceBefore = true
			i += w
			continue
		}
		if c == rcLetter && unicode.IsMark(r) && (cur == nil || cur.ndig > 0 || !(curL || curUpper || curLower)) {
			// A combining mark belongs to the letter before it; with no
			// letter run open it is dropped (it must not glue onto digits).
			i += w
			continue
		}
		newlines = 0
		switch c {
		case rcDigit, rcASCII, rcLetter:
			isLetter := c != rcDigit
			nonASCII := c == rcLetter
			if cur != nil && ((c == rcDigit && curL) || (nonASCII && curD)) {
				closeRun()
			}
			if cur == nil {
				d.toks = append(d.toks, token{os: int32(i), fs: int32(len(d.folded)), line: line, sent: sent, spaceBefore: spaceBefore})
				cur = &d.toks[len(d.toks)-1]
				curD, curL, curLower, curUpper = false, false, false, false
				curFirstUp, curRestLow = false, true
				cur.script = scLatin
				if nonASCII {
					cur.script = scriptOf(r)
				}
				addSig(cur, false)
				if isLetter {
					curFirstUp = isUpperLetter(r)
				}
			} else if isLetter && isUpperLetter(r) {
				curRestLow = false
			}
			switch c {
			case rcDigit:
				curD = true
				if cur.ndig < math.MaxUint16 {
					cur.ndig++
				}
			case rcASCII:
				if isUpperLetter(r) {
					curUpper = true
				} else {
					curLower = true
				}
			case rcLetter:
				if !unicode.IsMark(r) {
					curL = true
					if cur.script == scLatin && cur.nrunes > 0 {
						if s := scriptOf(r); s != scLatin {
							cur.script = s
						}
					}
				}
			}
			if r < utf8.RuneSelf {
				b := byte(r)
				if b >= 'A' && b <= 'Z' {
					b += 'a' - 'A'
				}
				d.folded = append(d.folded, b)
			} else {
				d.folded = appendFold(d.folded, r)
			}
			cur.nrunes++
			// The ASCII letters and digits that follow join the run
			// without the general path (a digit after a non-ASCII letter
			// ends it there).
			for i+w < len(text) {
				b := text[i+w]
				if b >= '0' && b <= '9' {
					if curL {
						break
					}
					curD = true
					if cur.ndig < math.MaxUint16 {
						cur.ndig++
					}
				} else if b >= 'a' && b <= 'z' {
					curLower = true
				} else if b >= 'A' && b <= 'Z' {
					curUpper = true
					curRestLow = false
					b += 'a' - 'A'
				} else {
					break
				}
				d.folded = append(d.folded, b)
				cur.nrunes++
				w++
			}
			cur.oe = int32(i + w)
			cur.fe = int32(len(d.folded))
			spaceBefore = false
		case rcCJK:
			closeRun()
			d.toks = append(d.toks, token{os: int32(i), oe: int32(i + w), fs: int32(len(d.folded)), line: line, sent: sent, kind: tkCJK, spaceBefore: spaceBefore, nrunes: 1})
			t := &d.toks[len(d.toks)-1]
			d.folded = appendFold(d.folded, r)
			t.fe = int32(len(d.folded))
			addSig(t, true)
			spaceBefore = false
		case rcCJKMark:
			if cur == nil && len(d.toks) > 0 && d.toks[len(d.toks)-1].kind == tkCJK && !spaceBefore {
				t := &d.toks[len(d.toks)-1]
				t.oe = int32(i + w)
				// voicing marks fold to nothing (they are combining marks)
				i += w
				continue
			}
			fallthrough
		default: // punctuation
			closeRun()
			d.toks = append(d.toks, token{os: int32(i), oe: int32(i + w), fs: int32(len(d.folded)), line: line, sent: sent, kind: tkPunct, spaceBefore: spaceBefore, nrunes: 1})
			t := &d.toks[len(d.toks)-1]
			d.folded = appendFold(d.folded, r)
			t.fe = int32(len(d.folded))
			if isSentenceEnd(r) {
				// A full stop ends a sentence when followed by a space, a line
				// break or the end of the text (or always for CJK stops).
				// "No. 58201", "Tel. 030 …", "J. Smith": a full stop after an
				// abbreviation or a single letter does not.
				if r >= 0x3000 || r == '…' || i+w >= len(text) || text[i+w] == ' ' || text[i+w] == '\n' || text[i+w] == '\r' || text[i+w] == '\t' {
					if !(r == '.' && d.afterAbbrev(len(d.toks)-2)) {
						sent++
					}
				}
			}
			spaceBefore = false
		}
		i += w
	}
	closeRun()
	d.lineSig = append(d.lineSig, lineSig)
	return d
}

// asciiClass is classify for ASCII runes.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		t[c] = uint8(classify(rune(c)))
	}
	return t
}()

// isUpperLetter reports whether letter r is a capital: an ASCII capital or
// a compatibility form of one, or else an upper-case letter.
func isUpperLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'A' && r <= 'Z'
	}
	if b, ok := asciiAlnum(r); ok {
		return b >= 'A' && b <= 'Z'
	}
	return unicode.IsUpper(r)
}

// tokenStart marks the ASCII bytes that may start a token: punctuation and
// line breaks (one token each) and letters and digits (the start of a run
// when the byte before is not one).
var tokenStart = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		switch classify(rune(c)) {
		case rcPunct, rcNewline:
			t[c] = 1
		case rcDigit:
			t[c] = 2
		case rcASCII:
			t[c] = 3
		}
	}
	return t
}()

// estimateTokens returns about the number of tokens tokenize makes of text
// (an upper bound for ASCII text), so that the token slice is allocated
// once: each punctuation byte, each run of letters and digits (and a digit
// after a letter, where a run may split), and each non-ASCII character.
func estimateTokens(text string) int {
	n := 4
	prev := uint8(0)
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= utf8.RuneSelf {
			if c >= 0xC0 {
				n++
			}
			prev = 0
			continue
		}
		k := tokenStart[c]
		switch {
		case k == 1:
			n++
		case k >= 2 && (prev < 2 || k == 2 && prev == 3):
			n++
		}
		prev = k
	}
	return n
}

// abbreviations after which a full stop does not end a sentence.
var abbrevs = map[string]bool{
	"no": true, "nos": true, "nr": true, "tel": true, "ph": true, "mob": true, "fax": true, "st": true, "str": true,
	"dr": true, "mr": true, "mrs": true, "ms": true, "prof": true, "ref": true, "inc": true, "ltd": true, "co": true,
	"corp": true, "vs": true, "approx": true, "acc": true, "acct": true, "apt": true, "ave": true, "blvd": true,
	"rd": true, "dept": true, "est": true, "ext": true, "fig": true, "ca": true, "bzw": true, "usw": true, "ggf": true,
	"inkl": true, "zzgl": true, "evtl": true, "art": true, "av": true, "ul": true, "pl": true, "jr": true, "sr": true,
	"vol": true, "pp": true, "txn": true, "appt": true, "bldg": true, "reg": true, "nº": true, "tél": true, "tfno": true,
	"núm": true, "num": true, "rs": true, "avl": true, "bal": true, "amt": true, "a/c": true, "bd": true, "nb": true,
}

// afterAbbrev reports whether token i (the one before a full stop) is an
// abbreviation or a single letter.
func (d *doc) afterAbbrev(i int) bool {
	if i < 0 || i >= len(d.toks) {
		return false
	}
	t := &d.toks[i]
	if t.kind != tkWord || t.oe != d.toks[i+1].os {
		return false
	}
	if t.nrunes == 1 {
		return true
	}
	return t.nrunes <= 6 && abbrevs[string(d.folded[t.fs:t.fe])]
}

// word returns the folded text of token i.
func (d *doc) word(i int) string {
	t := &d.toks[i]
	return string(d.folded[t.fs:t.fe])
}

// fword returns the folded bytes of token i without allocating.
func (d *doc) fword(i int) []byte {
	t := &d.toks[i]
	return d.folded[t.fs:t.fe]
}

// orig returns the original text of token i.
func (d *doc) orig(i int) string {
	t := &d.toks[i]
	return d.text[t.os:t.oe]
}

// punct returns the rune of punctuation token i, or -1.
func (d *doc) punct(i int) rune {
	if i < 0 || i >= len(d.toks) || d.toks[i].kind != tkPunct {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(d.text[d.toks[i].os:])
	return r
}
