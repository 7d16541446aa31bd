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

// Channel is how a message reached the relay: by SMS or by email. It is
// not the kind of a capture source (SourceKind), which says which channels
// a source may deliver; a request's filter names channels ("sources" on the
// wire, for the agent's view: where the message comes from).
type Channel string

// Channels.
const (
	ChannelSMS   Channel = "sms"
	ChannelEmail Channel = "email"
	// ChannelTest marks the synthetic code of a test key.
	ChannelTest Channel = "test"
)

// MaxContentPatternLen bounds a content pattern, in bytes.
const MaxContentPatternLen = 500

// maxPatternInsts bounds the compiled program of an RE2 pattern written by
// an agent or an owner. RE2 runs in time linear in the text, but the
// constant is the program's size: a 500-byte pattern such as
// ([^Z]{0,1000}){40}Z compiles to tens of thousands of instructions and
// would take seconds per message.
const maxPatternInsts = 5000

// The cost of content patterns, which run on every message a request's
// other conditions let through. Go's RE2 takes up to about 50–90 ns per
// instruction of the compiled program and byte of text on this kind of
// machine (a 4,000-instruction pattern took 14 s on 64 KiB), so both are
// bounded, and so is their product summed over the requests one message
// meets.
const (
	// MaxContentPatternInsts bounds a content pattern's compiled program
	// (regexp/syntax, after Simplify); a longer one is refused with a
	// VALIDATION_ERROR that says so.
	MaxContentPatternInsts = 500
	// MaxContentMatchLen bounds how much of a message (subject, a newline,
	// then text) a content pattern is run on.
	MaxContentMatchLen = 16 << 10
	// MaxContentWork bounds the work of all content patterns on one
	// message: instructions × bytes of text, summed over the requests it
	// meets (one pattern is at most MaxContentPatternInsts ×
	// MaxContentMatchLen, which fits): at worst about 0.5–0.8 s of CPU
	// per message, with room for 40 typical patterns (100 instructions)
	// on a 2 KiB message. A request whose pattern no longer fits is not
	// fed by the message.
	MaxContentWork = 8 << 20
)

// CompilePattern compiles an RE2 expression of at most maxLen bytes,
// refusing invalid UTF-8, control and format characters, and expressions
// whose compiled program is too large to run on every message.
func CompilePattern(pat string, maxLen int) (*regexp.Regexp, error) {
	rx, _, err := compilePattern(pat, maxLen, maxPatternInsts)
	return rx, err
}

// compilePattern is CompilePattern with a bound on the program, whose
// size it returns.
func compilePattern(pat string, maxLen, maxInsts int) (*regexp.Regexp, int, error) {
	if len(pat) > maxLen {
		return nil, 0, fmt.Errorf("is %d bytes; at most %d allowed", len(pat), maxLen)
	}
	if !utf8.ValidString(pat) {
		return nil, 0, errors.New("is not valid UTF-8")
	}
	if HasControl(pat) {
		return nil, 0, errors.New("holds a control or format character (write it as an escape such as \\x{202e})")
	}
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return nil, 0, fmt.Errorf("not a valid RE2 expression: %w", err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, 0, fmt.Errorf("not a valid RE2 expression: %w", err)
	}
	if len(prog.Inst) > maxInsts {
		return nil, 0, fmt.Errorf("the expression is too complex: it compiles to %d instructions, at most %d allowed, since it runs on every message", len(prog.Inst), maxInsts)
	}
	rx, err := regexp.Compile(pat)
	if err != nil {
		return nil, 0, fmt.Errorf("not a valid RE2 expression: %w", err)
	}
	return rx, len(prog.Inst), nil
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
	Sources []Channel `json:"sources,omitempty"`
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

// WantsChannel reports whether messages of channel c can match.
func (f Filter) WantsChannel(c Channel) bool {
	return len(f.Sources) == 0 || slices.Contains(f.Sources, c)
}

// Matcher is a compiled filter.
type Matcher struct {
	f       Filter
	sender  *Glob
	content *regexp.Regexp
	insts   int // the size of content's program
}

// Compile validates the filter and compiles its patterns. Field errors are
// reported under "filter.<name>".
func (f Filter) Compile() (*Matcher, error) {
	var verr ValidationErrors
	m := &Matcher{f: f}
	seen := map[Channel]bool{}
	for i, s := range f.Sources {
		if s != ChannelSMS && s != ChannelEmail {
			verr.Add(fmt.Sprintf("filter.sources[%d]", i), "must be %q or %q", ChannelSMS, ChannelEmail)
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
		if re, n, err := compilePattern(f.ContentPattern, MaxContentPatternLen, MaxContentPatternInsts); err != nil {
			verr.Add("filter.content_pattern", "%v", err)
		} else {
			m.content, m.insts = re, n
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
	Channel    Channel // ChannelSMS or ChannelEmail
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

	content    string // contentOf, made on first use
	hasContent bool
	work       int64 // content-pattern work spent on the message (MaxContentWork)
}

// Match reports whether msg may feed a request created at createdAt with
// this filter. A content pattern runs only if its work (MaxContentWork)
// fits in what msg has left, and its work is charged to msg; so Match is
// not for concurrent use on one message. The request's creation time and the filter's
// received_after are both lower bounds on the message's receipt time.
func (m *Matcher) Match(msg *Message, createdAt time.Time) bool {
	if msg.ReceivedAt.Before(createdAt) {
		return false
	}
	if !m.f.ReceivedAfter.IsZero() && msg.ReceivedAt.Before(m.f.ReceivedAfter) {
		return false
	}
	if !m.f.WantsChannel(msg.Channel) {
		return false
	}
	if m.sender != nil && (!msg.senderVouched() || !m.sender.Match(SenderAddress(msg.Sender))) {
		return false
	}
	if m.content != nil {
		if !msg.hasContent {
			msg.content, msg.hasContent = contentOf(msg), true
		}
		cost := int64(m.insts) * int64(len(msg.content))
		if msg.work+cost > MaxContentWork {
			return false // out of budget: the pattern does not run
		}
		msg.work += cost
		if !m.content.MatchString(msg.content) {
			return false
		}
	}
	return true
}

// MatchMeta is Match without the content pattern: for a message already
// matched once, whose request's filter cannot have changed since.
func (m *Matcher) MatchMeta(msg *Message, createdAt time.Time) bool {
	c := *m
	c.content = nil
	return c.Match(msg, createdAt)
}

// ContentWorkLeft reports how much of MaxContentWork content patterns
// may still spend on msg.
func (msg *Message) ContentWorkLeft() int64 { return MaxContentWork - msg.work }

// Describe renders the filter in plain words for an approver.
func (f Filter) Describe() string {
	var parts []string
	if len(f.Sources) == 0 {
		parts = append(parts, "SMS or email")
	} else {
		parts = append(parts, strings.Join(ChannelNames(f.Sources), " or "))
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

// ChannelNames returns the channels as strings.
func ChannelNames(cs []Channel) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

// Channels reads channel names (as a client sends them); it does not
// check them (Filter.Compile does).
func Channels(names []string) []Channel {
	if names == nil {
		return nil
	}
	out := make([]Channel, len(names))
	for i, n := range names {
		out[i] = Channel(n)
	}
	return out
}
