package approval

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agentotp/agentotp"
)

// Signing methods.
const (
	// MethodEd25519 is a statement signed by an owner signing key
	// (agentotp owner keygen; CLI approvals).
	MethodEd25519 = "ed25519"
	// MethodNone is a statement the relay wrote for a decision that no
	// owner key signed: the owner token alone, a Telegram tap, a policy.
	MethodNone = "none"
)

// Signed is a statement with its signature, as a decided request carries
// it (the request object's approval member).
type Signed struct {
	// Statement is the canonical statement bytes (base64 in JSON).
	Statement []byte `json:"statement"`
	// Method is MethodEd25519, MethodWebAuthn or MethodNone.
	Method string `json:"method"`
	// KeyID names the signing key; empty for MethodNone.
	KeyID string `json:"key_id,omitempty"`
	// Signature is the signature over the statement; empty for MethodNone.
	Signature []byte `json:"signature,omitempty"`
}

// TrustedKey is an owner public key an edge or an agent has pinned.
type TrustedKey struct {
	KeyID  string `json:"key_id"`
	Method string `json:"method"`
	// PublicKey is the raw 32-byte key of a MethodEd25519 key (base64 in
	// JSON).
	PublicKey []byte `json:"public_key,omitempty"`
	// Credential is the WebAuthn credential record (go-webauthn's JSON) of
	// a MethodWebAuthn key: its id, COSE public key and flags.
	Credential json.RawMessage `json:"credential,omitempty"`
	Name       string          `json:"name,omitempty"`
}

// Trust is what an edge or an agent pins about one owner: the owner's id
// and public keys, fetched once with the owner token (agentotp owner
// trust) and kept in a file. Passkeys are checked against the relying
// party they were made for: RPID (the dashboard's host) and Origins.
type Trust struct {
	OwnerID string       `json:"owner_id"`
	RPID    string       `json:"rp_id,omitempty"`
	Origins []string     `json:"origins,omitempty"`
	Keys    []TrustedKey `json:"keys"`
}

// ParseTrust reads a trust file and checks every key in it.
func ParseTrust(b []byte) (*Trust, error) {
	var t Trust
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("approval: trust file: %w", err)
	}
	if t.OwnerID == "" {
		return nil, errors.New("approval: trust file names no owner_id")
	}
	for i := range t.Keys {
		k := &t.Keys[i]
		switch k.Method {
		case MethodEd25519:
			if len(k.PublicKey) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("approval: trust file key %d: an Ed25519 key is %d bytes, not %d", i, ed25519.PublicKeySize, len(k.PublicKey))
			}
			if KeyID(k.PublicKey) != k.KeyID {
				return nil, fmt.Errorf("approval: trust file key %d: key_id %q does not name its public key", i, k.KeyID)
			}
		case MethodWebAuthn:
			if _, err := parsePasskey(k); err != nil {
				return nil, fmt.Errorf("approval: trust file key %d: %w", i, err)
			}
			if t.RPID == "" || len(t.Origins) == 0 {
				return nil, fmt.Errorf("approval: trust file key %d is a passkey, but the file names no rp_id and origins", i)
			}
		default:
			return nil, fmt.Errorf("approval: trust file key %d: unknown method %q", i, k.Method)
		}
	}
	return &t, nil
}

// Refusal is why a statement does not let a code through. Its text says
// what was wrong in words an owner reads on the edge's stderr.
type Refusal struct {
	Reason string
}

func (r *Refusal) Error() string { return "approval refused: " + r.Reason }

func refuse(format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// Verify checks that a is a well-formed statement signed by one of t's
// keys, about t's owner, and returns the statement. It does not look at
// what the statement says beyond its owner.
func (t *Trust) Verify(a *Signed) (Statement, error) {
	s, err := Parse(a.Statement)
	if err != nil {
		return Statement{}, refuse("%v", err)
	}
	if a.Method != MethodEd25519 && a.Method != MethodWebAuthn {
		return Statement{}, refuse("signing method %q is not one this checker knows", a.Method)
	}
	k := t.key(a.KeyID)
	if k == nil || k.Method != a.Method {
		return Statement{}, refuse("signed by key %q, which is not one of the owner's pinned keys", a.KeyID)
	}
	if a.Method == MethodWebAuthn {
		err = t.verifyPasskey(k, a.Statement, a.Signature)
	} else {
		err = VerifyEd25519(k.PublicKey, a.Statement, a.Signature)
	}
	if err != nil {
		return Statement{}, refuse("%v", err)
	}
	if s.OwnerID != t.OwnerID {
		return Statement{}, refuse("the statement is for owner %q, not the pinned owner %q", s.OwnerID, t.OwnerID)
	}
	return s, nil
}

// Check decides whether a code may be sealed for request r, as the relay
// presents it, on the strength of its signed approval a (nil when the
// relay gave none). keyFingerprint and algorithm are what the checker
// computed itself from the public key the relay handed over, never the
// relay's word. In strict mode only an approval signed by a key in t, by
// the owner t names, that covers r exactly and has not expired lets the
// code through; permissive mode also takes an unsigned approval (and
// still checks that it covers r, and names the pinned owner when t names
// one), and a request without any approval.
func (t *Trust) Check(a *Signed, r *agentotp.Request, keyFingerprint, algorithm string, now time.Time, strict bool) error {
	if a == nil {
		if strict {
			return refuse("request %s carries no approval: it is not approved, or the relay withholds the owner's statement", r.ID)
		}
		return nil
	}
	var s Statement
	switch a.Method {
	case MethodNone:
		if strict {
			return refuse("request %s was approved without an owner signature (owner token, Telegram or a policy); strict mode takes only signed approvals", r.ID)
		}
		var err error
		if s, err = Parse(a.Statement); err != nil {
			return refuse("request %s: %v", r.ID, err)
		}
		if t.OwnerID != "" && s.OwnerID != t.OwnerID {
			return refuse("request %s: the statement is for owner %q, not the pinned owner %q", r.ID, s.OwnerID, t.OwnerID)
		}
	default:
		var err error
		if s, err = t.Verify(a); err != nil {
			return refuse("request %s: %s", r.ID, err.(*Refusal).Reason)
		}
	}
	if s.Decision != Approve {
		return refuse("request %s: the owner's statement says %s", r.ID, s.Decision)
	}
	if m := s.Mismatch(r); m != "" {
		return refuse("request %s: the relay's request differs from what the owner approved in %s", r.ID, m)
	}
	if s.KeyFingerprint != keyFingerprint || s.Encryption != algorithm {
		return refuse("request %s: the public key handed over (%s, %s) is not the key the owner approved (%s, %s)", r.ID, keyFingerprint, algorithm, s.KeyFingerprint, s.Encryption)
	}
	if s.Expired(now) {
		return refuse("request %s: the owner's approval expired at %s", r.ID, s.ExpiresAt)
	}
	return nil
}

func (t *Trust) key(id string) *TrustedKey {
	for i := range t.Keys {
		if t.Keys[i].KeyID == id {
			return &t.Keys[i]
		}
	}
	return nil
}
