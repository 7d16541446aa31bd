package agentotp

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
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
		if len(f.ContentPattern) > MaxContentPatternLen {
			verr.Add("filter.content_pattern", "is %d bytes; at most %d allowed", len(f.ContentPattern), MaxContentPatternLen)
		} else if re, err := regexp.Compile(f.ContentPattern); err != nil {
			verr.Add("filter.content_pattern", "not a valid RE2 expression: %v", err)
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
	if m.content != nil && !m.content.MatchString(msg.Subject+"\n"+msg.Text) {
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
