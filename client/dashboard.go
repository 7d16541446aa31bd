package client

import (
	"context"
	"net/http"
	"time"
)

// LoginLink is a one-time log-in link for the web dashboard.
type LoginLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SetPassword sets the owner's dashboard password. The relay keeps only
// its argon2id hash and ends every dashboard session of the owner.
func (o *OwnerClient) SetPassword(ctx context.Context, password string) error {
	body := struct {
		Password string `json:"password"`
	}{password}
	return o.c.do(ctx, http.MethodPut, "/v1/owner/password", body, nil)
}

// CreateLoginLink returns a one-time dashboard log-in link, valid for 15
// minutes.
func (o *OwnerClient) CreateLoginLink(ctx context.Context) (*LoginLink, error) {
	var l LoginLink
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/login-links", struct{}{}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}
