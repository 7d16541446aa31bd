package agentotp

import (
	"context"
	"time"
)

// SourceKey is the token of a capture source kept sealed (secretbox), for
// the one use that needs the token itself rather than its hash: checking
// the HMAC signature of a phone gateway's webhook, whose signing key is the
// source token.
type SourceKey struct {
	SourceID  string
	OwnerID   string
	Kind      string // the source's kind
	Sealed    []byte // secretbox ciphertext of the token
	CreatedAt time.Time
}

// CaptureStore keeps what the capture paths need beyond the core store.
type CaptureStore interface {
	// PutSourceKey stores (or replaces) the sealed token of a source.
	PutSourceKey(ctx context.Context, k *SourceKey) error
	// ListSourceKeys returns the keys of active (not revoked) sources,
	// of one source when sourceID is set, oldest first, at most limit
	// (limit <= 0: no limit).
	ListSourceKeys(ctx context.Context, sourceID string, limit int) ([]*SourceKey, error)
	// MessageSeen reports whether RecordMessage has recorded externalID
	// for the source, without recording it.
	MessageSeen(ctx context.Context, sourceID, externalID string) (bool, error)
}
