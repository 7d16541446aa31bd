package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/webhook"
)

// needTool returns the path of a program the test needs: where it is
// missing the test skips, except in CI, where it fails.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (.ci/run installs it)", name)
		}
		t.Skipf("%s not installed; skipping", name)
	}
	return p
}

// startWorker runs a webhook worker on the harness's store, allowed to
// reach loopback receivers, until the test ends.
func (h *harness) startWorker(t *testing.T) {
	t.Helper()
	w := webhook.New(h.store, webhook.Config{AllowPrivate: true, PollInterval: 25 * time.Millisecond, RetryBase: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// pyDelivery is one line of testdata/webhook_receiver.py.
type pyDelivery struct {
	ID       string `json:"id"`
	Verified bool   `json:"verified"`
	Reason   string `json:"reason"`
	Body     string `json:"body"`
}

// pyReceiver runs the Python receiver with secret and returns its URL and
// the deliveries it reports.
func pyReceiver(t *testing.T, secret string) (string, <-chan pyDelivery) {
	t.Helper()
	py := needTool(t, "python3")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, py, "testdata/webhook_receiver.py")
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatalf("the receiver did not start: %v", sc.Err())
	}
	var port int
	if _, err := fmt.Sscanf(sc.Text(), "listening %d", &port); err != nil {
		t.Fatalf("receiver said %q", sc.Text())
	}
	ch := make(chan pyDelivery, 100)
	go func() {
		for sc.Scan() {
			var d pyDelivery
			if err := json.Unmarshal(sc.Bytes(), &d); err == nil {
				ch <- d
			}
		}
	}()
	return fmt.Sprintf("http://127.0.0.1:%d/webhooks/otp", port), ch
}

func next(t *testing.T, ch <-chan pyDelivery) pyDelivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery reached the Python receiver")
	}
	return pyDelivery{}
}

// checkWebhookBody asserts the exact body of docs/api.md ("Outbound webhooks") and that no code is in it.
func checkWebhookBody(t *testing.T, body, requestID string, codes ...string) client.Status {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body is not JSON: %q", body)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"occurred_at", "request_id", "status", "type"}) || m["type"] != "otp.status" || m["request_id"] != requestID {
		t.Fatalf("webhook body %s; want exactly type, request_id, status, occurred_at", body)
	}
	if _, err := time.Parse(time.RFC3339Nano, m["occurred_at"].(string)); err != nil {
		t.Errorf("occurred_at: %v", err)
	}
	for _, c := range codes {
		if c != "" && strings.Contains(body, c) {
			t.Fatalf("webhook body %s holds the code", body)
		}
	}
	return client.Status(m["status"].(string))
}

// TestWebhookVerifiedByPython: the integration guide's webhook flow end to end.
// An agent asks without waiting, with a webhook URL; an independent
// receiver (Python's http.server and hmac) verifies every delivery's
// Standard Webhooks signature; the agent consumes on otp_received.
func TestWebhookVerifiedByPython(t *testing.T) {
	h := newHarness(t)
	h.startWorker(t)
	ctx := ctxT(t)
	agent, na := h.agent("hooked", false)
	url, deliveries := pyReceiver(t, na.WebhookSecret)
	src, _ := h.source("sms")

	pub, priv, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "Signup verification", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: "ACME"}, WebhookURL: url})
	if err != nil {
		t.Fatal(err)
	}
	var seen []client.Status
	got := func() pyDelivery {
		d := next(t, deliveries)
		if !d.Verified {
			t.Fatalf("the Python receiver refused a delivery: %s", d.Reason)
		}
		seen = append(seen, checkWebhookBody(t, d.Body, req.ID, "604918"))
		return d
	}
	got()
	if _, err := h.owner.Approve(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	got()
	if _, err := src.Send(ctx, client.Message{Source: "sms", Sender: "ACME", Text: "Your ACME code is 604918"}); err != nil {
		t.Fatal(err)
	}
	// The integration guide's webhook handler: on otp_received, consume.
	if d := got(); !strings.Contains(d.Body, `"otp_received"`) {
		t.Fatalf("third delivery: %s", d.Body)
	}
	res, err := agent.ConsumeOTP(ctx, req.ID, priv)
	if err != nil || res.Code != "604918" {
		t.Fatalf("consume: %v %v", res, err)
	}
	got()
	want := []client.Status{client.StatusPendingApproval, client.StatusApproved, client.StatusOTPReceived, client.StatusConsumed}
	if !slices.Equal(seen, want) {
		t.Fatalf("statuses %v; want %v", seen, want)
	}

	// The agent's default URL, set by the owner, serves requests that name
	// none; a denial arrives too.
	if _, err := h.owner.SetAgentWebhookURL(ctx, na.Agent.ID, url); err != nil {
		t.Fatal(err)
	}
	req2, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "Buy a car", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.owner.Deny(ctx, req2.ID, "no"); err != nil {
		t.Fatal(err)
	}
	for _, st := range []client.Status{client.StatusPendingApproval, client.StatusDenied} {
		d := next(t, deliveries)
		if !d.Verified || checkWebhookBody(t, d.Body, req2.ID) != st {
			t.Fatalf("default URL delivery: %+v; want %s", d, st)
		}
	}

	// After the secret is rotated alone, the receiver holding the old one
	// refuses (401), and the API key still works.
	rot, err := h.owner.RotateWebhookSecret(ctx, na.Agent.ID)
	if err != nil || !strings.HasPrefix(rot.WebhookSecret, "whsec_") || rot.WebhookSecret == na.WebhookSecret {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	if _, err := agent.CancelOTPRequest(ctx, req.ID); !errors.Is(err, client.ErrAlreadyConsumed) {
		t.Fatalf("the API key stopped working after a webhook secret rotation: %v", err)
	}
	req3, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "again", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	if d := next(t, deliveries); d.Verified {
		t.Fatalf("a delivery signed with the new secret verified with the old one")
	}
	list, err := h.owner.ListWebhookDeliveries(ctx, client.WebhookQuery{RequestID: req3.ID})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
}

// TestWebhookOwnerAPI covers the owner's endpoints and their refusals.
func TestWebhookOwnerAPI(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	_, na := h.agent("a", false)

	w, err := h.owner.GetAgentWebhook(ctx, na.Agent.ID)
	if err != nil || w.URL != nil {
		t.Fatalf("fresh agent's webhook: %+v %v", w, err)
	}
	for _, bad := range []string{"ftp://x.example/", "/relative", "https://user:pw@x.example/", "https://" + strings.Repeat("a", 2100) + ".example/"} {
		_, err := h.owner.SetAgentWebhookURL(ctx, na.Agent.ID, bad)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.StatusCode != http.StatusUnprocessableEntity || len(ce.Fields) == 0 || ce.Fields[0].Field != "url" {
			t.Errorf("set %q: %v", bad, err)
		}
	}
	if _, err := h.owner.SetAgentWebhookURL(ctx, "agt_nope", "https://x.example/"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("unknown agent: %v", err)
	}
	if _, err := h.owner.SetAgentWebhookURL(ctx, na.Agent.ID, "https://hooks.example/otp"); err != nil {
		t.Fatal(err)
	}
	agents, err := h.owner.ListAgents(ctx)
	if err != nil || len(agents) != 1 || agents[0].WebhookURL == nil || *agents[0].WebhookURL != "https://hooks.example/otp" {
		t.Fatalf("agents list: %+v %v", agents, err)
	}
	if w, err := h.owner.SetAgentWebhookURL(ctx, na.Agent.ID, ""); err != nil || w.URL != nil {
		t.Fatalf("clear: %+v %v", w, err)
	}
	// null and unknown fields are refused.
	for _, body := range []string{`{"url":null}`, `{}`, `{"url":"https://x.example/","extra":1}`} {
		req, _ := http.NewRequest(http.MethodPut, h.srv.URL+"/v1/owner/agents/"+na.Agent.ID+"/webhook", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.ownerToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), "VALIDATION_ERROR") {
			t.Errorf("PUT %s: %d %s", body, resp.StatusCode, b)
		}
	}
	// An agent key cannot use the owner's endpoints.
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/owner/agents/"+na.Agent.ID+"/webhook/secret", nil)
	req.Header.Set("Authorization", "Bearer "+na.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("agent key on the owner API: %d", resp.StatusCode)
	}
	// A revoked agent's webhook cannot be changed.
	if _, err := h.owner.RevokeAgent(ctx, na.Agent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.owner.RotateWebhookSecret(ctx, na.Agent.ID); err == nil {
		t.Errorf("rotated the webhook secret of a revoked agent")
	}
	// Deliveries: unknown ids and bad filters.
	if _, err := h.owner.RetryWebhookDelivery(ctx, "whk_nope"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("retry unknown: %v", err)
	}
	if _, err := h.owner.ListWebhookDeliveries(ctx, client.WebhookQuery{State: "lost"}); !errors.Is(err, client.ErrValidation) {
		t.Errorf("list with a bad state: %v", err)
	}
}

// TestWebhookRetryEndpoint: a delivery that failed (refused target) is
// queued again by the owner and then delivered.
func TestWebhookRetryEndpoint(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	agent, _ := h.agent("a", false)
	var mu sync.Mutex
	fail := true
	calls := 0
	rc := newLoopbackReceiver(t, func(w http.ResponseWriter) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if fail {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h.startWorker(t)
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "x", PublicKey: client.ExportPublicKey(pub), WebhookURL: rc})
	if err != nil {
		t.Fatal(err)
	}
	d := waitDelivery(t, h, req.ID, "failed")
	if d.LastStatusCode == nil || *d.LastStatusCode != 400 {
		t.Fatalf("failed delivery: %+v", d)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if _, err := h.owner.RetryWebhookDelivery(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	// Pending or delivered now, not failed: a second retry is a conflict.
	var ce *client.Error
	if _, err := h.owner.RetryWebhookDelivery(ctx, d.ID); !errors.As(err, &ce) || ce.StatusCode != http.StatusConflict {
		t.Errorf("second retry: %v", err)
	}
	d = waitDelivery(t, h, req.ID, "delivered")
	if d.Attempts < 2 {
		t.Errorf("delivered after %d attempts", d.Attempts)
	}
}

func newLoopbackReceiver(t *testing.T, respond func(w http.ResponseWriter)) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		respond(w)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/hook"
}

func waitDelivery(t *testing.T, h *harness, requestID, state string) client.WebhookDelivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ds, err := h.owner.ListWebhookDeliveries(context.Background(), client.WebhookQuery{RequestID: requestID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 && ds[0].State == state {
			return ds[0]
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("the delivery of %s did not become %s", requestID, state)
	return client.WebhookDelivery{}
}

// TestSSEWithCurl watches a request with `curl -N`: the status now, each
// change, the stream closed at otp_received; then resumes with
// Last-Event-ID and gets only newer states.
func TestSSEWithCurl(t *testing.T) {
	curl := needTool(t, "curl")
	h := newHarness(t)
	ctx := ctxT(t)
	agent, na := h.agent("watcher", false)
	src, _ := h.source("sms")
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "Sign up", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: "ACME"}})
	if err != nil {
		t.Fatal(err)
	}
	events := func(extra ...string) (<-chan sseEvent, func() error) {
		args := append([]string{"-N", "-sS", "--max-time", "60", "-H", "Authorization: Bearer " + na.APIKey}, extra...)
		cmd := exec.CommandContext(ctx, curl, append(args, h.srv.URL+"/v1/otp/"+req.ID+"/events")...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ch := make(chan sseEvent, 16)
		go func() {
			defer close(ch)
			readSSE(out, ch)
		}()
		return ch, cmd.Wait
	}
	ch, wait := events()
	first := nextEvent(t, ch)
	if first.status != "pending_approval" || first.id == "" {
		t.Fatalf("first event: %+v", first)
	}
	if _, err := h.owner.Approve(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, ch); e.status != "approved" {
		t.Fatalf("after approval: %+v", e)
	}
	if _, err := src.Send(ctx, client.Message{Source: "sms", Sender: "ACME", Text: "Your ACME code is 604918"}); err != nil {
		t.Fatal(err)
	}
	last := nextEvent(t, ch)
	if last.status != "otp_received" || strings.Contains(last.data, "604918") {
		t.Fatalf("last event: %+v", last)
	}
	if _, ok := <-ch; ok {
		t.Fatal("the stream went on after otp_received")
	}
	if err := wait(); err != nil {
		t.Fatalf("curl: %v (the relay should close the stream cleanly)", err)
	}

	// Resume after the first event: only the newer states come.
	ch, wait = events("-H", "Last-Event-ID: "+first.id)
	if e := nextEvent(t, ch); e.status != "otp_received" {
		t.Fatalf("resumed stream: %+v", e)
	}
	if _, ok := <-ch; ok {
		t.Fatal("resumed stream went on")
	}
	wait()

	// Another agent's request is not found, as problem+json.
	_, other := h.agent("other", false)
	out, _ := exec.CommandContext(ctx, curl, "-sS", "-H", "Authorization: Bearer "+other.APIKey, h.srv.URL+"/v1/otp/"+req.ID+"/events").Output()
	if !strings.Contains(string(out), "OTP_NOT_FOUND") {
		t.Fatalf("another agent's stream: %s", out)
	}
}

// TestSSEHeartbeat: while nothing changes, the stream carries comments.
func TestSSEHeartbeat(t *testing.T) {
	curl := needTool(t, "curl")
	h := newHarness(t)
	ctx := ctxT(t)
	agent, na := h.agent("watcher", false)
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "Sign up", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	// The harness's heartbeat is 200 ms; curl stops after 1 s.
	out, _ := exec.CommandContext(ctx, curl, "-N", "-sS", "--max-time", "1", "-H", "Authorization: Bearer "+na.APIKey,
		h.srv.URL+"/v1/otp/"+req.ID+"/events").Output()
	if n := strings.Count(string(out), ": heartbeat"); n < 2 {
		t.Fatalf("%d heartbeats in 1 s: %q", n, out)
	}
}

type sseEvent struct {
	id, event, data, status string
}

func readSSE(r io.Reader, ch chan<- sseEvent) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.data != "" {
				var obj struct{ Status string }
				json.Unmarshal([]byte(ev.data), &obj)
				ev.status = obj.Status
				ch <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"): // a heartbeat
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

func nextEvent(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		if e.event != "status" {
			t.Fatalf("event type %q", e.event)
		}
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no event")
	}
	return sseEvent{}
}
