package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrWebhookVerification is the class of every webhook that fails
// VerifyWebhook: answer it with 401 and do not act on it.
var ErrWebhookVerification = errors.New("agentotp: webhook verification failed")

// DefaultWebhookTolerance is the timestamp tolerance when none is given,
// as in the Standard Webhooks libraries.
const DefaultWebhookTolerance = 5 * time.Minute

// MaxWebhookBody bounds the body ReadWebhook reads; the relay's are far
// smaller.
const MaxWebhookBody = 64 << 10

// WebhookEvent is the body of the relay's webhook: a status change of one
// request. It never carries the code: consume the request for that.
type WebhookEvent struct {
	Type       string    `json:"type"` // "otp.status"
	RequestID  string    `json:"request_id"`
	Status     Status    `json:"status"`
	OccurredAt time.Time `json:"occurred_at"`
}

func webhookError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrWebhookVerification, fmt.Sprintf(format, args...))
}

// VerifyWebhook checks a webhook the relay sent, per the Standard Webhooks
// specification: the webhook-timestamp header within tolerance of now (0
// means DefaultWebhookTolerance), and one of the signatures in
// webhook-signature (or, if that header is absent, X-OTP-Signature) equal,
// compared in constant time, to "v1," and the base64 of
// HMAC-SHA256(key, webhook-id "." webhook-timestamp "." body), where key
// is the base64-decoded part of secret after "whsec_". Pass the body
// exactly as received. Failures wrap ErrWebhookVerification.
func VerifyWebhook(secret string, headers http.Header, body []byte, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	b64, ok := strings.CutPrefix(secret, "whsec_")
	key, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(key) == 0 {
		return webhookError("the secret is not whsec_ and base64")
	}
	id, tsText := headers.Get("webhook-id"), headers.Get("webhook-timestamp")
	sigs := headers.Get("webhook-signature")
	if sigs == "" {
		sigs = headers.Get("X-OTP-Signature")
	}
	if id == "" || tsText == "" || sigs == "" {
		return webhookError("missing webhook-id, webhook-timestamp or webhook-signature header")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return webhookError("webhook-timestamp is not a number of seconds")
	}
	if age := time.Since(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
		return webhookError("webhook-timestamp is %s away from now; at most %s allowed", age.Round(time.Second), tolerance)
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id + "." + tsText + "."))
	h.Write(body)
	want := h.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return webhookError("no signature matches")
}

// ReadWebhook reads an incoming webhook request (at most MaxWebhookBody
// bytes), verifies it with VerifyWebhook and decodes its event.
func ReadWebhook(r *http.Request, secret string, tolerance time.Duration) (*WebhookEvent, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
	if err != nil {
		return nil, webhookError("cannot read the body: %v", err)
	}
	if len(body) > MaxWebhookBody {
		return nil, webhookError("the body is larger than %d bytes", MaxWebhookBody)
	}
	if err := VerifyWebhook(secret, r.Header, body, tolerance); err != nil {
		return nil, err
	}
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.RequestID == "" {
		return nil, webhookError("the body is not a webhook event")
	}
	return &ev, nil
}

// AgentWebhook is an agent's webhook setting. WebhookSecret is set only in
// the answer of RotateWebhookSecret, once.
type AgentWebhook struct {
	AgentID       string  `json:"agent_id"`
	URL           *string `json:"url"`
	WebhookSecret string  `json:"webhook_secret,omitempty"`
}

// WebhookDelivery is one delivery of the relay's webhook outbox.
type WebhookDelivery struct {
	ID             string     `json:"id"`
	RequestID      string     `json:"request_id"`
	AgentID        string     `json:"agent_id"`
	URL            string     `json:"url"`
	Status         Status     `json:"status"`
	OccurredAt     time.Time  `json:"occurred_at"`
	State          string     `json:"state"` // pending, delivered, failed
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	DeliveredAt    *time.Time `json:"delivered_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

// WebhookQuery selects deliveries.
type WebhookQuery struct {
	RequestID string
	AgentID   string
	State     string
	Limit     int
}

// GetAgentWebhook returns the agent's default webhook URL.
func (o *OwnerClient) GetAgentWebhook(ctx context.Context, agentID string) (*AgentWebhook, error) {
	var w AgentWebhook
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/agents/"+url.PathEscape(agentID)+"/webhook", nil, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// SetAgentWebhookURL sets the agent's default webhook URL, used for its
// requests that name none; "" removes it.
func (o *OwnerClient) SetAgentWebhookURL(ctx context.Context, agentID, webhookURL string) (*AgentWebhook, error) {
	var w AgentWebhook
	body := struct {
		URL string `json:"url"`
	}{webhookURL}
	if err := o.c.do(ctx, http.MethodPut, "/v1/owner/agents/"+url.PathEscape(agentID)+"/webhook", body, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// RotateWebhookSecret gives the agent a new webhook secret, shown once in
// the answer; its API key stays.
func (o *OwnerClient) RotateWebhookSecret(ctx context.Context, agentID string) (*AgentWebhook, error) {
	var w AgentWebhook
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/agents/"+url.PathEscape(agentID)+"/webhook/secret", struct{}{}, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// ListWebhookDeliveries lists the outbox's deliveries, newest first.
func (o *OwnerClient) ListWebhookDeliveries(ctx context.Context, q WebhookQuery) ([]WebhookDelivery, error) {
	v := url.Values{}
	if q.RequestID != "" {
		v.Set("request_id", q.RequestID)
	}
	if q.AgentID != "" {
		v.Set("agent_id", q.AgentID)
	}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out struct {
		Data []WebhookDelivery `json:"data"`
	}
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/webhooks?"+v.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// RetryWebhookDelivery queues a failed delivery again.
func (o *OwnerClient) RetryWebhookDelivery(ctx context.Context, id string) (*WebhookDelivery, error) {
	var d WebhookDelivery
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/webhooks/"+url.PathEscape(id)+"/retry", struct{}{}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}
