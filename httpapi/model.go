package httpapi

import (
	"context"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/relay"
)

// requestJSON is the request object (docs/api.md, "The request object").
type requestJSON struct {
	ID                   string                    `json:"id"`
	OwnerID              string                    `json:"owner_id"`
	AgentID              string                    `json:"agent_id"`
	Status               agentotp.Status           `json:"status"`
	Reason               string                    `json:"reason"`
	ExpectedSender       *string                   `json:"expected_sender"`
	Filter               *agentotp.Filter          `json:"filter"`
	Encryption           string                    `json:"encryption"`
	PublicKeyFingerprint string                    `json:"public_key_fingerprint"`
	IncludeMessage       bool                      `json:"include_message"`
	WebhookURL           *string                   `json:"webhook_url"`
	ApprovalURL          string                    `json:"approval_url"`
	Test                 bool                      `json:"test"`
	CreatedAt            time.Time                 `json:"created_at"`
	ExpiresAt            time.Time                 `json:"expires_at"`
	DecidedAt            *time.Time                `json:"decided_at"`
	DecidedBy            *string                   `json:"decided_by"`
	DenyReason           *string                   `json:"deny_reason"`
	Metadata             *agentotp.MessageMetadata `json:"metadata"`
	ConsumedAt           *time.Time                `json:"consumed_at"`
	// Approval is the decision's statement and how it was signed, once
	// the request is decided (package approval).
	Approval *approval.Signed `json:"approval"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// requestView is the request object. A decided request carries its
// decision's statement; when it cannot be read the object goes without it
// (an edge or agent that checks statements then refuses, as it should).
func (s *Server) requestView(ctx context.Context, r *agentotp.Request) requestJSON {
	v := requestJSON{
		ID: r.ID, OwnerID: r.OwnerID, AgentID: r.AgentID, Status: r.Status, Reason: r.Reason,
		ExpectedSender: strPtr(r.ExpectedSender), Encryption: r.Encryption,
		PublicKeyFingerprint: r.KeyFingerprint, IncludeMessage: r.IncludeMessage,
		WebhookURL: strPtr(r.WebhookURL), ApprovalURL: s.svc.ApprovalURL(r.ID), Test: r.Test,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		DecidedAt: timePtr(r.DecidedAt), DecidedBy: strPtr(r.DecidedBy), DenyReason: strPtr(r.DenyReason),
		ConsumedAt: timePtr(r.ConsumedAt),
	}
	if a, err := s.svc.Approval(ctx, r); err != nil {
		s.log.WarnContext(ctx, "httpapi: the decision's statement cannot be read", "request_id", r.ID, "err", err)
	} else {
		v.Approval = a
	}
	if !r.Filter.IsZero() {
		f := r.Filter
		v.Filter = &f
	}
	// A code held while pending approval stays invisible until approval.
	if r.Metadata != nil && (r.Status == agentotp.StatusReceived || r.Status == agentotp.StatusConsumed) {
		md := *r.Metadata
		md.ReceivedAt = md.ReceivedAt.UTC()
		v.Metadata = &md
	}
	return v
}

// ownerRequestJSON is the request object as its owner sees it: a message
// held while the request waits for approval is shown (sender, redacted
// subject, time), so the owner knows what approving would release.
type ownerRequestJSON struct {
	requestJSON
	Held     bool                      `json:"held"`
	HeldFrom *agentotp.MessageMetadata `json:"held_message"`
}

func (s *Server) ownerRequestView(ctx context.Context, r *agentotp.Request) ownerRequestJSON {
	v := ownerRequestJSON{requestJSON: s.requestView(ctx, r), Held: r.Status == agentotp.StatusPending && r.Held()}
	if v.Held && r.Metadata != nil {
		md := *r.Metadata
		md.ReceivedAt = md.ReceivedAt.UTC()
		v.HeldFrom = &md
	}
	return v
}

type agentJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Test      bool       `json:"test"`
	KeyPrefix string     `json:"key_prefix"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// WebhookURL is the agent's default webhook URL (webhooks.go).
	WebhookURL *string `json:"webhook_url"`
}

// activeStatus is the status member of an agent or a source.
func activeStatus(active bool) string {
	if active {
		return "active"
	}
	return "revoked"
}

func agentView(a *agentotp.Agent) agentJSON {
	return agentJSON{ID: a.ID, Name: a.Name, Test: a.Test, KeyPrefix: a.KeyPrefix, Status: activeStatus(a.Active()), CreatedAt: a.CreatedAt.UTC(), RevokedAt: timePtr(a.RevokedAt),
		WebhookURL: strPtr(a.WebhookURL)}
}

type newAgentJSON struct {
	Agent         agentJSON `json:"agent"`
	APIKey        string    `json:"api_key"`
	WebhookSecret string    `json:"webhook_secret"`
}

func newAgentView(n *relay.NewAgent) newAgentJSON {
	return newAgentJSON{Agent: agentView(n.Agent), APIKey: n.APIKey, WebhookSecret: n.WebhookSecret}
}

type sourceJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`
	TokenPrefix string     `json:"token_prefix"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
	// IMAP is the source's IMAP mailbox and connector status (imap.go),
	// present in listings and GET when the source has one.
	IMAP *imapJSON `json:"imap,omitempty"`
}

func sourceView(src *agentotp.Source) sourceJSON {
	return sourceJSON{ID: src.ID, Name: src.Name, Kind: src.Kind, TokenPrefix: src.KeyPrefix, Status: activeStatus(src.Active()), CreatedAt: src.CreatedAt.UTC(), RevokedAt: timePtr(src.RevokedAt)}
}
