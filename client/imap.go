package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// SourceIMAP is the IMAP mailbox a source reads, with its connector's
// status. The password is never returned.
type SourceIMAP struct {
	Host                string           `json:"host"`
	Port                int              `json:"port"`
	TLSMode             string           `json:"tls_mode"`
	Username            string           `json:"username"`
	Mailbox             string           `json:"mailbox"`
	PollIntervalSeconds int              `json:"poll_interval_seconds"`
	MarkAsRead          bool             `json:"mark_as_read"`
	PasswordSet         bool             `json:"password_set"`
	UpdatedAt           time.Time        `json:"updated_at"`
	Status              SourceIMAPStatus `json:"status"`
}

// SourceIMAPStatus is what an IMAP connector last reported.
type SourceIMAPStatus struct {
	// State is stopped (no live request wants email), connecting,
	// connected, idle, polling or error.
	State           string     `json:"state"`
	LastError       *string    `json:"last_error"`
	LastErrorAt     *time.Time `json:"last_error_at"`
	LastConnectedAt *time.Time `json:"last_connected_at"`
	LastMessageAt   *time.Time `json:"last_message_at"`
	UIDValidity     uint32     `json:"uid_validity"`
	LastUID         uint32     `json:"last_uid"`
	UpdatedAt       *time.Time `json:"updated_at"`
}

// IMAPSettings is what an owner sets for a source's IMAP mailbox. Zero
// fields take the relay's defaults (port by TLS mode, tls, INBOX, 60 s);
// an empty Password keeps the stored one.
type IMAPSettings struct {
	Host                string `json:"host"`
	Port                int    `json:"port,omitempty"`
	TLSMode             string `json:"tls_mode,omitempty"`
	Username            string `json:"username"`
	Password            string `json:"password,omitempty"`
	Mailbox             string `json:"mailbox,omitempty"`
	PollIntervalSeconds int    `json:"poll_interval_seconds,omitempty"`
	MarkAsRead          bool   `json:"mark_as_read"`
}

// GetSource returns one source, with its IMAP settings if it has any.
func (o *OwnerClient) GetSource(ctx context.Context, id string) (*Source, error) {
	var s Source
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/sources/"+url.PathEscape(id), nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// SetSourceIMAP makes an email source read an IMAP mailbox.
func (o *OwnerClient) SetSourceIMAP(ctx context.Context, id string, in IMAPSettings) (*Source, error) {
	var s Source
	if err := o.c.do(ctx, http.MethodPut, "/v1/owner/sources/"+url.PathEscape(id)+"/imap", in, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ClearSourceIMAP stops a source reading its IMAP mailbox and forgets the
// settings.
func (o *OwnerClient) ClearSourceIMAP(ctx context.Context, id string) (*Source, error) {
	var s Source
	if err := o.c.do(ctx, http.MethodDelete, "/v1/owner/sources/"+url.PathEscape(id)+"/imap", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
