package approval

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

var t0 = time.Date(2026, 12, 2, 15, 4, 5, 123456000, time.UTC)

func request() *agentotp.Request {
	return &agentotp.Request{
		ID: "req_01", OwnerID: "own_01", AgentID: "agt_01",
		KeyFingerprint: "SHA256:abc", Encryption: "HPKE-X25519-SHA256-CHACHA20POLY1305",
		Filter:         agentotp.Filter{SenderPattern: "*@acme.com", ContentPattern: `(?i)acme`, ReceivedAfter: t0.Add(-time.Minute)},
		IncludeMessage: false,
		ExpiresAt:      t0.Add(5 * time.Minute),
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	s := For(request(), Approve, t0)
	b := s.Canonical()
	want := `{"v":1,"request_id":"req_01","owner_id":"own_01","agent_id":"agt_01","key_fingerprint":"SHA256:abc",` +
		`"encryption":"HPKE-X25519-SHA256-CHACHA20POLY1305","filter":{"sources":["email","sms"],"sender_pattern":"*@acme.com",` +
		`"content_pattern":"(?i)acme","received_after":"2026-12-02T15:03:05.123456Z"},"include_message":false,` +
		`"expires_at":"2026-12-02T15:09:05.123456Z","decision":"approve","decided_at":"2026-12-02T15:04:05.123456Z"}`
	if string(b) != want {
		t.Fatalf("canonical bytes\n got %s\nwant %s", b, want)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Canonical(), b) {
		t.Fatal("parse then canonical changed the bytes")
	}
	if m := got.Mismatch(request()); m != "" {
		t.Fatalf("statement does not cover its own request: %s", m)
	}
}

func TestParseRefusesOtherEncodings(t *testing.T) {
	good := string(For(request(), Approve, t0).Canonical())
	tests := []struct{ name, in string }{
		{"spacing", strings.Replace(good, `"v":1,`, `"v": 1,`, 1)},
		{"member order", strings.Replace(good, `"v":1,"request_id":"req_01"`, `"request_id":"req_01","v":1`, 1)},
		{"unknown member", strings.Replace(good, `"v":1,`, `"v":1,"x":1,`, 1)},
		{"unsorted sources", strings.Replace(good, `["email","sms"]`, `["sms","email"]`, 1)},
		{"no sources", strings.Replace(good, `["email","sms"]`, `[]`, 1)},
		{"other version", strings.Replace(good, `"v":1,`, `"v":2,`, 1)},
		{"unknown decision", strings.Replace(good, `"approve"`, `"maybe"`, 1)},
		{"bad time", strings.Replace(good, `"expires_at":"2026-12-02T15:09:05.123456Z"`, `"expires_at":"soon"`, 1)},
		{"trailing newline", good + "\n"},
		{"needless escape", strings.Replace(good, `"SHA256:abc"`, `"SHA256:a\u0062c"`, 1)},
		{"too long", good[:len(good)-1] + strings.Repeat(" ", MaxStatementLen) + "}"},
		{"not json", "approve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.in)); err == nil {
				t.Fatalf("Parse accepted %q", tt.in)
			}
		})
	}
}

func TestMismatch(t *testing.T) {
	s := For(request(), Approve, t0)
	tests := []struct {
		member string
		edit   func(r *agentotp.Request)
	}{
		{"request_id", func(r *agentotp.Request) { r.ID = "req_02" }},
		{"owner_id", func(r *agentotp.Request) { r.OwnerID = "own_02" }},
		{"agent_id", func(r *agentotp.Request) { r.AgentID = "agt_02" }},
		{"key_fingerprint", func(r *agentotp.Request) { r.KeyFingerprint = "SHA256:evil" }},
		{"encryption", func(r *agentotp.Request) { r.Encryption = "RSA-OAEP-256" }},
		{"filter.sources", func(r *agentotp.Request) { r.Filter.Sources = []agentotp.Channel{"sms"} }},
		{"filter.sender_pattern", func(r *agentotp.Request) { r.Filter.SenderPattern = "*" }},
		{"filter.content_pattern", func(r *agentotp.Request) { r.Filter.ContentPattern = "" }},
		{"filter.received_after", func(r *agentotp.Request) { r.Filter.ReceivedAfter = time.Time{} }},
		{"include_message", func(r *agentotp.Request) { r.IncludeMessage = true }},
		{"expires_at", func(r *agentotp.Request) { r.ExpiresAt = r.ExpiresAt.Add(time.Hour) }},
		{"", func(r *agentotp.Request) { r.Filter.Sources = []agentotp.Channel{"sms", "email", "sms"} }}, // the same set, stated once
		{"", func(r *agentotp.Request) { r.Status = agentotp.StatusApproved; r.Reason = "other words" }}, // not part of the statement
	}
	for _, tt := range tests {
		r := request()
		tt.edit(r)
		if got := s.Mismatch(r); got != tt.member {
			t.Errorf("after changing %q: Mismatch = %q", tt.member, got)
		}
	}
}

func TestExpired(t *testing.T) {
	s := For(request(), Approve, t0)
	if s.Expired(t0) {
		t.Error("expired at decision time")
	}
	if !s.Expired(t0.Add(5 * time.Minute)) {
		t.Error("not expired at its expiry")
	}
}

func TestEd25519(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	b := For(request(), Approve, t0).Canonical()
	sig := SignEd25519(priv, b)
	if err := VerifyEd25519(pub, b, sig); err != nil {
		t.Fatal(err)
	}
	replay := request()
	replay.ID = "req_02"
	tampered := bytes.Replace(b, []byte(`"include_message":false`), []byte(`"include_message":true`), 1)
	tests := []struct {
		name string
		pub  ed25519.PublicKey
		msg  []byte
		sig  []byte
	}{
		{"other key", other, b, sig},
		{"tampered statement", pub, tampered, sig},
		{"statement of another request", pub, For(replay, Approve, t0).Canonical(), sig},
		{"bare ed25519 over the statement (no context)", pub, b, ed25519.Sign(priv, b)},
		{"short key", pub[:16], b, sig},
		{"empty signature", pub, b, nil},
	}
	for _, tt := range tests {
		if err := VerifyEd25519(tt.pub, tt.msg, tt.sig); err == nil {
			t.Errorf("%s: verified", tt.name)
		}
	}
	if KeyID(pub) == KeyID(other) || !strings.HasPrefix(KeyID(pub), "ed25519:") {
		t.Errorf("key ids %s, %s", KeyID(pub), KeyID(other))
	}
}

// TestEd25519OpenSSL checks the signature with openssl: the signed bytes
// are the context string then the canonical statement, signed as plain
// Ed25519 (RFC 8032), so any Ed25519 implementation verifies them.
func TestEd25519OpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed; .ci/run must install it")
		}
		t.Skip("openssl is not installed; skipping the cross-check")
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	b := For(request(), Approve, t0).Canonical()
	dir := t.TempDir()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pubPath := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	msg := write("msg", append([]byte(ed25519Context), b...))
	sig := write("sig", SignEd25519(priv, b))
	out, err := exec.Command(bin, "pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin", "-in", msg, "-sigfile", sig).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	if err := os.WriteFile(msg, b, 0o600); err != nil { // without the context string
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin", "-in", msg, "-sigfile", sig).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified the signature over other bytes:\n%s", out)
	}
}

func TestHash(t *testing.T) {
	a := For(request(), Approve, t0).Canonical()
	d := For(request(), Deny, t0).Canonical()
	if Hash(a) == Hash(d) || len(Hash(a)) != 43 {
		t.Fatalf("hashes %s %s", Hash(a), Hash(d))
	}
}

// FuzzParse: Parse never panics, and whatever it accepts is canonical.
func FuzzParse(f *testing.F) {
	f.Add(For(request(), Approve, t0).Canonical())
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Canonical(), b) {
			t.Fatalf("accepted non-canonical %q", b)
		}
	})
}
