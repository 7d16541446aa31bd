package agentotp

import (
	"context"
	"errors"
	"time"
)

// MessageRecord names a message that a source delivered, for
// de-duplication of the source's retries.
type MessageRecord struct {
	SourceID   string
	ExternalID string
	At         time.Time
}

// ErrDuplicateMessage is returned by Store.DeliverMessage when the
// message was recorded already.
var ErrDuplicateMessage = errors.New("message already recorded")

// RequestQuery selects requests for listing, newest first.
type RequestQuery struct {
	OwnerID string
	AgentID string // optional
	Status  Status // optional
	Limit   int    // 1..100
	// Cursor continues a previous listing: it is the NextCursor that call
	// returned. Stores define its form; callers treat it as opaque.
	Cursor string
}

// AuditQuery selects audit entries of one owner, in Seq order.
type AuditQuery struct {
	OwnerID   string
	AfterSeq  int64 // entries with Seq > AfterSeq
	RequestID string
	Action    string
	Limit     int // 0 means no limit
}

// Store keeps owners, agents, sources, credentials, requests and the audit
// log. Every method is safe for concurrent use. Methods that change state
// take the audit entries that record the change and append them in the
// same transaction, chained to the owner's previous entry (the store sets
// Seq, PrevHash and Hash). Missing rows are reported as ErrNotFound, lost
// optimistic races as ErrConflict (both wrapped with context).
type Store interface {
	PolicyStore     // policies and owner settings (policy.go)
	TelegramStore   // the Telegram bot's links and prompts (telegram.go)
	CaptureStore    // sealed source keys for signed webhooks (capture.go)
	IMAPStore       // IMAP settings of email sources and their connectors' cursors (imapsource.go)
	SigningKeyStore // owners' public keys for signed approvals (signingkey.go)

	// CreateOwner stores a new owner together with its first credential.
	CreateOwner(ctx context.Context, o *Owner, cred *Credential, audit ...AuditEntry) error
	// GetOwner returns one owner.
	GetOwner(ctx context.Context, id string) (*Owner, error)
	// ListOwners returns every owner, oldest first.
	ListOwners(ctx context.Context) ([]*Owner, error)

	// CreateAgent stores an agent and its API key's credential.
	CreateAgent(ctx context.Context, a *Agent, cred *Credential, audit ...AuditEntry) error
	// GetAgent returns an agent of the owner.
	GetAgent(ctx context.Context, ownerID, id string) (*Agent, error)
	// ListAgents returns the owner's agents, oldest first.
	ListAgents(ctx context.Context, ownerID string) ([]*Agent, error)
	// RotateAgentKey stores a new credential for the agent (and its new
	// key prefix and webhook secret) and makes every older credential of
	// the agent end at oldKeyEnds.
	RotateAgentKey(ctx context.Context, a *Agent, cred *Credential, oldKeyEnds time.Time, audit ...AuditEntry) error
	// RevokeAgent marks the agent and all its credentials revoked at at.
	RevokeAgent(ctx context.Context, ownerID, id string, at time.Time, audit ...AuditEntry) error

	// CreateSource stores a capture source and its token's credential.
	CreateSource(ctx context.Context, s *Source, cred *Credential, audit ...AuditEntry) error
	// GetSource returns a source of the owner.
	GetSource(ctx context.Context, ownerID, id string) (*Source, error)
	// ListSources returns the owner's sources, oldest first.
	ListSources(ctx context.Context, ownerID string) ([]*Source, error)
	// RevokeSource marks the source and its credentials revoked at at.
	RevokeSource(ctx context.Context, ownerID, id string, at time.Time, audit ...AuditEntry) error

	// CreateCredential stores one more credential (an owner token, say).
	CreateCredential(ctx context.Context, cred *Credential) error
	// FindCredential returns the credential whose hash is hash.
	FindCredential(ctx context.Context, hash []byte) (*Credential, error)
	// ReplaceOwnerTokens revokes, at at, the owner's unrevoked owner
	// tokens whose hashes are in revoke (every one of them when revoke is
	// nil), stores cred (the owner's new token) and appends audit, in one
	// transaction, and returns the prefixes of the tokens it revoked. When
	// revoke names a token that is not an unrevoked owner token of the
	// owner, nothing changes and the error is ErrNotFound.
	ReplaceOwnerTokens(ctx context.Context, ownerID string, revoke [][]byte, cred *Credential, at time.Time, audit ...AuditEntry) ([]string, error)

	// CreateRequest stores a new request.
	CreateRequest(ctx context.Context, r *Request, audit ...AuditEntry) error
	// GetRequest returns one request by id, whoever owns it; callers check
	// ownership.
	GetRequest(ctx context.Context, id string) (*Request, error)
	// ListRequests returns a page of requests and the cursor of the next
	// page ("" at the end).
	ListRequests(ctx context.Context, q RequestQuery) ([]*Request, string, error)
	// ListLiveRequests returns the owner's requests in pending_approval or
	// approved status, oldest first: the candidates for a message.
	ListLiveRequests(ctx context.Context, ownerID string) ([]*Request, error)
	// ListDueRequests returns up to limit requests, of any owner, that are
	// not final and whose ExpiresAt is not after now.
	ListDueRequests(ctx context.Context, now time.Time, limit int) ([]*Request, error)
	// UpdateRequest writes r if the stored row still has version
	// prevVersion, and sets r.Version to prevVersion+1; otherwise it
	// returns ErrConflict and writes nothing.
	UpdateRequest(ctx context.Context, r *Request, prevVersion int64, audit ...AuditEntry) error

	// DeliverMessage is UpdateRequest that, in the same transaction,
	// records that source m.SourceID delivered the message m.ExternalID
	// (what RecordMessage records). If that message was recorded already
	// it writes nothing and returns ErrDuplicateMessage: a message is
	// recorded exactly when its delivery is, so a crash between the two
	// can neither lose the code (recorded, not delivered, the retry
	// refused) nor deliver it twice.
	DeliverMessage(ctx context.Context, r *Request, prevVersion int64, m MessageRecord, audit ...AuditEntry) error

	// RecordMessage remembers that a source delivered the message with
	// externalID, and reports false if it had already done so. Only the id
	// is kept, never the message.
	RecordMessage(ctx context.Context, sourceID, externalID string, at time.Time) (bool, error)
	// ForgetMessage undoes RecordMessage, for a message the relay took but
	// could not process, so that the source's retry is not a duplicate.
	ForgetMessage(ctx context.Context, sourceID, externalID string) error
	// PruneMessages forgets the message ids recorded before before, so
	// that remembering them does not grow without end; it returns how
	// many it forgot.
	PruneMessages(ctx context.Context, before time.Time) (int64, error)

	// AppendAudit appends entries that record no other change.
	AppendAudit(ctx context.Context, audit ...AuditEntry) error
	// ListAudit returns audit entries in Seq order.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// VerifyAuditChain checks a run of ownerID's entries, in Seq order,
	// after prev ("" for the owner's whole chain) with the store's audit
	// key, which only the store holds; nil when the chain holds.
	VerifyAuditChain(ctx context.Context, ownerID, prev string, entries []AuditEntry) (*ChainBreak, error)

	// Close releases the store's resources.
	Close() error

	WebhookStore // the webhook outbox and the agents' webhook settings (webhook.go)

	DashboardStore // owner passwords, dashboard sessions, log-in links (dashboard.go)

	EnrollmentStore // agents that enroll themselves, and their Telegram prompts (enroll.go)
}
