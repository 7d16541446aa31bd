package relay

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/agentotp/agentotp"
)

// webhookAgent loads an active agent of the owner.
func (s *Service) webhookAgent(ctx context.Context, ownerID, agentID string) (*agentotp.Agent, error) {
	a, err := s.store.GetAgent(ctx, ownerID, agentID)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, agentotp.Errorf(agentotp.ENotFound, "no such agent")
	}
	if err != nil {
		return nil, fmt.Errorf("get agent: %w", err)
	}
	if !a.Active() {
		return nil, agentotp.Errorf(agentotp.EConflict, "the agent is revoked")
	}
	return a, nil
}

// SetAgentWebhookURL sets the agent's default webhook URL, used for its
// requests that name none ("" removes it).
func (s *Service) SetAgentWebhookURL(ctx context.Context, ownerID, agentID, rawURL string) (*agentotp.Agent, error) {
	if rawURL != "" {
		if err := agentotp.ValidateWebhookURL("url", rawURL); err != nil {
			return nil, err
		}
	}
	a, err := s.webhookAgent(ctx, ownerID, agentID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditAgentWebhookChanged, now)
	e.AgentID = a.ID
	// The URL itself may carry the receiver's token: the audit says only
	// whether one is set, and its host.
	e.Details = map[string]string{"webhook_url_set": fmt.Sprint(rawURL != "")}
	if rawURL != "" {
		u, _ := url.Parse(rawURL)
		e.Details["host"] = u.Host
	}
	if err := s.store.SetAgentWebhookURL(ctx, ownerID, a.ID, rawURL, e); err != nil {
		return nil, fmt.Errorf("set agent webhook url: %w", err)
	}
	a.WebhookURL = rawURL
	s.log.InfoContext(ctx, "agent webhook url changed", "agent_id", a.ID, "set", rawURL != "")
	return a, nil
}

// RotateWebhookSecret gives the agent a new webhook signing secret,
// leaving its API key alone. The secret is returned once; deliveries from
// now on, retries included, are signed with it.
func (s *Service) RotateWebhookSecret(ctx context.Context, ownerID, agentID string) (*agentotp.Agent, string, error) {
	a, err := s.webhookAgent(ctx, ownerID, agentID)
	if err != nil {
		return nil, "", err
	}
	now := s.Now()
	secret := agentotp.NewWebhookSecret()
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditAgentWebhookSecretRotated, now)
	e.AgentID = a.ID
	if err := s.store.RotateWebhookSecret(ctx, ownerID, a.ID, secret, e); err != nil {
		return nil, "", fmt.Errorf("rotate webhook secret: %w", err)
	}
	a.WebhookSecret = secret
	s.log.InfoContext(ctx, "agent webhook secret rotated", "agent_id", a.ID)
	return a, secret, nil
}

// ListWebhooks lists the owner's webhook deliveries, newest first.
func (s *Service) ListWebhooks(ctx context.Context, q agentotp.WebhookQuery) ([]*agentotp.WebhookDelivery, error) {
	if q.State != "" && !q.State.Valid() {
		return nil, agentotp.FieldErr("state", `must be "pending", "delivered" or "failed"`)
	}
	ds, err := s.store.ListWebhooks(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return ds, nil
}

// RetryWebhook queues a failed delivery of the owner again, due now, with
// a fresh day of retries.
func (s *Service) RetryWebhook(ctx context.Context, ownerID, id string) (*agentotp.WebhookDelivery, error) {
	err := s.store.RetryWebhook(ctx, ownerID, id, s.Now())
	switch {
	case errors.Is(err, agentotp.ErrNotFound):
		return nil, agentotp.Errorf(agentotp.ENotFound, "no such webhook delivery")
	case errors.Is(err, agentotp.ErrConflict):
		return nil, agentotp.Errorf(agentotp.EConflict, "only a failed delivery can be retried")
	case err != nil:
		return nil, fmt.Errorf("retry webhook: %w", err)
	}
	d, err := s.store.GetWebhook(ctx, ownerID, id)
	if err != nil {
		return nil, fmt.Errorf("retry webhook: %w", err)
	}
	s.log.InfoContext(ctx, "webhook delivery queued again", "id", id, "request_id", d.RequestID)
	return d, nil
}

// WakeOnChange returns a notifier that calls wake after every committed
// request change: the webhook worker's cue that the outbox may hold a new
// delivery.
func WakeOnChange(wake func()) Notifier {
	return NotifierFunc(func(context.Context, agentotp.RequestChange) { wake() })
}
