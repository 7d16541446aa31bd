package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
)

// TestTestKey mirrors the integration guide's "Testing Integration" (sdk/typescript/examples/testing-integration.ts): a test key is
// approved at once and, without a filter, gets a synthetic code.
func TestTestKey(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	otp, _ := h.agent("ci", true)
	pub, priv, _ := client.GenerateKeyPair(client.RSAOAEP256)

	// it('should request and consume OTP')
	req, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: "Test verification", PublicKey: client.ExportPublicKey(pub), WaitForOTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if req.Status != client.StatusOTPReceived || req.DecidedBy == nil || *req.DecidedBy != "test_key" || !req.Test {
		t.Fatalf("test request: %+v", req)
	}
	res, err := otp.ConsumeOTP(ctx, req.ID, priv)
	if err != nil || len(res.Code) != 6 || res.Metadata.Source != "test" {
		t.Fatalf("consume: %+v %v", res, err)
	}

	// it('should handle cancellation')
	req2, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: "Test cancellation", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := otp.CancelOTPRequest(ctx, req2.ID); err != nil {
		t.Fatal(err)
	}
	st, _ := otp.GetOTPStatus(ctx, req2.ID)
	if st.Status != client.StatusCancelled {
		t.Fatalf("status after cancel: %s", st.Status)
	}
	if _, err := otp.CancelOTPRequest(ctx, req2.ID); !errors.Is(err, client.ErrCancelled) {
		t.Fatalf("second cancel: %v", err)
	}

	// With a filter, a test key waits for its own test message; a real
	// source's message never feeds it.
	src, _ := h.source("email")
	req3, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: "filtered", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"}})
	if err != nil || req3.Status != client.StatusApproved {
		t.Fatalf("filtered test request: %+v %v", req3, err)
	}
	if r, _ := src.Send(ctx, client.Message{Source: "email", Sender: "noreply@acme.com", Subject: "Code", Text: "Your code is 121212"}); r.Matched {
		t.Fatal("a real message fed a test request")
	}
	if r, err := otp.SendTestMessage(ctx, client.TestMessage{Source: "email", Sender: "Acme <noreply@other.com>", Text: "Your code is 343434"}); err != nil || r.Matched {
		t.Fatalf("non-matching test message: %+v %v", r, err)
	}
	if r, err := otp.SendTestMessage(ctx, client.TestMessage{Source: "email", Sender: "Acme <noreply@acme.com>", Text: "Your code is 565656"}); err != nil || !r.Matched {
		t.Fatalf("test message: %+v %v", r, err)
	}
	res3, err := otp.ConsumeOTP(ctx, req3.ID, priv)
	if err != nil || res3.Code != "565656" {
		t.Fatalf("consume filtered: %+v %v", res3, err)
	}
	// The owner was never asked: nothing is pending.
	page, _ := h.owner.ListRequests(ctx, client.ListQuery{Status: client.StatusPendingApproval})
	if len(page.Data) != 0 {
		t.Fatalf("test requests left pending: %d", len(page.Data))
	}
}

// TestLongPollWakes: a waiting GET returns the new status on approval, not
// at the end of its wait.
func TestLongPollWakes(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("a", false)
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, _ := agent.RequestOTP(ctx, client.RequestOptions{Reason: "r", PublicKey: client.ExportPublicKey(pub)})
	got := make(chan *client.OTPRequest, 1)
	go func() {
		r, err := agent.WaitOTPStatus(ctx, req.ID, 50*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	for h.svc.Waiters() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := h.owner.Approve(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.Status != client.StatusApproved {
			t.Fatalf("woke with %s", r.Status)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("the long-poll did not wake on approval")
	}
}

// TestEventStream reads the SSE stream through a whole lifecycle.
func TestEventStream(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, na := h.agent("a", false)
	src, _ := h.source("sms")
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, _ := agent.RequestOTP(ctx, client.RequestOptions{Reason: "r", PublicKey: client.ExportPublicKey(pub)})
	hr, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/v1/otp/"+req.ID+"/events", nil)
	hr.Header.Set("Authorization", "Bearer "+na.APIKey)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var statuses []string
	heartbeats := 0
	next := func() {
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, ": heartbeat") {
				heartbeats++
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var r client.OTPRequest
				if err := json.Unmarshal([]byte(data), &r); err != nil {
					t.Fatal(err)
				}
				statuses = append(statuses, string(r.Status))
				return
			}
		}
	}
	next()
	time.Sleep(300 * time.Millisecond) // a heartbeat passes
	h.owner.Approve(ctx, req.ID)
	next()
	src.Send(ctx, client.Message{Source: "sms", Sender: "X", Text: "Your code is 828282"})
	next()
	for sc.Scan() { // the server closes the stream after otp_received
	}
	if got := strings.Join(statuses, ","); got != "pending_approval,approved,otp_received" {
		t.Fatalf("events %s", got)
	}
	if heartbeats == 0 {
		t.Error("no heartbeat seen")
	}
}

// TestAuditTrail checks the audit log of a lifecycle: who did what, a
// verified chain, and both export formats.
func TestAuditTrail(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, na := h.agent("a", false)
	src, _ := h.source("sms")
	req, priv := h.receivedRequest(ctx, agent, src, "717171")
	agent.ConsumeOTP(ctx, req.ID, priv)
	rep, err := h.owner.VerifyAudit(ctx)
	if err != nil || !rep.OK || rep.Entries < 7 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	var jl bytes.Buffer
	if err := h.owner.ExportAudit(ctx, "jsonl", &jl); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(jl.String()), "\n") {
		var e struct{ Action, Actor, RequestID string }
		var raw map[string]any
		json.Unmarshal([]byte(line), &raw)
		e.Action, _ = raw["action"].(string)
		e.Actor, _ = raw["actor"].(string)
		if raw["request_id"] == req.ID {
			actions = append(actions, e.Action+"@"+e.Actor)
		}
	}
	want := "request.created@agent:" + na.Agent.ID + ",request.approved@owner,request.otp_received@source:"
	if got := strings.Join(actions, ","); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "request.consumed@agent:"+na.Agent.ID) {
		t.Fatalf("audit of the request: %s", got)
	}
	var cs bytes.Buffer
	if err := h.owner.ExportAudit(ctx, "csv", &cs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cs).ReadAll()
	if err != nil || len(rows) != rep.Entries+1 || rows[0][0] != "seq" {
		t.Fatalf("csv: %d rows, %v", len(rows), err)
	}
	if strings.Contains(jl.String()+cs.String(), "717171") {
		t.Fatal("audit export holds the code")
	}
}

// TestOwnerListing pages through requests newest first.
func TestOwnerListing(t *testing.T) {
	h := newHarness(t, generous)
	ctx := ctxT(t)
	agent, na := h.agent("a", false)
	other, _ := h.agent("b", false)
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	var ids []string
	for i := 0; i < 5; i++ {
		r, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "r", PublicKey: client.ExportPublicKey(pub)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	other.RequestOTP(ctx, client.RequestOptions{Reason: "other", PublicKey: client.ExportPublicKey(pub)})
	var seen []string
	cursor := ""
	for {
		page, err := h.owner.ListRequests(ctx, client.ListQuery{AgentID: na.Agent.ID, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Data {
			seen = append(seen, r.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if len(seen) != 5 || seen[0] != ids[4] || seen[4] != ids[0] {
		t.Fatalf("paged %v; want newest first of %v", seen, ids)
	}
}

// TestMetrics: /metrics exposes counters by route pattern and lifecycle
// action, and no ids.
func TestMetrics(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("a", false)
	src, _ := h.source("sms")
	req, _ := h.receivedRequest(ctx, agent, src, "393939")
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, b, _ := h.call("GET", "/metrics", "", "", nil)
		body = string(b)
		if strings.Contains(body, `agentotp_request_events_total{action="request.otp_received"} 1`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`agentotp_request_events_total{action="request.otp_received"} 1`,
		`agentotp_http_requests_total{code="201",method="POST",route="/v1/otp/request"} 1`,
		`agentotp_messages_ingested_total{outcome="matched",source="sms"} 1`,
		`agentotp_waiters 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, req.ID) || strings.Contains(body, "393939") {
		t.Error("metrics hold an id or a code")
	}
}

// TestConsumeKeepsCodeOnKeyMistakes: a nil key, a key of another
// algorithm or another key of the same kind consumes nothing; the right
// key then gets the code.
func TestConsumeKeepsCodeOnKeyMistakes(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("a", false)
	src, _ := h.source("sms")
	req, priv := h.receivedRequest(ctx, agent, src, "909090")
	_, rsaKey, _ := client.GenerateKeyPair(client.RSAOAEP256)
	_, otherKey, _ := client.GenerateKeyPair(client.HPKEX25519)
	for name, k := range map[string]*client.PrivateKey{"nil": nil, "other algorithm": rsaKey, "other key": otherKey} {
		if _, err := agent.ConsumeOTP(ctx, req.ID, k); !errors.Is(err, client.ErrDecryption) {
			t.Fatalf("%s: %v", name, err)
		}
		if r, _ := agent.GetOTPStatus(ctx, req.ID); r.Status != client.StatusOTPReceived {
			t.Fatalf("%s consumed the code: %s", name, r.Status)
		}
	}
	if res, err := agent.ConsumeOTP(ctx, req.ID, priv); err != nil || res.Code != "909090" {
		t.Fatalf("right key: %+v %v", res, err)
	}
}
