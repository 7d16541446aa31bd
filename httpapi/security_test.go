package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
)

func generous(c *httpapi.Config) {
	c.AgentRate, c.AgentBurst = 100000, 100000
}

// receivedRequest makes a request of agent a that holds a received code.
func (h *harness) receivedRequest(ctx context.Context, a *client.Client, src *client.SourceClient, code string) (*client.OTPRequest, *client.PrivateKey) {
	h.t.Helper()
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		h.t.Fatal(err)
	}
	req, err := a.RequestOTP(ctx, client.RequestOptions{Reason: "log in", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.owner.Approve(ctx, req.ID); err != nil {
		h.t.Fatal(err)
	}
	res, err := src.Send(ctx, client.Message{Source: "sms", Sender: "+15550100", Text: "Your login code is " + code})
	if err != nil || !res.Matched {
		h.t.Fatalf("ingest: %+v %v", res, err)
	}
	return req, priv
}

// TestConcurrentConsume: of 200 concurrent consumes exactly one gets the
// ciphertext; the others get OTP_ALREADY_CONSUMED.
func TestConcurrentConsume(t *testing.T) {
	h := newHarness(t, generous)
	ctx := ctxT(t)
	agent, na := h.agent("a", false)
	src, _ := h.source("sms")
	req, priv := h.receivedRequest(ctx, agent, src, "554433")
	const n = 200
	var wg sync.WaitGroup
	type out struct {
		status int
		body   []byte
	}
	results := make(chan out, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, b, _ := h.call("POST", "/v1/otp/"+req.ID+"/consume", na.APIKey, "", nil)
			results <- out{s, b}
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	ok, gone := 0, 0
	for r := range results {
		switch {
		case r.status == 200:
			ok++
			var c struct {
				EncryptedPayload string `json:"encrypted_payload"`
			}
			json.Unmarshal(r.body, &c)
			if code, err := client.DecryptOTPPayload(priv, req.ID, c.EncryptedPayload); err != nil || code != "554433" {
				t.Errorf("winner decrypted %q, %v", code, err)
			}
		case r.status == 410 && decodeProblem(t, r.body).Code == "OTP_ALREADY_CONSUMED":
			gone++
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.body)
		}
	}
	if ok != 1 || gone != n-1 {
		t.Fatalf("%d succeeded, %d already consumed; want 1 and %d", ok, gone, n-1)
	}
}

// TestIsolation: agent B cannot see, consume or cancel agent A's request,
// and credentials only work on their own API.
func TestIsolation(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	a, na := h.agent("a", false)
	_, nb := h.agent("b", false)
	src, srcToken := h.source("sms")
	req, _ := h.receivedRequest(ctx, a, src, "246810")
	before, _ := a.GetOTPStatus(ctx, req.ID)

	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/otp/" + req.ID},
		{"GET", "/v1/otp/" + req.ID + "?wait=1"},
		{"GET", "/v1/otp/" + req.ID + "/events"},
		{"POST", "/v1/otp/" + req.ID + "/consume"},
		{"DELETE", "/v1/otp/" + req.ID},
	} {
		status, body, _ := h.call(c.method, c.path, nb.APIKey, "", nil)
		if status != 404 || decodeProblem(t, body).Code != "OTP_NOT_FOUND" {
			t.Errorf("agent B %s %s: %d %s", c.method, c.path, status, body)
		}
	}
	after, _ := a.GetOTPStatus(ctx, req.ID)
	if after.Status != client.StatusOTPReceived || after.Status != before.Status {
		t.Fatalf("A's request changed: %s -> %s", before.Status, after.Status)
	}
	// Wrong kinds of credential.
	for _, c := range []struct{ method, path, token, what string }{
		{"GET", "/v1/owner/requests", na.APIKey, "agent key on owner API"},
		{"POST", "/v1/owner/requests/" + req.ID + "/approve", na.APIKey, "agent key approving"},
		{"GET", "/v1/otp/" + req.ID, srcToken, "source token on agent API"},
		{"POST", "/v1/otp/request", srcToken, "source token creating"},
		{"POST", "/v1/messages", na.APIKey, "agent key ingesting"},
		{"GET", "/v1/otp/" + req.ID, h.ownerToken, "owner token on agent API"},
		{"GET", "/v1/otp/" + req.ID, "", "no credential"},
		{"GET", "/v1/otp/" + req.ID, "ak_live_" + strings.Repeat("x", 40), "unknown key"},
		{"GET", "/v1/owner/requests", "ok_bogus", "unknown owner token"},
	} {
		status, body, hdr := h.call(c.method, c.path, c.token, "application/json", []byte("{}"))
		if status != 401 || decodeProblem(t, body).Code != "AUTHENTICATION_ERROR" || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %s", c.what, status, body)
		}
	}
	// X-API-Key works as the agent header.
	r, _ := http.NewRequest("GET", h.srv.URL+"/v1/otp/"+req.ID, nil)
	r.Header.Set("X-API-Key", na.APIKey)
	resp, err := http.DefaultClient.Do(r)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("X-API-Key: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}

// TestNoPlaintextAtRest runs requests with known codes through every path
// (consumed, expired unconsumed, held then denied, subject holding the
// code) and then searches the data directory and the log for the codes
// and for every secret.
func TestNoPlaintextAtRest(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, na := h.agent("a", false)
	src, srcToken := h.source("generic")
	codes := []string{"918273", "736451", "628495", "502718"}

	// 1. consumed
	req, priv := h.receivedRequest(ctx, agent, src, codes[0])
	if out, err := agent.ConsumeOTP(ctx, req.ID, priv); err != nil || out.Code != codes[0] {
		t.Fatalf("consume: %v", err)
	}
	// 2. received, never consumed, expired by the sweeper
	req2, _ := h.receivedRequest(ctx, agent, src, codes[1])
	// 3. held while pending, then denied
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req3, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "held", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := src.Send(ctx, client.Message{Source: "sms", Sender: "BANK", Text: "Code: " + codes[2]}); err != nil || !res.Matched {
		t.Fatalf("held ingest: %+v %v", res, err)
	}
	if _, err := h.owner.Deny(ctx, req3.ID, "not now"); err != nil {
		t.Fatal(err)
	}
	// 4. the code in an email subject, consumed
	pub4, priv4, _ := client.GenerateKeyPair(client.RSAOAEP256)
	req4, _ := agent.RequestOTP(ctx, client.RequestOptions{Reason: "subject", PublicKey: client.ExportPublicKey(pub4)})
	h.owner.Approve(ctx, req4.ID)
	if res, err := src.Send(ctx, client.Message{Source: "email", Sender: "Acme <no-reply@acme.com>", Subject: codes[3] + " is your Acme code", Text: "Use the code " + codes[3] + " to sign in."}); err != nil || !res.Matched {
		t.Fatalf("email ingest: %+v %v", res, err)
	}
	got4, _ := agent.GetOTPStatus(ctx, req4.ID)
	if got4.Metadata == nil || strings.Contains(got4.Metadata.Subject, codes[3]) {
		t.Fatalf("metadata subject leaks the code: %+v", got4.Metadata)
	}
	if out, err := agent.ConsumeOTP(ctx, req4.ID, priv4); err != nil || out.Code != codes[3] {
		t.Fatalf("consume 4: %+v %v", out, err)
	}

	h.clock.Advance(10 * time.Minute)
	if n, err := h.svc.Sweep(ctx); err != nil || n < 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if r, _ := agent.GetOTPStatus(ctx, req2.ID); r.Status != client.StatusExpired {
		t.Fatalf("req2 %s", r.Status)
	}
	// Export the audit log through the API too: it must not hold codes.
	var export bytes.Buffer
	if err := h.owner.ExportAudit(ctx, "jsonl", &export); err != nil {
		t.Fatal(err)
	}
	h.srv.Close()
	if err := h.store.Close(); err != nil {
		t.Fatal(err)
	}

	secrets := append([]string{na.APIKey, srcToken, h.ownerToken}, codes...)
	var files []string
	filepath.WalkDir(h.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no files in the data directory")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds secret %q", filepath.Base(f), s)
			}
		}
	}
	logs := h.logs.Bytes()
	if len(logs) == 0 {
		t.Fatal("no logs captured")
	}
	for _, s := range secrets {
		if holdsSecret(logs, s) {
			t.Errorf("log holds secret %q", s)
		}
		if holdsSecret(export.Bytes(), s) {
			t.Errorf("audit export holds secret %q", s)
		}
	}
}

// holdsSecret reports whether b holds s. A code is six digits, which a
// log holds by chance inside longer numbers (a timestamp's nanoseconds, a
// duration's decimals: seen once in the 10,000-live run), so a code counts
// only where no digit or decimal point touches it, as it stands in a text.
func holdsSecret(b []byte, s string) bool {
	if strings.Trim(s, "0123456789") != "" {
		return bytes.Contains(b, []byte(s))
	}
	return regexp.MustCompile(`(^|[^0-9.])` + s + `([^0-9]|$)`).Match(b)
}

// TestMatchingRules: a message received before a request never matches
// it; one message feeds only the oldest matching request; a held code is
// released by approval.
func TestMatchingRules(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("a", false)
	src, _ := h.source("sms")
	send := func(text string, at time.Time) *client.IngestResult {
		t.Helper()
		res, err := src.Send(ctx, client.Message{Source: "sms", Sender: "ACME", Text: text, ReceivedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	newReq := func() *client.OTPRequest {
		t.Helper()
		pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
		r, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "r", PublicKey: client.ExportPublicKey(pub), Filter: &client.Filter{SenderPattern: "acme"}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// A message sent before any request: matches nothing.
	if res := send("Your code is 111222", time.Time{}); res.Matched {
		t.Fatal("message before any request matched")
	}
	r1 := newReq()
	h.owner.Approve(ctx, r1.ID)
	// A message that says it was received before the request: no match.
	if res := send("Your code is 333444", r1.CreatedAt.Add(-time.Minute)); res.Matched {
		t.Fatal("backdated message matched")
	}
	r2 := newReq()
	h.owner.Approve(ctx, r2.ID)
	if res := send("Your code is 555666", time.Time{}); !res.Matched {
		t.Fatal("message did not match")
	}
	g1, _ := agent.GetOTPStatus(ctx, r1.ID)
	g2, _ := agent.GetOTPStatus(ctx, r2.ID)
	if g1.Status != client.StatusOTPReceived || g2.Status != client.StatusApproved {
		t.Fatalf("one message fed %s / %s; want the oldest only", g1.Status, g2.Status)
	}
	// Another sender does not match the filter.
	if res, _ := src.Send(ctx, client.Message{Source: "sms", Sender: "OTHER", Text: "code 777888"}); res.Matched {
		t.Fatal("wrong sender matched")
	}
	// A message without a code matches nothing.
	if res := send("Your parcel has shipped", time.Time{}); res.Matched {
		t.Fatal("message without a code matched")
	}
	if res := send("Your code is 999000", time.Time{}); !res.Matched {
		t.Fatal("second message did not feed the second request")
	}
	// Held while pending, released by approval.
	r3 := newReq()
	if res := send("Your code is 424242", time.Time{}); !res.Matched {
		t.Fatal("held message not matched")
	}
	g3, _ := agent.GetOTPStatus(ctx, r3.ID)
	if g3.Status != client.StatusPendingApproval || g3.Metadata != nil {
		t.Fatalf("held: %s %+v", g3.Status, g3.Metadata)
	}
	a3, err := h.owner.Approve(ctx, r3.ID)
	if err != nil || a3.Status != client.StatusOTPReceived {
		t.Fatalf("approve released: %+v %v", a3, err)
	}
}

// TestExpiry: an unconsumed code is deleted at expiry, by the sweeper or
// lazily on read.
func TestExpiry(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("a", false)
	src, _ := h.source("sms")
	req, priv := h.receivedRequest(ctx, agent, src, "135791")
	pending, _ := agent.RequestOTP(ctx, client.RequestOptions{Reason: "p", PublicKey: client.ExportPublicKey(priv.Public()), TTL: 2 * time.Minute})
	h.clock.Advance(301 * time.Second)
	n, err := h.svc.Sweep(ctx)
	if err != nil || n != 2 {
		t.Fatalf("sweep ended %d, %v; want 2", n, err)
	}
	stored, err := h.store.GetRequest(ctx, req.ID)
	if err != nil || stored.Status != agentotp.StatusExpired || stored.Payload != nil {
		t.Fatalf("stored after expiry: %v %v", stored.Status, err)
	}
	if _, err := agent.ConsumeOTP(ctx, req.ID, priv); !errors.Is(err, client.ErrExpired) {
		t.Fatalf("consume expired: %v", err)
	}
	// The 2-minute pending request ended in the same sweep. The lazy path:
	// a read after the TTL ends the request even before any sweep.
	if r, _ := agent.GetOTPStatus(ctx, pending.ID); r.Status != client.StatusExpired {
		t.Fatalf("pending after ttl: %s", r.Status)
	}
	lazy, _ := agent.RequestOTP(ctx, client.RequestOptions{Reason: "lazy", PublicKey: client.ExportPublicKey(priv.Public()), TTL: time.Minute})
	h.clock.Advance(61 * time.Second)
	if r, _ := agent.GetOTPStatus(ctx, lazy.ID); r.Status != client.StatusExpired {
		t.Fatalf("lazy expiry: %s", r.Status)
	}
	// Cancelling a final request is 409 with the state's code.
	status, body, _ := h.call("DELETE", "/v1/otp/"+req.ID, agentKeyOf(t, h, agent), "", nil)
	if p := decodeProblem(t, body); status != 409 || p.Code != "OTP_EXPIRED" {
		t.Fatalf("cancel expired: %d %s", status, body)
	}
	rep, err := h.svc.VerifyAudit(ctx, stored.OwnerID)
	if err != nil || !rep.OK {
		t.Fatalf("audit: %+v %v", rep, err)
	}
}

// agentKeyOf returns the API key behind an agent client of the harness.
func agentKeyOf(t *testing.T, h *harness, c *client.Client) string {
	t.Helper()
	k, ok := h.keys[c]
	if !ok {
		t.Fatal("no key recorded for this client")
	}
	return k
}

func TestDenyWithReason(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("a", false)
	pub, priv, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, _ := agent.RequestOTP(ctx, client.RequestOptions{Reason: "buy things", PublicKey: client.ExportPublicKey(pub)})
	waited := make(chan *client.OTPRequest, 1)
	go func() {
		w, _ := agent.WaitForOTP(ctx, req.ID, 30*time.Second)
		waited <- w
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := h.owner.Deny(ctx, req.ID, "I did not ask for this"); err != nil {
		t.Fatal(err)
	}
	w := <-waited
	if w == nil || w.Status != client.StatusDenied || w.DenyReason == nil || *w.DenyReason != "I did not ask for this" || w.DecidedBy == nil || *w.DecidedBy != "owner" {
		t.Fatalf("waiter saw %+v", w)
	}
	_, err := agent.ConsumeOTP(ctx, req.ID, priv)
	var e *client.Error
	if !errors.Is(err, client.ErrApprovalDenied) || !errors.As(err, &e) || e.DenyReason != "I did not ask for this" || e.StatusCode != 403 {
		t.Fatalf("consume denied: %v", err)
	}
	// Deciding twice is a conflict that keeps the state's code.
	if _, err := h.owner.Approve(ctx, req.ID); !errors.As(err, &e) || e.StatusCode != 409 || e.Code != "OTP_APPROVAL_DENIED" {
		t.Fatalf("approve after deny: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, func(c *httpapi.Config) { c.AgentRate, c.AgentBurst = 6, 3 })
	ctx := ctxT(t)
	agent, na := h.agent("a", false)
	for i := 0; i < 3; i++ {
		if s, b, _ := h.call("GET", "/v1/otp/otp_missing", na.APIKey, "", nil); s != 404 {
			t.Fatalf("call %d: %d %s", i, s, b)
		}
	}
	status, body, hdr := h.call("GET", "/v1/otp/otp_missing", na.APIKey, "", nil)
	p := decodeProblem(t, body)
	if status != 429 || p.Code != "RATE_LIMIT_ERROR" || p.RetryAfter < 1 || hdr.Get("Retry-After") == "" {
		t.Fatalf("rate limit: %d %s %v", status, body, hdr)
	}
	_, err := agent.GetOTPStatus(ctx, "otp_missing")
	var e *client.Error
	if !errors.Is(err, client.ErrRateLimit) || !errors.As(err, &e) || e.RetryAfter < time.Second {
		t.Fatalf("client rate limit: %v", err)
	}
}

func TestRotateAndRevoke(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, na := h.agent("a", false)
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "r", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := h.owner.RotateAgent(ctx, na.Agent.ID, 0)
	if err != nil || rot.APIKey == na.APIKey || rot.WebhookSecret == na.WebhookSecret {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	if _, err := agent.GetOTPStatus(ctx, req.ID); !errors.Is(err, client.ErrAuthentication) {
		t.Fatalf("old key after rotation: %v", err)
	}
	fresh := client.New(rot.APIKey, client.WithBaseURL(h.srv.URL))
	if r, err := fresh.GetOTPStatus(ctx, req.ID); err != nil || r.ID != req.ID {
		t.Fatalf("new key sees the agent's request: %v", err)
	}
	if _, err := h.owner.RevokeAgent(ctx, na.Agent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.GetOTPStatus(ctx, req.ID); !errors.Is(err, client.ErrAuthentication) {
		t.Fatalf("revoked agent: %v", err)
	}
	as, _ := h.owner.ListAgents(ctx)
	if len(as) != 1 || as[0].Status != "revoked" || strings.Contains(fmt.Sprint(as), rot.APIKey) {
		t.Fatalf("list: %+v", as)
	}
	// Grace period: the old key keeps working until it ends.
	_, nb := h.agent("b", false)
	rot2, err := h.owner.RotateAgent(ctx, nb.Agent.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{nb.APIKey, rot2.APIKey} {
		if s, b, _ := h.call("GET", "/v1/otp/otp_x", k, "", nil); s != 404 {
			t.Fatalf("key in grace: %d %s", s, b)
		}
	}
	h.clock.Advance(time.Hour + time.Second)
	if s, _, _ := h.call("GET", "/v1/otp/otp_x", nb.APIKey, "", nil); s != 401 {
		t.Fatalf("old key after grace: %d", s)
	}
}
