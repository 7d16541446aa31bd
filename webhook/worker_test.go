package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/seal"
	"github.com/agentotp/agentotp/sqlite"
	"github.com/agentotp/agentotp/webhook"
)

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a real HTTP server on loopback that records what it gets
// and answers with what respond says for the n-th request (from 0).
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(n int, w http.ResponseWriter)
	arrived chan struct{}
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter)) *receiver {
	rc := &receiver{respond: respond, arrived: make(chan struct{}, 1000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body, at: time.Now()})
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(n, w)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
		rc.arrived <- struct{}{}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// wait waits until the receiver has got n requests.
func (rc *receiver) wait(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for len(rc.all()) < n {
		select {
		case <-rc.arrived:
		case <-deadline:
			t.Fatalf("receiver got %d requests; want %d", len(rc.all()), n)
		}
	}
	return rc.all()
}

// env is a real relay service over a SQLite file, with a running worker.
type env struct {
	t      *testing.T
	store  *sqlite.DB
	svc    *relay.Service
	worker *webhook.Worker
	owner  string
}

func newEnv(t *testing.T, cfg webhook.Config) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "agentotp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := relay.New(store, relay.NewBroker(), relay.Config{PublicURL: "http://relay.test"})
	if cfg.RetryBase == 0 {
		cfg.RetryBase = 50 * time.Millisecond
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	w := webhook.New(store, cfg)
	svc.AddNotifier(relay.WakeOnChange(w.Wake))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx, time.Hour) })
	wg.Go(func() { w.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		store.Close()
	})
	o, _, err := svc.EnsureOwner(t.Context(), "owner", false)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: store, svc: svc, worker: w, owner: o.ID}
}

// agent creates an agent and returns its principal and webhook secret.
func (e *env) agent(test bool) (*relay.Principal, string) {
	e.t.Helper()
	n, err := e.svc.CreateAgent(e.t.Context(), e.owner, "agent", test)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.svc.Authenticate(e.t.Context(), n.APIKey)
	if err != nil {
		e.t.Fatal(err)
	}
	return p, n.WebhookSecret
}

// request creates a request of p with webhook url; it returns the request
// and the key that opens its code.
func (e *env) request(p *relay.Principal, url string) (*agentotp.Request, *seal.PrivateKey) {
	e.t.Helper()
	priv, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := e.svc.CreateRequest(e.t.Context(), p, relay.CreateRequestInput{Reason: "sign up", PublicKey: priv.Public().String(), WebhookURL: url})
	if err != nil {
		e.t.Fatal(err)
	}
	return r, priv
}

// delivery waits until the request's deliveries satisfy ok.
func (e *env) deliveries(requestID string, ok func([]*agentotp.WebhookDelivery) bool) []*agentotp.WebhookDelivery {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ds, err := e.store.ListWebhooks(e.t.Context(), agentotp.WebhookQuery{OwnerID: e.owner, RequestID: requestID})
		if err != nil {
			e.t.Fatal(err)
		}
		if ok(ds) {
			return ds
		}
		if time.Now().After(deadline) {
			for _, d := range ds {
				e.t.Logf("delivery %s %s: %s attempts %d last %d %q", d.ID, d.Status, d.State, d.Attempts, d.LastStatusCode, d.LastError)
			}
			e.t.Fatal("deliveries did not reach the wanted state")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allIn(state agentotp.DeliveryState) func([]*agentotp.WebhookDelivery) bool {
	return func(ds []*agentotp.WebhookDelivery) bool {
		for _, d := range ds {
			if d.State != state {
				return false
			}
		}
		return len(ds) > 0
	}
}

// checkBody asserts that a delivered body is exactly API.md's four members
// and holds no code.
func checkBody(t *testing.T, body []byte, requestID string, codes ...string) client.WebhookEvent {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not JSON: %q", body)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(keys, []string{"occurred_at", "request_id", "status", "type"}) || m["type"] != "otp.status" || m["request_id"] != requestID {
		t.Fatalf("body %s; want exactly type, request_id, status, occurred_at", body)
	}
	for _, c := range codes {
		if c != "" && strings.Contains(string(body), c) {
			t.Fatalf("body %s holds the code %s", body, c)
		}
	}
	var ev client.WebhookEvent
	_ = json.Unmarshal(body, &ev)
	return ev
}

func TestDeliverSignedInOrder(t *testing.T) {
	e := newEnv(t, webhook.Config{AllowPrivate: true})
	rc := newReceiver(t, nil)
	p, secret := e.agent(true)
	r, priv := e.request(p, rc.srv.URL+"/hooks/otp?token=abc")
	// A test key's request passes pending, approved and otp_received at once.
	rc.wait(t, 3)
	c, err := e.svc.Consume(t.Context(), p, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, err := priv.Open(r.ID, c.Payload)
	if err != nil {
		t.Fatal(err)
	}
	got := rc.wait(t, 4)
	var statuses []client.Status
	ids := map[string]bool{}
	for _, g := range got {
		if err := client.VerifyWebhook(secret, g.header, g.body, time.Minute); err != nil {
			t.Errorf("VerifyWebhook: %v", err)
		}
		if g.header.Get("webhook-signature") != g.header.Get("X-OTP-Signature") || g.header.Get("Content-Type") != "application/json" {
			t.Errorf("headers: %v", g.header)
		}
		ids[g.header.Get("webhook-id")] = true
		ev := checkBody(t, g.body, r.ID, string(code))
		statuses = append(statuses, ev.Status)
	}
	want := []client.Status{client.StatusPendingApproval, client.StatusApproved, client.StatusOTPReceived, client.StatusConsumed}
	if !slices.Equal(statuses, want) || len(ids) != 4 {
		t.Fatalf("statuses %v (%d ids); want %v", statuses, len(ids), want)
	}
	ds := e.deliveries(r.ID, allIn(agentotp.DeliveryDelivered))
	for _, d := range ds {
		if d.Attempts != 1 || d.LastStatusCode != http.StatusNoContent || d.DeliveredAt.IsZero() {
			t.Errorf("delivery: %+v", d)
		}
	}
	// A wrong secret does not verify.
	_, other := e.agent(false)
	if err := client.VerifyWebhook(other, got[0].header, got[0].body, time.Minute); !errors.Is(err, client.ErrWebhookVerification) {
		t.Errorf("VerifyWebhook with another agent's secret: %v", err)
	}
}

func TestRetryKeepsOrderAndID(t *testing.T) {
	e := newEnv(t, webhook.Config{AllowPrivate: true})
	rc := newReceiver(t, func(n int, w http.ResponseWriter) {
		switch n {
		case 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	p, secret := e.agent(true)
	r, _ := e.request(p, rc.srv.URL)
	got := rc.wait(t, 5)
	// The first event is tried three times before the others go out.
	if id := got[0].header.Get("webhook-id"); got[1].header.Get("webhook-id") != id || got[2].header.Get("webhook-id") != id {
		t.Fatalf("retries changed the webhook-id")
	}
	var statuses []client.Status
	for _, g := range got[2:] {
		if err := client.VerifyWebhook(secret, g.header, g.body, time.Minute); err != nil {
			t.Errorf("VerifyWebhook: %v", err)
		}
		statuses = append(statuses, checkBody(t, g.body, r.ID).Status)
	}
	if want := []client.Status{client.StatusPendingApproval, client.StatusApproved, client.StatusOTPReceived}; !slices.Equal(statuses, want) {
		t.Fatalf("delivered in order %v; want %v", statuses, want)
	}
	// Retry-After: 1 was honoured.
	if gap := got[2].at.Sub(got[1].at); gap < time.Second {
		t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
	}
	ds := e.deliveries(r.ID, allIn(agentotp.DeliveryDelivered))
	if ds[len(ds)-1].Attempts != 3 {
		t.Errorf("first delivery took %d attempts; want 3", ds[len(ds)-1].Attempts)
	}
}

func TestPermanentFailures(t *testing.T) {
	target := newReceiver(t, nil)
	tests := []struct {
		name    string
		respond func(n int, w http.ResponseWriter)
		want    string
		calls   int // requests the receiver gets
	}{
		{"410 stops the URL", func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) }, "410", 1},
		{"4xx is not retried", func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) }, "HTTP 400", 3},
		{"redirects are not followed", func(n int, w http.ResponseWriter) {
			w.Header().Set("Location", target.srv.URL)
			w.WriteHeader(http.StatusTemporaryRedirect)
		}, "redirects are not followed", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, webhook.Config{AllowPrivate: true})
			rc := newReceiver(t, tt.respond)
			p, _ := e.agent(true)
			r, _ := e.request(p, rc.srv.URL)
			ds := e.deliveries(r.ID, func(ds []*agentotp.WebhookDelivery) bool { return len(ds) == 3 && allIn(agentotp.DeliveryFailed)(ds) })
			for _, d := range ds {
				if !strings.Contains(d.LastError, tt.want) || d.Attempts > 1 {
					t.Errorf("delivery %s: %d attempts, error %q; want one attempt and %q", d.Status, d.Attempts, d.LastError, tt.want)
				}
			}
			time.Sleep(200 * time.Millisecond) // room for a wrong retry
			if n := len(rc.all()); n != tt.calls {
				t.Errorf("receiver got %d requests; want %d", n, tt.calls)
			}
		})
	}
	if n := len(target.all()); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}

func TestRefusesLoopbackWithoutAllow(t *testing.T) {
	e := newEnv(t, webhook.Config{AllowPrivate: false})
	rc := newReceiver(t, nil)
	p, _ := e.agent(false)
	r, _ := e.request(p, rc.srv.URL)
	ds := e.deliveries(r.ID, allIn(agentotp.DeliveryFailed))
	if d := ds[0]; !strings.Contains(d.LastError, "loopback") || !strings.Contains(d.LastError, "--allow-private-webhooks") ||
		d.LastStatusCode != 0 || strings.Contains(d.LastError, rc.srv.URL) {
		t.Errorf("refused delivery: %+v", d)
	}
	// By name too: localhost resolves to loopback, checked after DNS.
	r2, _ := e.request(p, strings.Replace(rc.srv.URL, "127.0.0.1", "localhost", 1))
	e.deliveries(r2.ID, allIn(agentotp.DeliveryFailed))
	if n := len(rc.all()); n != 0 {
		t.Fatalf("the receiver got %d requests; the guard let them through", n)
	}
}

func TestGivesUpAfterMaxAge(t *testing.T) {
	e := newEnv(t, webhook.Config{AllowPrivate: true, MaxAge: 300 * time.Millisecond})
	rc := newReceiver(t, func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
	p, _ := e.agent(false)
	r, _ := e.request(p, rc.srv.URL)
	ds := e.deliveries(r.ID, allIn(agentotp.DeliveryFailed))
	if d := ds[0]; !strings.Contains(d.LastError, "gave up") || d.Attempts < 2 || d.LastStatusCode != http.StatusBadGateway {
		t.Errorf("delivery: %+v", d)
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	e := newEnv(t, webhook.Config{AllowPrivate: true, Timeout: 200 * time.Millisecond})
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			<-release // hang past the timeout
		}
	})
	defer close(release)
	p, _ := e.agent(false)
	r, _ := e.request(p, rc.srv.URL)
	ds := e.deliveries(r.ID, allIn(agentotp.DeliveryDelivered))
	if ds[0].Attempts != 2 {
		t.Errorf("delivered after %d attempts; want 2 (a timeout, then success)", ds[0].Attempts)
	}
}

func TestRevokedAgentStops(t *testing.T) {
	e := newEnv(t, webhook.Config{AllowPrivate: true})
	rc := newReceiver(t, func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	p, _ := e.agent(false)
	r, _ := e.request(p, rc.srv.URL)
	rc.wait(t, 1)
	if _, err := e.svc.RevokeAgent(t.Context(), e.owner, p.AgentID); err != nil {
		t.Fatal(err)
	}
	ds := e.deliveries(r.ID, allIn(agentotp.DeliveryFailed))
	if !strings.Contains(ds[0].LastError, "revoked") {
		t.Errorf("delivery: %+v", ds[0])
	}
}
