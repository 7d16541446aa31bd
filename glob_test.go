package agentotp

import (
	"strings"
	"testing"
	"unicode"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*@acme.com", "noreply@acme.com", true},
		{"*@acme.com", "NoReply@ACME.com", true},
		{"*@acme.com", "noreply@acme.com.evil.io", false},
		{"*@acme.com", "@acme.com", true},
		{"noreply@acme.com", "noreply@acme.com", true},
		{"noreply@acme.com", "noreply@acme.co", false},
		{"?@x.io", "a@x.io", true},
		{"?@x.io", "ab@x.io", false},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"a**b", "ab", true},
		{"*a*a*a*a*b", strings.Repeat("a", 200), false},
		{"*a*a*a*a*b", strings.Repeat("a", 200) + "b", true},
		{"+1555*", "+15551234", true},
		{"GOOGLE", "google", true},
		{"é*", "Éclair", true},
		{"??", "é1", true},
		{strings.Repeat("?", 70) + "x", strings.Repeat("y", 70) + "x", true},
		{strings.Repeat("?", 70) + "x", strings.Repeat("y", 69) + "x", false},
		{"*" + strings.Repeat("a?", 40) + "*", "zz" + strings.Repeat("ab", 40) + "zz", true},
	}
	for _, tt := range tests {
		g, err := CompileGlob(tt.pattern)
		if err != nil {
			t.Fatalf("CompileGlob(%q): %v", tt.pattern, err)
		}
		if got := g.Match(tt.s); got != tt.want {
			t.Errorf("Glob(%q).Match(%q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestCompileGlobRejects(t *testing.T) {
	// Control and format characters (category Cf: bidirectional
	// overrides and isolates, zero-width characters) make what the owner
	// is shown differ from what matches: "*@\u202emoc.emca" shows as
	// "*@acme.com".
	for _, p := range []string{strings.Repeat("a", MaxGlobLen+1), "a\x00b", "\xff",
		"*@\u202emoc.emca", "ACME\u200b*", "\u2066*@acme.com\u2069", "a\ufeffb", "x\u0085"} {
		if _, err := CompileGlob(p); err == nil {
			t.Errorf("CompileGlob(%q) = nil error", p)
		}
	}
}

func TestSenderAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Acme <noreply@acme.com>", "noreply@acme.com"},
		{`"noreply@acme.com" <evil@phish.io>`, "evil@phish.io"},
		{"NoReply@Acme.com", "noreply@acme.com"},
		{"  +1 555 0100 ", "+1 555 0100"},
		{"GOOGLE", "google"},
		{"broken <a@b", "broken <a@b"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := SenderAddress(tt.in); got != tt.want {
			t.Errorf("SenderAddress(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// naiveGlob is an obviously-correct exponential matcher used as an oracle.
func naiveGlob(p, s []rune) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if naiveGlob(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return len(s) > 0 && naiveGlob(p[1:], s[1:])
	default:
		return len(s) > 0 && p[0] == s[0] && naiveGlob(p[1:], s[1:])
	}
}

func lowerRunes(s string) []rune {
	rs := []rune(s)
	for i, r := range rs {
		rs[i] = unicode.ToLower(r)
	}
	return rs
}

func FuzzGlob(f *testing.F) {
	f.Add("*@acme.com", "noreply@acme.com")
	f.Add("a*b?c", "axxbyc")
	f.Add("**?*", "")
	f.Add("?*?", "ab")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		g, err := CompileGlob(pattern)
		if err != nil {
			return
		}
		got := g.Match(s)
		if len(pattern) > 12 || len(s) > 24 {
			return // the oracle is exponential; only check small inputs
		}
		want := naiveGlob(lowerRunes(pattern), lowerRunes(s))
		if got != want {
			t.Fatalf("Glob(%q).Match(%q) = %v, oracle %v", pattern, s, got, want)
		}
	})
}

func BenchmarkGlobPathological(b *testing.B) {
	g, _ := CompileGlob("*a*a*a*a*a*a*a*a*b")
	s := strings.Repeat("a", 4096)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		g.Match(s)
	}
}
