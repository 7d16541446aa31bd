package extract

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// Context is what the relay knows about the request a message may feed. The
// zero Context is "no request known": Extract uses it, and a lone number is
// then not a code.
//
// Context is comparable, so that a caller can extract once per distinct
// context rather than once per request.
type Context struct {
	// SenderMatched reports that a live request whose filter names the
	// sender (its sender pattern matched this message's sender) is waiting
	// for a code. A message that is only a token ("2715", "5WGU8G",
	// "123-456"), or a short message with one code-shaped token, is then
	// the code. Excluded numbers (phone numbers, amounts, dates, order and
	// tracking numbers, card fragments) stay excluded.
	SenderMatched bool
	// Source is the kind of message the request waits for ("sms" or
	// "email"; "" for either). When it differs from Message.Source the
	// sender match does not help.
	Source string
	// Length is the code length the request expects, in characters as a
	// person types them (0: any). Candidates of another length are ruled
	// out.
	Length int
	// Alphabet is the alphabet the request expects (AlphabetAny: any).
	// Candidates outside it are ruled out.
	Alphabet Alphabet
	// Domain is the site the request expects its code for (for example the
	// domain of an e-mail sender pattern "*@acme.com"). An origin-bound
	// code ("@evil.example #123456") bound to a site other than Domain, or
	// than a host of the same registrable domain, is not for this request:
	// the Result then holds no code.
	Domain string
}

// Alphabet is the set of characters a request expects its code in.
type Alphabet uint8

// Alphabets.
const (
	AlphabetAny     Alphabet = iota // any letters and digits
	AlphabetDigits                  // 0-9 only
	AlphabetLetters                 // letters only
	AlphabetAlnum                   // letters and digits (each optional)
)

// String returns the name used by ParseAlphabet.
func (a Alphabet) String() string {
	switch a {
	case AlphabetDigits:
		return "digits"
	case AlphabetLetters:
		return "letters"
	case AlphabetAlnum:
		return "alnum"
	}
	return "any"
}

// fits reports whether code is in the alphabet.
func (a Alphabet) fits(code string) bool {
	for i := 0; i < len(code); i++ {
		c := code[i]
		digit := c >= '0' && c <= '9'
		letter := (c|0x20) >= 'a' && (c|0x20) <= 'z'
		switch a {
		case AlphabetDigits:
			if !digit {
				return false
			}
		case AlphabetLetters:
			if !letter {
				return false
			}
		case AlphabetAlnum:
			if !digit && !letter {
				return false
			}
		}
	}
	return true
}

// applies reports whether the sender match may help for a message of the
// given source.
func (c Context) applies(source string) bool {
	return c.SenderMatched && (c.Source == "" || source == "" || c.Source == source)
}

// MaxOriginCodeLen bounds the code of an origin-bound line, in bytes.
const MaxOriginCodeLen = 64

// origin is a parsed origin-bound line ("@top.example #code @embedded.example").
type origin struct {
	top, embedded string // hosts, lower case; embedded may be ""
	code, raw     string
}

// hosts returns the top-level host then, when set, the embedded one.
func (o *origin) hosts() []string {
	if o.embedded == "" {
		return []string{o.top}
	}
	return []string{o.top, o.embedded}
}

// originBound parses the last line of text as an origin-bound one-time code,
// following the WICG "Origin-bound one-time codes delivered via SMS" format:
//
//	"@" top-level-host " #" code [ " @" embedded-host ]
//
// The line is the last line of the message (trailing blank lines are
// ignored). The code is one or more characters other than white space, '@'
// and '#': any length, letters, punctuation and non-ASCII characters are
// allowed and returned as written. Exactly one space separates the host from
// '#'. After the code, " @host" names the embedded origin; any other text
// after a space is an extension and is ignored ("@apple.com #123456
// %apple.com"). A host is a domain name of at least two labels (or
// "localhost"): "@someone #topic" is a social-media mention, not a site.
func originBound(text string) *origin {
	text = strings.TrimRight(text, " \t\r\n\u00a0")
	if i := strings.LastIndexAny(text, "\r\n"); i >= 0 {
		text = text[i+1:]
	}
	return parseOriginLine(text)
}

func parseOriginLine(line string) *origin {
	if !strings.HasPrefix(line, "@") {
		return nil
	}
	s := line[1:]
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 {
		return nil
	}
	top, ok := originHost(s[:sp])
	if !ok {
		return nil
	}
	s = s[sp+1:]
	if !strings.HasPrefix(s, "#") {
		return nil
	}
	s = s[1:]
	end := 0
	for end < len(s) {
		r, w := utf8.DecodeRuneInString(s[end:])
		if r == '@' || r == '#' || isASCIISpace(r) || r == utf8.RuneError && w == 1 {
			break
		}
		end += w
	}
	if end == 0 || end > MaxOriginCodeLen {
		return nil
	}
	o := &origin{top: top, code: s[:end], raw: "#" + s[:end]}
	rest := s[end:]
	if rest != "" && rest[0] != ' ' {
		return nil // "#12@x" or a tab: not the format
	}
	if strings.HasPrefix(rest, " @") {
		h := rest[2:]
		if i := strings.IndexByte(h, ' '); i >= 0 {
			h = h[:i]
		}
		emb, ok := originHost(h)
		if !ok {
			return nil
		}
		o.embedded = emb
	}
	return o
}

func isASCIISpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f'
}

// originHost validates a host of an origin-bound line and lower-cases it.
func originHost(h string) (string, bool) {
	if h == "" || len(h) > 253 {
		return "", false
	}
	h = strings.ToLower(h)
	if h == "localhost" {
		return h, true
	}
	labels := 0
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", false
		}
		for _, r := range l {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= utf8.RuneSelf && r != utf8.RuneError && !isASCIISpace(r) && r > 0xA0) {
				return "", false
			}
		}
		labels++
	}
	return h, labels >= 2
}

// OriginMatches reports whether an origin host may serve a request that
// expects codes for domain: the same host, or hosts of the same registrable
// domain (eTLD+1 by the public suffix list), so that "@login.acme.com" serves
// "acme.com" and "@acme.com" serves "mail.acme.com", while "@acme.com.evil.io"
// serves neither.
func OriginMatches(host, domain string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	if host == "" || domain == "" {
		return false
	}
	if host == domain {
		return true
	}
	a, errA := publicsuffix.EffectiveTLDPlusOne(host)
	b, errB := publicsuffix.EffectiveTLDPlusOne(domain)
	return errA == nil && errB == nil && a == b
}

// originFor reports whether an origin-bound code may be delivered in ctx:
// no expected domain, or the top-level or the embedded host matches it.
func (c Context) originFor(o *origin) bool {
	if c.Domain == "" {
		return true
	}
	for _, h := range o.hosts() {
		if OriginMatches(h, c.Domain) {
			return true
		}
	}
	return false
}

// applyContext applies what the request says about the code: its length and
// alphabet rule candidates out; a matched sender lifts the one code-shaped
// token of a short message.
func (x *extractor) applyContext(source string) {
	ctx := x.ctx
	if ctx.Length > 0 || ctx.Alphabet != AlphabetAny {
		for ci := range x.cands {
			c := &x.cands[ci]
			if c.killed {
				continue
			}
			if ctx.Length > 0 && len(c.code) != ctx.Length || !ctx.Alphabet.fits(c.code) {
				c.kill(pContext)
				c.score = 0
			}
		}
	}
	if !ctx.applies(source) {
		return
	}
	d := x.d
	// A short message: few words, and nothing that names another kind of
	// number (an order, an amount, a card, a phone, an address, a booking).
	sig := 0
	for i := range d.toks {
		if d.toks[i].significant() {
			if sig++; sig > maxContextWords {
				return
			}
		}
	}
	for _, o := range x.occs {
		if o.cls&(clsOrder|clsMoney|clsMoneyCtx|clsCard|clsPhone|clsPostal|clsStreet|clsBooking|clsPromo|clsUnit) != 0 && o.cls&clsPositive == 0 {
			return
		}
	}
	var only *cand
	for ci := range x.cands {
		c := &x.cands[ci]
		if c.killed {
			continue
		}
		for _, n := range c.notes {
			if n.delta < 0 && n.code != pIdentifier {
				return // a year, a round number, a yyyymmdd date: not plainly a code
			}
		}
		if only != nil && only.code != c.code {
			return // two different tokens: context cannot choose
		}
		if only == nil {
			only = c
		}
	}
	if only == nil {
		return
	}
	for ci := range x.cands {
		c := &x.cands[ci]
		if c.code != only.code || c.killed {
			continue
		}
		s := 0.55
		if d.lineSig[d.toks[c.ti].line] == c.nsig {
			s += 0.15
		}
		if c.score < s {
			c.score = s
			c.add(note{code: nContext})
		}
	}
}

// maxContextWords is the most significant tokens a message may have for a
// matched sender to lift its one code-shaped token.
const maxContextWords = 14

// genContext adds the tokens that only a matched sender makes candidates:
// a lone word of capital letters on its own line ("KCXFSMQQ") in a short
// message. Digit and letter+digit tokens are candidates anyway.
func (x *extractor) genContext(source string) {
	if !x.ctx.applies(source) {
		return
	}
	d := x.d
	for i := range d.toks {
		t := &d.toks[i]
		if t.kind != tkWord || !t.upper || t.nrunes < 4 || t.nrunes > 10 || !d.isASCIIWord(i) {
			continue
		}
		if d.lineSig[t.line] != 1 || x.mask[i] != 0 || capsStop[d.orig(i)] || x.hasCand(i) {
			continue
		}
		c := x.newCand(ckCaps, i, i, d.asciiCode(i, i))
		x.checkCommon(c)
	}
}

func (x *extractor) hasCand(ti int) bool {
	for ci := range x.cands {
		if int(x.cands[ci].ti) <= ti && ti <= int(x.cands[ci].tj) {
			return true
		}
	}
	return false
}

// originReason explains an origin-bound line.
func originReason(o *origin) string {
	if o.embedded != "" {
		return fmt.Sprintf("origin-bound line @%s #%s @%s: wins outright", o.top, o.code, o.embedded)
	}
	return fmt.Sprintf("origin-bound line @%s #%s: wins outright", o.top, o.code)
}

// PatternDomain returns the fixed domain a sender pattern (a glob where '*'
// and '?' are wildcards) names: the text after its last '@' (or the whole
// pattern) past its last wildcard, when that is a host name of two labels or
// more. "*@acme.com" and "*@*.acme.com" give "acme.com", "acme.com" gives
// "acme.com", "ACME*" and "*@*" give "".
func PatternDomain(p string) string {
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.LastIndexAny(p, "*?"); i >= 0 {
		p = p[i+1:]
	}
	s := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(p, "."), "."))
	if len(s) < 4 || len(s) > 253 || !strings.Contains(s, ".") {
		return ""
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return ""
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
				return ""
			}
		}
	}
	return s
}

// originLike finds an earlier line of text in the origin-bound format
// ("@example.com #482913" followed by "Reply STOP …"). It does not bind the
// code (only the last line does), but a person reads its code as the code:
// it is used when nothing else is. Only codes a person types as a code
// (3–10 ASCII letters and digits) are taken.
func originLike(text string) *origin {
	if !strings.Contains(text, " #") {
		return nil
	}
	var found *origin
	for len(text) > 0 {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "@") {
			if o := parseOriginLine(line); o != nil && len(o.code) >= 3 && len(o.code) <= 10 && isCodeString(o.code) {
				found = o
			}
		}
	}
	return found
}
