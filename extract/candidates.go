package extract

import (
	"strings"
	"unicode/utf8"
)

// candKind is the shape of a candidate.
type candKind uint8

const (
	ckDigits       candKind = iota + 1 // 4–10 digits
	ckGrouped                          // digits in equal groups: 123 456, 123-456, 12 34 56
	ckPrefixed                         // service prefix: G-123456, FB-12345, GG-772019
	ckAlnum                            // letters and digits: K7P4XZ
	ckGroupedAlnum                     // 7X2-K9M
	ckCaps                             // capitals right after a code keyword: KPXZTQ
	ckOrigin                           // origin-bound line: @example.com #123456
	ckLetters                          // letters only, after "code:" or alone under a line naming the code
)

// noteCode identifies one reason in a candidate's explanation.
type noteCode uint8

const (
	nKind noteCode = iota + 1
	nKeyword
	nNoKeyword
	nAlone
	nIntro
	nBrackets
	nTypicalLen
	nLong
	nRepeated
	nPrefix
	nOrigin
	nContext
	// penalties (soft unless note.kill)
	pPhone
	pDate
	pTime
	pYear
	pMoney
	pPercent
	pCard
	pOrder
	pPostcode
	pStreet
	pIP
	pURL
	pEmail
	pPromo
	pDecimal
	pLongNumber
	pUnit
	pID
	pBooking
	pSender
	pWordNumber
	pIdentifier
	pCopyright
	pHash
	pFarKeyword
	pRound
	pContext
	pBrand
)

var noteText = map[noteCode]string{
	pPhone:      "phone number",
	pDate:       "date",
	pTime:       "time of day",
	pYear:       "looks like a year",
	pMoney:      "money amount",
	pPercent:    "percentage",
	pCard:       "card or account fragment",
	pOrder:      "order/invoice/tracking/reference number",
	pPostcode:   "postcode",
	pStreet:     "street address",
	pIP:         "IP address",
	pURL:        "part of a URL",
	pEmail:      "part of an email address",
	pPromo:      "promo or discount code",
	pDecimal:    "decimal number or amount",
	pLongNumber: "part of a longer number",
	pUnit:       "quantity with a unit",
	pID:         "reference/ID number",
	pBooking:    "booking reference",
	pSender:     "the sender's own number",
	pWordNumber: "word followed by a number (promo style)",
	pIdentifier: "part of a longer identifier",
	pCopyright:  "copyright line",
	pHash:       "preceded by '#'",
	pFarKeyword: "letters and digits far from any code keyword",
	pRound:      "round number (a quantity, not a code)",
	pContext:    "not the length or alphabet the request expects",
	pBrand:      "a name before the keyword it qualifies (\"your 98point6 code\")",
}

// note is one scoring reason, rendered to text only for returned candidates.
type note struct {
	code     noteCode
	kill     bool
	delta    float32
	kw       int32 // keyword occurrence (nKeyword)
	dist     float32
	lines    int32
	after    bool
	subject  bool
	shadowed bool
	second   bool
}

// cand is one candidate occurrence.
type cand struct {
	kind   candKind
	code   string
	ti, tj int32 // token span
	nsig   int32 // significant tokens in the span
	score  float64
	killed bool
	notes  []note
}

func (c *cand) add(n note) { c.notes = append(c.notes, n) }

// isCodeString: only ASCII letters and digits.
func isCodeString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func (c *cand) kill(code noteCode) {
	for _, n := range c.notes {
		if n.code == code && n.kill {
			return
		}
	}
	c.killed = true
	c.add(note{code: code, kill: true})
}

func (c *cand) soft(code noteCode, delta float32) {
	for _, n := range c.notes {
		if n.code == code {
			return
		}
	}
	c.add(note{code: code, delta: -delta})
}

// maxChain bounds the numbers examined in one chain.
const maxChain = 12

// chain is a run of number tokens joined by single separators. toks and
// seps are slices of the fixed arrays (no allocation per number).
type chain struct {
	toks   []int32
	seps   []byte // ' ', '-', '.', ',', '/', ':'
	tokArr [maxChain]int32
	sepArr [maxChain]byte
}

// sepBetween returns the single separator joining tokens a and b (b > a),
// or 0 when they are not joined.
func (d *doc) sepBetween(a, b int) (byte, int) {
	if b >= len(d.toks) {
		return 0, 0
	}
	ta := &d.toks[a]
	tb := &d.toks[b]
	if ta.line != tb.line {
		return 0, 0
	}
	if b == a+1 {
		if !tb.spaceBefore {
			return 0, 0
		}
		gap := d.text[ta.oe:tb.os]
		r, w := utf8.DecodeRuneInString(gap)
		if w == len(gap) && (r == ' ' || r == 0xA0 || r == 0x2009 || r == 0x202F || r == 0x2007) {
			return ' ', b
		}
		return 0, 0
	}
	if b == a+2 && d.toks[a+1].kind == tkPunct && !d.toks[a+1].spaceBefore && !tb.spaceBefore {
		switch d.punct(a + 1) {
		case '-', '‐', '‑', '–':
			return '-', b
		case '.':
			return '.', b
		case ',':
			return ',', b
		case '/':
			return '/', b
		case ':':
			return ':', b
		}
	}
	return 0, 0
}

// numChain collects the chain of number tokens starting at token i.
func (d *doc) numChain(ch *chain, i int, maxLen int) {
	ch.toks = append(ch.tokArr[:0], int32(i))
	ch.seps = ch.sepArr[:0]
	for len(ch.toks) < maxLen {
		last := int(ch.toks[len(ch.toks)-1])
		found := false
		for _, step := range [2]int{1, 2} {
			b := last + step
			if b >= len(d.toks) || d.toks[b].kind != tkNum {
				continue
			}
			if s, _ := d.sepBetween(last, b); s != 0 {
				ch.toks = append(ch.toks, int32(b))
				ch.seps = append(ch.seps, s)
				found = true
			}
			break
		}
		if !found {
			break
		}
	}
}

func (ch *chain) uniformSep() byte {
	if len(ch.seps) == 0 {
		return 0
	}
	s := ch.seps[0]
	for _, x := range ch.seps[1:] {
		if x != s {
			return 0
		}
	}
	return s
}

func (ch *chain) hasSep(s byte) bool {
	for _, x := range ch.seps {
		if x == s {
			return true
		}
	}
	return false
}

func atoiBytes(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' || n > 1e8 {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func validDMY(dd, mm, yy int) bool {
	return dd >= 1 && dd <= 31 && mm >= 1 && mm <= 12 && yy >= 0
}

// chainLooksLikeDate reports whether a chain of 3 groups is a plausible
// date in any common order.
func (d *doc) chainLooksLikeDate(ch *chain) bool {
	if len(ch.toks) != 3 {
		if len(ch.toks) == 2 { // 11/23, 23.11.
			a, b := atoiBytes(d.fword(int(ch.toks[0]))), atoiBytes(d.fword(int(ch.toks[1])))
			la, lb := len(d.fword(int(ch.toks[0]))), len(d.fword(int(ch.toks[1])))
			return la <= 2 && lb <= 2 && (validDMY(a, b, 0) || validDMY(b, a, 0))
		}
		return false
	}
	v := [3]int{}
	l := [3]int{}
	for k := 0; k < 3; k++ {
		w := d.fword(int(ch.toks[k]))
		v[k], l[k] = atoiBytes(w), len(w)
	}
	switch {
	case l[0] == 4 && l[1] <= 2 && l[2] <= 2: // 2026-11-23
		return validDMY(v[2], v[1], v[0])
	case l[0] <= 2 && l[1] <= 2 && (l[2] == 4 || l[2] == 2): // 23.11.2026, 11/23/26
		return validDMY(v[0], v[1], v[2]) || validDMY(v[1], v[0], v[2]) || (l[2] == 2 && validDMY(v[2], v[1], v[0]))
	}
	return false
}

// looksLikeYMD reports whether an 8-digit string is a plausible
// yyyymmdd or ddmmyyyy date.
func looksLikeYMD(s string) bool {
	if len(s) != 8 {
		return false
	}
	y := atoiBytes([]byte(s[:4]))
	if y >= 1990 && y <= 2099 && validDMY(atoiBytes([]byte(s[6:])), atoiBytes([]byte(s[4:6])), y) {
		return true
	}
	y = atoiBytes([]byte(s[4:]))
	return y >= 1990 && y <= 2099 && validDMY(atoiBytes([]byte(s[:2])), atoiBytes([]byte(s[2:4])), y)
}

var servicePrefixes = map[string]bool{"G": true, "FB": true, "GG": true}

var capsStop = map[string]bool{
	"STOP": true, "HELP": true, "INFO": true, "CODE": true, "CODES": true, "NOTE": true, "ALERT": true,
	"URGENT": true, "IMPORTANT": true, "WARNING": true, "FREE": true, "CALL": true, "TEXT": true,
	"REPLY": true, "CANCEL": true, "NEVER": true, "SHARE": true, "ANYONE": true, "BANK": true,
	"VISA": true, "VERIFY": true, "LOGIN": true, "EXPIRES": true, "VALID": true, "ONLY": true,
	"THIS": true, "YOUR": true, "WITH": true, "FROM": true, "HERE": true, "BELOW": true, "ABOVE": true,
	"SENT": true, "NONE": true, "NULL": true, "TRUE": true, "FALSE": true, "HTTP": true, "HTTPS": true,
	"OTPS": true, "PASSWORD": true, "SECURITY": true, "DETAILS": true, "ACCOUNT": true, "EMAIL": true,
	"PHONE": true, "MOBILE": true, "NUMBER": true, "DEAR": true, "HELLO": true, "THANKS": true,
	"JANGAN": true, "BERIKAN": true, "RAHASIA": true, "NICHT": true, "PAS": true, "NO": true,
	"USED": true, "SAFE": true, "KEEP": true, "SECRET": true, "PRIVATE": true, "TEST": true,
}

var usStates = map[string]bool{
	"AL": true, "AK": true, "AZ": true, "AR": true, "CA": true, "CO": true, "CT": true, "DE": true, "FL": true, "GA": true,
	"HI": true, "ID": true, "IL": true, "IN": true, "IA": true, "KS": true, "KY": true, "LA": true, "ME": true, "MD": true,
	"MA": true, "MI": true, "MN": true, "MS": true, "MO": true, "MT": true, "NE": true, "NV": true, "NH": true, "NJ": true,
	"NM": true, "NY": true, "NC": true, "ND": true, "OH": true, "OK": true, "OR": true, "PA": true, "RI": true, "SC": true,
	"SD": true, "TN": true, "TX": true, "UT": true, "VT": true, "VA": true, "WA": true, "WV": true, "WI": true, "WY": true,
	"DC": true, "PR": true,
}

func isCurrencySymbol(r rune) bool {
	switch r {
	case '$', '€', '£', '¥', '₹', '₽', '₩', '₺', '₫', '₪', '฿', '₱', '₦', '₴', '₸', '₼', '₾', '¢', '﹩', '＄', '￥', '￡', '￦', '৳', '₲', '₡', '₭', '₮':
		return true
	}
	return false
}

func isMaskRune(r rune) bool {
	switch r {
	case '*', '•', '●', '·', '∙', '×', '＊', '…':
		return true
	}
	return false
}

func allMask(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r != 'x' && r != 'X' && r != '*' {
			return false
		}
	}
	return true
}

// asciiCode returns the candidate code of tokens [i, j] (letters keep
// their case; full-width and other compatibility forms become ASCII),
// skipping separators.
func (d *doc) asciiCode(i, j int) string {
	if t := &d.toks[i]; i == j && (t.kind == tkNum || t.kind == tkAlnum || t.kind == tkWord) && t.oe-t.os == t.nrunes {
		// one token of ASCII letters and digits only: the text itself
		return d.text[t.os:t.oe]
	}
	var b strings.Builder
	for k := i; k <= j; k++ {
		t := &d.toks[k]
		if t.kind != tkNum && t.kind != tkAlnum && t.kind != tkWord {
			continue
		}
		if t.kind == tkNum {
			b.Write(d.folded[t.fs:t.fe])
			continue
		}
		for _, r := range d.text[t.os:t.oe] {
			if c, ok := asciiAlnum(r); ok {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// isASCIIWord: a word token made only of ASCII(-like) letters.
func (d *doc) isASCIIWord(i int) bool {
	t := &d.toks[i]
	if t.kind != tkWord {
		return false
	}
	return int(t.fe-t.fs) == int(t.nrunes) && t.script == scLatin && asciiOnly(d.fword(i))
}

func asciiOnly(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// prevOnLine returns the token before i on the same line, or -1.
func (d *doc) prevOnLine(i int) int {
	if i <= 0 || d.toks[i-1].kind == tkNewline {
		return -1
	}
	return i - 1
}

// nextOnLine returns the token after i on the same line, or -1.
func (d *doc) nextOnLine(i int) int {
	if i+1 >= len(d.toks) || d.toks[i+1].kind == tkNewline {
		return -1
	}
	return i + 1
}

// prevSig returns the closest significant token before i on the same line.
func (d *doc) prevSig(i int) int {
	for k := i - 1; k >= 0 && k >= i-6; k-- {
		if d.toks[k].kind == tkNewline {
			return -1
		}
		if d.toks[k].significant() {
			return k
		}
	}
	return -1
}

// nextSig returns the closest significant token after i on the same line.
func (d *doc) nextSig(i int) int {
	for k := i + 1; k < len(d.toks) && k <= i+6; k++ {
		if d.toks[k].kind == tkNewline {
			return -1
		}
		if d.toks[k].significant() {
			return k
		}
	}
	return -1
}

// generate builds the candidate occurrences of the document.
func (x *extractor) generate() {
	d := x.d
	n := len(d.toks)
	for i := 0; i < n; i++ {
		t := &d.toks[i]
		if t.kind == tkNum || t.kind == tkAlnum || t.kind == tkWord {
			if last, ok := x.alnumGroup(i); ok {
				code := d.asciiCode(i, last)
				c := x.newCand(ckGroupedAlnum, i, last, code)
				x.checkCommon(c)
				x.checkAlnumShape(c, code)
				i = last
				continue
			}
		}
		if t.nrunes == 1 && (t.kind == tkWord || t.kind == tkNum) {
			if last := x.genSpaced(i); last > i {
				i = last
				continue
			}
		}
		switch t.kind {
		case tkNum:
			i = x.genNumber(i)
		case tkAlnum:
			i = x.genAlnum(i)
		case tkWord:
			if t.nrunes >= 3 && t.nrunes <= 10 {
				i = x.genWord(i)
			}
		}
	}
}

func (x *extractor) newCand(kind candKind, ti, tj int, code string) *cand {
	if len(code) < 3 || len(code) > 10 || !isCodeString(code) {
		// Defensive: every path builds ASCII codes of 3–10 characters; a
		// malformed one is kept out of the result (scratch slot, not listed).
		x.scratch = cand{kind: kind, code: code, ti: int32(ti), tj: int32(tj), killed: true}
		return &x.scratch
	}
	nsig := int32(0)
	for k := ti; k <= tj; k++ {
		if x.d.toks[k].significant() {
			nsig++
		}
	}
	x.cands = append(x.cands, cand{kind: kind, code: code, ti: int32(ti), tj: int32(tj), nsig: nsig})
	return &x.cands[len(x.cands)-1]
}

// chain returns the extractor's scratch chain.
func (x *extractor) chain() *chain {
	if x.numCh == nil {
		x.numCh = new(chain)
	}
	return x.numCh
}

// genNumber handles a number token (and the chain it starts); it returns
// the index of the last token consumed.
func (x *extractor) genNumber(i int) int {
	d := x.d
	t := &d.toks[i]
	// Service prefix: G-123456, FB-12345, GG-772019.
	if i >= 2 && d.punct(i-1) == '-' && !t.spaceBefore && !d.toks[i-1].spaceBefore && d.toks[i-2].kind == tkWord {
		p := d.orig(i - 2)
		if servicePrefixes[p] && (i-3 < 0 || d.toks[i-2].spaceBefore || d.toks[i-3].kind == tkPunct) && t.ndig >= 4 && t.ndig <= 10 {
			ch := x.chain()
			d.numChain(ch, i, 4)
			if len(ch.toks) == 1 {
				c := x.newCand(ckPrefixed, i-2, i, string(d.fword(i)))
				c.add(note{code: nPrefix})
				x.checkCommon(c)
				return i
			}
		}
	}
	ch := x.chain()
	d.numChain(ch, i, maxChain)
	last := int(ch.toks[len(ch.toks)-1])
	if len(ch.toks) == 1 {
		if t.ndig >= 4 && t.ndig <= 10 || t.ndig == 3 && x.codeKeywordBefore(i) {
			c := x.newCand(ckDigits, i, i, string(d.fword(i)))
			x.checkCommon(c)
		}
		return i
	}
	// A chain of several numbers.
	total := 0
	size := int(d.toks[ch.toks[0]].ndig)
	equal := true
	for _, k := range ch.toks {
		nd := int(d.toks[k].ndig)
		total += nd
		if nd != size {
			equal = false
		}
	}
	sep := ch.uniformSep()
	isDate := (sep == '-' || sep == '.' || sep == '/') && d.chainLooksLikeDate(ch)
	nparts := len(ch.toks)
	validGroup := (sep == ' ' || sep == '-') && equal && !isDate && total >= 4 && total <= 10 &&
		((size >= 2 && size <= 5) || (size == 1 && sep == ' ' && nparts >= 4))
	// Two unequal groups joined by a hyphen right after a code keyword:
	// "verification code: 337-1337".
	if !validGroup && nparts == 2 && sep == '-' && !equal && total >= 5 && total <= 8 && !isDate &&
		d.toks[ch.toks[0]].ndig >= 2 && d.toks[ch.toks[1]].ndig >= 2 && x.codeKeywordBefore(i) {
		validGroup = true
	}
	if validGroup {
		// A leading '+' or '(' makes it a phone number, not a code.
		c := x.newCand(ckGrouped, i, last, d.asciiCode(i, last))
		if p := d.prevOnLine(i); p >= 0 && (d.punct(p) == '+' || d.punct(p) == '(') {
			c.kill(pPhone)
		}
		x.checkCommon(c)
		return last
	}
	// Not a code grouping: classify the whole chain once.
	var why noteCode
	switch {
	case isDate:
		why = pDate
	case ch.hasSep(':'):
		why = pTime
	case ch.hasSep('/'):
		why = pDate
	case ch.hasSep('.') && nparts == 4 && total <= 12 && sep == '.':
		why = pIP
		for _, k := range ch.toks {
			if v := atoiBytes(d.fword(int(k))); v > 255 || d.toks[k].ndig > 3 {
				why = pDecimal
			}
		}
	case ch.hasSep('.') || ch.hasSep(','):
		why = pDecimal
	case total >= 7:
		why = pPhone
	case sep == ' ' && nparts == 2:
		p := d.prevOnLine(i)
		if p < 0 || (d.punct(p) != '+' && d.punct(p) != '(') {
			// Two loose numbers ("4821 20"): judge each on its own.
			for _, k := range ch.toks {
				if tk := &d.toks[k]; tk.ndig >= 4 && tk.ndig <= 10 {
					c := x.newCand(ckDigits, int(k), int(k), string(d.fword(int(k))))
					x.checkCommon(c)
				}
			}
			return last
		}
		why = pPhone
	default:
		why = pLongNumber
	}
	if p := d.prevOnLine(i); p >= 0 {
		switch d.punct(p) {
		case '+':
			why = pPhone
		case '〒':
			why = pPostcode
		}
	}
	for _, k := range ch.toks {
		if tk := &d.toks[k]; tk.ndig >= 4 && tk.ndig <= 10 {
			c := x.newCand(ckDigits, int(k), int(k), string(d.fword(int(k))))
			c.kill(why)
		}
	}
	return last
}

// alnumGroup recognises letters and digits in equal groups joined by a
// hyphen (or a space when every group mixes letters and digits):
// "7X2-K9M", "ABJ-5K2", "ABCD-1234". It returns the last token.
func (x *extractor) alnumGroup(i int) (int, bool) {
	d := x.d
	isGroup := func(k int) bool {
		t := &d.toks[k]
		switch t.kind {
		case tkAlnum:
			return d.isASCIIAlnum(k)
		case tkNum:
			return true
		case tkWord:
			return t.upper && d.isASCIIWord(k)
		}
		return false
	}
	t := &d.toks[i]
	size := int(t.nrunes)
	if size < 3 || size > 5 || !isGroup(i) {
		return i, false
	}
	toks := []int{i}
	letters, digits := t.kind != tkNum, t.ndig > 0
	for len(toks) < 3 {
		last := toks[len(toks)-1]
		b := last + 2
		if sep, _ := d.sepBetween(last, b); sep != '-' {
			b = last + 1
			if s, _ := d.sepBetween(last, b); s != ' ' || d.toks[last].kind != tkAlnum || d.toks[b].kind != tkAlnum {
				break
			}
		}
		nt := &d.toks[b]
		if int(nt.nrunes) != size || !isGroup(b) {
			break
		}
		letters = letters || nt.kind != tkNum
		digits = digits || nt.ndig > 0
		toks = append(toks, b)
	}
	if len(toks) < 2 || !letters || !digits || size*len(toks) > 10 {
		return i, false
	}
	// not a service prefix followed by digits, not part of a longer chain
	last := toks[len(toks)-1]
	if nx := d.nextOnLine(last); nx >= 0 && !d.toks[nx].spaceBefore && d.punct(nx) == '-' {
		if nn := d.nextOnLine(nx); nn >= 0 && !d.toks[nn].spaceBefore && isGroup(nn) {
			return i, false
		}
	}
	return last, true
}

// genAlnum handles an alphanumeric token.
func (x *extractor) genAlnum(i int) int {
	d := x.d
	t := &d.toks[i]
	if (t.nrunes >= 4 || t.nrunes == 3 && x.codeKeywordBefore(i)) && t.nrunes <= 10 && d.isASCIIAlnum(i) {
		code := d.asciiCode(i, i)
		c := x.newCand(ckAlnum, i, i, code)
		x.checkCommon(c)
		x.checkAlnumShape(c, code)
	}
	return i
}

func (d *doc) isASCIIAlnum(i int) bool {
	for _, r := range d.orig(i) {
		if _, ok := asciiAlnum(r); !ok {
			return false
		}
	}
	return true
}

// genCaps adds an all-capitals word as a candidate only in the narrow
// pattern "<code keyword> [is|:] WORD" with no shouting around it.
func (x *extractor) genCaps(i int) {
	d := x.d
	code := d.asciiCode(i, i)
	if capsStop[code] || x.mask[i]&(clsPositive|clsNeutral|clsFill|clsMoney|clsUnit|clsMonth|clsIDMark) != 0 {
		return
	}
	fill := 0
	ok := false
	for k := i - 1; k >= 0 && k >= i-5; k-- {
		tk := &d.toks[k]
		if tk.kind == tkNewline {
			break
		}
		if tk.kind == tkPunct {
			r := d.punct(k)
			if r == ':' || r == '：' || r == '-' || r == '=' {
				continue
			}
			break
		}
		m := x.mask[k]
		if m&clsCode != 0 && !x.demoted[k] {
			ok = true
			break
		}
		if m&clsFill != 0 && fill < 2 {
			fill++
			continue
		}
		break
	}
	if !ok {
		return
	}
	if n := d.nextSig(i); n >= 0 && d.toks[n].kind == tkWord && d.toks[n].upper && d.toks[n].nrunes >= 2 && d.toks[n].sent == d.toks[i].sent {
		return
	}
	c := x.newCand(ckCaps, i, i, code)
	x.checkCommon(c)
}

// checkAlnumShape applies the penalties specific to letter+digit tokens.
func (x *extractor) checkAlnumShape(c *cand, code string) {
	// split into leading letters / digits / trailing letters
	i := 0
	for i < len(code) && !(code[i] >= '0' && code[i] <= '9') {
		i++
	}
	j := i
	for j < len(code) && code[j] >= '0' && code[j] <= '9' {
		j++
	}
	lead, digits, trail := code[:i], code[i:j], code[j:]
	simple := j == len(code) || i == 0 && !strings.ContainsAny(trail, "0123456789")
	lw := strings.ToLower(lead)
	tw := strings.ToLower(trail)
	switch {
	case allMask(lead) && len(digits) >= 3 && trail == "":
		c.kill(pCard)
	case maskedNumber(code):
		c.kill(pCard)
	case timeOfDay(code):
		c.kill(pTime)
	case simple && lead == "" && digits != "" && trail != "" && (unitWords[tw] || moneyWords[tw]):
		if moneyWords[tw] {
			c.kill(pMoney)
		} else {
			c.kill(pUnit)
		}
	case simple && lead != "" && trail == "" && moneyWords[lw]:
		c.kill(pMoney)
	case simple && lead != "" && trail == "" && (lw == "v" || lw == "ver" || lw == "version" || lw == "build" || lw == "rev"):
		c.kill(pID)
	case simple && trail == "" && len(lead) >= 4 && len(digits) <= 3 && hasVowel(lw):
		c.soft(pWordNumber, 0.3)
	}
	// A name before the keyword it qualifies: "your 98point6 security
	// code", "your 1Password verification code".
	if c.kind == ckAlnum {
		d := x.d
		p, n := d.prevSig(int(c.ti)), d.nextSig(int(c.tj))
		if p >= 0 && n >= 0 && x.mask[p]&clsFiller != 0 && x.mask[n]&clsPositive != 0 && !x.demoted[n] && d.toks[n].sent == d.toks[c.ti].sent {
			c.soft(pBrand, 0.5)
		}
	}
	// UK postcode: outward code followed by an inward code (SW1A 1AA).
	if c.kind == ckAlnum && len(code) <= 4 && ukOutward(code) {
		if nx := x.d.nextSig(int(c.tj)); nx >= 0 && ukInward(x.d.orig(nx)) {
			c.kill(pPostcode)
		}
	}
}

// maskedNumber: digits with a run of masking letters, "98XXXXXX21", "4421xxxx".
func maskedNumber(s string) bool {
	digits, run, maxRun := 0, 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
			run = 0
		case c == 'x' || c == 'X':
			run++
			maxRun = max(maxRun, run)
		default:
			return false
		}
	}
	return digits >= 2 && maxRun >= 2
}

// timeOfDay: "14h30", "9h05".
func timeOfDay(s string) bool {
	i := strings.IndexAny(s, "hH")
	if i < 1 || i > 2 || len(s)-i-1 != 2 {
		return false
	}
	h, m := atoiBytes([]byte(s[:i])), atoiBytes([]byte(s[i+1:]))
	return h >= 0 && h <= 24 && m >= 0 && m < 60
}

func hasVowel(s string) bool { return strings.ContainsAny(s, "aeiouy") }

func ukOutward(s string) bool {
	// A9, A99, AA9, AA99, A9A, AA9A
	i := 0
	for i < len(s) && s[i] >= 'A' && s[i] <= 'Z' {
		i++
	}
	if i < 1 || i > 2 || i >= len(s) || s[i] < '0' || s[i] > '9' {
		return false
	}
	rest := s[i+1:]
	switch len(rest) {
	case 0:
		return true
	case 1:
		return rest[0] >= '0' && rest[0] <= '9' || rest[0] >= 'A' && rest[0] <= 'Z'
	}
	return false
}

func ukInward(s string) bool {
	return len(s) == 3 && s[0] >= '0' && s[0] <= '9' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}

var unitWords = map[string]bool{}
var moneyWords = map[string]bool{}

func init() {
	for _, g := range kwGroups {
		if g.cls&(clsUnit|clsMoney) == 0 {
			continue
		}
		for _, w := range strings.Split(g.list, "|") {
			w = foldString(strings.TrimSpace(w))
			if strings.ContainsAny(w, " *") {
				continue
			}
			if g.cls&clsUnit != 0 {
				unitWords[w] = true
			} else {
				moneyWords[w] = true
			}
		}
	}
}
