package approval

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

type owner struct {
	pub   ed25519.PublicKey
	priv  ed25519.PrivateKey
	trust *Trust
}

func newOwner(t *testing.T) *owner {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(Trust{OwnerID: "own_01", Keys: []TrustedKey{{KeyID: KeyID(pub), Method: MethodEd25519, PublicKey: pub, Name: "laptop"}}})
	tr, err := ParseTrust(raw)
	if err != nil {
		t.Fatal(err)
	}
	return &owner{pub: pub, priv: priv, trust: tr}
}

func (o *owner) sign(r *agentotp.Request, decision string) *Signed {
	b := For(r, decision, t0).Canonical()
	return &Signed{Statement: b, Method: MethodEd25519, KeyID: KeyID(o.pub), Signature: SignEd25519(o.priv, b)}
}

// TestCheck: what a compromised relay can try, each refused, and the
// honest case let through.
func TestCheck(t *testing.T) {
	o := newOwner(t)
	stranger := newOwner(t)
	honest := request()
	fp, alg := honest.KeyFingerprint, honest.Encryption
	other := request()
	other.ID = "req_02"
	unsigned := func(r *agentotp.Request) *Signed {
		return &Signed{Statement: For(r, Approve, t0).Canonical(), Method: MethodNone}
	}
	tests := []struct {
		name    string
		a       *Signed
		r       *agentotp.Request
		fp, alg string
		now     time.Time
		strict  bool
		refusal string // "" for let through
	}{
		{"honest", o.sign(honest, Approve), honest, fp, alg, t0, true, ""},
		{"invented request (no approval)", nil, honest, fp, alg, t0, true, "carries no approval"},
		{"swapped agent key", o.sign(honest, Approve), honest, "SHA256:relays-own-key", alg, t0, true, "not the key the owner approved"},
		{"swapped algorithm", o.sign(honest, Approve), honest, fp, "RSA-OAEP-256", t0, true, "not the key the owner approved"},
		{"widened filter", o.sign(honest, Approve), with(honest, func(r *agentotp.Request) { r.Filter.SenderPattern = "*" }), fp, alg, t0, true, "filter.sender_pattern"},
		{"include_message flipped on", o.sign(honest, Approve), with(honest, func(r *agentotp.Request) { r.IncludeMessage = true }), fp, alg, t0, true, "include_message"},
		{"statement replayed from another request", o.sign(other, Approve), honest, fp, alg, t0, true, "request_id"},
		{"expired statement", o.sign(honest, Approve), honest, fp, alg, honest.ExpiresAt, true, "expired"},
		{"unknown key", stranger.sign(honest, Approve), honest, fp, alg, t0, true, "not one of the owner's pinned keys"},
		{"a denial", o.sign(honest, Deny), honest, fp, alg, t0, true, "says deny"},
		{"unsigned, strict", unsigned(honest), honest, fp, alg, t0, true, "without an owner signature"},
		{"unsigned, permissive", unsigned(honest), honest, fp, alg, t0, false, ""},
		{"unsigned but widened, permissive", unsigned(honest), with(honest, func(r *agentotp.Request) { r.Filter.Sources = []agentotp.Channel{"sms"} }), fp, alg, t0, false, "filter.sources"},
		{"no approval, permissive", nil, honest, fp, alg, t0, false, ""},
		{"signature of another statement", &Signed{Statement: For(honest, Approve, t0).Canonical(), Method: MethodEd25519, KeyID: KeyID(o.pub), Signature: o.sign(other, Approve).Signature}, honest, fp, alg, t0, true, "does not verify"},
		{"unknown method", &Signed{Statement: For(honest, Approve, t0).Canonical(), Method: "hmac"}, honest, fp, alg, t0, false, "not one this checker knows"},
		{"garbled statement", &Signed{Statement: []byte("{}"), Method: MethodNone}, honest, fp, alg, t0, false, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := o.trust.Check(tt.a, tt.r, tt.fp, tt.alg, tt.now, tt.strict)
			if tt.refusal == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ref *Refusal
			if !errors.As(err, &ref) || !strings.Contains(err.Error(), tt.refusal) {
				t.Fatalf("got %v; want a refusal saying %q", err, tt.refusal)
			}
		})
	}
}

func TestCheckOtherOwner(t *testing.T) {
	o := newOwner(t)
	r := with(request(), func(r *agentotp.Request) { r.OwnerID = "own_02" })
	if err := o.trust.Check(o.sign(r, Approve), r, r.KeyFingerprint, r.Encryption, t0, true); err == nil || !strings.Contains(err.Error(), "not the pinned owner") {
		t.Fatalf("got %v", err)
	}
}

func TestParseTrust(t *testing.T) {
	o := newOwner(t)
	good, _ := json.Marshal(o.trust)
	if _, err := ParseTrust(good); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, in string }{
		{"not json", "x"},
		{"no owner", `{"keys":[]}`},
		{"unknown method", strings.Replace(string(good), `"ed25519"`, `"rsa"`, 1)},
		{"wrong key id", strings.Replace(string(good), `"key_id":"ed25519:`, `"key_id":"ed25519:x`, 1)},
		{"short key", `{"owner_id":"own_01","keys":[{"key_id":"ed25519:a","method":"ed25519","public_key":"AAAA"}]}`},
	}
	for _, tt := range tests {
		if _, err := ParseTrust([]byte(tt.in)); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func with(r *agentotp.Request, edit func(*agentotp.Request)) *agentotp.Request {
	c := *r
	c.Filter.Sources = slices.Clone(r.Filter.Sources)
	edit(&c)
	return &c
}
