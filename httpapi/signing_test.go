package httpapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/client"
)

// statementOf is the statement of decision on r as the owner sees it.
func statementOf(r *client.OTPRequest, decision string) approval.Statement {
	req := &agentotp.Request{ID: r.ID, OwnerID: r.OwnerID, AgentID: r.AgentID, KeyFingerprint: r.PublicKeyFingerprint,
		Encryption: string(r.Encryption), IncludeMessage: r.IncludeMessage, ExpiresAt: r.ExpiresAt}
	if r.Filter != nil {
		req.Filter = agentotp.Filter{Sources: agentotp.Channels(r.Filter.Sources), SenderPattern: r.Filter.SenderPattern, ContentPattern: r.Filter.ContentPattern, ReceivedAfter: r.Filter.ReceivedAfter}
	}
	return approval.For(req, decision, time.Now())
}

func signWith(priv ed25519.PrivateKey, st approval.Statement) *client.Approval {
	b := st.Canonical()
	return &client.Approval{Statement: b, Method: approval.MethodEd25519, KeyID: approval.KeyID(priv.Public().(ed25519.PublicKey)), Signature: approval.SignEd25519(priv, b)}
}

// TestSignedApproval: the relay records an owner-signed approval only
// when it verifies and states the request; the statement reaches the
// request object and the audit row; the agent checks it against the
// owner's pinned keys.
func TestSignedApproval(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("bot", false)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	k, err := h.owner.AddSigningKey(ctx, "laptop", pub)
	if err != nil {
		t.Fatal(err)
	}
	if k.KeyID != approval.KeyID(pub) || k.Status != "active" {
		t.Fatalf("key %+v", k)
	}
	trust, err := h.owner.Trust(ctx)
	if err != nil || len(trust.Keys) != 1 {
		t.Fatalf("trust %+v %v", trust, err)
	}
	agentPub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "Sign up", PublicKey: client.ExportPublicKey(agentPub),
		Filter: &client.Filter{SenderPattern: "*@acme.com"}})
	if err != nil {
		t.Fatal(err)
	}
	seen, err := h.owner.GetRequest(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if seen.Approval != nil {
		t.Fatalf("a pending request carries an approval: %+v", seen.Approval)
	}
	other, _ := agent.RequestOTP(ctx, client.RequestOptions{Reason: "other", PublicKey: client.ExportPublicKey(agentPub)})
	otherSeen, _ := h.owner.GetRequest(ctx, other.ID)

	good := statementOf(seen, approval.Approve)
	widened := good
	widened.Filter.SenderPattern = "*"
	expired := statementOf(seen, approval.Approve)
	expired.ExpiresAt = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	bad := []struct {
		name string
		a    *client.Approval
		says string
	}{
		{"unknown key", signWith(stranger, good), "not one of the owner's pinned keys"},
		{"widened", signWith(priv, widened), "filter.sender_pattern differs"},
		{"another request's statement", signWith(priv, statementOf(otherSeen, approval.Approve)), "request_id differs"},
		{"a denial's statement", signWith(priv, statementOf(seen, approval.Deny)), "states deny"},
		{"tampered", func() *client.Approval {
			a := signWith(priv, good)
			a.Statement = []byte(strings.Replace(string(a.Statement), `"include_message":false`, `"include_message":true`, 1))
			return a
		}(), "does not verify"},
		{"expired", signWith(priv, expired), "expires_at differs"},
		{"unsigned method", &client.Approval{Statement: good.Canonical(), Method: approval.MethodNone}, "not one this checker knows"},
	}
	for _, tt := range bad {
		_, err := h.owner.ApproveSigned(ctx, req.ID, tt.a)
		var e *client.Error
		if !errors.As(err, &e) || e.Code != agentotp.EValidation || !strings.Contains(e.Error(), tt.says) {
			t.Errorf("%s: %v; want a validation error saying %q", tt.name, err, tt.says)
		}
	}
	if r, _ := h.owner.GetRequest(ctx, req.ID); r.Status != client.StatusPendingApproval {
		t.Fatalf("a refused signed approval changed the request: %s", r.Status)
	}

	r, err := h.owner.ApproveSigned(ctx, req.ID, signWith(priv, good))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != client.StatusApproved || r.Approval == nil || r.Approval.Method != approval.MethodEd25519 {
		t.Fatalf("approved: %+v %+v", r, r.Approval)
	}
	mine, err := agent.GetOTPStatus(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.VerifyApproval(trust, mine, agentPub); err != nil {
		t.Fatalf("the agent cannot verify its owner's approval: %v", err)
	}
	otherKey, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	if err := client.VerifyApproval(trust, mine, otherKey); err == nil {
		t.Fatal("VerifyApproval took another agent key")
	}

	// Approved with the owner token alone: the statement is the relay's,
	// marked unsigned, and the agent's check refuses it.
	if _, err := h.owner.Approve(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	unsigned, _ := agent.GetOTPStatus(ctx, other.ID)
	if unsigned.Approval == nil || unsigned.Approval.Method != approval.MethodNone {
		t.Fatalf("unsigned approval: %+v", unsigned.Approval)
	}
	if err := client.VerifyApproval(trust, unsigned, agentPub); err == nil {
		t.Fatal("VerifyApproval took an unsigned approval")
	}

	entries, err := h.svc.ListAudit(ctx, agentotp.AuditQuery{OwnerID: h.ownerID(t), Action: agentotp.AuditRequestApproved})
	if err != nil {
		t.Fatal(err)
	}
	how := map[string]string{}
	for _, e := range entries {
		stmt := approval.Hash(mustB64(t, e.Details["statement"]))
		if e.Details["statement_hash"] != stmt {
			t.Errorf("audit %s: statement_hash %q does not hash its statement", e.ID, e.Details["statement_hash"])
		}
		how[e.RequestID] = e.Details["signed"]
	}
	if how[req.ID] != "ed25519" || how[other.ID] != "none" {
		t.Fatalf("audit rows say signed %v", how)
	}

	// A revoked key signs nothing that counts.
	third, _ := agent.RequestOTP(ctx, client.RequestOptions{Reason: "third", PublicKey: client.ExportPublicKey(agentPub)})
	thirdSeen, _ := h.owner.GetRequest(ctx, third.ID)
	if err := h.owner.RevokeSigningKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.owner.ApproveSigned(ctx, third.ID, signWith(priv, statementOf(thirdSeen, approval.Approve))); err == nil {
		t.Fatal("a revoked key's approval was taken")
	}
	if tr, _ := h.owner.Trust(ctx); len(tr.Keys) != 0 {
		t.Fatalf("the trust file still lists a revoked key: %+v", tr)
	}
}

func TestSigningKeyInput(t *testing.T) {
	h := newHarness(t)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	body := func(v any) []byte { b, _ := json.Marshal(v); return b }
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		status int
		code   string
	}{
		{"short key", "POST", "/v1/owner/signing-keys", body(map[string]any{"name": "k", "public_key": pub[:16]}), 422, agentotp.EValidation},
		{"no name", "POST", "/v1/owner/signing-keys", body(map[string]any{"public_key": []byte(pub)}), 422, agentotp.EValidation},
		{"unknown member", "POST", "/v1/owner/signing-keys", body(map[string]any{"name": "k", "public_key": []byte(pub), "private_key": "x"}), 422, agentotp.EValidation},
		{"not base64", "POST", "/v1/owner/signing-keys", []byte(`{"name":"k","public_key":"!!"}`), 422, agentotp.EValidation},
		{"unknown key", "DELETE", "/v1/owner/signing-keys/sgk_nope", nil, 404, agentotp.ENotFound},
		{"garbled approval", "POST", "/v1/owner/requests/otp_nope/approve", []byte(`{"approval":{"statement":"e30=","method":"ed25519"}}`), 404, agentotp.EOTPNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b, _ := h.call(tt.method, tt.path, h.ownerToken, "application/json", tt.body)
			var p struct{ Code string }
			json.Unmarshal(b, &p)
			if status != tt.status || p.Code != tt.code {
				t.Fatalf("%d %s; want %d %s", status, b, tt.status, tt.code)
			}
		})
	}
	if _, err := h.owner.AddSigningKey(ctxT(t), "k", pub); err != nil {
		t.Fatal(err)
	}
	status, b, _ := h.call("POST", "/v1/owner/signing-keys", h.ownerToken, "application/json", body(map[string]any{"name": "again", "public_key": []byte(pub)}))
	if status != 409 {
		t.Fatalf("the same key twice: %d %s", status, b)
	}
	agent, _ := h.agent("bot", false)
	if _, err := agent.GetOTPStatus(ctxT(t), "otp_x"); err == nil {
		t.Fatal("unexpected")
	}
	status, _, _ = h.call("GET", "/v1/owner/trust", h.keys[agent], "", nil)
	if status != 401 && status != 403 {
		t.Fatalf("an agent key read the owner's trust file: %d", status)
	}
}

func (h *harness) ownerID(t *testing.T) string {
	t.Helper()
	tr, err := h.owner.Trust(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return tr.OwnerID
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
