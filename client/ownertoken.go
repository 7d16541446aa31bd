package client

import (
	"context"
	"net/http"
)

// NewOwnerToken is a new owner token, shown once, and the prefixes of the
// owner tokens that stopped working when it was issued.
type NewOwnerToken struct {
	Token           string   `json:"token"`
	TokenPrefix     string   `json:"token_prefix"`
	RevokedPrefixes []string `json:"revoked_prefixes"`
}

// RotateToken replaces this client's owner token with a new one; the old
// one stops working at once (so this client stops working too: make a
// new one with the returned token). It is tried once, never retried: a
// retry would present the revoked token.
func (o *OwnerClient) RotateToken(ctx context.Context) (*NewOwnerToken, error) {
	return o.replaceToken(ctx, "/v1/owner/token/rotate")
}

// RevokeTokens revokes every owner token of the owner, this client's
// included, and returns the one new token that is left. Like RotateToken
// it is tried once.
func (o *OwnerClient) RevokeTokens(ctx context.Context) (*NewOwnerToken, error) {
	return o.replaceToken(ctx, "/v1/owner/token/revoke")
}

func (o *OwnerClient) replaceToken(ctx context.Context, path string) (*NewOwnerToken, error) {
	var n NewOwnerToken
	if err, _ := o.c.once(ctx, http.MethodPost, path, "application/json", nil, &n); err != nil {
		return nil, err
	}
	return &n, nil
}
