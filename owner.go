package agentotp

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"time"
)

// Owner is the person whose phone and inbox receive the codes. Every other
// row belongs to exactly one owner.
type Owner struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Agent is an AI agent that may ask for codes with its API key.
type Agent struct {
	ID        string
	OwnerID   string
	Name      string
	Test      bool   // a test agent: its requests auto-approve and never see real mail
	KeyPrefix string // the first characters of its current key, for display
	// WebhookSecret signs outbound webhooks (whsec_…). The relay needs the
	// secret itself to sign, so unlike API keys it cannot be a hash.
	WebhookSecret string
	// WebhookURL is where status changes of the agent's requests are
	// POSTed when a request names no webhook_url of its own ("" for none).
	WebhookURL string
	CreatedAt  time.Time
	RevokedAt  time.Time // zero while active
}

// Active reports whether the agent has not been revoked.
func (a *Agent) Active() bool { return a.RevokedAt.IsZero() }

// SourceKind is what a capture source is: an SMS gateway, an inbox, or a
// generic source that may deliver both channels.
type SourceKind = string

// Source kinds.
const (
	SourceKindSMS     SourceKind = "sms"
	SourceKindEmail   SourceKind = "email"
	SourceKindGeneric SourceKind = "generic"
)

// Source is a capture source: a phone, an inbox, a gateway. Its token may
// post messages for its owner.
type Source struct {
	ID        string
	OwnerID   string
	Name      string
	Kind      SourceKind // SourceKindSMS, SourceKindEmail or SourceKindGeneric
	KeyPrefix string
	CreatedAt time.Time
	RevokedAt time.Time
}

// Active reports whether the source has not been revoked.
func (s *Source) Active() bool { return s.RevokedAt.IsZero() }

// Allows reports whether this source may deliver messages of channel c:
// an SMS source SMS, an email source email, a generic source both.
func (s *Source) Allows(c Channel) bool {
	return s.Kind == SourceKindGeneric || s.Kind == SourceKind(c)
}

// CredentialKind says what a bearer token stands for.
type CredentialKind string

// Credential kinds and their token prefixes.
const (
	CredentialAgent  CredentialKind = "agent"
	CredentialOwner  CredentialKind = "owner"
	CredentialSource CredentialKind = "source"
)

// Token prefixes.
const (
	PrefixLiveKey     = "ak_live_"
	PrefixTestKey     = "ak_test_"
	PrefixOwnerToken  = "ok_"
	PrefixSourceToken = "sk_"
	PrefixWebhook     = "whsec_"
)

// KindOfToken returns the credential kind a token's prefix claims, or ""
// when the prefix is unknown.
func KindOfToken(token string) CredentialKind {
	switch {
	case strings.HasPrefix(token, PrefixLiveKey), strings.HasPrefix(token, PrefixTestKey):
		return CredentialAgent
	case strings.HasPrefix(token, PrefixOwnerToken):
		return CredentialOwner
	case strings.HasPrefix(token, PrefixSourceToken):
		return CredentialSource
	}
	return ""
}

// Credential is a stored bearer token: only its SHA-256 hash is kept. The
// tokens carry at least 190 bits of randomness, so a fast hash is safe and
// lets the store look a token up by its hash.
type Credential struct {
	Hash      []byte
	Kind      CredentialKind
	OwnerID   string
	AgentID   string // for CredentialAgent
	SourceID  string // for CredentialSource
	Prefix    string // the first characters, for display
	CreatedAt time.Time
	// ExpiresAt, when set, ends the credential (a rotated key's grace period).
	ExpiresAt time.Time
	RevokedAt time.Time
}

// HashToken returns the stored form of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Verify reports, in constant time, whether token hashes to c.Hash, and
// whether the credential is still valid at now.
func (c *Credential) Verify(token string, now time.Time) bool {
	ok := subtle.ConstantTimeCompare(HashToken(token), c.Hash) == 1
	if !c.RevokedAt.IsZero() && !now.Before(c.RevokedAt) {
		return false
	}
	if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt) {
		return false
	}
	return ok
}

// TokenPrefix returns the displayable head of a token: its kind prefix and
// four more characters.
func TokenPrefix(token string) string {
	n := strings.LastIndexByte(token, '_') + 1 + 4
	if n > len(token) {
		n = len(token)
	}
	return token[:n]
}
