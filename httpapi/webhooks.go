package httpapi

import (
	"net/http"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
)

// webhookRoutes registers the owner's webhook endpoints: an agent's
// default webhook URL and signing secret, and the deliveries of the
// outbox.
func (s *Server) webhookRoutes(owner func(authedHandler) http.Handler) {
	s.mux.Handle("GET /v1/owner/agents/{id}/webhook", owner(s.ownerGetAgentWebhook))
	s.mux.Handle("PUT /v1/owner/agents/{id}/webhook", owner(s.ownerPutAgentWebhook))
	s.mux.Handle("POST /v1/owner/agents/{id}/webhook/secret", owner(s.ownerRotateWebhookSecret))
	s.mux.Handle("GET /v1/owner/webhooks", owner(s.ownerListWebhooks))
	s.mux.Handle("GET /v1/owner/webhooks/{id}", owner(s.ownerGetWebhook))
	s.mux.Handle("POST /v1/owner/webhooks/{id}/retry", owner(s.ownerRetryWebhook))
}

// agentWebhookJSON is an agent's webhook setting. The secret is never
// listed: it is shown once, when made.
type agentWebhookJSON struct {
	AgentID       string  `json:"agent_id"`
	URL           *string `json:"url"`
	WebhookSecret string  `json:"webhook_secret,omitempty"`
}

// deliveryJSON is one delivery of the outbox as the owner sees it.
type deliveryJSON struct {
	ID             string                 `json:"id"`
	RequestID      string                 `json:"request_id"`
	AgentID        string                 `json:"agent_id"`
	URL            string                 `json:"url"`
	Status         agentotp.Status        `json:"status"`
	OccurredAt     time.Time              `json:"occurred_at"`
	State          agentotp.DeliveryState `json:"state"`
	Attempts       int                    `json:"attempts"`
	NextAttemptAt  *time.Time             `json:"next_attempt_at"`
	LastAttemptAt  *time.Time             `json:"last_attempt_at"`
	LastStatusCode *int                   `json:"last_status_code"`
	LastError      *string                `json:"last_error"`
	DeliveredAt    *time.Time             `json:"delivered_at"`
	CreatedAt      time.Time              `json:"created_at"`
}

func deliveryView(d *agentotp.WebhookDelivery) deliveryJSON {
	v := deliveryJSON{
		ID: d.ID, RequestID: d.RequestID, AgentID: d.AgentID, URL: d.URL, Status: d.Status,
		OccurredAt: d.OccurredAt.UTC(), State: d.State, Attempts: d.Attempts,
		LastAttemptAt: timePtr(d.LastAttemptAt), LastError: strPtr(d.LastError),
		DeliveredAt: timePtr(d.DeliveredAt), CreatedAt: d.CreatedAt.UTC(),
	}
	if d.State == agentotp.DeliveryPending {
		v.NextAttemptAt = timePtr(d.NextAttemptAt)
	}
	if d.LastStatusCode != 0 {
		c := d.LastStatusCode
		v.LastStatusCode = &c
	}
	return v
}

func (s *Server) ownerGetAgentWebhook(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	a, err := s.svc.OwnerAgent(r.Context(), p.OwnerID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, agentWebhookJSON{AgentID: a.ID, URL: strPtr(a.WebhookURL)})
}

func (s *Server) ownerPutAgentWebhook(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct {
		URL *string `json:"url"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	if body.URL == nil {
		s.writeError(w, r, agentotp.FieldErr("url", `is required; "" removes the default`), 0)
		return
	}
	a, err := s.svc.SetAgentWebhookURL(r.Context(), p.OwnerID, r.PathValue("id"), *body.URL)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, agentWebhookJSON{AgentID: a.ID, URL: strPtr(a.WebhookURL)})
}

func (s *Server) ownerRotateWebhookSecret(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct{}
	if err := decodeJSON(w, r, &body, true); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	a, secret, err := s.svc.RotateWebhookSecret(r.Context(), p.OwnerID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, agentWebhookJSON{AgentID: a.ID, URL: strPtr(a.WebhookURL), WebhookSecret: secret})
}

func (s *Server) ownerListWebhooks(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	limit, err := queryInt(r, "limit", 100, 1, 500)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	q := r.URL.Query()
	ds, err := s.svc.ListWebhooks(r.Context(), agentotp.WebhookQuery{
		OwnerID: p.OwnerID, RequestID: q.Get("request_id"), AgentID: q.Get("agent_id"),
		State: agentotp.DeliveryState(q.Get("state")), Limit: limit,
	})
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	out := listJSON[deliveryJSON]{Data: make([]deliveryJSON, 0, len(ds))}
	for _, d := range ds {
		out.Data = append(out.Data, deliveryView(d))
	}
	writeJSON(w, s.log, http.StatusOK, out)
}

func (s *Server) ownerGetWebhook(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	d, err := s.svc.OwnerWebhook(r.Context(), p.OwnerID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, deliveryView(d))
}

func (s *Server) ownerRetryWebhook(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct{}
	if err := decodeJSON(w, r, &body, true); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	d, err := s.svc.RetryWebhook(r.Context(), p.OwnerID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, deliveryView(d))
}
