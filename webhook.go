package agentotp

import (
	"context"
	"encoding/json"
	"time"
)

// WebhookEventType is the type member of every outbound webhook body.
const WebhookEventType = "otp.status"

// Audit actions of an agent's webhook settings.
const (
	AuditAgentWebhookChanged       = "agent.webhook_changed"
	AuditAgentWebhookSecretRotated = "agent.webhook_secret_rotated"
)

// WebhookMaxAge is how long the relay keeps trying to deliver one webhook.
const WebhookMaxAge = 24 * time.Hour

// DeliveryState is where an outbound webhook delivery stands.
type DeliveryState string

// The states of a delivery. Delivered and failed are final.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliveryDelivered DeliveryState = "delivered"
	DeliveryFailed    DeliveryState = "failed"
)

// Valid reports whether s is a known state.
func (s DeliveryState) Valid() bool {
	return s == DeliveryPending || s == DeliveryDelivered || s == DeliveryFailed
}

// WebhookDelivery is one row of the webhook outbox: one status change of
// one request, to be POSTed to one URL. It is written in the same
// transaction as the change it reports, so a crash can neither lose nor
// invent one. It holds the status only, never a code or message text.
type WebhookDelivery struct {
	// ID is the delivery's webhook-id header: the same on every attempt,
	// so receivers can drop duplicates.
	ID string
	// Seq orders the deliveries: those to one URL are sent in Seq order.
	Seq        int64
	OwnerID    string
	AgentID    string
	RequestID  string
	URL        string
	Status     Status    // the request's status that this delivery reports
	OccurredAt time.Time // when the request reached Status
	CreatedAt  time.Time // when the delivery was queued (or re-queued)

	State         DeliveryState
	Attempts      int
	NextAttemptAt time.Time // for a pending delivery: not before this
	LastAttemptAt time.Time
	// LastStatusCode is the HTTP status of the last attempt, 0 when none
	// arrived (timeout, refused connection, refused address).
	LastStatusCode int
	// LastError says why the last attempt failed; it never holds the URL,
	// which may carry a receiver's token.
	LastError   string
	DeliveredAt time.Time
}

// webhookBody is the JSON body of an outbound webhook (docs/api.md,
// "Outbound webhooks"), member for member.
type webhookBody struct {
	Type       string    `json:"type"`
	RequestID  string    `json:"request_id"`
	Status     Status    `json:"status"`
	OccurredAt time.Time `json:"occurred_at"`
}

// Body returns the JSON body POSTed for the delivery:
// {"type":"otp.status","request_id","status","occurred_at"} and nothing
// else. It is the same bytes on every attempt.
func (d *WebhookDelivery) Body() []byte {
	b, _ := json.Marshal(webhookBody{Type: WebhookEventType, RequestID: d.RequestID, Status: d.Status, OccurredAt: d.OccurredAt.UTC()})
	return b // cannot fail: strings and a time
}

// WebhookEvents returns the deliveries that a stored change of r reports,
// in order: one for each status r passed through, starting from prev (""
// for a new request). The audit entries of the change name the
// intermediate statuses (the relay records the status after each step in
// Details["status"]), and each delivery takes its entry's ID and time. A
// status the entries do not account for gets a delivery with an empty ID
// (the store assigns one) at r.UpdatedAt. A change that leaves the status
// as it was (a message held while pending approval) reports nothing. The
// caller fills in URL, CreatedAt and the delivery state.
func WebhookEvents(prev Status, r *Request, audit []AuditEntry) []WebhookDelivery {
	var out []WebhookDelivery
	cur := prev
	add := func(id string, st Status, at time.Time) {
		out = append(out, WebhookDelivery{ID: id, OwnerID: r.OwnerID, AgentID: r.AgentID, RequestID: r.ID,
			Status: st, OccurredAt: at.UTC().Truncate(time.Microsecond)})
		cur = st
	}
	for _, e := range audit {
		if e.RequestID != r.ID {
			continue
		}
		st := Status(e.Details["status"])
		if !st.Valid() || st == cur {
			continue
		}
		add(e.ID, st, e.At)
	}
	if cur != r.Status {
		at := r.UpdatedAt
		if at.IsZero() {
			at = r.CreatedAt
		}
		add("", r.Status, at)
	}
	return out
}

// WebhookQuery selects an owner's deliveries, newest first.
type WebhookQuery struct {
	OwnerID   string
	RequestID string        // optional
	AgentID   string        // optional
	State     DeliveryState // optional
	Limit     int           // 1..500; 0 means 100
}

// WebhookStore keeps the outbox of outbound webhooks and the agents'
// webhook settings. Deliveries are queued by the store itself: CreateRequest
// and UpdateRequest add one row per status change of a request that has a
// webhook URL (its own, else its agent's default), in the transaction of
// the change.
type WebhookStore interface {
	// ClaimWebhooks returns up to limit deliveries that are due: pending,
	// NextAttemptAt not after now, and each the oldest pending delivery to
	// its URL (so one URL receives its events in order). It moves their
	// NextAttemptAt to leaseUntil, so that no other claim returns them
	// while they are being attempted; a worker that dies mid-attempt thus
	// leaves them to be retried after the lease.
	ClaimWebhooks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*WebhookDelivery, error)
	// SaveWebhookAttempt stores the outcome of an attempt on d: its State,
	// Attempts, NextAttemptAt, LastAttemptAt, LastStatusCode, LastError and
	// DeliveredAt.
	SaveWebhookAttempt(ctx context.Context, d *WebhookDelivery) error
	// WebhookGone records that url answered 410 Gone to a delivery of the
	// agent. Every pending delivery of the agent to url fails with reason,
	// and from then on every delivery of the agent to url, from a
	// request's own webhook_url or from the agent's default, is recorded
	// failed and never sent, until the owner sets the agent's webhook URL
	// again (SetAgentWebhookURL, to any value). Other agents' deliveries
	// to the same URL are not affected. It returns how many pending
	// deliveries it failed.
	WebhookGone(ctx context.Context, agentID, url, reason string, at time.Time) (int, error)
	// GetWebhook returns one delivery of the owner.
	GetWebhook(ctx context.Context, ownerID, id string) (*WebhookDelivery, error)
	// ListWebhooks returns the owner's deliveries, newest first.
	ListWebhooks(ctx context.Context, q WebhookQuery) ([]*WebhookDelivery, error)
	// RetryWebhook puts a failed delivery of the owner back in the queue,
	// due at at, with a fresh WebhookMaxAge window. A delivery that is not
	// failed is ErrConflict.
	RetryWebhook(ctx context.Context, ownerID, id string, at time.Time) error
	// PruneWebhooks deletes delivered and failed deliveries last changed
	// before before, and returns how many.
	PruneWebhooks(ctx context.Context, before time.Time) (int, error)

	// SetAgentWebhookURL sets the agent's default webhook URL ("" for none)
	// and lifts every stop that WebhookGone put on the agent's URLs.
	SetAgentWebhookURL(ctx context.Context, ownerID, agentID, url string, audit ...AuditEntry) error
	// RotateWebhookSecret replaces the agent's webhook signing secret.
	RotateWebhookSecret(ctx context.Context, ownerID, agentID, secret string, audit ...AuditEntry) error
}
