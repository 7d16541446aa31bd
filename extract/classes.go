package extract

// Candidate shapes and layouts found only next to a code keyword or under a
// sentence that names the code: three-character codes, dashed codes of
// unequal groups, letters-only codes, codes spelled out with spaces, and
// codes on a line of their own below their keyword.

// codeKeywordBefore reports whether a code noun (code, OTP, PIN, …, not
// demoted) introduces token i: on the same line and in the same sentence,
// with at most a colon, fillers, a copula and verification words between
// ("code 548", "OTP: 312", "código de verificación es 284").
func (x *extractor) codeKeywordBefore(i int) bool {
	d := x.d
	sent := d.toks[i].sent
	sig := 0
	for k := i - 1; k >= 0 && k >= i-10; k-- {
		t := &d.toks[k]
		if t.kind == tkNewline || t.sent != sent {
			return false
		}
		if t.kind == tkPunct {
			switch d.punct(k) {
			case ':', '：', '=', '-', '(', '[':
				continue
			}
			return false
		}
		if sig++; sig > 5 {
			return false
		}
		m := x.mask[k]
		if x.demoted[k] {
			return false
		}
		if m&clsCode != 0 {
			return true
		}
		if m&(clsFill|clsVerify|clsAction|clsConfirm) != 0 && m&negClasses == 0 {
			continue
		}
		return false
	}
	return false
}

// colonAfterCodeKeyword reports whether token i follows "<code keyword>:"
// ("PASSCODE: mifsuc", "Your sign-in code is: qwvbrt").
func (x *extractor) colonAfterCodeKeyword(i int) bool {
	d := x.d
	p := d.prevOnLine(i)
	if p < 0 || d.toks[p].kind != tkPunct || (d.punct(p) != ':' && d.punct(p) != '：') {
		return false
	}
	return x.codeKeywordBefore(p)
}

// endsClause reports whether nothing but punctuation follows token i before
// the end of its line or sentence.
func (d *doc) endsClause(i int) bool {
	for k := i + 1; k < len(d.toks); k++ {
		t := &d.toks[k]
		if t.kind == tkNewline || t.sent != d.toks[i].sent {
			return true
		}
		if t.significant() {
			return false
		}
		if r := d.punct(k); r != '.' && r != '!' && r != ')' && r != ']' && r != '"' && r != '*' {
			return r == ',' || r == ';'
		}
	}
	return true
}

// prevSigLine returns the nearest line above line that holds significant
// tokens, at most four lines up (blank lines and rules such as "-----" are
// skipped), or -1.
func (d *doc) prevSigLine(line int32) int32 {
	for l := line - 1; l >= 0 && l >= line-5; l-- {
		if d.lineSig[l] > 0 {
			return l
		}
	}
	return -1
}

// lineHasCodeNoun reports whether line holds a code noun that is not
// demoted, looking back from token i (the first token of a later line).
func (x *extractor) lineHasCodeNoun(line int32, i int) bool {
	d := x.d
	for k := i - 1; k >= 0 && d.toks[k].line >= line; k-- {
		if d.toks[k].line == line && x.mask[k]&clsCode != 0 && !x.demoted[k] {
			return true
		}
	}
	return false
}

// underCodeLine: token i opens its line and the nearest line above with
// words names a code ("Your login code is listed below. …" / "KCXF-SMQQ").
func (x *extractor) underCodeLine(i int) bool {
	d := x.d
	if i > 0 && d.toks[i-1].kind != tkNewline {
		return false
	}
	l := d.prevSigLine(d.toks[i].line)
	return l >= 0 && x.lineHasCodeNoun(l, i)
}

// mixedCaseCode: ASCII letters with at least two capitals and a small
// letter, not a capitalised word ("NaNNDbSI", not "Thanks" or "McDonald").
func mixedCaseCode(s string) bool {
	up, low := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			up++
		case c >= 'a' && c <= 'z':
			low++
		default:
			return false
		}
	}
	return up >= 2 && low >= 1 && up+low >= 6
}

// genWord handles a word token that may be a letters-only code: after
// "<code keyword>:" at the end of its clause, or alone on a line under a
// line that names the code. It returns the last token consumed.
func (x *extractor) genWord(i int) int {
	d := x.d
	t := &d.toks[i]
	if !d.isASCIIWord(i) || x.mask[i] != 0 {
		return i
	}
	code := d.asciiCode(i, i)
	if capsStop[code] {
		return i
	}
	// caps groups alone on a line: "KCXF-SMQQ"
	if t.upper && t.nrunes >= 3 && t.nrunes <= 5 {
		if last, ok := x.capsGroup(i); ok {
			if x.underCodeLine(i) && d.lineSig[t.line] == int32((last-i)/2+1) {
				c := x.newCand(ckLetters, i, last, d.asciiCode(i, last))
				x.checkCommon(c)
			}
			return last
		}
	}
	if t.nrunes < 4 || t.nrunes > 10 {
		return i
	}
	switch {
	case t.upper && t.nrunes >= 4:
		if d.lineSig[t.line] == 1 && x.underCodeLine(i) {
			c := x.newCand(ckLetters, i, i, code)
			x.checkCommon(c)
			return i
		}
		x.genCaps(i)
	case t.nrunes >= 5 && x.colonAfterCodeKeyword(i) && d.endsClause(i):
		c := x.newCand(ckLetters, i, i, code)
		x.checkCommon(c)
	case mixedCaseCode(code) && d.lineSig[t.line] == 1 && x.underCodeLine(i):
		c := x.newCand(ckLetters, i, i, code)
		x.checkCommon(c)
	}
	return i
}

// capsGroup recognises capital-letter groups of equal size joined by
// hyphens ("KCXF-SMQQ"), 2 or 3 groups, at most 10 letters.
func (x *extractor) capsGroup(i int) (int, bool) {
	d := x.d
	size := d.toks[i].nrunes
	last := i
	for n := 1; n < 3; n++ {
		b := last + 2
		if sep, _ := d.sepBetween(last, b); sep != '-' {
			break
		}
		nt := &d.toks[b]
		if nt.kind != tkWord || !nt.upper || nt.nrunes != size || !d.isASCIIWord(b) {
			break
		}
		last = b
	}
	if last == i || int(size)*((last-i)/2+1) > 10 {
		return i, false
	}
	return last, true
}

// genSpaced recognises a code spelled out one character at a time right
// after a code keyword ("TAN a u 8 k u f", "code: X 7 Q 2 M P"): 4 to 10
// single letters or digits joined by single spaces, with at least one
// letter (digits alone are grouped digits). It returns the last token, or i.
func (x *extractor) genSpaced(i int) int {
	d := x.d
	single := func(k int) bool {
		t := &d.toks[k]
		return (t.kind == tkWord && t.nrunes == 1 && d.isASCIIWord(k)) || (t.kind == tkNum && t.ndig == 1 && t.nrunes == 1)
	}
	if !single(i) || !x.codeKeywordBefore(i) {
		return i
	}
	last, letters := i, d.toks[i].kind == tkWord
	for n := 1; n <= 10; n++ {
		b := last + 1
		if b >= len(d.toks) || !single(b) {
			break
		}
		if s, _ := d.sepBetween(last, b); s != ' ' {
			break
		}
		letters = letters || d.toks[b].kind == tkWord
		last = b
	}
	n := last - i + 1
	if n < 4 || n > 10 || !letters {
		return i
	}
	if nx := d.nextOnLine(last); nx >= 0 && d.toks[nx].significant() && d.toks[nx].nrunes <= 2 {
		return i // part of a longer run of short tokens
	}
	c := x.newCand(ckGroupedAlnum, i, last, d.asciiCode(i, last))
	x.checkCommon(c)
	return last
}
