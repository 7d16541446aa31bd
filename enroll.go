package agentotp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"
)

// Enrollment is an agent's request to be given an API key, in the manner
// of the OAuth 2.0 device authorization grant (RFC 8628): the agent,
// which holds no credential yet, asks; the owner approves or denies it;
// the agent, polling with its device code, receives a new agent's API
// key once. The relay keeps only hashes of the user code and the device
// code, and creates the agent and its key only when the agent collects
// them.
type Enrollment struct {
	ID          string // enr_…
	OwnerID     string
	Name        string // the agent's name, as it asked
	Description string // what the agent says it is, for the owner
	Test        bool   // asks for a test key (ak_test_…)
	// UserCodeHash and DeviceCodeHash are the stored forms of the codes
	// (HashUserCode, HashToken); the codes themselves are never stored.
	UserCodeHash   []byte
	DeviceCodeHash []byte
	// ClientAddr and UserAgent say where the enrollment came from.
	ClientAddr string
	UserAgent  string
	Status     EnrollmentStatus
	CreatedAt  time.Time
	ExpiresAt  time.Time
	DecidedAt  time.Time // zero until approved or denied
	DecidedBy  string    // DecidedByOwner once decided
	IssuedAt   time.Time // zero until the key was handed out
	AgentID    string    // the agent created at issue, "" before
	// Version counts the stored changes, for optimistic updates.
	Version int64
}

// EnrollmentStatus is where an enrollment stands.
type EnrollmentStatus string

// Enrollment statuses. Denied, expired and issued are final.
const (
	EnrollmentPending  EnrollmentStatus = "pending"
	EnrollmentApproved EnrollmentStatus = "approved"
	EnrollmentDenied   EnrollmentStatus = "denied"
	EnrollmentExpired  EnrollmentStatus = "expired"
	EnrollmentIssued   EnrollmentStatus = "issued"
)

// Final reports whether no further change is possible.
func (s EnrollmentStatus) Final() bool {
	return s == EnrollmentDenied || s == EnrollmentExpired || s == EnrollmentIssued
}

// Valid reports whether s is a known status.
func (s EnrollmentStatus) Valid() bool {
	switch s {
	case EnrollmentPending, EnrollmentApproved, EnrollmentDenied, EnrollmentExpired, EnrollmentIssued:
		return true
	}
	return false
}

// Enrollment limits and defaults.
const (
	// DefaultEnrollmentTTL is how long an enrollment waits for the owner
	// and, once approved, for the agent to collect its key.
	DefaultEnrollmentTTL = 10 * time.Minute
	// DefaultEnrollmentInterval is the least time between two polls of
	// one device code (RFC 8628's interval); a faster poll is slow_down.
	DefaultEnrollmentInterval = 5 * time.Second
	// SlowDownStep is what each slow_down adds to the interval (RFC 8628
	// §3.5), up to MaxEnrollmentInterval.
	SlowDownStep          = 5 * time.Second
	MaxEnrollmentInterval = 60 * time.Second
	// MaxDescriptionLen bounds an enrollment's description, in characters.
	MaxDescriptionLen = 500
	// MaxUserAgentLen bounds the stored User-Agent, in bytes.
	MaxUserAgentLen = 256
)

// Audit actions of enrollments.
const (
	AuditEnrollmentCreated  = "enrollment.created"
	AuditEnrollmentApproved = "enrollment.approved"
	AuditEnrollmentDenied   = "enrollment.denied"
	AuditEnrollmentExpired  = "enrollment.expired"
	AuditEnrollmentIssued   = "enrollment.issued"
)

// The enrollment's events.
type enrollmentEvent int

const (
	enrollApprove enrollmentEvent = iota
	enrollDeny
	enrollIssue
	enrollExpire
)

// enrollmentTransition is the state machine of an enrollment: the status
// after event, or the error that refuses it.
//
//	from \ event  approve    deny      issue      expire
//	pending       approved   denied    pending*   expired
//	approved      CONFLICT   CONFLICT  issued     expired
//	final         CONFLICT   CONFLICT  (by status) CONFLICT
//
// (*) issue of a pending enrollment is authorization_pending; of a final
// one access_denied, expired_token or invalid_grant.
func enrollmentTransition(from EnrollmentStatus, ev enrollmentEvent) (EnrollmentStatus, error) {
	switch ev {
	case enrollApprove, enrollDeny:
		if from != EnrollmentPending {
			return from, Errorf(EConflict, "the enrollment is %s and can no longer be decided", from)
		}
		if ev == enrollApprove {
			return EnrollmentApproved, nil
		}
		return EnrollmentDenied, nil
	case enrollIssue:
		switch from {
		case EnrollmentApproved:
			return EnrollmentIssued, nil
		case EnrollmentPending:
			return from, Errorf(EAuthorizationPending, "the owner has not decided yet; poll again after the interval")
		case EnrollmentDenied:
			return from, Errorf(EAccessDenied, "the owner denied the enrollment")
		case EnrollmentExpired:
			return from, Errorf(EExpiredToken, "the enrollment expired; start a new one")
		}
		return from, Errorf(EInvalidGrant, "the device code was used already")
	case enrollExpire:
		if from.Final() {
			return from, Errorf(EConflict, "the enrollment is %s already", from)
		}
		return EnrollmentExpired, nil
	}
	return from, Errorf(EInternal, "unknown enrollment event")
}

// ExpiredAt reports whether the enrollment's TTL has passed at now.
func (e *Enrollment) ExpiredAt(now time.Time) bool { return !now.Before(e.ExpiresAt) }

// Approve records the owner's approval.
func (e *Enrollment) Approve(by string, now time.Time) error {
	st, err := enrollmentTransition(e.Status, enrollApprove)
	if err != nil {
		return err
	}
	e.Status, e.DecidedAt, e.DecidedBy = st, now, by
	return nil
}

// Deny records the owner's refusal.
func (e *Enrollment) Deny(by string, now time.Time) error {
	st, err := enrollmentTransition(e.Status, enrollDeny)
	if err != nil {
		return err
	}
	e.Status, e.DecidedAt, e.DecidedBy = st, now, by
	return nil
}

// Issue marks the key handed out to the new agent agentID. It fails, with
// the RFC 8628 error the agent is told, unless the enrollment is approved.
func (e *Enrollment) Issue(agentID string, now time.Time) error {
	st, err := enrollmentTransition(e.Status, enrollIssue)
	if err != nil {
		return err
	}
	e.Status, e.IssuedAt, e.AgentID = st, now, agentID
	return nil
}

// Expire ends an enrollment whose TTL has passed: undecided means denied.
func (e *Enrollment) Expire() error {
	st, err := enrollmentTransition(e.Status, enrollExpire)
	if err != nil {
		return err
	}
	e.Status = st
	return nil
}

// UserCodeAlphabet is RFC 8628 §6.1's example character set: 20
// consonants, no vowels (no words spelt by chance), none easily confused.
const UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// userCodeLen is the number of symbols of a user code: 20^8, about 34.5
// bits, shown as XXXX-XXXX.
const userCodeLen = 8

// NewUserCode returns a random user code formatted XXXX-XXXX.
func NewUserCode() string {
	var sb strings.Builder
	buf := make([]byte, 1)
	for sb.Len() < userCodeLen+1 {
		if sb.Len() == 4 {
			sb.WriteByte('-')
		}
		for {
			rand.Read(buf)    // never fails
			if buf[0] < 240 { // 240 = 12·20: uniform
				sb.WriteByte(UserCodeAlphabet[buf[0]%20])
				break
			}
		}
	}
	return sb.String()
}

// NormalizeUserCode upper-cases a typed user code and drops dashes and
// spaces; it returns "" when what is left is not a user code.
func NormalizeUserCode(code string) string {
	if len(code) > 32 {
		return ""
	}
	var sb strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == '-' || r == ' ':
		case r < 0x80 && strings.ContainsRune(UserCodeAlphabet, r):
			sb.WriteRune(r)
		default:
			return ""
		}
	}
	if sb.Len() != userCodeLen {
		return ""
	}
	return sb.String()
}

// HashUserCode returns the stored form of a user code (normalized first).
func HashUserCode(code string) []byte {
	h := sha256.Sum256([]byte("agentotp/enroll-user-code/v1:" + NormalizeUserCode(code)))
	return h[:]
}

// PrefixDeviceCode starts every device code. It is no credential kind
// (KindOfToken returns ""), so a device code never authenticates an API
// call.
const PrefixDeviceCode = "dc_"

// NewDeviceCode returns a new device code: 40 base62 characters, about
// 238 bits. Its stored form is HashToken.
func NewDeviceCode() string { return NewToken(PrefixDeviceCode) }

// EnrollmentQuery selects an owner's enrollments, newest first.
type EnrollmentQuery struct {
	OwnerID string
	Status  EnrollmentStatus // optional
	Limit   int              // 1..100
}

// EnrollmentChange tells notifiers (the Telegram bot) of a change. UserCode
// is set on the created event only: the code is never stored, and that is
// the one moment the relay holds it.
type EnrollmentChange struct {
	Action     string
	Enrollment Enrollment
	UserCode   string
	At         time.Time
}

// EnrollmentStore keeps enrollments. It is part of Store.
type EnrollmentStore interface {
	// CreateEnrollment stores a new enrollment. A user code hash that a
	// pending or approved enrollment has already is ErrConflict.
	CreateEnrollment(ctx context.Context, e *Enrollment, audit ...AuditEntry) error
	// GetEnrollment returns one enrollment by id, whoever owns it.
	GetEnrollment(ctx context.Context, id string) (*Enrollment, error)
	// FindEnrollmentByDeviceCode returns the enrollment whose device code
	// hashes to hash.
	FindEnrollmentByDeviceCode(ctx context.Context, hash []byte) (*Enrollment, error)
	// FindEnrollmentByUserCode returns the owner's pending or approved
	// enrollment whose user code hashes to hash.
	FindEnrollmentByUserCode(ctx context.Context, ownerID string, hash []byte) (*Enrollment, error)
	// ListEnrollments returns the owner's enrollments, newest first.
	ListEnrollments(ctx context.Context, q EnrollmentQuery) ([]*Enrollment, error)
	// ListDueEnrollments returns up to limit enrollments, of any owner,
	// that are pending or approved and whose ExpiresAt is not after now.
	ListDueEnrollments(ctx context.Context, now time.Time, limit int) ([]*Enrollment, error)
	// UpdateEnrollment writes e if the stored row still has version
	// prevVersion, and sets e.Version to prevVersion+1; otherwise it
	// returns ErrConflict and writes nothing.
	UpdateEnrollment(ctx context.Context, e *Enrollment, prevVersion int64, audit ...AuditEntry) error
	// IssueEnrollment writes e (now issued) like UpdateEnrollment and, in
	// the same transaction, stores the new agent and its credential: of
	// concurrent calls for one enrollment exactly one succeeds, and the
	// others are ErrConflict with nothing written.
	IssueEnrollment(ctx context.Context, e *Enrollment, prevVersion int64, a *Agent, cred *Credential, audit ...AuditEntry) error

	// CreateEnrollmentPrompt stores a Telegram prompt about an enrollment
	// (its RequestID holds the enrollment's id).
	CreateEnrollmentPrompt(ctx context.Context, p *TelegramPrompt) error
	// SetEnrollmentPromptMessage records the message id Telegram gave it.
	SetEnrollmentPromptMessage(ctx context.Context, tokenHash []byte, messageID int64) error
	// GetEnrollmentPrompt returns the prompt whose token hashes to tokenHash.
	GetEnrollmentPrompt(ctx context.Context, tokenHash []byte) (*TelegramPrompt, error)
	// ListEnrollmentPrompts returns an enrollment's prompts, oldest first.
	ListEnrollmentPrompts(ctx context.Context, enrollmentID string) ([]*TelegramPrompt, error)
	// CloseEnrollmentPrompt marks a prompt closed at at.
	CloseEnrollmentPrompt(ctx context.Context, tokenHash []byte, at time.Time) error
}
