package agentotp

import (
	"testing"
	"time"
)

func TestDKIMVouches(t *testing.T) {
	tests := []struct {
		sender  string
		domains []string
		want    bool
	}{
		{"Acme <noreply@acme.com>", []string{"acme.com"}, true},
		{"noreply@mail.acme.com", []string{"acme.com"}, true},
		{"noreply@ACME.COM", []string{"acme.com."}, true},
		{"noreply@acme.com", []string{"mail.acme.com"}, false},
		{"noreply@notacme.com", []string{"acme.com"}, false},
		{"noreply@acme.com.evil.example", []string{"acme.com"}, false},
		{"noreply@acme.com", []string{"com"}, false}, // a bare TLD vouches for nothing
		{"noreply@acme.com", nil, false},
		{"ACME", []string{"acme.com"}, false},
		{"noreply@", []string{"acme.com"}, false},
	}
	for _, tt := range tests {
		if got := DKIMVouches(tt.sender, tt.domains); got != tt.want {
			t.Errorf("DKIMVouches(%q, %v) = %v; want %v", tt.sender, tt.domains, got, tt.want)
		}
	}
}

// TestMatchRequireDKIM: where DKIM is required, a sender pattern matches
// only a From domain that a passing signature vouches for; a filter
// without a sender pattern is not affected.
func TestMatchRequireDKIM(t *testing.T) {
	now := time.Now()
	withPattern, _ := Filter{SenderPattern: "*@acme.com"}.Compile()
	noPattern, _ := Filter{Sources: []Channel{ChannelEmail}}.Compile()
	pass := &DKIMResult{Result: DKIMPass, Domains: []string{"acme.com"}, Aligned: true}
	other := &DKIMResult{Result: DKIMPass, Domains: []string{"evil.example"}}
	failed := &DKIMResult{Result: DKIMFail, Domains: []string{"acme.com"}}
	tests := []struct {
		name    string
		m       *Matcher
		dkim    *DKIMResult
		require bool
		want    bool
	}{
		{"not required", withPattern, nil, false, true},
		{"required, vouched", withPattern, pass, true, true},
		{"required, unsigned", withPattern, nil, true, false},
		{"required, other domain", withPattern, other, true, false},
		{"required, failed", withPattern, failed, true, false},
		{"required, no pattern", noPattern, nil, true, true},
	}
	for _, tt := range tests {
		msg := &Message{Channel: ChannelEmail, Sender: "Acme <noreply@acme.com>", ReceivedAt: now, DKIM: tt.dkim, RequireDKIM: tt.require}
		if got := tt.m.Match(msg, now.Add(-time.Second)); got != tt.want {
			t.Errorf("%s: Match = %v; want %v", tt.name, got, tt.want)
		}
	}
}
