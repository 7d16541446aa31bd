package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/internal/relaytest"
)

// serveAt starts `agentotp serve` on data with extra flags; unlike
// startRelay it can be started again on the same data directory.
func serveAt(t *testing.T, data string, extra ...string) *relayProc {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-format", "json"}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = cleanEnv()
	pr, pw := io.Pipe()
	buf := &relaytest.Buffer{}
	cmd.Stderr = io.MultiWriter(buf, pw)
	cmd.Stdout = io.MultiWriter(buf, pw) // the banner
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		pw.Close()
	})
	re := regexp.MustCompile(`listening on (http://\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case u := <-found:
		return &relayProc{url: u, data: data, stderr: buf, cmd: cmd}
	case <-time.After(30 * time.Second):
		t.Fatalf("relay did not start: %s", buf.String())
	}
	return nil
}

// hookReceiver records deliveries and answers 503 until ok is set.
type hookReceiver struct {
	mu      sync.Mutex
	ok      bool
	got     []http.Header
	bodies  [][]byte
	arrived chan struct{}
	srv     *httptest.Server
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{arrived: make(chan struct{}, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, r.Header.Clone())
		h.bodies = append(h.bodies, body)
		ok := h.ok
		h.mu.Unlock()
		if ok {
			w.WriteHeader(http.StatusNoContent)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		h.arrived <- struct{}{}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

type deliveryRow struct {
	ID             string  `json:"id"`
	State          string  `json:"state"`
	Attempts       int     `json:"attempts"`
	LastStatusCode *int    `json:"last_status_code"`
	LastError      *string `json:"last_error"`
}

// deliveries lists the outbox through the CLI.
func (r *relayProc) deliveries(t *testing.T, requestID string) []deliveryRow {
	t.Helper()
	var ds []deliveryRow
	mustJSON(t, r.owner(t, "webhooks", "list", "--request", requestID, "--json"), &ds)
	return ds
}

func (r *relayProc) waitDelivery(t *testing.T, requestID string, ok func(deliveryRow) bool) deliveryRow {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ds := r.deliveries(t, requestID); len(ds) > 0 && ok(ds[0]) {
			return ds[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the delivery of %s did not reach the wanted state: %+v", requestID, r.deliveries(t, requestID))
	return deliveryRow{}
}

// TestWebhookSurvivesRestart kills the relay (SIGKILL) while a delivery is
// failing, starts it again on the same data, and the delivery arrives,
// signed with the agent's secret (sealed at rest, opened again with the
// data directory's key).
func TestWebhookSurvivesRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	flags := []string{"--allow-private-webhooks", "--webhook-retry-base", "1s"}
	r := serveAt(t, data, flags...)
	var agent struct {
		Agent struct {
			ID string `json:"id"`
		} `json:"agent"`
		APIKey        string `json:"api_key"`
		WebhookSecret string `json:"webhook_secret"`
	}
	mustJSON(t, r.owner(t, "agents", "create", "--name", "hooked", "--json"), &agent)
	hook := newHookReceiver(t)
	// The agent's default URL, set with the CLI.
	if res := r.owner(t, "webhooks", "set-url", agent.Agent.ID, hook.srv.URL+"/otp"); res.code != 0 || !strings.Contains(res.stdout, hook.srv.URL) {
		t.Fatalf("set-url: %+v", res)
	}

	otp := client.New(agent.APIKey, client.WithBaseURL(r.url))
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := otp.RequestOTP(context.Background(), client.RequestOptions{Reason: "Sign up", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	// The first attempt fails (503) and is stored for a retry.
	failed := r.waitDelivery(t, req.ID, func(d deliveryRow) bool {
		return d.Attempts >= 1 && d.State == "pending" && d.LastStatusCode != nil && *d.LastStatusCode == 503
	})
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	r.cmd.Wait()
	before := hook.count()
	hook.mu.Lock()
	hook.ok = true
	hook.mu.Unlock()

	r2 := serveAt(t, data, flags...)
	d := r2.waitDelivery(t, req.ID, func(d deliveryRow) bool { return d.State == "delivered" })
	if d.ID != failed.ID || d.Attempts <= failed.Attempts {
		t.Fatalf("after the restart: %+v (before: %+v)", d, failed)
	}
	if hook.count() <= before {
		t.Fatal("no delivery after the restart")
	}
	hook.mu.Lock()
	last, body := hook.got[len(hook.got)-1], hook.bodies[len(hook.bodies)-1]
	hook.mu.Unlock()
	if err := client.VerifyWebhook(agent.WebhookSecret, last, body, time.Minute); err != nil {
		t.Fatalf("the delivery after the restart does not verify: %v", err)
	}
	if last.Get("webhook-id") != failed.ID || !strings.Contains(string(body), `"pending_approval"`) {
		t.Fatalf("delivered %s %s", last.Get("webhook-id"), body)
	}
	// The secret is not in the database file in the clear.
	for _, f := range []string{"agentotp.db", "agentotp.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(data, f))
		if strings.Contains(string(b), strings.TrimPrefix(agent.WebhookSecret, "whsec_")) {
			t.Fatalf("the webhook secret is in %s in the clear", f)
		}
	}

	// Rotating the secret alone, from the CLI: the key keeps working.
	res := r2.owner(t, "webhooks", "rotate-secret", agent.Agent.ID, "--json")
	var rot struct {
		WebhookSecret string `json:"webhook_secret"`
	}
	mustJSON(t, res, &rot)
	if !strings.HasPrefix(rot.WebhookSecret, "whsec_") || rot.WebhookSecret == agent.WebhookSecret {
		t.Fatalf("rotate-secret: %+v", res)
	}
	otp2 := client.New(agent.APIKey, client.WithBaseURL(r2.url))
	if _, err := otp2.GetOTPStatus(context.Background(), req.ID); err != nil {
		t.Fatalf("the API key after a webhook secret rotation: %v", err)
	}
	if strings.Contains(r2.stderr.String(), rot.WebhookSecret) || strings.Contains(r.stderr.String(), agent.WebhookSecret) {
		t.Fatal("a webhook secret appears in the relay's log")
	}
}

// TestWebhookRefusedWithoutFlag: a relay started without
// --allow-private-webhooks refuses a loopback receiver; nothing reaches
// it, and the owner sees why. retry queues it again (and it is refused
// again).
func TestWebhookRefusedWithoutFlag(t *testing.T) {
	r := startRelay(t)
	var agent struct {
		APIKey string `json:"api_key"`
	}
	mustJSON(t, r.owner(t, "agents", "create", "--name", "a", "--json"), &agent)
	hook := newHookReceiver(t)
	hook.ok = true
	otp := client.New(agent.APIKey, client.WithBaseURL(r.url))
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	req, err := otp.RequestOTP(context.Background(), client.RequestOptions{Reason: "x", PublicKey: client.ExportPublicKey(pub), WebhookURL: hook.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	d := r.waitDelivery(t, req.ID, func(d deliveryRow) bool { return d.State == "failed" })
	if d.LastError == nil || !strings.Contains(*d.LastError, "loopback") || d.Attempts != 1 {
		t.Fatalf("refused delivery: %+v", d)
	}
	if res := r.owner(t, "webhooks", "retry", d.ID); res.code != 0 || !strings.Contains(res.stdout, "queued again") {
		t.Fatalf("retry: %+v", res)
	}
	r.waitDelivery(t, req.ID, func(d deliveryRow) bool { return d.State == "failed" && d.Attempts == 2 })
	if n := hook.count(); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
	list := r.owner(t, "webhooks", "list")
	if list.code != 0 || !strings.Contains(list.stdout, d.ID) || !strings.Contains(list.stdout, "failed") {
		t.Fatalf("webhooks list: %+v", list)
	}
	var w struct {
		URL *string `json:"url"`
	}
	var agents []struct {
		ID string `json:"id"`
	}
	mustJSON(t, r.owner(t, "agents", "list", "--json"), &agents)
	mustJSON(t, r.owner(t, "webhooks", "show", agents[0].ID, "--json"), &w)
	if w.URL != nil {
		t.Fatalf("show: %+v", w)
	}
}
