package extract

import (
	"strings"
	"unicode/utf8"
)

// chunk flags
const (
	chURL uint8 = 1 << iota
	chEmail
	chIPv6
)

// line flags
const (
	lnCopyright uint8 = 1 << iota
)

const negClasses = clsPromo | clsOrder | clsPhone | clsMoney | clsMoneyCtx | clsCard | clsPostal | clsStreet | clsBooking | clsMonth | clsCopyright

// computeLayout assigns chunk ids (whitespace-delimited chunks) and line
// flags in one linear pass. Chunk flags are computed on demand.
func (x *extractor) computeLayout() {
	d := x.d
	x.chunk = make([]int32, len(d.toks))
	x.lineFl = make([]uint8, len(d.lineSig))
	nc := 0
	for i := range d.toks {
		if t := &d.toks[i]; t.kind != tkNewline && (nc == 0 || t.spaceBefore) {
			nc++
		}
	}
	x.chunkStart = make([]int32, 0, nc)
	cid := int32(-1)
	for i := range d.toks {
		t := &d.toks[i]
		if t.kind == tkNewline {
			x.chunk[i] = -1
			continue
		}
		if cid < 0 || t.spaceBefore {
			cid++
			x.chunkStart = append(x.chunkStart, int32(i))
		}
		x.chunk[i] = cid
		if x.mask[i]&clsCopyright != 0 || (t.kind == tkPunct && d.punct(i) == '©') {
			x.lineFl[t.line] |= lnCopyright
		}
	}
	x.chunkFl = make([]uint8, len(x.chunkStart))
}

const chKnown uint8 = 0x80

// chunkFlagsOf returns the (memoised) URL / e-mail flags of chunk id.
func (x *extractor) chunkFlagsOf(id int32) uint8 {
	if id < 0 {
		return 0
	}
	if f := x.chunkFl[id]; f&chKnown != 0 {
		return f &^ chKnown
	}
	start := int(x.chunkStart[id])
	end := len(x.d.toks) - 1
	if int(id)+1 < len(x.chunkStart) {
		end = int(x.chunkStart[id+1]) - 1
	}
	f := x.d.chunkFlags(start, end)
	x.chunkFl[id] = f | chKnown
	return f
}

// chunkFlags classifies the chunk of tokens [a, b] as URL or e-mail.
func (d *doc) chunkFlags(a, b int) uint8 {
	for b > a && d.toks[b].kind == tkNewline {
		b--
	}
	if b < a {
		return 0
	}
	s := d.text[d.toks[a].os:d.toks[b].oe]
	s = strings.TrimLeftFunc(s, isOpenPunct)
	s = strings.TrimRightFunc(s, isClosePunct)
	if len(s) < 4 {
		return 0
	}
	if looksIPv6(s) {
		return chIPv6
	}
	if strings.Contains(s, "://") || hasPrefixFold(s, "www.") || hasPrefixFold(s, "mailto:") {
		return chURL
	}
	if at := strings.IndexByte(s, '@'); at > 0 {
		if dot := strings.LastIndexByte(s[at:], '.'); dot > 1 && isTLD(s[at+dot+1:]) {
			return chEmail
		}
	}
	host := s
	if sl := strings.IndexAny(s, "/?#"); sl >= 0 {
		host = s[:sl]
	} else if strings.IndexByte(s, '=') >= 0 && strings.IndexByte(s, '&') >= 0 {
		return chURL
	}
	host = strings.TrimPrefix(host, "@")
	if c := strings.IndexByte(host, ':'); c >= 0 {
		host = host[:c]
	}
	if dot := strings.LastIndexByte(host, '.'); dot > 0 && isTLD(host[dot+1:]) {
		label := host[:dot]
		if label != "" && !strings.ContainsAny(label, " ") && asciiOnly([]byte(label)) {
			return chURL
		}
	}
	return 0
}

// looksIPv6: hexadecimal groups joined by colons, with "::" or a hex letter
// ("2a02:d3c2:dfc9:6fa1::ab4"); times such as 10:30:45 are not.
func looksIPv6(s string) bool {
	colons, letters := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':':
			colons++
		case c >= '0' && c <= '9', c == '.':
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			letters = true
		default:
			return false
		}
	}
	return colons >= 2 && (letters || strings.Contains(s, "::"))
}

func isOpenPunct(r rune) bool {
	switch r {
	case '(', '[', '<', '{', '"', '\'', '«', '“':
		return true
	}
	return false
}

func isClosePunct(r rune) bool {
	switch r {
	case ')', ']', '>', '}', '"', '\'', '»', '”', '.', ',', ';', ':', '!', '?':
		return true
	}
	return false
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

// isTLD: 2–6 lower-case ASCII letters (a capitalised word after a full stop
// is a new sentence, not a domain).
func isTLD(s string) bool {
	if len(s) < 2 || len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// checkCommon applies every context rule to a candidate.
func (x *extractor) checkCommon(c *cand) {
	d := x.d
	ti, tj := int(c.ti), int(c.tj)
	first := &d.toks[ti]

	// URL and e-mail parts.
	if f := x.chunkFlagsOf(x.chunk[ti]) | x.chunkFlagsOf(x.chunk[tj]); f != 0 {
		if f&chIPv6 != 0 {
			c.kill(pIP)
			return
		}
		if f&chEmail != 0 {
			c.kill(pEmail)
		} else {
			c.kill(pURL)
		}
		return
	}

	// Characters glued to the candidate.
	if p := d.prevOnLine(ti); p >= 0 && d.toks[p].kind == tkPunct {
		r := d.punct(p)
		adj := !first.spaceBefore
		switch {
		case adj && r == '+':
			if pp := d.prevOnLine(p); pp >= 0 && !d.toks[p].spaceBefore && (d.toks[pp].kind == tkWord || d.toks[pp].kind == tkAlnum) {
				c.kill(pIdentifier) // "FA+9qCX9VSu"
			} else {
				c.kill(pPhone)
			}
		case adj && isMaskRune(r):
			c.kill(pCard)
		case isCurrencySymbol(r) && (adj || d.singleSpace(p, ti)):
			c.kill(pMoney)
		case r == '〒':
			c.kill(pPostcode)
		case r == '©':
			c.kill(pCopyright)
		case adj && (r == '_' || r == '/' || r == '\\' || r == '=' || r == '@' || r == '&' || r == '?' || r == '.'):
			if pp := d.prevOnLine(p); pp >= 0 && d.toks[pp].significant() && !d.toks[p].spaceBefore {
				c.kill(pIdentifier)
			}
		case adj && (r == '-' || r == '‐') && c.kind != ckPrefixed:
			if pp := d.prevOnLine(p); pp >= 0 && !d.toks[p].spaceBefore {
				switch d.toks[pp].kind {
				case tkNum:
					if c.kind == ckAlnum {
						c.kill(pIdentifier) // "1337-1337XXX"
					}
				case tkWord, tkAlnum:
					if allMask(d.orig(pp)) {
						c.kill(pCard)
					} else {
						c.soft(pIdentifier, 0.3)
					}
				case tkPunct:
					if isMaskRune(d.punct(pp)) {
						c.kill(pCard)
					}
				}
			}
		}
		// R$ 10, US$ 10
		if r == '$' && p > 0 && d.toks[p-1].kind == tkWord && !d.toks[p].spaceBefore {
			c.kill(pMoney)
		}
	}
	if nx := d.nextOnLine(tj); nx >= 0 && d.toks[nx].kind == tkPunct {
		r := d.punct(nx)
		adj := !d.toks[nx].spaceBefore
		switch {
		case r == '%' || r == '％' || r == '‰':
			if adj || d.singleSpace(tj, nx) {
				c.kill(pPercent)
			}
		case isCurrencySymbol(r) && (adj || d.singleSpace(tj, nx)):
			c.kill(pMoney)
		case adj && (r == '_' || r == '/' || r == '\\' || r == '=' || r == '@' || r == '&'):
			if nn := d.nextOnLine(nx); nn >= 0 && d.toks[nn].significant() && !d.toks[nn].spaceBefore {
				c.kill(pIdentifier)
			}
		case adj && (r == '-' || r == '‐'):
			if nn := d.nextOnLine(nx); nn >= 0 && !d.toks[nn].spaceBefore && (d.toks[nn].kind == tkWord || d.toks[nn].kind == tkAlnum) {
				if d.toks[nn].kind == tkAlnum && c.kind == ckDigits {
					c.kill(pIdentifier) // "1337-1337XXX" is not "1337"
				} else {
					c.soft(pIdentifier, 0.3)
				}
			}
		case adj && isMaskRune(r):
			// "1234****5678", "0000*0000000": a masked card or account number
			if nn := d.nextOnLine(nx); nn >= 0 && !d.toks[nn].spaceBefore && (d.toks[nn].kind == tkNum || isMaskRune(d.punct(nn))) {
				c.kill(pCard)
			}
		}
	}

	// Years, dates.
	isDigits := c.kind == ckDigits || c.kind == ckGrouped || c.kind == ckPrefixed
	yearLike := false
	if c.kind == ckDigits && len(c.code) == 4 {
		if v := atoiBytes([]byte(c.code)); v >= 1900 && v <= 2099 {
			yearLike = true
		}
	}
	if yearLike {
		month := false
		if p := d.prevSig(ti); p >= 0 {
			switch {
			case x.mask[p]&clsMonth != 0:
				month = true
			case d.toks[p].kind == tkWord && yearContext[d.word(p)]:
				month = true // "since 2019", "seit 2019"
			case d.toks[p].kind == tkNum && d.toks[p].ndig <= 2:
				// "Nov 23, 2026", "23. November 2026"
				if pp := d.prevSig(p); pp >= 0 && x.mask[pp]&clsMonth != 0 {
					month = true
				}
			}
		}
		if nx := d.nextSig(tj); nx >= 0 && x.mask[nx]&clsMonth != 0 && (d.toks[nx].kind != tkCJK || !d.toks[nx].spaceBefore) {
			month = true
		}
		switch {
		case month:
			c.kill(pDate)
		case x.lineFl[first.line]&lnCopyright != 0:
			c.kill(pCopyright)
		default:
			c.soft(pYear, 0.35)
		}
	} else if x.lineFl[first.line]&lnCopyright != 0 && isDigits {
		c.soft(pCopyright, 0.3)
	}
	if c.kind == ckDigits && len(c.code) >= 4 && strings.HasSuffix(c.code, "000") {
		c.soft(pRound, 0.25)
	}
	if c.kind == ckDigits && looksLikeYMD(c.code) {
		c.soft(pDate, 0.3)
	}
	if isDigits {
		// CJK date/unit suffixes glued to the number: 2026年, 5分钟
		if nx := d.nextOnLine(tj); nx >= 0 && !d.toks[nx].spaceBefore && d.toks[nx].kind == tkCJK {
			switch m := x.mask[nx]; {
			case m&clsMonth != 0:
				c.kill(pDate)
			case m&clsMoney != 0:
				c.kill(pMoney)
			case m&clsUnit != 0:
				c.kill(pUnit)
			}
		}
	}

	x.scanBack(c)
	x.scanForward(c)
	x.scanPromo(c)
	if isDigits {
		x.checkAddress(c)
	}

	// The sender's own number (SMS from a long number or a short code).
	if x.senderDigits != "" && isDigits && (c.code == x.senderDigits || len(c.code) >= 7 && strings.HasSuffix(x.senderDigits, c.code)) {
		c.kill(pSender)
	}
}

// yearContext: words that make a following year-like number a year.
var yearContext = map[string]bool{}

func init() {
	for _, w := range strings.Fields("since until till by from year years fy circa founded established seit bis im jahr jahre depuis en annee année desde hasta año ano até em dal fino nel anno sinds tot jaar sedan år ar od do roku yılında yılı с до в году года από έως מאז منذ عام से वर्ष sejak tahun từ năm 自 年度") {
		yearContext[foldString(w)] = true
	}
}

// singleSpace reports whether tokens a < b are separated by exactly one
// space-like rune.
func (d *doc) singleSpace(a, b int) bool {
	if b != a+1 {
		return false
	}
	gap := d.text[d.toks[a].oe:d.toks[b].os]
	r, w := utf8.DecodeRuneInString(gap)
	return w == len(gap) && w > 0 && (r == ' ' || r == 0xA0 || r == 0x202F || r == 0x2009)
}

// positiveBefore reports whether a (non-demoted) positive keyword occurs in
// the same sentence within a few tokens before token i.
func (x *extractor) positiveBefore(i int) bool {
	d := x.d
	sent := d.toks[i].sent
	seen := 0
	for k := i - 1; k >= 0 && seen < 10; k-- {
		t := &d.toks[k]
		if t.sent != sent {
			return false
		}
		if !t.significant() {
			continue
		}
		seen++
		if x.mask[k]&clsPositive != 0 && !x.demoted[k] {
			return true
		}
	}
	return false
}

// positiveRightBefore: the significant token right before k is a positive
// keyword ("Κωδικός συναλλαγής": a code noun qualified by the next word).
func (x *extractor) positiveRightBefore(k int) bool {
	p := x.d.prevSig(k)
	return p >= 0 && x.mask[p]&clsPositive != 0 && !x.demoted[p]
}

// scanBack looks at the words right before a candidate (same line, same
// sentence) for a context that rules it out: "order #", "card ending",
// "call", "Rs.", "zip", "Suite", "No." ...
func (x *extractor) scanBack(c *cand) {
	d := x.d
	ti := int(c.ti)
	sent := d.toks[ti].sent
	words, fillers := 0, 0
	sawID, sigSeen, crossed := false, false, false
	for k := ti - 1; k >= 0 && words < 3 && k >= ti-16; k-- {
		t := &d.toks[k]
		if t.kind == tkNewline {
			// A candidate opening its line may be labelled by a short line
			// right above it (table cells: "Order number" / "4829301").
			if crossed || sigSeen || d.lineSig[t.line] > 4 || d.lineSig[t.line] == 0 {
				break
			}
			crossed = true
			sent = t.sent
			continue
		}
		if t.sent != sent {
			break
		}
		if t.significant() {
			sigSeen = true
		}
		if t.kind == tkPunct {
			switch d.punct(k) {
			case '#', '№', '＃':
				// "<#>" (SMS Retriever prefix) is not a number sign
				if k+1 < len(d.toks) && (d.toks[k+1].significant() || d.toks[k+1].spaceBefore) {
					sawID = true
				}
			case ',', ';', '，', '、', '；':
				// a clause boundary: "Dear Customer, 482913 is …"
				words = 3
			}
			continue
		}
		m := x.mask[k]
		if m&clsPositive != 0 && !x.demoted[k] {
			return // "code: 123456", "OTP no. 4821"
		}
		if t.kind == tkNum || t.kind == tkAlnum {
			break
		}
		if neg := m & negClasses; neg != 0 || x.demoted[k] {
			if x.demoted[k] {
				neg |= m & clsPositive
			}
			adjacent := words == 0 && fillers == 0
			close := words == 0
			// "Pickup code for your parcel: 4829": the code noun earlier
			// in the clause names what the colon introduces.
			excused := !adjacent && x.positiveBefore(k) || neg&clsOrder != 0 && x.introduced(c) && x.positiveBefore(k) && !x.positiveRightBefore(k)
			switch {
			case neg&clsPromo != 0:
				c.kill(pPromo)
			case neg&clsPostal != 0:
				c.kill(pPostcode)
			case neg&clsCopyright != 0:
				c.kill(pCopyright)
			case neg&clsCard != 0 && !excused:
				c.kill(pCard)
			case neg&clsPhone != 0 && !excused:
				c.kill(pPhone)
			case neg&clsBooking != 0 && !excused:
				c.kill(pBooking)
			case neg&clsOrder != 0 && !excused:
				c.kill(pOrder)
			case neg&clsMoney != 0 && adjacent:
				c.kill(pMoney)
			case neg&clsMoneyCtx != 0 && close && !excused:
				c.kill(pMoney)
			case neg&clsStreet != 0 && adjacent:
				c.kill(pStreet)
			case neg&clsMonth != 0 && adjacent:
				c.kill(pDate)
			}
			return
		}
		if m&clsIDMark != 0 {
			sawID = true
			continue
		}
		if m&clsFill != 0 {
			fillers++
			continue
		}
		words++
	}
	if sawID {
		if p := d.prevOnLine(ti); p >= 0 && d.punct(p) == '#' && !d.toks[ti].spaceBefore {
			c.soft(pHash, 0.25)
			// "#123456" alone, or "order #": the scan above decides; a
			// reference marker with nothing else is a mild hint only.
			return
		}
		c.kill(pID)
	}
}

// scanForward looks right after a candidate: units, currencies,
// "… is your order number", "2000 Main St".
func (x *extractor) scanForward(c *cand) {
	d := x.d
	tj := int(c.tj)
	sent := d.toks[tj].sent
	words := 0
	allTitle := true
	for k := tj + 1; k < len(d.toks) && k <= tj+12 && words < 4; k++ {
		t := &d.toks[k]
		if t.kind == tkNewline || t.sent != sent {
			return
		}
		if t.kind == tkPunct {
			continue
		}
		m := x.mask[k]
		first := words == 0
		if first && m&clsUnit != 0 && t.kind != tkCJK {
			c.kill(pUnit)
			return
		}
		if first && m&clsMoney != 0 && t.kind != tkCJK {
			c.kill(pMoney)
			return
		}
		if m&clsPositive != 0 && !x.demoted[k] {
			return
		}
		if t.kind == tkNum || t.kind == tkAlnum {
			return
		}
		if neg := m & negClasses; neg != 0 {
			// "account security code", "order verification code": the
			// noun only qualifies a code word.
			nx := d.nextSig(k)
			if nx >= 0 && d.toks[nx].sent == sent && x.mask[nx]&clsPositive != 0 {
				return
			}
			ends := nx < 0 || d.toks[nx].sent != sent || x.mask[nx]&(clsIDMark|clsOrder|clsBooking) != 0 && x.mask[nx]&clsPositive == 0
			switch {
			case neg&clsStreet != 0 && allTitle && words > 0 && words <= 3 && len(c.code) <= 5:
				c.kill(pStreet)
				return
			case neg&(clsOrder|clsBooking) != 0 && words == 0 && ends && m&clsStreet == 0:
				if neg&clsBooking != 0 {
					c.kill(pBooking)
				} else {
					c.kill(pOrder)
				}
			case neg&clsPhone != 0 && words == 0 && ends:
				c.kill(pPhone)
			}
			if neg&clsStreet == 0 || !allTitle {
				return
			}
		}
		if m&clsFill != 0 {
			allTitle = false
			continue
		}
		if !t.title && !(t.upper && t.kind == tkWord) {
			allTitle = false
		}
		words++
	}
}

// scanPromo rules out a candidate with a promo/discount word within six
// significant tokens on either side in the same sentence ("use code
// SAVE20 for 20% off", "Gutscheincode HERBST20").
func (x *extractor) scanPromo(c *cand) {
	d := x.d
	sent := d.toks[c.ti].sent
	seen := 0
	for k := int(c.ti) - 1; k >= 0 && seen < 6 && k >= int(c.ti)-24; k-- {
		t := &d.toks[k]
		if t.kind == tkNewline || t.sent != sent {
			break
		}
		if !t.significant() {
			continue
		}
		seen++
		if x.mask[k]&clsPromo != 0 {
			c.kill(pPromo)
			return
		}
	}
	seen = 0
	for k := int(c.tj) + 1; k < len(d.toks) && seen < 6 && k <= int(c.tj)+24; k++ {
		t := &d.toks[k]
		if t.kind == tkNewline || t.sent != sent {
			break
		}
		if !t.significant() {
			continue
		}
		seen++
		if x.mask[k]&clsPromo != 0 {
			c.kill(pPromo)
			return
		}
	}
	// The token itself: "DESCUENTO15", "промокод2026".
	for k := int(c.ti); k <= int(c.tj); k++ {
		if x.mask[k]&clsPromo != 0 {
			c.kill(pPromo)
			return
		}
	}
}

// checkAddress rules out postcodes: "IL 62701", "80331 München",
// "1012 AB Amsterdam", ", 08001 Barcelona".
func (x *extractor) checkAddress(c *cand) {
	d := x.d
	ti, tj := int(c.ti), int(c.tj)
	n := len(c.code)
	if n < 4 || n > 6 && c.kind != ckGrouped {
		return
	}
	prev := d.prevSig(ti)
	// US: ", ST 12345"
	if n == 5 && prev >= 0 && d.toks[prev].kind == tkWord && usStates[d.orig(prev)] && d.toks[ti].spaceBefore {
		if pp := d.prevOnLine(prev); pp >= 0 && (d.punct(pp) == ',' || d.toks[pp].title) {
			c.kill(pPostcode)
			return
		}
	}
	next := d.nextSig(tj)
	if next < 0 || next != tj+1 || !d.toks[next].spaceBefore || d.toks[next].sent != d.toks[tj].sent {
		return
	}
	nt := &d.toks[next]
	// Dutch: "1012 AB"
	if n == 4 && nt.kind == tkWord && nt.upper && nt.nrunes == 2 && d.isASCIIWord(next) && !usStates[d.orig(next)] {
		c.kill(pPostcode)
		return
	}
	if nt.kind != tkWord || !nt.title || nt.nrunes < 3 || x.mask[next]&(clsPositive|clsFill) != 0 {
		return
	}
	// "<postcode> <City>" after a comma, or alone at the start of a short line.
	p := d.prevOnLine(ti)
	switch {
	case p >= 0 && d.punct(p) == ',':
		c.kill(pPostcode)
	case p >= 0 && d.punct(p) == '-' && !d.toks[ti].spaceBefore && !d.toks[p].spaceBefore && p > 0 &&
		d.toks[p-1].kind == tkWord && d.toks[p-1].upper && d.toks[p-1].nrunes <= 3: // D-80331 München
		c.kill(pPostcode)
	case p < 0 && d.lineSig[nt.line] <= 4 && !x.lineHasPositive(int(nt.line), ti):
		c.kill(pPostcode)
	}
}

// lineHasPositive reports whether the line of token i holds a positive keyword.
func (x *extractor) lineHasPositive(line, i int) bool {
	d := x.d
	for k := i; k < len(d.toks) && d.toks[k].line == int32(line); k++ {
		if x.mask[k]&clsPositive != 0 && !x.demoted[k] {
			return true
		}
	}
	return false
}
