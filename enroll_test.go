package agentotp

import (
	"strings"
	"testing"
	"time"
)

func TestEnrollmentTransitions(t *testing.T) {
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		from     EnrollmentStatus
		do       string
		want     EnrollmentStatus
		wantCode string
	}{
		{EnrollmentPending, "approve", EnrollmentApproved, ""},
		{EnrollmentPending, "deny", EnrollmentDenied, ""},
		{EnrollmentPending, "issue", EnrollmentPending, EAuthorizationPending},
		{EnrollmentPending, "expire", EnrollmentExpired, ""},
		{EnrollmentApproved, "approve", EnrollmentApproved, EConflict},
		{EnrollmentApproved, "deny", EnrollmentApproved, EConflict},
		{EnrollmentApproved, "issue", EnrollmentIssued, ""},
		{EnrollmentApproved, "expire", EnrollmentExpired, ""},
		{EnrollmentDenied, "approve", EnrollmentDenied, EConflict},
		{EnrollmentDenied, "issue", EnrollmentDenied, EAccessDenied},
		{EnrollmentDenied, "expire", EnrollmentDenied, EConflict},
		{EnrollmentExpired, "issue", EnrollmentExpired, EExpiredToken},
		{EnrollmentExpired, "deny", EnrollmentExpired, EConflict},
		{EnrollmentIssued, "issue", EnrollmentIssued, EInvalidGrant},
		{EnrollmentIssued, "approve", EnrollmentIssued, EConflict},
		{EnrollmentIssued, "expire", EnrollmentIssued, EConflict},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"/"+tt.do, func(t *testing.T) {
			e := &Enrollment{Status: tt.from}
			var err error
			switch tt.do {
			case "approve":
				err = e.Approve(DecidedByOwner, now)
			case "deny":
				err = e.Deny(DecidedByOwner, now)
			case "issue":
				err = e.Issue("agt_x", now)
			case "expire":
				err = e.Expire()
			}
			if got := ErrorCode(err); got != tt.wantCode {
				t.Fatalf("error code %q (%v), want %q", got, err, tt.wantCode)
			}
			if e.Status != tt.want {
				t.Errorf("status %s, want %s", e.Status, tt.want)
			}
			if err != nil && (e.AgentID != "" || !e.DecidedAt.IsZero()) {
				t.Errorf("a refused change changed the enrollment: %+v", e)
			}
		})
	}
}

func TestUserCode(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c := NewUserCode()
		if len(c) != 9 || c[4] != '-' {
			t.Fatalf("user code %q is not XXXX-XXXX", c)
		}
		for _, r := range strings.ReplaceAll(c, "-", "") {
			if !strings.ContainsRune(UserCodeAlphabet, r) {
				t.Fatalf("user code %q has %q, outside RFC 8628's charset", c, r)
			}
		}
		if NormalizeUserCode(c) != strings.ReplaceAll(c, "-", "") {
			t.Fatalf("NormalizeUserCode(%q) = %q", c, NormalizeUserCode(c))
		}
		seen[c] = true
	}
	if len(seen) < 195 {
		t.Errorf("only %d distinct codes of 200", len(seen))
	}
	tests := []struct{ in, want string }{
		{"bcdf-ghjk", "BCDFGHJK"},
		{" BCDF GHJK ", "BCDFGHJK"},
		{"BCDFGHJK", "BCDFGHJK"},
		{"BCDF-GHJ", ""},       // too short
		{"BCDF-GHJKL", ""},     // too long
		{"ABCD-EFGH", ""},      // vowels are not in the charset
		{"BCDF-GHJ1", ""},      // digits neither
		{"BCDF-GHJ\u212a", ""}, // KELVIN SIGN upper-cases to K elsewhere
		{strings.Repeat("B", 40), ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeUserCode(tt.in); got != tt.want {
			t.Errorf("NormalizeUserCode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if string(HashUserCode("bcdf-ghjk")) != string(HashUserCode("BCDFGHJK")) {
		t.Error("a code typed in lower case hashes differently")
	}
	if KindOfToken(NewDeviceCode()) != "" {
		t.Error("a device code passes for a credential")
	}
}

func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "", "ÄÖÜ", "BCDF-GHJ\u212a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeUserCode(s)
		if n == "" {
			return
		}
		if len(n) != 8 || strings.Trim(n, UserCodeAlphabet) != "" {
			t.Fatalf("NormalizeUserCode(%q) = %q: not 8 symbols of the charset", s, n)
		}
		if NormalizeUserCode(n) != n {
			t.Fatalf("not idempotent on %q", n)
		}
	})
}
