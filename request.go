package agentotp

import (
	"time"
)

// Status is the state of an OTP request.
type Status string

// The statuses of a request. Consumed, denied, expired and cancelled are
// final.
const (
	StatusPending   Status = "pending_approval"
	StatusApproved  Status = "approved"
	StatusReceived  Status = "otp_received"
	StatusConsumed  Status = "consumed"
	StatusDenied    Status = "denied"
	StatusExpired   Status = "expired"
	StatusCancelled Status = "cancelled"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{StatusPending, StatusApproved, StatusReceived, StatusConsumed, StatusDenied, StatusExpired, StatusCancelled}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusApproved, StatusReceived, StatusConsumed, StatusDenied, StatusExpired, StatusCancelled:
		return true
	}
	return false
}

// Final reports whether no transition leaves s.
func (s Status) Final() bool {
	switch s {
	case StatusConsumed, StatusDenied, StatusExpired, StatusCancelled:
		return true
	}
	return false
}

// Live reports whether a request in status s can still receive a message.
func (s Status) Live() bool {
	return s == StatusPending || s == StatusApproved
}

// Event is something that happens to a request.
type Event string

// The events of the request lifecycle.
const (
	EventApprove Event = "approve" // owner or policy approves
	EventDeny    Event = "deny"    // owner or policy denies
	EventMatch   Event = "match"   // a captured message matched and was sealed
	EventConsume Event = "consume" // the agent read the ciphertext
	EventCancel  Event = "cancel"  // the agent cancelled
	EventExpire  Event = "expire"  // the TTL passed
)

// Transition is the request state machine (docs/design.md, "The request
// lifecycle"). held says whether a sealed code is already held for the
// request (a message that matched while the request was pending
// approval). It returns the next status, or an *Error whose code says why
// the event is not allowed in status from.
func Transition(from Status, ev Event, held bool) (Status, error) {
	switch from {
	case StatusPending:
		switch ev {
		case EventApprove:
			if held {
				return StatusReceived, nil
			}
			return StatusApproved, nil
		case EventDeny:
			return StatusDenied, nil
		case EventMatch:
			if held {
				return "", Errorf(EConflict, "a code is already held for this request")
			}
			return StatusPending, nil
		case EventCancel:
			return StatusCancelled, nil
		case EventExpire:
			return StatusExpired, nil
		case EventConsume:
			return "", Errorf(EOTPNotReady, "the request is waiting for approval")
		}
	case StatusApproved:
		switch ev {
		case EventMatch:
			return StatusReceived, nil
		case EventCancel:
			return StatusCancelled, nil
		case EventExpire:
			return StatusExpired, nil
		case EventConsume:
			return "", Errorf(EOTPNotReady, "no code has been received yet")
		case EventApprove, EventDeny:
			return "", Errorf(EConflict, "the request is already approved")
		}
	case StatusReceived:
		switch ev {
		case EventConsume:
			return StatusConsumed, nil
		case EventCancel:
			return StatusCancelled, nil
		case EventExpire:
			return StatusExpired, nil
		case EventApprove, EventDeny:
			return "", Errorf(EConflict, "the request is already approved")
		case EventMatch:
			return "", Errorf(EConflict, "a code was already received for this request")
		}
	case StatusConsumed, StatusDenied, StatusExpired, StatusCancelled:
		return "", FinalError(from)
	}
	return "", Errorf(EConflict, "event %q is not allowed in status %q", ev, from)
}

// FinalError is the error for any event on a request in final status s.
func FinalError(s Status) *Error {
	switch s {
	case StatusConsumed:
		return Errorf(EOTPAlreadyConsumed, "the code of this request was already consumed")
	case StatusDenied:
		return Errorf(EOTPApprovalDenied, "the owner denied this request")
	case StatusExpired:
		return Errorf(EOTPExpired, "the request expired")
	case StatusCancelled:
		return Errorf(EOTPCancelled, "the request was cancelled")
	}
	return Errorf(EConflict, "the request is in status %q", s)
}

// TTL bounds of a request.
const (
	DefaultTTL = 300 * time.Second
	MinTTL     = 60 * time.Second
	MaxTTL     = 3600 * time.Second
)

// Limits on the fields of a request.
const (
	MaxReasonLen         = 500
	MaxExpectedSenderLen = 255
	MaxWebhookURLLen     = 2048
	MaxDenyReasonLen     = 500
)

// Deciders name who approved or denied a request.
const (
	DecidedByOwner   = "owner"
	DecidedByTestKey = "test_key"
	decidedByPolicy  = "policy:"
)

// DecidedByPolicy returns the decided_by value of a policy's decision.
func DecidedByPolicy(policyID string) string { return decidedByPolicy + policyID }

// MessageMetadata describes the message that fed a request. It never holds
// the message text or the code.
type MessageMetadata struct {
	MessageID  string    `json:"message_id,omitempty"`
	Source     Channel   `json:"source"`
	Sender     string    `json:"sender"`
	Subject    string    `json:"subject,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// Confidence is the extractor's confidence in the code, 0..1.
	Confidence float64 `json:"confidence,omitempty"`
	// Domain is set when an origin-bound line (@example.com #123456) named it.
	Domain string `json:"domain,omitempty"`
	// DKIM is the DKIM verification of an email received in MX mode.
	DKIM *DKIMResult `json:"dkim,omitempty"`
}

// Request is one agent's request for one verification code.
type Request struct {
	ID             string
	OwnerID        string
	AgentID        string
	Test           bool // made with a test key
	Status         Status
	Reason         string
	ExpectedSender string
	Filter         Filter
	Encryption     string // seal.Algorithm name
	PublicKey      string // canonical API encoding
	KeyFingerprint string
	WebhookURL     string
	IncludeMessage bool

	CreatedAt  time.Time
	ExpiresAt  time.Time
	DecidedAt  time.Time // zero until decided
	DecidedBy  string
	DenyReason string
	ConsumedAt time.Time // zero until consumed
	UpdatedAt  time.Time

	// Metadata is set once a message matched.
	Metadata *MessageMetadata
	// Payload is the sealed code; Content the sealed full message text (when
	// asked for). Both are emptied when the request reaches a final status.
	Payload []byte
	Content []byte

	// Version increases with every stored change; stores use it for
	// optimistic concurrency.
	Version int64
}

// Held reports whether a sealed code is held for the request.
func (r *Request) Held() bool { return len(r.Payload) > 0 }

// ExpiredAt reports whether the request's TTL has passed at now.
func (r *Request) ExpiredAt(now time.Time) bool { return !now.Before(r.ExpiresAt) }

// apply runs the state machine and updates the status, clearing the
// ciphertext at a final status.
func (r *Request) apply(ev Event, at time.Time) error {
	next, err := Transition(r.Status, ev, r.Held())
	if err != nil {
		return err
	}
	r.Status = next
	r.UpdatedAt = at
	if next.Final() {
		r.Payload, r.Content = nil, nil
	}
	return nil
}

// Approve records an approval by decidedBy at time at.
func (r *Request) Approve(decidedBy string, at time.Time) error {
	if err := r.apply(EventApprove, at); err != nil {
		return err
	}
	r.DecidedAt, r.DecidedBy = at, decidedBy
	return nil
}

// Deny records a denial with an optional reason. A held code is deleted.
func (r *Request) Deny(decidedBy, reason string, at time.Time) error {
	if err := r.apply(EventDeny, at); err != nil {
		return err
	}
	r.DecidedAt, r.DecidedBy, r.DenyReason = at, decidedBy, reason
	r.Metadata = nil
	return nil
}

// Match attaches a sealed code (and optionally sealed content) from the
// message described by md.
func (r *Request) Match(payload, content []byte, md MessageMetadata, at time.Time) error {
	if len(payload) == 0 {
		return Errorf(EValidation, "an empty payload cannot be attached")
	}
	if err := r.apply(EventMatch, at); err != nil {
		return err
	}
	r.Payload, r.Content, r.Metadata = payload, content, &md
	return nil
}

// Consume marks the code read. It returns the ciphertext that the caller
// hands to the agent; the request keeps none of it.
func (r *Request) Consume(at time.Time) (payload, content []byte, err error) {
	payload, content = r.Payload, r.Content
	if err := r.apply(EventConsume, at); err != nil {
		return nil, nil, err
	}
	r.ConsumedAt = at
	return payload, content, nil
}

// Cancel records the agent's cancellation.
func (r *Request) Cancel(at time.Time) error { return r.apply(EventCancel, at) }

// Expire ends the request at its TTL.
func (r *Request) Expire(at time.Time) error { return r.apply(EventExpire, at) }
