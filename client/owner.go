package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// OwnerClient talks to the owner API (/v1/owner/…) with an owner token
// (ok_…). The CLI uses it; so can an owner's own tools.
type OwnerClient struct{ c *Client }

// NewOwnerClient returns an owner client; options are those of New.
func NewOwnerClient(token string, opts ...Option) *OwnerClient {
	return &OwnerClient{c: New(token, opts...)}
}

// Agent is an agent as the owner sees it.
type Agent struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Test      bool       `json:"test"`
	KeyPrefix string     `json:"key_prefix"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// WebhookURL is the agent's default webhook URL (SetAgentWebhookURL).
	WebhookURL *string `json:"webhook_url"`
}

// NewAgent is a created or rotated agent with its secrets, shown once.
type NewAgent struct {
	Agent         Agent  `json:"agent"`
	APIKey        string `json:"api_key"`
	WebhookSecret string `json:"webhook_secret"`
}

// Source is a capture source.
type Source struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`
	TokenPrefix string     `json:"token_prefix"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
	// IMAP is the IMAP mailbox the source reads, if any (imap.go).
	IMAP *SourceIMAP `json:"imap,omitempty"`
}

// NewSource is a created source with its token, shown once.
type NewSource struct {
	Source Source `json:"source"`
	Token  string `json:"token"`
}

// RequestPage is one page of requests, newest first.
type RequestPage struct {
	Data       []OTPRequest `json:"data"`
	NextCursor *string      `json:"next_cursor"`
}

// ListQuery selects requests.
type ListQuery struct {
	Status  Status
	AgentID string
	Limit   int
	Cursor  string
}

// ListRequests returns a page of the owner's requests.
func (o *OwnerClient) ListRequests(ctx context.Context, q ListQuery) (*RequestPage, error) {
	v := url.Values{}
	if q.Status != "" {
		v.Set("status", string(q.Status))
	}
	if q.AgentID != "" {
		v.Set("agent_id", q.AgentID)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	var page RequestPage
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/requests?"+v.Encode(), nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// GetRequest returns one of the owner's requests.
func (o *OwnerClient) GetRequest(ctx context.Context, id string) (*OTPRequest, error) {
	var r OTPRequest
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/requests/"+url.PathEscape(id), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Approve approves a pending request.
func (o *OwnerClient) Approve(ctx context.Context, id string) (*OTPRequest, error) {
	var r OTPRequest
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/requests/"+url.PathEscape(id)+"/approve", struct{}{}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Deny denies a pending request, with an optional reason for the agent.
func (o *OwnerClient) Deny(ctx context.Context, id, reason string) (*OTPRequest, error) {
	var r OTPRequest
	body := struct {
		Reason string `json:"reason,omitempty"`
	}{reason}
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/requests/"+url.PathEscape(id)+"/deny", body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// CreateAgent creates an agent; test agents get ak_test_ keys.
func (o *OwnerClient) CreateAgent(ctx context.Context, name string, test bool) (*NewAgent, error) {
	var n NewAgent
	body := struct {
		Name string `json:"name"`
		Test bool   `json:"test"`
	}{name, test}
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/agents", body, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// ListAgents lists the owner's agents.
func (o *OwnerClient) ListAgents(ctx context.Context) ([]Agent, error) {
	var out struct {
		Data []Agent `json:"data"`
	}
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/agents", nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// RotateAgent gives an agent a new key; the old one works for grace.
func (o *OwnerClient) RotateAgent(ctx context.Context, id string, grace time.Duration) (*NewAgent, error) {
	var n NewAgent
	body := struct {
		Grace int `json:"grace_period_seconds"`
	}{int(grace / time.Second)}
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/agents/"+url.PathEscape(id)+"/rotate", body, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// RevokeAgent revokes an agent and its keys.
func (o *OwnerClient) RevokeAgent(ctx context.Context, id string) (*Agent, error) {
	var a Agent
	if err := o.c.do(ctx, http.MethodDelete, "/v1/owner/agents/"+url.PathEscape(id), nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateSource creates a capture source of kind sms, email or generic.
func (o *OwnerClient) CreateSource(ctx context.Context, name, kind string) (*NewSource, error) {
	var n NewSource
	body := struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	}{name, kind}
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/sources", body, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// ListSources lists the owner's sources.
func (o *OwnerClient) ListSources(ctx context.Context) ([]Source, error) {
	var out struct {
		Data []Source `json:"data"`
	}
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/sources", nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// RevokeSource revokes a source and its token.
func (o *OwnerClient) RevokeSource(ctx context.Context, id string) (*Source, error) {
	var s Source
	if err := o.c.do(ctx, http.MethodDelete, "/v1/owner/sources/"+url.PathEscape(id), nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// AuditReport is the result of verifying the audit chain.
type AuditReport struct {
	Entries int  `json:"entries"`
	OK      bool `json:"ok"`
	Break   *struct {
		Seq    int64  `json:"seq"`
		ID     string `json:"id"`
		Reason string `json:"reason"`
	} `json:"break,omitempty"`
	Head string `json:"head,omitempty"`
	// HeadSeq is the seq of the last entry: HeadSeq:Head is the head to
	// export (AuditHead) and check later with VerifyAuditHead.
	HeadSeq int64 `json:"head_seq,omitempty"`
	// LegacyEntries counts entries older than the keyed chain.
	LegacyEntries int `json:"legacy_entries"`
	// CheckedHead is the exported head the chain was checked against.
	CheckedHead string `json:"checked_head,omitempty"`
}

// VerifyAudit asks the relay to verify the owner's audit chain.
func (o *OwnerClient) VerifyAudit(ctx context.Context) (*AuditReport, error) {
	var rep AuditReport
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/audit/verify", nil, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// ExportAudit writes the audit log as "jsonl" or "csv" to w.
func (o *OwnerClient) ExportAudit(ctx context.Context, format string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.c.baseURL+"/v1/owner/audit/export?format="+url.QueryEscape(format), nil)
	if err != nil {
		return fmt.Errorf("export audit: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+o.c.apiKey)
	resp, err := o.c.http.Do(req)
	if err != nil {
		return networkError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return problemError(resp, data)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return networkError(err)
	}
	return nil
}

// SourceClient posts captured messages with a source token (sk_…).
type SourceClient struct{ c *Client }

// NewSourceClient returns a source client; options are those of New.
func NewSourceClient(token string, opts ...Option) *SourceClient {
	return &SourceClient{c: New(token, opts...)}
}

// Message is a captured message in the JSON form of POST /v1/messages.
type Message = TestMessage

// Send posts a message.
func (s *SourceClient) Send(ctx context.Context, m Message) (*IngestResult, error) {
	var res IngestResult
	if err := s.c.do(ctx, http.MethodPost, "/v1/messages", m, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// SendRaw posts a raw RFC 5322 email.
func (s *SourceClient) SendRaw(ctx context.Context, raw []byte) (*IngestResult, error) {
	var res IngestResult
	if err := s.c.doRaw(ctx, "/v1/messages", "message/rfc822", raw, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
