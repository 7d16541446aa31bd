package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Policy actions.
const (
	PolicyAutoApprove = "auto_approve"
	PolicyDeny        = "deny"
	PolicyAsk         = "ask"
)

// PolicyConditions are a policy's conditions; an empty one holds for every
// request.
type PolicyConditions struct {
	AgentID       string   `json:"agent_id,omitempty"`
	Sources       []string `json:"sources,omitempty"`
	SenderPattern string   `json:"sender_pattern,omitempty"`
	ReasonPattern string   `json:"reason_pattern,omitempty"`
	Hours         string   `json:"hours,omitempty"`
}

// Policy is one of the owner's ordered rules for new requests.
type Policy struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Position   int              `json:"position"`
	Conditions PolicyConditions `json:"conditions"`
	Action     string           `json:"action"`
	MaxPerHour *int             `json:"max_per_hour"`
	Enabled    bool             `json:"enabled"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
}

// PolicyInput is the body of a policy create or update. Position 0 appends
// (create) or keeps the place (update); Enabled nil means true.
type PolicyInput struct {
	Name       string            `json:"name"`
	Position   int               `json:"position,omitempty"`
	Conditions *PolicyConditions `json:"conditions,omitempty"`
	Action     string            `json:"action"`
	MaxPerHour *int              `json:"max_per_hour,omitempty"`
	Enabled    *bool             `json:"enabled,omitempty"`
}

// Input returns the input that rewrites p as it is.
func (p *Policy) Input() PolicyInput {
	c := p.Conditions
	enabled := p.Enabled
	return PolicyInput{Name: p.Name, Position: p.Position, Conditions: &c, Action: p.Action, MaxPerHour: p.MaxPerHour, Enabled: &enabled}
}

// ListPolicies returns the owner's policies, position 1 first.
func (o *OwnerClient) ListPolicies(ctx context.Context) ([]Policy, error) {
	var page struct {
		Data []Policy `json:"data"`
	}
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/policies", nil, &page); err != nil {
		return nil, err
	}
	return page.Data, nil
}

// GetPolicy returns one policy.
func (o *OwnerClient) GetPolicy(ctx context.Context, id string) (*Policy, error) {
	var p Policy
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/policies/"+url.PathEscape(id), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// CreatePolicy adds a policy.
func (o *OwnerClient) CreatePolicy(ctx context.Context, in PolicyInput) (*Policy, error) {
	var p Policy
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/policies", in, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// UpdatePolicy replaces a policy.
func (o *OwnerClient) UpdatePolicy(ctx context.Context, id string, in PolicyInput) (*Policy, error) {
	var p Policy
	if err := o.c.do(ctx, http.MethodPut, "/v1/owner/policies/"+url.PathEscape(id), in, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// DeletePolicy removes a policy and returns it as it was.
func (o *OwnerClient) DeletePolicy(ctx context.Context, id string) (*Policy, error) {
	var p Policy
	if err := o.c.do(ctx, http.MethodDelete, "/v1/owner/policies/"+url.PathEscape(id), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// OwnerSettings are the owner's settings.
type OwnerSettings struct {
	TimeZone  string     `json:"time_zone"`
	UpdatedAt *time.Time `json:"updated_at"`
}

// Settings returns the owner's settings.
func (o *OwnerClient) Settings(ctx context.Context) (*OwnerSettings, error) {
	var s OwnerSettings
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/settings", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// SetTimeZone sets the time zone (IANA name, "UTC") of policy hours.
func (o *OwnerClient) SetTimeZone(ctx context.Context, tz string) (*OwnerSettings, error) {
	var s OwnerSettings
	body := struct {
		TimeZone string `json:"time_zone"`
	}{tz}
	if err := o.c.do(ctx, http.MethodPut, "/v1/owner/settings", body, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// TelegramLinkCode is a one-time code for the bot's /link command.
type TelegramLinkCode struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
	Command   string    `json:"command"`
}

// TelegramLink is the state of the owner's Telegram link.
type TelegramLink struct {
	Linked   bool       `json:"linked"`
	ChatID   *int64     `json:"chat_id,omitempty"`
	Username *string    `json:"username,omitempty"`
	LinkedAt *time.Time `json:"linked_at,omitempty"`
}

// NewTelegramLinkCode returns a one-time code, valid 10 minutes, that
// links a Telegram chat when sent to the bot as /link CODE.
func (o *OwnerClient) NewTelegramLinkCode(ctx context.Context) (*TelegramLinkCode, error) {
	var c TelegramLinkCode
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/telegram/link-code", struct{}{}, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Telegram returns the state of the owner's Telegram link.
func (o *OwnerClient) Telegram(ctx context.Context) (*TelegramLink, error) {
	var l TelegramLink
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/telegram", nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// UnlinkTelegram removes the owner's Telegram link.
func (o *OwnerClient) UnlinkTelegram(ctx context.Context) error {
	return o.c.do(ctx, http.MethodDelete, "/v1/owner/telegram", nil, nil)
}
