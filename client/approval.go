package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/agentotp/agentotp/approval"
)

// SigningKey is an owner signing key as the relay keeps it: only the
// public half.
type SigningKey struct {
	ID        string     `json:"id"`
	KeyID     string     `json:"key_id"`
	Method    string     `json:"method"`
	Name      string     `json:"name"`
	PublicKey []byte     `json:"public_key"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// AddSigningKey registers the public half of an owner signing key.
func (o *OwnerClient) AddSigningKey(ctx context.Context, name string, publicKey []byte) (*SigningKey, error) {
	var k SigningKey
	body := struct {
		Name      string `json:"name"`
		PublicKey []byte `json:"public_key"`
	}{name, publicKey}
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/signing-keys", body, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// ListSigningKeys lists the owner's signing keys, revoked ones included.
func (o *OwnerClient) ListSigningKeys(ctx context.Context) ([]SigningKey, error) {
	var out struct {
		Data []SigningKey `json:"data"`
	}
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/signing-keys", nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// RevokeSigningKey revokes a signing key by its id (sgk_…).
func (o *OwnerClient) RevokeSigningKey(ctx context.Context, id string) error {
	return o.c.do(ctx, http.MethodDelete, "/v1/owner/signing-keys/"+url.PathEscape(id), nil, nil)
}

// Trust fetches the owner's id and active signing keys, to pin: keep the
// result (json.Marshal it to a file) and check approvals against it
// later, without asking the relay again.
func (o *OwnerClient) Trust(ctx context.Context) (*approval.Trust, error) {
	var raw json.RawMessage
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/trust", nil, &raw); err != nil {
		return nil, err
	}
	t, err := approval.ParseTrust(raw)
	if err != nil {
		return nil, fmt.Errorf("agentotp: the relay's trust file: %w", err)
	}
	return t, nil
}

// ApproveSigned approves a pending request with the owner's signed
// statement of the approval (see package approval).
func (o *OwnerClient) ApproveSigned(ctx context.Context, id string, a *Approval) (*OTPRequest, error) {
	var r OTPRequest
	body := struct {
		Approval *Approval `json:"approval"`
	}{a}
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/requests/"+url.PathEscape(id)+"/approve", body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DenySigned denies a pending request with the owner's signed statement
// of the denial.
func (o *OwnerClient) DenySigned(ctx context.Context, id, reason string, a *Approval) (*OTPRequest, error) {
	var r OTPRequest
	body := struct {
		Reason   string    `json:"reason,omitempty"`
		Approval *Approval `json:"approval"`
	}{reason, a}
	if err := o.c.do(ctx, http.MethodPost, "/v1/owner/requests/"+url.PathEscape(id)+"/deny", body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// VerifyApproval checks, against the owner's pinned keys, that r was
// approved by its owner and not only by the relay: the statement is
// signed by one of trust's keys, approves this request of this owner, and
// names the key the agent made the request with (pub, the agent's own
// public key, so the check does not take the relay's word for it).
func VerifyApproval(trust *approval.Trust, r *OTPRequest, pub *PublicKey) error {
	if r.Approval == nil {
		return fmt.Errorf("agentotp: request %s carries no approval (status %s)", r.ID, r.Status)
	}
	st, err := trust.Verify(&approval.Signed{Statement: r.Approval.Statement, Method: r.Approval.Method, KeyID: r.Approval.KeyID, Signature: r.Approval.Signature})
	if err != nil {
		return fmt.Errorf("agentotp: request %s: %w", r.ID, err)
	}
	switch {
	case st.Decision != approval.Approve:
		return fmt.Errorf("agentotp: request %s: the owner's statement says %s", r.ID, st.Decision)
	case st.RequestID != r.ID:
		return fmt.Errorf("agentotp: request %s: the statement is about request %s", r.ID, st.RequestID)
	case st.AgentID != r.AgentID:
		return fmt.Errorf("agentotp: request %s: the statement is about agent %s", r.ID, st.AgentID)
	case st.KeyFingerprint != pub.Fingerprint() || st.Encryption != string(pub.Algorithm()):
		return fmt.Errorf("agentotp: request %s: the owner approved key %s (%s), not this agent's key %s", r.ID, st.KeyFingerprint, st.Encryption, pub.Fingerprint())
	}
	return nil
}
