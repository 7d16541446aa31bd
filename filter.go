package agentotp

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message sources.
const (
	SourceSMS   = "sms"
	SourceEmail = "email"
	// SourceTest marks the synthetic code of a test key.
	SourceTest = "test"
)

// MaxContentPatternLen bounds a content pattern, in bytes.
const MaxContentPatternLen = 500

// maxPatternInsts bounds the compiled program of an RE2 pattern written by
// an agent or an owner. RE2 runs in time linear in the text, but the
// constant is the program's size: a 500-byte pattern such as
// ([^Z]{0,1000}){40}Z compiles to tens of thousands of instructions and
// would take seconds per message.
const maxPatternInsts = 5000

// MaxContentMatchLen bounds how much of a message (subject, a newline, then
// text) a content pattern is run on.
const MaxContentMatchLen = 64 << 10

// CompilePattern compiles an RE2 expression of at most maxLen bytes,
// refusing invalid UTF-8, control and format characters, and expressions
// whose compiled program is too large to run on every message.
func CompilePattern(pat string, maxLen int) (*regexp.Regexp, error) {
	if len(pat) > maxLen {
		return nil, fmt.Errorf("is %d bytes; at most %d allowed", len(pat), maxLen)
	}
	if !utf8.ValidString(pat) {
		return nil, errors.New("is not valid UTF-8")
	}
	if HasControl(pat) {
		return nil, errors.New("holds a control or format character (write it as an escape such as \\x{202e})")
	}
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("not a valid RE2 expression: %w", err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, fmt.Errorf("not a valid RE2 expression: %w", err)
	}
	if len(prog.Inst) > maxPatternInsts {
		return nil, fmt.Errorf("the expression is too complex (%d instructions; at most %d)", len(prog.Inst), maxPatternInsts)
	}
	rx, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("not a valid RE2 expression: %w", err)
	}
	return rx, nil
}

// HasControl reports whether s holds a control character (C0, C1, DEL) or
// a Unicode format character (category Cf: bidirectional overrides and
// isolates, zero-width characters, …). Text with them can make what an
// approver sees differ from what it is: "\u202emoc.emca" displays as
// "acme.com". It is the one rule for text that one party writes and
// another is shown: request reasons and expected senders, sender globs
// (CompileGlob), content and reason patterns (CompilePattern), agent,
// source and policy names.
func HasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	})
}

// Filter narrows which captured message may feed a request.
type Filter struct {
	// Sources limits the message kinds ("sms", "email"); empty means both.
	Sources []string `json:"sources,omitempty"`
	// SenderPattern is a glob over the sender's address or number.
	SenderPattern string `json:"sender_pattern,omitempty"`
	// ContentPattern is an RE2 expression over the subject and text.
	ContentPattern string `json:"content_pattern,omitempty"`
	// ReceivedAfter excludes messages received earlier.
	ReceivedAfter time.Time `json:"received_after,omitzero"`
}

// IsZero reports whether the filter has no condition at all.
func (f Filter) IsZero() bool {
	return len(f.Sources) == 0 && f.SenderPattern == "" && f.ContentPattern == "" && f.ReceivedAfter.IsZero()
}

// WantsSource reports whether messages of the given source can match.
func (f Filter) WantsSource(source string) bool {
	return len(f.Sources) == 0 || slices.Contains(f.Sources, source)
}

// Matcher is a compiled filter.
type Matcher struct {
	f       Filter
	sender  *Glob
	content *regexp.Regexp
}

// Compile validates the filter and compiles its patterns. Field errors are
// reported under "filter.<name>".
func (f Filter) Compile() (*Matcher, error) {
	var verr ValidationErrors
	m := &Matcher{f: f}
	seen := map[string]bool{}
	for i, s := range f.Sources {
		if s != SourceSMS && s != SourceEmail {
			verr.Add(fmt.Sprintf("filter.sources[%d]", i), "must be %q or %q", SourceSMS, SourceEmail)
		}
		if seen[s] {
			verr.Add(fmt.Sprintf("filter.sources[%d]", i), "%q is listed twice", s)
		}
		seen[s] = true
	}
	if f.SenderPattern != "" {
		g, err := CompileGlob(f.SenderPattern)
		if err != nil {
			verr.Add("filter.sender_pattern", "%v", err)
		}
		m.sender = g
	}
	if f.ContentPattern != "" {
		if re, err := CompilePattern(f.ContentPattern, MaxContentPatternLen); err != nil {
			verr.Add("filter.content_pattern", "%v", err)
		} else {
			m.content = re
		}
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// Message is a captured message on its way through the relay. It lives in
// memory only: the store never holds its text.
type Message struct {
	ID         string
	OwnerID    string
	SourceID   string
	Source     string // SourceSMS or SourceEmail
	Sender     string
	Subject    string
	Text       string // decoded plain text (HTML already converted)
	ReceivedAt time.Time
	ExternalID string
	// TestAgentID is set for a message a test key posted to
	// /v1/test/messages: it may feed only that agent's test requests.
	TestAgentID string
	// DKIM is the DKIM verification of an email received in MX mode.
	DKIM *DKIMResult
	// RequireDKIM, set in MX mode, lets a sender pattern match only a From
	// domain that a verified DKIM signature vouches for (see DKIMVouches).
	RequireDKIM bool
}

// Match reports whether msg may feed a request created at createdAt with
// this filter. The request's creation time and the filter's
// received_after are both lower bounds on the message's receipt time.
func (m *Matcher) Match(msg *Message, createdAt time.Time) bool {
	if msg.ReceivedAt.Before(createdAt) {
		return false
	}
	if !m.f.ReceivedAfter.IsZero() && msg.ReceivedAt.Before(m.f.ReceivedAfter) {
		return false
	}
	if !m.f.WantsSource(msg.Source) {
		return false
	}
	if m.sender != nil && (!msg.senderVouched() || !m.sender.Match(SenderAddress(msg.Sender))) {
		return false
	}
	if m.content != nil && !m.content.MatchString(contentOf(msg)) {
		return false
	}
	return true
}

// Describe renders the filter in plain words for an approver.
func (f Filter) Describe() string {
	var parts []string
	if len(f.Sources) == 0 {
		parts = append(parts, "SMS or email")
	} else {
		parts = append(parts, strings.Join(f.Sources, " or "))
	}
	if f.SenderPattern != "" {
		parts = append(parts, "from "+f.SenderPattern)
	} else {
		parts = append(parts, "from any sender")
	}
	if f.ContentPattern != "" {
		parts = append(parts, "text matching /"+f.ContentPattern+"/")
	}
	if !f.ReceivedAfter.IsZero() {
		parts = append(parts, "received after "+f.ReceivedAfter.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

// contentOf is what a content pattern runs on: the subject, a newline and
// the text, cut at MaxContentMatchLen on a character boundary.
func contentOf(msg *Message) string {
	s := msg.Subject + "\n" + msg.Text
	if len(s) <= MaxContentMatchLen {
		return s
	}
	s = s[:MaxContentMatchLen]
	for len(s) > 0 && !utf8.RuneStart(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	if len(s) > 0 {
		if r, _ := utf8.DecodeLastRuneInString(s); r == utf8.RuneError {
			s = s[:len(s)-1]
		}
	}
	return s
}
