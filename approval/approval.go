// Package approval holds the owner's decision on an OTP request as a
// statement the owner signs with a key the relay never holds, so that an
// edge (agentotp capture) or an agent can check that a request was
// approved by its owner and not invented or widened by a compromised
// relay.
//
// A statement binds everything that decides where a code goes: the
// request, its owner and agent, the agent's key (fingerprint and
// algorithm), the filter that picks the message, whether the full message
// text is released, the expiry and the decision. Its canonical bytes are
// JSON with a fixed member order (see [Statement.Canonical]); signers sign
// those exact bytes and verifiers parse only canonical bytes, so one
// statement has one encoding.
//
// The package does no I/O.
package approval

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/agentotp/agentotp"
)

// Version is the statement format this package writes and reads.
const Version = 1

// Decisions a statement can carry.
const (
	Approve = "approve"
	Deny    = "deny"
)

// ed25519Context separates statement signatures from anything else an
// owner signing key might sign.
const ed25519Context = "agentotp approval statement v1\x00"

// MaxStatementLen bounds a statement's canonical bytes.
const MaxStatementLen = 8 << 10

// Filter is a request's filter as a statement states it: sources sorted
// and explicit (a request that takes both kinds states both), times in
// UTC to the microsecond, empty strings for absent conditions.
type Filter struct {
	Sources        []string `json:"sources"`
	SenderPattern  string   `json:"sender_pattern"`
	ContentPattern string   `json:"content_pattern"`
	ReceivedAfter  string   `json:"received_after"`
}

// Statement is the owner's decision on one request. The member order of
// this struct is the canonical order; do not reorder.
type Statement struct {
	V              int    `json:"v"`
	RequestID      string `json:"request_id"`
	OwnerID        string `json:"owner_id"`
	AgentID        string `json:"agent_id"`
	KeyFingerprint string `json:"key_fingerprint"`
	Encryption     string `json:"encryption"`
	Filter         Filter `json:"filter"`
	IncludeMessage bool   `json:"include_message"`
	ExpiresAt      string `json:"expires_at"`
	Decision       string `json:"decision"`
	DecidedAt      string `json:"decided_at"`
}

// stamp writes a time as statements state it: UTC, to the microsecond,
// the precision the relay's stores keep, so a statement made from a
// request before it was stored states the request as read back.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// FilterOf states a request filter.
func FilterOf(f agentotp.Filter) Filter {
	src := slices.Clone(f.Sources)
	if len(src) == 0 {
		src = []agentotp.Channel{agentotp.ChannelEmail, agentotp.ChannelSMS}
	}
	slices.Sort(src)
	src = slices.Compact(src)
	return Filter{Sources: agentotp.ChannelNames(src), SenderPattern: f.SenderPattern, ContentPattern: f.ContentPattern, ReceivedAfter: stamp(f.ReceivedAfter)}
}

// For states decision (Approve or Deny) on r, made at decidedAt.
func For(r *agentotp.Request, decision string, decidedAt time.Time) Statement {
	return Statement{
		V: Version, RequestID: r.ID, OwnerID: r.OwnerID, AgentID: r.AgentID,
		KeyFingerprint: r.KeyFingerprint, Encryption: r.Encryption,
		Filter: FilterOf(r.Filter), IncludeMessage: r.IncludeMessage,
		ExpiresAt: stamp(r.ExpiresAt), Decision: decision, DecidedAt: stamp(decidedAt),
	}
}

// Canonical returns the statement's canonical bytes: compact JSON,
// members in the order of the Statement type, no HTML escaping, no
// trailing newline.
func (s Statement) Canonical() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		// Statement holds only strings, bools, ints and a string slice.
		panic(fmt.Sprintf("approval: encoding a statement: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Hash returns the SHA-256 of canonical bytes, base64url without padding:
// the value audit rows carry.
func Hash(canonical []byte) string {
	h := sha256.Sum256(canonical)
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Parse reads canonical statement bytes. Bytes that are not the canonical
// encoding of the statement they hold (other member order, spacing,
// unknown members, unsorted sources) are refused, so a signature always
// covers exactly one meaning.
func Parse(b []byte) (Statement, error) {
	var s Statement
	if len(b) > MaxStatementLen {
		return s, fmt.Errorf("approval: statement is %d bytes; at most %d", len(b), MaxStatementLen)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Statement{}, fmt.Errorf("approval: statement: %w", err)
	}
	if s.V != Version {
		return Statement{}, fmt.Errorf("approval: statement version %d; this relay reads %d", s.V, Version)
	}
	if !bytes.Equal(s.Canonical(), b) {
		return Statement{}, errors.New("approval: statement is not in canonical form")
	}
	if s.Decision != Approve && s.Decision != Deny {
		return Statement{}, fmt.Errorf("approval: unknown decision %q", s.Decision)
	}
	if !slices.IsSorted(s.Filter.Sources) || len(s.Filter.Sources) == 0 {
		return Statement{}, errors.New("approval: filter sources must be listed, sorted")
	}
	for _, t := range []string{s.ExpiresAt, s.DecidedAt} {
		if _, err := time.Parse(time.RFC3339Nano, t); err != nil {
			return Statement{}, fmt.Errorf("approval: statement time %q: %w", t, err)
		}
	}
	return s, nil
}

// Mismatch names the first member of the statement that does not state
// the request r as the relay presents it, or "" when the statement covers
// r exactly.
func (s Statement) Mismatch(r *agentotp.Request) string {
	want := For(r, s.Decision, time.Time{})
	switch {
	case s.RequestID != want.RequestID:
		return "request_id"
	case s.OwnerID != want.OwnerID:
		return "owner_id"
	case s.AgentID != want.AgentID:
		return "agent_id"
	case s.KeyFingerprint != want.KeyFingerprint:
		return "key_fingerprint"
	case s.Encryption != want.Encryption:
		return "encryption"
	case !slices.Equal(s.Filter.Sources, want.Filter.Sources):
		return "filter.sources"
	case s.Filter.SenderPattern != want.Filter.SenderPattern:
		return "filter.sender_pattern"
	case s.Filter.ContentPattern != want.Filter.ContentPattern:
		return "filter.content_pattern"
	case s.Filter.ReceivedAfter != want.Filter.ReceivedAfter:
		return "filter.received_after"
	case s.IncludeMessage != want.IncludeMessage:
		return "include_message"
	case s.ExpiresAt != want.ExpiresAt:
		return "expires_at"
	}
	return ""
}

// Expired reports whether the statement's expiry has passed at now.
func (s Statement) Expired(now time.Time) bool {
	t, err := time.Parse(time.RFC3339Nano, s.ExpiresAt)
	return err != nil || !now.Before(t)
}

// KeyID names an owner signing key: "ed25519:" and the base64url SHA-256
// of the raw public key.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return "ed25519:" + base64.RawURLEncoding.EncodeToString(h[:])
}

// SignEd25519 signs canonical statement bytes with an owner signing key.
func SignEd25519(priv ed25519.PrivateKey, canonical []byte) []byte {
	return ed25519.Sign(priv, signedBytes(canonical))
}

// VerifyEd25519 checks an owner signing key's signature over canonical
// statement bytes.
func VerifyEd25519(pub ed25519.PublicKey, canonical, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("approval: an Ed25519 public key is %d bytes, not %d", ed25519.PublicKeySize, len(pub))
	}
	if !ed25519.Verify(pub, signedBytes(canonical), sig) {
		return errors.New("approval: the signature does not verify")
	}
	return nil
}

func signedBytes(canonical []byte) []byte {
	return append([]byte(ed25519Context), canonical...)
}
