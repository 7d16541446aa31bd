package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
)

// otherOwner makes a second owner with an SMS source and returns the
// source's token.
func (h *harness) otherOwner(ctx context.Context) string {
	h.t.Helper()
	now := time.Now().UTC()
	o := &agentotp.Owner{ID: agentotp.NewID("own_"), Name: "mallory", CreatedAt: now}
	if err := h.store.CreateOwner(ctx, o, nil); err != nil {
		h.t.Fatal(err)
	}
	n, err := h.svc.CreateSource(ctx, o.ID, "mallory-phone", "generic")
	if err != nil {
		h.t.Fatal(err)
	}
	return n.Token
}

type captureList struct {
	Data []map[string]any `json:"data"`
}

// TestCaptureRequestsList: a source token sees the live, code-less, real
// requests of its own owner that want its kind of message, with filter
// and key but no reason or agent; other credentials are refused.
func TestCaptureRequestsList(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, na := h.agent("bot", false)
	testAgent, _ := h.agent("ci", true)
	_, smsTok := h.source("sms")
	_, emailTok := h.source("email")
	src, genTok := h.source("generic")
	mallory := h.otherOwner(ctx)
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	mk := func(a *client.Client, f *client.Filter) string {
		r, err := a.RequestOTP(ctx, client.RequestOptions{Reason: "secret reason text", PublicKey: client.ExportPublicKey(pub), Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	held := mk(agent, nil)
	if _, err := h.owner.Approve(ctx, held); err != nil {
		t.Fatal(err)
	}
	if res, err := src.Send(ctx, client.Message{Source: "sms", Sender: "X", Text: "code 334455"}); err != nil || !res.Matched {
		t.Fatalf("send: %+v %v", res, err)
	}
	smsOnly := mk(agent, &client.Filter{Sources: []string{"sms"}})
	emailOnly := mk(agent, &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"})
	testReq := mk(testAgent, &client.Filter{Sources: []string{"sms"}})
	cancelled := mk(agent, nil)
	if _, err := agent.CancelOTPRequest(ctx, cancelled); err != nil {
		t.Fatal(err)
	}

	list := func(tok string) map[string]map[string]any {
		status, b, _ := h.call("GET", "/v1/capture/requests", tok, "", nil)
		if status != 200 {
			t.Fatalf("list: %d %s", status, b)
		}
		// The edge gets ids (it checks the owner's signed statement against
		// them) but never the reason.
		if strings.Contains(string(b), "secret reason text") {
			t.Fatalf("the list shows more than an edge needs: %s", b)
		}
		var l captureList
		json.Unmarshal(b, &l)
		out := map[string]map[string]any{}
		for _, r := range l.Data {
			out[r["id"].(string)] = r
		}
		return out
	}
	for _, tt := range []struct {
		name, tok string
		want      []string
	}{
		{"sms source", smsTok, []string{smsOnly}},
		{"email source", emailTok, []string{emailOnly}},
		{"generic source", genTok, []string{smsOnly, emailOnly}},
		{"another owner's source", mallory, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := list(tt.tok)
			if len(got) != len(tt.want) {
				t.Fatalf("listed %d requests; want %v", len(got), tt.want)
			}
			for _, id := range tt.want {
				r, ok := got[id]
				if !ok {
					t.Fatalf("%s not listed", id)
				}
				if r["public_key"] != client.ExportPublicKey(pub) || r["encryption"] != string(client.HPKEX25519) || r["filter"] == nil {
					t.Fatalf("request %v lacks key or filter", r)
				}
			}
			for _, id := range []string{testReq, held, cancelled} {
				if _, ok := got[id]; ok {
					t.Fatalf("%s listed", id)
				}
			}
		})
	}
	for _, tok := range []string{na.APIKey, h.ownerToken, "sk_nope"} {
		if status, b, _ := h.call("GET", "/v1/capture/requests", tok, "", nil); status != 401 || decodeProblem(t, b).Code != agentotp.EAuthentication {
			t.Fatalf("%s…: %d %s", tok[:3], status, b)
		}
	}
}

// TestCaptureDeliveries: a delivery is refused with a clear error when it
// cannot be an in-process match (wrong owner, not live, filter, kind,
// malformed ciphertext …), and nothing changes; a good one makes the
// request otp_received, and the agent decrypts the code.
func TestCaptureDeliveries(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, na := h.agent("bot", false)
	testAgent, _ := h.agent("ci", true)
	_, emailTok := h.source("email")
	_, smsTok := h.source("sms")
	mallory := h.otherOwner(ctx)
	pub, priv, _ := client.GenerateKeyPair(client.HPKEX25519)
	rsaPub, _, _ := client.GenerateKeyPair(client.RSAOAEP256)
	mk := func(a *client.Client, p *client.PublicKey, f *client.Filter) string {
		r, err := a.RequestOTP(ctx, client.RequestOptions{Reason: "r", PublicKey: client.ExportPublicKey(p), Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.owner.Approve(ctx, r.ID); err != nil && !strings.Contains(err.Error(), "already") {
			t.Fatal(err)
		}
		return r.ID
	}
	id := mk(agent, pub, &client.Filter{SenderPattern: "*@acme.com"})
	rsaID := mk(agent, rsaPub, nil)
	testID := mk(testAgent, pub, &client.Filter{Sources: []string{"email"}})
	sealed := func(p *client.PublicKey, rid, code string) string {
		ct, err := p.Seal(rid, []byte(code))
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(ct)
	}
	body := func(rid, payload, extra string) string {
		return `{"request_id":"` + rid + `","encrypted_payload":"` + payload + `","metadata":{"source":"email","sender":"Acme <noreply@acme.com>","subject":"Your code"}` + extra + `}`
	}
	good := body(id, sealed(pub, id, "246810"), "")
	tests := []struct {
		name, tok, ctype, body string
		status                 int
		code                   string
	}{
		{"agent key", na.APIKey, "application/json", good, 401, agentotp.EAuthentication},
		{"unknown request", emailTok, "application/json", body("otp_nope", sealed(pub, "otp_nope", "1"), ""), 404, agentotp.EOTPNotFound},
		{"another owner's request", mallory, "application/json", good, 404, agentotp.EOTPNotFound},
		{"malformed JSON", emailTok, "application/json", `{"request_id":`, 422, agentotp.EValidation},
		{"unknown field", emailTok, "application/json", body(id, sealed(pub, id, "1"), `,"code":"246810"`), 422, agentotp.EValidation},
		{"payload not base64", emailTok, "application/json", body(id, "!!!", ""), 422, agentotp.EValidation},
		{"no payload", emailTok, "application/json", body(id, "", ""), 422, agentotp.EValidation},
		{"not JSON", emailTok, "text/plain", good, 415, agentotp.EUnsupportedMedia},
		{"HPKE overhead only", emailTok, "application/json", body(id, sealed(pub, id, ""), ""), 422, agentotp.EValidation},
		{"payload too long for a code", emailTok, "application/json", body(id, sealed(pub, id, strings.Repeat("9", 100)), ""), 422, agentotp.EValidation},
		{"RSA ciphertext of wrong size", emailTok, "application/json", body(rsaID, base64.StdEncoding.EncodeToString(make([]byte, 100)), ""), 422, agentotp.EValidation},
		{"sender outside the filter", emailTok, "application/json", strings.Replace(good, "acme.com", "evil.example", 1), 422, agentotp.EValidation},
		{"SMS source delivering email", smsTok, "application/json", good, 422, agentotp.EValidation},
		{"content not asked for", emailTok, "application/json", body(id, sealed(pub, id, "246810"), `,"encrypted_content":"`+sealed(pub, id, "text")+`"`), 422, agentotp.EValidation},
		{"bad confidence", emailTok, "application/json", strings.Replace(good, `"subject"`, `"confidence":7,"subject"`, 1), 422, agentotp.EValidation},
		{"test request", emailTok, "application/json", body(testID, sealed(pub, testID, "1"), ""), 409, agentotp.EConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b, _ := h.call("POST", "/v1/capture/deliveries", tt.tok, tt.ctype, []byte(tt.body))
			if status != tt.status {
				t.Fatalf("status %d; want %d: %s", status, tt.status, b)
			}
			if p := decodeProblem(t, b); p.Code != tt.code || p.Message == "" {
				t.Fatalf("problem %+v; want %s", p, tt.code)
			}
		})
	}
	for _, rid := range []string{id, rsaID} {
		if r, _ := agent.GetOTPStatus(ctx, rid); r.Status != client.StatusApproved {
			t.Fatalf("after refused deliveries %s is %s", rid, r.Status)
		}
	}

	status, b, _ := h.call("POST", "/v1/capture/deliveries", emailTok, "application/json", []byte(good))
	if status != 202 || !strings.Contains(string(b), `"status":"otp_received"`) {
		t.Fatalf("good delivery: %d %s", status, b)
	}
	status, b, _ = h.call("POST", "/v1/capture/deliveries", emailTok, "application/json", []byte(good))
	if status != 409 || decodeProblem(t, b).Code != agentotp.EConflict {
		t.Fatalf("second delivery: %d %s", status, b)
	}
	out, err := agent.ConsumeOTP(ctx, id, priv)
	if err != nil || out.Code != "246810" || out.Metadata == nil || out.Metadata.Sender != "Acme <noreply@acme.com>" {
		t.Fatalf("consume: %+v %v", out, err)
	}
	status, b, _ = h.call("POST", "/v1/capture/deliveries", emailTok, "application/json", []byte(good))
	if status != 410 || decodeProblem(t, b).Code != agentotp.EOTPAlreadyConsumed {
		t.Fatalf("delivery after consume: %d %s", status, b)
	}
	stored, err := h.store.GetRequest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	es, err := h.store.ListAudit(ctx, agentotp.AuditQuery{OwnerID: stored.OwnerID, RequestID: id, Action: agentotp.AuditOTPReceived})
	if err != nil || len(es) != 1 || es[0].Details["capture"] != "edge" {
		t.Fatalf("audit of the edge delivery: %+v %v", es, err)
	}
}

// TestCaptureDeliveryDuplicate: a message (external_id) feeds one request
// once: a resend is acknowledged as a duplicate, also when aimed at
// another request, while a refused delivery does not use the id up.
func TestCaptureDeliveryDuplicate(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("bot", false)
	_, tok := h.source("generic")
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	newReq := func() string {
		r, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "r", PublicKey: client.ExportPublicKey(pub), Filter: &client.Filter{SenderPattern: "ACME"}})
		if err != nil {
			t.Fatal(err)
		}
		h.owner.Approve(ctx, r.ID)
		return r.ID
	}
	first, second := newReq(), newReq()
	body := func(rid, sender string) []byte {
		ct, _ := pub.Seal(rid, []byte("1234"))
		return []byte(`{"request_id":"` + rid + `","encrypted_payload":"` + base64.StdEncoding.EncodeToString(ct) + `","metadata":{"source":"sms","sender":"` + sender + `"},"external_id":"sms-42"}`)
	}
	if status, out, _ := h.call("POST", "/v1/capture/deliveries", tok, "application/json", body(first, "EVIL")); status != 422 {
		t.Fatalf("refused: %d %s", status, out)
	}
	if status, out, _ := h.call("POST", "/v1/capture/deliveries", tok, "application/json", body(first, "ACME")); status != 202 || strings.Contains(string(out), "duplicate") {
		t.Fatalf("first: %d %s", status, out)
	}
	for _, rid := range []string{first, second} {
		if status, out, _ := h.call("POST", "/v1/capture/deliveries", tok, "application/json", body(rid, "ACME")); status != 202 || !strings.Contains(string(out), `"duplicate":true`) {
			t.Fatalf("resend to %s: %d %s", rid, status, out)
		}
	}
	if r, _ := agent.GetOTPStatus(ctx, second); r.Status != client.StatusApproved {
		t.Fatalf("the resent message fed a second request: %s", r.Status)
	}
}
