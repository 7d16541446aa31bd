package extract

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Message is one captured message.
type Message struct {
	Source  string // "sms" or "email"
	Sender  string // SMS sender id/number, or the email From header (full, e.g. "Acme <noreply@acme.com>")
	Subject string // email subject (decoded), empty for SMS
	Text    string // plain text body
	HTML    string // HTML body, if any (converted to text inside Extract)
}

// Result is the outcome of Extract. Encoded as JSON (MarshalJSON) it is
// the object `agentotp extract` prints: {"code": "…" or null,
// "confidence": 0.97, "domain": "…" (only when set), "candidates": [...]}.
type Result struct {
	Code       string  `json:"code"`             // as a person would type it; "" when none
	Confidence float64 `json:"confidence"`       // 0..1
	Domain     string  `json:"domain,omitempty"` // set when an origin-bound line (@example.com #123456) decided it: its top-level host
	// Origins lists the hosts of an origin-bound last line: the top-level
	// one, then the embedded one when the line names it
	// ("@top.example #123 @embedded.example"). It is set even when the
	// code is withheld because the context expects another domain.
	Origins    []string    `json:"origins,omitempty"`
	Candidates []Candidate `json:"candidates"` // ranked, best first
}

// Candidate is one possible code with the reasons for its score.
type Candidate struct {
	Code    string   `json:"code"`
	Raw     string   `json:"raw"`     // as it appeared
	Score   float64  `json:"score"`   // 0..1
	Reasons []string `json:"reasons"` // why it scored as it did
}

// MarshalJSON encodes a Result as the `agentotp extract` JSON object:
// "code" is null when no code was found, and "candidates" is always an
// array.
func (r Result) MarshalJSON() ([]byte, error) {
	type out struct {
		Code       *string     `json:"code"`
		Confidence float64     `json:"confidence"`
		Domain     string      `json:"domain,omitempty"`
		Origins    []string    `json:"origins,omitempty"`
		Candidates []Candidate `json:"candidates"`
	}
	o := out{Confidence: r.Confidence, Domain: r.Domain, Origins: r.Origins, Candidates: r.Candidates}
	if r.Code != "" {
		o.Code = &r.Code
	}
	if o.Candidates == nil {
		o.Candidates = []Candidate{}
	}
	return json.Marshal(o)
}

// MarshalJSON encodes a Candidate; "reasons" is always an array.
func (c Candidate) MarshalJSON() ([]byte, error) {
	type plain Candidate
	if c.Reasons == nil {
		c.Reasons = []string{}
	}
	return json.Marshal(plain(c))
}

// Limits.
const (
	// MaxEmailSize is the largest raw message ParseEmail accepts (10 MiB).
	MaxEmailSize = 10 << 20
	// MaxTextSize is the largest Message Extract accepts: the sum of the
	// lengths of Sender, Subject, Text and HTML (4 MiB). ParseEmail never
	// produces a larger Message.
	MaxTextSize = 4 << 20
	// MaxCandidates is the number of candidates a Result lists at most.
	MaxCandidates = 16
	// Threshold is the score below which Extract reports no code.
	Threshold = 0.42
)

var (
	// ErrTooLarge is wrapped by the errors of ParseEmail and Extract for
	// input over MaxEmailSize or MaxTextSize.
	ErrTooLarge = errors.New("extract: input too large")
	// ErrMalformed is wrapped by the error of ParseEmail for input that is
	// not an RFC 5322 message and from which no text could be recovered.
	ErrMalformed = errors.New("extract: malformed message")
)

// extractor holds the analysis of one message.
type extractor struct {
	d            *doc
	occs         []kwOcc
	mask         []kwClass
	demoted      []bool
	pos          []int32 // positive, usable keyword occurrences (indices into occs)
	cands        []cand
	scratch      cand    // sink for rejected candidates (see newCand)
	live         []int32 // first tokens of candidates not ruled out, in order
	chunk        []int32 // chunk id per token (-1 for line breaks)
	chunkStart   []int32 // first token of each chunk
	chunkFl      []uint8 // memoised chunk flags (chKnown set once computed)
	lineFl       []uint8
	senderDigits string
	ctx          Context
	numCh        *chain // genNumber's scratch chain: allocated once per message, not once per number
}

// Extract finds the verification code in msg.
//
// The text analysed is the Subject, the Text and, when HTML is not empty,
// HTMLToText(HTML), in that order, separated by blank lines: both bodies
// are always used, because the plain-text alternative of many e-mails is
// nearly empty while the HTML holds the code (a code found in both simply
// counts once more). The error is non-nil only for unusable input (over
// MaxTextSize); "no code" is a Result with Code "" and a nil error.
//
// Confidence is 1 for an origin-bound line, otherwise the best score
// reduced by the runner-up, and 0 when there is no code. Candidates lists
// at most MaxCandidates codes, best first, including ruled-out ones (score
// 0) with the reason, so that a wrong or missing code can be explained.
// Message.Sender is used only to recognise the sender's own number.
//
// Extract knows nothing of the request the message may feed; it is
// ExtractWith with the zero Context.
func Extract(msg Message) (Result, error) { return ExtractWith(msg, Context{}) }

// ExtractWith is Extract with what the request waiting for the message says
// (see Context): a sender it names lets a lone token be the code, an
// expected length or alphabet rules other candidates out, and an expected
// domain withholds an origin-bound code bound to another site.
func ExtractWith(msg Message, ctx Context) (Result, error) {
	if n := len(msg.Sender) + len(msg.Subject) + len(msg.Text) + len(msg.HTML); n > MaxTextSize {
		return Result{Candidates: []Candidate{}}, fmt.Errorf("%w: message text is %d bytes, the limit is %d", ErrTooLarge, n, MaxTextSize)
	}
	text := assemble(msg)
	x := &extractor{d: tokenize(text), senderDigits: senderDigits(msg.Sender), ctx: ctx}
	x.occs, x.mask = x.d.findKeywords()
	x.prepareKeywords()
	x.computeLayout()
	x.generate()
	x.genContext(msg.Source)
	x.score()
	x.applyContext(msg.Source)
	ot := originText(msg)
	res := x.result(originBound(ot))
	if res.Code == "" && len(res.Origins) == 0 {
		if o := originLike(ot); o != nil && x.ctx.originFor(o) {
			res.Code, res.Confidence = o.code, 0.6
			res.Candidates = append([]Candidate{{Code: o.code, Raw: o.raw, Score: 0.6, Reasons: []string{
				fmt.Sprintf("line in the origin-bound format @%s #%s, but not the last line: not bound to the site", o.top, o.code)}}}, res.Candidates...)
			if len(res.Candidates) > MaxCandidates {
				res.Candidates = res.Candidates[:MaxCandidates]
			}
		}
	}
	return res, nil
}

// originText is the text whose last line may be an origin-bound line: the
// SMS, or the plain-text body of an e-mail.
func originText(msg Message) string {
	if msg.Text != "" || msg.Source == "sms" {
		return msg.Text
	}
	return msg.Subject
}

func assemble(msg Message) string {
	html := ""
	if msg.HTML != "" {
		html = HTMLToText(msg.HTML)
	}
	parts := make([]string, 0, 3)
	for _, p := range []string{msg.Subject, msg.Text, html} {
		if strings.TrimSpace(p) != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts, "\n\n")
}

// senderDigits returns the digits of a numeric SMS sender ("+1 415-555-0123",
// "22395"), or "" for alphanumeric senders and e-mail addresses.
func senderDigits(s string) string {
	var b []byte
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b = append(b, byte(r))
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return ""
		}
	}
	if len(b) < 4 {
		return ""
	}
	return string(b)
}

// prepareKeywords demotes code words that belong to a negative phrase
// ("promo: use code", "booking code") and weakens "confirm" when the
// message is about a booking.
func (x *extractor) prepareKeywords() {
	d := x.d
	x.demoted = make([]bool, len(d.toks))
	booking := false
	for _, o := range x.occs {
		if o.cls&clsBooking != 0 {
			booking = true
			break
		}
	}
	const demoters = clsPromo | clsPostal | clsNeutral
	for k := range x.occs {
		o := &x.occs[k]
		if o.cls&clsPositive == 0 {
			continue
		}
		if o.cls&demoters != 0 {
			o.weight = 0
		}
		if booking && o.cls&clsPositive == clsConfirm {
			o.weight *= 0.2 // "Reservation confirmed … Confirmation code HMXQ4K2P9Z"
		}
		// a demoting word up to two tokens before, or right after
		sent := d.toks[o.ti].sent
		seen := 0
		for j := int(o.ti) - 1; j >= 0 && seen < 2; j-- {
			t := &d.toks[j]
			if t.kind == tkNewline || t.sent != sent {
				break
			}
			if !t.significant() {
				continue
			}
			seen++
			if x.mask[j]&demoters != 0 && x.mask[j]&clsPositive == 0 {
				o.weight = 0
			}
		}
		if nx := d.nextSig(int(o.tj)); nx >= 0 && d.toks[nx].sent == sent && x.mask[nx]&demoters != 0 && x.mask[nx]&clsPositive == 0 {
			o.weight = 0
		}
		if o.weight == 0 {
			for j := o.ti; j <= o.tj; j++ {
				x.demoted[j] = true
			}
			continue
		}
		x.pos = append(x.pos, int32(k))
	}
}

// proximity returns weight × closeness of the best keyword for a candidate.
//
// When the candidate is introduced by a colon or a copula ("… is 552190",
// "… lautet 730192"), a code noun earlier in the same sentence is its
// subject and counts as if it were next to it, however long the sentence.
func (x *extractor) proximity(c *cand) (best float64, bn note) {
	d := x.d
	if len(x.pos) == 0 {
		return 0, note{}
	}
	intro := x.introduced(c)
	var second float64
	ct, cl := &d.toks[c.ti], &d.toks[c.tj]
	block := d.lineSig[ct.line] == c.nsig && (c.ti == 0 || d.toks[c.ti-1].kind == tkNewline)
	above := int32(-1)
	if block {
		above = d.prevSigLine(ct.line)
	}
	ot := func(o *kwOcc) *token { return &d.toks[o.tj] }
	// first positive occurrence starting after the candidate
	idx := sort.Search(len(x.pos), func(k int) bool { return x.occs[x.pos[k]].ti > c.tj })
	try := func(k int) bool {
		o := &x.occs[x.pos[k]]
		var gap float32
		var lines, sents int32
		after := o.ti > c.tj
		if after {
			ot := &d.toks[o.ti]
			gap = ot.pos - cl.pos - 1
			lines, sents = ot.line-cl.line, ot.sent-cl.sent
		} else {
			ot := &d.toks[o.tj]
			gap = ct.pos - ot.pos - 1
			lines, sents = ct.line-ot.line, ct.sent-ot.sent
		}
		subject := false
		if !after && intro && o.cls&clsCode != 0 && sents == 0 && lines == 0 && gap > 1 && c.ti-o.tj < 60 {
			gap, subject = 1, true
		}
		// A code alone on its line right under the line that names it
		// ("Your login code is listed below. …" / "771-453"): the line
		// above is its label, however long.
		if !after && block && o.cls&clsCode != 0 && ot(o).line == above {
			gap, lines, sents, subject = 1, 1, 0, true
		}
		if gap > 24 && !subject {
			return false
		}
		if gap < 0 {
			gap = 0
		}
		// Each sentence boundary crossed costs one word; a whole sentence
		// in between ("code. One sentence. value 34343") costs five more.
		sc := float64(min(sents, 8))
		if sents > 1 && lines == 0 {
			sc += 5 * float64(min(sents, 8)-1)
		}
		dist := float64(gap) + 1.5*float64(min(lines, 8)) + sc
		f := 1 - dist/18
		if f <= 0 {
			return true
		}
		s := float64(o.weight) * f
		if after {
			s *= 0.95
		}
		// A live candidate between the keyword and this one is closer to
		// it: "code 482013'dir. B001".
		var lo, hi int32
		if after {
			lo, hi = c.tj, o.ti
		} else {
			lo, hi = o.tj, c.ti
		}
		j := sort.Search(len(x.live), func(j int) bool { return x.live[j] > lo })
		shadowed := j < len(x.live) && x.live[j] < hi
		if shadowed {
			s *= 0.6
		}
		if s > best {
			second = best
			best = s
			bn = note{code: nKeyword, kw: x.pos[k], dist: gap, lines: lines, after: after, subject: subject, shadowed: shadowed}
		} else if s > second {
			second = s
		}
		return true
	}
	for k := idx; k < len(x.pos) && try(k); k++ {
	}
	for k := idx - 1; k >= 0 && (try(k) || intro && x.sameSentenceBefore(k, c) || block && above >= 0 && ot(&x.occs[x.pos[k]]).line >= above); k-- {
	}
	// A second keyword nearby adds a quarter of its weight ("Enter 246810
	// to verify").
	if second > 0 {
		bn.second = second > 0.2
		best = math.Min(1, best+0.25*second)
	}
	return best, bn
}

// score computes the score of every candidate occurrence.
func (x *extractor) score() {
	d := x.d
	for ci := range x.cands {
		if !x.cands[ci].killed {
			x.live = append(x.live, x.cands[ci].ti)
		}
	}
	for ci := range x.cands {
		c := &x.cands[ci]
		if c.kind == ckOrigin {
			continue
		}
		prox, kn := x.proximity(c)
		intro := x.introduced(c)
		if prox <= 0 {
			c.add(note{code: nNoKeyword})
			c.score = 0
			continue
		}
		c.add(kn)
		s := prox
		// Layout cues count in proportion to the keyword evidence.
		bs := math.Min(1, prox/0.5)
		switch c.kind {
		case ckAlnum, ckGroupedAlnum:
			far := kn.dist + 1.5*float32(abs32(kn.lines))
			if intro {
				far = kn.dist // a label line above: "… code:\n\nK4XQ7"
			}
			if far > 5 {
				s *= 0.5
				c.add(note{code: pFarKeyword})
			} else {
				s *= 0.95
			}
		case ckCaps, ckLetters:
			s *= 0.9
		case ckPrefixed:
			s += 0.15 * bs
		}
		if d.lineSig[d.toks[c.ti].line] == c.nsig {
			s += 0.15 * bs
			c.add(note{code: nAlone})
		}
		if intro {
			s += 0.1 * bs
			c.add(note{code: nIntro})
		}
		if x.bracketed(c) {
			s += 0.05 * bs
			c.add(note{code: nBrackets})
		}
		switch len(c.code) {
		case 6:
			s += 0.05 * bs
			c.add(note{code: nTypicalLen})
		case 9, 10:
			s -= 0.05
			c.add(note{code: nLong})
		}
		for _, n := range c.notes {
			if n.delta < 0 {
				s += float64(n.delta)
			}
		}
		if c.killed {
			s = 0
		}
		c.score = math.Max(0, math.Min(1, s))
	}
}

// introduced: "code: 123456", "code is 123456", "验证码是123456" — a colon
// or a copula right before the candidate.
func (x *extractor) introduced(c *cand) bool {
	d := x.d
	nl := 0
	for k := int(c.ti) - 1; k >= 0 && k >= int(c.ti)-5; k-- {
		t := &d.toks[k]
		switch t.kind {
		case tkNewline:
			// a label line ending with ':' right above ("code:\n\nK4XQ7")
			if nl++; nl > 2 {
				return false
			}
			continue
		case tkPunct:
			switch d.punct(k) {
			case ':', '：', '=':
				return true
			case '[', '(', '【', '「', '『', '"', '\'', '“', '«', '<', '*':
				if nl == 0 {
					continue
				}
			}
			return false
		default:
			return nl == 0 && x.mask[k]&clsCopula != 0 && x.mask[k]&clsPositive == 0
		}
	}
	return false
}

func (x *extractor) bracketed(c *cand) bool {
	d := x.d
	p, n := d.prevOnLine(int(c.ti)), d.nextOnLine(int(c.tj))
	if p < 0 || n < 0 {
		return false
	}
	switch d.punct(p) {
	case '[', '(', '【', '「', '『', '"', '“', '«', '<', '〔', '［', '*':
		switch d.punct(n) {
		case ']', ')', '】', '」', '』', '"', '”', '»', '>', '〕', '］', '*':
			return true
		}
	}
	return false
}

// agg groups the occurrences of one code.
type agg struct {
	code     string
	best     *cand
	count    int
	lastLine int32
	first    int32
}

// result ranks the candidates and builds the Result.
//
// Ranking: higher score first; equal scores (to 1e-9) go to the code seen
// more often, then to the one that appears first (Subject, then Text,
// then the HTML body).
func (x *extractor) result(ob *origin) Result {
	d := x.d
	byCode := make(map[string]*agg, len(x.cands))
	aggs := make([]*agg, 0, len(x.cands))
	for ci := range x.cands {
		c := &x.cands[ci]
		a := byCode[c.code]
		line := d.toks[c.ti].line
		if a == nil {
			a = &agg{code: c.code, best: c, count: 1, lastLine: line, first: c.ti}
			byCode[c.code] = a
			aggs = append(aggs, a)
			continue
		}
		if line != a.lastLine && !c.killed {
			a.count++
			a.lastLine = line
		}
		if c.score > a.best.score {
			a.best = c
		}
	}
	scoreOf := func(a *agg) float64 {
		s := a.best.score
		if a.count > 1 && s > 0 {
			s = math.Min(1, s+0.05)
		}
		return s
	}
	sort.SliceStable(aggs, func(i, j int) bool {
		si, sj := scoreOf(aggs[i]), scoreOf(aggs[j])
		if math.Abs(si-sj) > 1e-9 {
			return si > sj
		}
		if aggs[i].count != aggs[j].count {
			return aggs[i].count > aggs[j].count
		}
		return aggs[i].first < aggs[j].first
	})

	res := Result{Candidates: make([]Candidate, 0, min(len(aggs)+1, MaxCandidates))}
	withheld := false
	if ob != nil {
		res.Domain, res.Origins = ob.top, ob.hosts()
		if x.ctx.originFor(ob) {
			res.Code, res.Confidence = ob.code, 1
			res.Candidates = append(res.Candidates, Candidate{Code: ob.code, Raw: ob.raw, Score: 1, Reasons: []string{originReason(ob)}})
		} else {
			// The code is bound to another site than the one the request
			// expects: it is not for this request, whatever the text says.
			withheld = true
			res.Candidates = append(res.Candidates, Candidate{Code: ob.code, Raw: ob.raw, Score: 0, Reasons: []string{
				fmt.Sprintf("origin-bound line for %s, not for the expected domain %s: withheld", strings.Join(ob.hosts(), " in "), x.ctx.Domain)}})
		}
	}
	for _, a := range aggs {
		if len(res.Candidates) >= MaxCandidates {
			break
		}
		if ob != nil && a.code == ob.code {
			res.Candidates[0].Reasons = append(res.Candidates[0].Reasons, "also in the text as "+strconvQuote(x.raw(a.best)))
			continue
		}
		cd := Candidate{Code: a.code, Raw: x.raw(a.best), Score: round3(scoreOf(a)), Reasons: x.reasons(a.best)}
		if a.count > 1 && a.best.score > 0 {
			cd.Reasons = append(cd.Reasons, fmt.Sprintf("appears %d times", a.count))
		}
		res.Candidates = append(res.Candidates, cd)
	}
	if ob == nil && !withheld && len(aggs) > 0 {
		best := scoreOf(aggs[0])
		if best >= Threshold {
			second := 0.0
			if len(aggs) > 1 {
				second = scoreOf(aggs[1])
			}
			res.Code = aggs[0].code
			res.Confidence = round3(best * (1 - 0.5*second/best))
		}
	}
	return res
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (x *extractor) raw(c *cand) string {
	d := x.d
	return d.text[d.toks[c.ti].os:d.toks[c.tj].oe]
}

// reasons renders the notes of a candidate.
func (x *extractor) reasons(c *cand) []string {
	d := x.d
	out := make([]string, 0, len(c.notes)+1)
	switch c.kind {
	case ckDigits:
		out = append(out, fmt.Sprintf("%d-digit number", len(c.code)))
	case ckGrouped:
		out = append(out, fmt.Sprintf("grouped digits %q", x.raw(c)))
	case ckPrefixed:
		out = append(out, fmt.Sprintf("service prefix %q", d.orig(int(c.ti))+"-"))
	case ckAlnum:
		out = append(out, "letters and digits")
	case ckGroupedAlnum:
		out = append(out, fmt.Sprintf("grouped letters and digits %q", x.raw(c)))
	case ckCaps:
		out = append(out, "capital letters right after a code keyword")
	case ckLetters:
		out = append(out, "letters only, after a code keyword or alone under a line that names the code")
	}
	for _, n := range c.notes {
		switch n.code {
		case nKeyword:
			o := &x.occs[n.kw]
			kw := d.text[d.toks[o.ti].os:d.toks[o.tj].oe]
			dir := "before"
			if n.after {
				dir = "after"
			}
			tok := int(math.Round(float64(n.dist)))
			s := fmt.Sprintf("keyword %q %d tokens %s", kw, tok, dir)
			if tok == 1 {
				s = fmt.Sprintf("keyword %q 1 token %s", kw, dir)
			}
			if n.subject {
				s = fmt.Sprintf("keyword %q is the subject of the sentence", kw)
			}
			if n.lines != 0 {
				l := n.lines
				if l < 0 {
					l = -l
				}
				s += fmt.Sprintf(" (%d lines apart)", l)
			}
			if n.shadowed {
				s += ", but another candidate is closer to it"
			}
			if n.second {
				s += ", and another keyword nearby"
			}
			out = append(out, s)
		case nNoKeyword:
			out = append(out, "no verification keyword nearby")
		case nAlone:
			out = append(out, "alone on its line")
		case nIntro:
			out = append(out, "introduced by ':' or 'is'")
		case nBrackets:
			out = append(out, "in brackets")
		case nTypicalLen:
			out = append(out, "6 characters (typical length)")
		case nLong:
			out = append(out, "unusually long for a code")
		case nContext:
			out = append(out, "the one code-shaped token of a short message from the sender the request names")
		case nPrefix:
		default:
			t := noteText[n.code]
			if t == "" {
				continue
			}
			if n.kill {
				out = append(out, "penalty: "+t+" (ruled out)")
			} else {
				out = append(out, "penalty: "+t)
			}
		}
	}
	return out
}

// sameSentenceBefore: keyword occurrence pos[k] is in the candidate's
// sentence and line, at most 60 tokens before it (bounds the scan).
func (x *extractor) sameSentenceBefore(k int, c *cand) bool {
	o := &x.occs[x.pos[k]]
	t, ct := &x.d.toks[o.tj], &x.d.toks[c.ti]
	return t.sent == ct.sent && t.line == ct.line && c.ti-o.tj < 60
}
