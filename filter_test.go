package agentotp

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestFilterCompileRejects(t *testing.T) {
	tests := []struct {
		name  string
		f     Filter
		field string
	}{
		{"bad source", Filter{Sources: []Channel{"fax"}}, "filter.sources[0]"},
		{"twice", Filter{Sources: []Channel{"sms", "sms"}}, "filter.sources[1]"},
		{"long glob", Filter{SenderPattern: strings.Repeat("a", 256)}, "filter.sender_pattern"},
		{"glob with bidi override", Filter{SenderPattern: "*@\u202emoc.emca"}, "filter.sender_pattern"},
		{"glob with zero-width space", Filter{SenderPattern: "ACME\u200b"}, "filter.sender_pattern"},
		{"regex with bidi override", Filter{ContentPattern: "code \u202e"}, "filter.content_pattern"},
		{"bad regex", Filter{ContentPattern: "(["}, "filter.content_pattern"},
		{"perl regex", Filter{ContentPattern: `(?<=x)y`}, "filter.content_pattern"},
		{"long regex", Filter{ContentPattern: strings.Repeat("a", 501)}, "filter.content_pattern"},
	}
	for _, tt := range tests {
		_, err := tt.f.Compile()
		e, ok := err.(*Error)
		if !ok || e.Code != EValidation || len(e.Fields) == 0 || e.Fields[0].Field != tt.field {
			t.Errorf("%s: Compile() = %v; want validation error on %s", tt.name, err, tt.field)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	created := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	msg := func(source, sender, text string, at time.Time) *Message {
		return &Message{Channel: Channel(source), Sender: sender, Text: text, Subject: "Welcome", ReceivedAt: at}
	}
	after := created.Add(time.Second)
	tests := []struct {
		name string
		f    Filter
		m    *Message
		want bool
	}{
		{"empty filter", Filter{}, msg("sms", "ACME", "code 123456", after), true},
		{"before creation", Filter{}, msg("sms", "ACME", "code 123456", created.Add(-time.Second)), false},
		{"at creation", Filter{}, msg("sms", "ACME", "code", created), true},
		{"received_after", Filter{ReceivedAfter: created.Add(time.Minute)}, msg("sms", "ACME", "x", after), false},
		{"received_after passed", Filter{ReceivedAfter: created.Add(time.Minute)}, msg("sms", "ACME", "x", created.Add(2*time.Minute)), true},
		{"source ok", Filter{Sources: []Channel{"email"}}, msg("email", "a@b.c", "x", after), true},
		{"source no", Filter{Sources: []Channel{"email"}}, msg("sms", "ACME", "x", after), false},
		{"sender address", Filter{SenderPattern: "*@acme.com"}, msg("email", "Acme <noreply@acme.com>", "x", after), true},
		{"display name ignored", Filter{SenderPattern: "*@acme.com"}, msg("email", `"x@acme.com" <evil@phish.io>`, "x", after), false},
		{"content", Filter{ContentPattern: `(?i)acme`}, msg("sms", "X", "Your ACME code", after), true},
		{"content in subject", Filter{ContentPattern: `^Welcome`}, msg("sms", "X", "code", after), true},
		{"content no", Filter{ContentPattern: `acme`}, msg("sms", "X", "other", after), false},
	}
	for _, tt := range tests {
		m, err := tt.f.Compile()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := m.Match(tt.m, created); got != tt.want {
			t.Errorf("%s: Match = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	got := Filter{Sources: []Channel{"email"}, SenderPattern: "*@acme.com"}.Describe()
	if got != "email, from *@acme.com" {
		t.Errorf("Describe = %q", got)
	}
}

// TestPatternComplexityBounded: a short pattern that compiles to a huge
// program (seconds per message) is refused; so are format characters.
func TestPatternComplexityBounded(t *testing.T) {
	for _, p := range []string{
		strings.Repeat("([^Z]{0,1000})", 35) + "Z",
		"(a{1000}){1000}",
		"acme\u202e",
		"a\x00b",
	} {
		if _, err := (Filter{ContentPattern: p}).Compile(); err == nil {
			t.Errorf("pattern %.40q accepted", p)
		}
	}
	if _, err := (Filter{ContentPattern: `(?i)your (acme|example) code is \d{6}`}).Compile(); err != nil {
		t.Errorf("ordinary pattern refused: %v", err)
	}
}

func TestContentMatchBounded(t *testing.T) {
	m, err := Filter{ContentPattern: `TAIL$`}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	long := &Message{Channel: ChannelSMS, Sender: "X", Text: strings.Repeat("é", MaxContentMatchLen) + "TAIL", ReceivedAt: now}
	if m.Match(long, now) {
		t.Error("a pattern saw text past MaxContentMatchLen")
	}
	short := &Message{Channel: ChannelSMS, Sender: "X", Text: "code TAIL", ReceivedAt: now}
	if !m.Match(short, now) {
		t.Error("short text not matched")
	}
	if s := contentOf(long); len(s) > MaxContentMatchLen || !utf8.ValidString(s) {
		t.Errorf("contentOf cut %d bytes, valid %v", len(s), utf8.ValidString(s))
	}
}

func TestHasControl(t *testing.T) {
	for s, want := range map[string]bool{"acme.com": false, "Ünïcødé ✓": false, "a\tb": true, "\u202emoc.emca": true, "a\u200bb": true, "\u2066x\u2069": true, "x\u0085": true} {
		if got := HasControl(s); got != want {
			t.Errorf("HasControl(%q) = %v", s, got)
		}
	}
}

// TestContentPatternCost: a content pattern whose program is too large to
// run on every message is refused, saying why; and however many requests a
// message meets, their content patterns together do at most MaxContentWork
// (issue 13 item 6: a 4,000-instruction pattern took 14 s per 64 KiB
// message, and 20 of them were accepted).
func TestContentPatternCost(t *testing.T) {
	heavy := `[^Z]{0,300}Z` // about 600 instructions: accepted before, refused now
	_, err := Filter{ContentPattern: heavy}.Compile()
	if err == nil || !strings.Contains(err.Error(), "too complex") || !strings.Contains(err.Error(), "500") {
		t.Fatalf("%s: %v; want refused as too complex", heavy, err)
	}

	pat := `x[^Z]{0,240}` // the largest kind still allowed
	m, err := Filter{ContentPattern: pat}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	msg := &Message{Channel: ChannelSMS, Sender: "X", Text: "x" + strings.Repeat("lorem ipsum ", 8000), ReceivedAt: now}
	per := int64(m.insts) * int64(len(contentOf(msg)))
	if per > MaxContentWork || len(contentOf(msg)) != MaxContentMatchLen {
		t.Fatalf("one pattern costs %d of %d over %d bytes", per, MaxContentWork, len(contentOf(msg)))
	}
	ran := 0
	for range 20 {
		if m.Match(msg, now) {
			ran++
		}
	}
	if want := int(MaxContentWork / per); ran != want {
		t.Errorf("%d of 20 patterns ran on the message; want %d (the budget's worth)", ran, want)
	}
	if left := msg.ContentWorkLeft(); left < 0 || left >= per {
		t.Errorf("work left %d; want in [0, %d)", left, per)
	}
	// Without a content pattern, the budget is not in the way.
	plain, _ := Filter{SenderPattern: "X"}.Compile()
	if !plain.Match(msg, now) {
		t.Error("a filter without a content pattern was refused by the budget")
	}
}
