package agentotp

import (
	"strings"
	"testing"
	"time"
)

func TestFilterCompileRejects(t *testing.T) {
	tests := []struct {
		name  string
		f     Filter
		field string
	}{
		{"bad source", Filter{Sources: []string{"fax"}}, "filter.sources[0]"},
		{"twice", Filter{Sources: []string{"sms", "sms"}}, "filter.sources[1]"},
		{"long glob", Filter{SenderPattern: strings.Repeat("a", 256)}, "filter.sender_pattern"},
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
		return &Message{Source: source, Sender: sender, Text: text, Subject: "Welcome", ReceivedAt: at}
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
		{"source ok", Filter{Sources: []string{"email"}}, msg("email", "a@b.c", "x", after), true},
		{"source no", Filter{Sources: []string{"email"}}, msg("sms", "ACME", "x", after), false},
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
	got := Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"}.Describe()
	if got != "email, from *@acme.com" {
		t.Errorf("Describe = %q", got)
	}
}
