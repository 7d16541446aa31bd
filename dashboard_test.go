package agentotp

import (
	"strings"
	"testing"
	"time"
)

// cheap are small argon2id parameters that keep the tests fast; the
// encoding and checks are the same as with DefaultPasswordParams.
var cheap = PasswordParams{Time: 1, Memory: 64, Threads: 1, KeyLen: 32}

func TestPasswordRoundTrip(t *testing.T) {
	h := HashPassword("correct horse battery staple", cheap)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(h, "horse") {
		t.Fatalf("hash %q", h)
	}
	if h2 := HashPassword("correct horse battery staple", cheap); h2 == h {
		t.Error("two hashes of one password are equal: no fresh salt")
	}
	tests := []struct {
		password string
		want     bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{"", false},
		{strings.Repeat("x", 5000), false},
	}
	for _, tt := range tests {
		ok, err := VerifyPassword(h, tt.password)
		if err != nil || ok != tt.want {
			t.Errorf("VerifyPassword(%.20q) = %v, %v; want %v", tt.password, ok, err, tt.want)
		}
	}
}

func TestDefaultPasswordParams(t *testing.T) {
	h := HashPassword("a long enough password", DefaultPasswordParams)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := VerifyPassword(h, "a long enough password"); !ok || err != nil {
		t.Fatalf("VerifyPassword: %v %v", ok, err)
	}
}

func TestVerifyPasswordBadHash(t *testing.T) {
	good := HashPassword("whatever password", cheap)
	parts := strings.Split(good, "$")
	tests := []struct{ name, hash string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"old version", strings.Replace(good, "v=19", "v=16", 1)},
		{"too much memory", "$argon2id$v=19$m=4194304,t=1,p=1$" + parts[4] + "$" + parts[5]},
		{"too many passes", "$argon2id$v=19$m=64,t=11,p=1$" + parts[4] + "$" + parts[5]},
		{"no threads", "$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5]},
		{"unknown param", "$argon2id$v=19$m=64,t=1,p=1,x=2$" + parts[4] + "$" + parts[5]},
		{"bad salt", "$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5]},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$AAAA"},
		{"missing part", "$argon2id$v=19$m=64,t=1,p=1$" + parts[4]},
	}
	for _, tt := range tests {
		ok, err := VerifyPassword(tt.hash, "whatever password")
		if ok || err == nil {
			t.Errorf("%s: VerifyPassword(%q) = %v, %v; want an error", tt.name, tt.hash, ok, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		pw string
		ok bool
	}{
		{"123456789", false},
		{"1234567890", true},
		{"pässwörter", true},
		{strings.Repeat("a", MaxPasswordLen), true},
		{strings.Repeat("a", MaxPasswordLen+1), false},
		{"bad utf8 \xff\xfe", false},
	}
	for _, tt := range tests {
		err := ValidatePassword(tt.pw)
		if (err == nil) != tt.ok {
			t.Errorf("ValidatePassword(%.20q) = %v; want ok=%v", tt.pw, err, tt.ok)
		}
		if err != nil && ErrorCode(err) != EValidation {
			t.Errorf("code %s", ErrorCode(err))
		}
	}
}

func TestSessionAndLinkValidity(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := Session{CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if !s.ValidAt(now) || s.ValidAt(now.Add(time.Hour)) {
		t.Error("Session.ValidAt")
	}
	l := LoginLinkToken{CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if !l.Usable(now) || l.Usable(now.Add(time.Minute)) {
		t.Error("LoginLinkToken.Usable by time")
	}
	l.UsedAt = now
	if l.Usable(now) {
		t.Error("a used link is usable")
	}
}

// FuzzVerifyPassword feeds arbitrary stored hashes: never a panic, never
// a match for a string that is not a valid hash, and bounded cost.
func FuzzVerifyPassword(f *testing.F) {
	f.Add(HashPassword("seed password", cheap), "seed password")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("$argon2id$v=19$$$", "")
	f.Fuzz(func(t *testing.T, hash, password string) {
		p, _, _, err := parsePasswordHash(hash)
		if err != nil {
			if ok, verr := VerifyPassword(hash, password); ok || verr == nil {
				t.Fatalf("unparsable hash %q verified: %v %v", hash, ok, verr)
			}
			return
		}
		if p.Memory > maxPasswordMemory || p.Time > maxPasswordTime || p.KeyLen > maxPasswordKeyLen {
			t.Fatalf("parameters out of bounds accepted: %+v", p)
		}
		if p.Memory <= 1024 && p.Time <= 2 { // keep the fuzzer fast
			_, _ = VerifyPassword(hash, password)
		}
	})
}

// BenchmarkHashPassword is the cost of one log-in check (and of setting
// a password) with the default argon2id parameters.
func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		HashPassword("correct horse battery staple", DefaultPasswordParams)
	}
}
