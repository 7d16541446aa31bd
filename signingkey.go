package agentotp

import (
	"context"
	"time"
)

// Audit actions of owner signing keys.
const (
	AuditSigningKeyAdded   = "signing_key.added"
	AuditSigningKeyRevoked = "signing_key.revoked"
)

// LoginPasskey is the method of a dashboard session opened with a
// passkey.
const LoginPasskey = "passkey"

// SigningKey is a public key with which the owner signs decisions (see
// package approval): the relay keeps only the public half, so it can
// check a signed approval but never make one.
type SigningKey struct {
	ID        string // sgk_…
	OwnerID   string
	Method    string // "ed25519" or "webauthn" (a passkey)
	KeyID     string // approval.KeyID of PublicKey
	PublicKey []byte // raw Ed25519 key; a passkey's COSE key
	// Credential is a passkey's WebAuthn credential record (JSON); empty
	// for other methods.
	Credential []byte
	Name       string
	CreatedAt  time.Time
	RevokedAt  time.Time
}

// Active reports whether the key has not been revoked.
func (k *SigningKey) Active() bool { return k.RevokedAt.IsZero() }

// SigningKeyStore keeps owners' signing keys.
type SigningKeyStore interface {
	// CreateSigningKey stores a new signing key; a key whose KeyID the
	// owner has already is ErrConflict.
	CreateSigningKey(ctx context.Context, k *SigningKey, audit ...AuditEntry) error
	// ListSigningKeys returns the owner's signing keys, oldest first,
	// revoked ones included.
	ListSigningKeys(ctx context.Context, ownerID string) ([]*SigningKey, error)
	// RevokeSigningKey marks a key of the owner revoked at at.
	RevokeSigningKey(ctx context.Context, ownerID, id string, at time.Time, audit ...AuditEntry) error
}
