package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/internal/drain"
	"github.com/agentotp/agentotp/relay"
)

// brokenStore fails every request read once broken is set, as a store
// whose disk went away would.
type brokenStore struct {
	agentotp.Store
	broken atomic.Bool
}

func (s *brokenStore) GetRequest(ctx context.Context, id string) (*agentotp.Request, error) {
	if s.broken.Load() {
		return nil, errors.New("disk I/O error")
	}
	return s.Store.GetRequest(ctx, id)
}

// drainingServer serves h's API on its own loopback server, wired as serve
// wires it: the drain signal in every connection's base context, started
// by Shutdown.
func drainingServer(t *testing.T, h *harness) (*http.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sig := drain.New()
	srv := &http.Server{Handler: h.api.Handler(), BaseContext: func(net.Listener) context.Context { return drain.With(context.Background(), sig) }}
	srv.RegisterOnShutdown(sig.Start)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, "http://" + ln.Addr().String()
}

// TestShutdownUnreadableRequest: a long-poll open at shutdown whose
// request cannot be read any more is answered 503 problem+json with
// Retry-After, never an empty 200.
func TestShutdownUnreadableRequest(t *testing.T) {
	var bs *brokenStore
	h := newHarnessStore(t, func(s agentotp.Store) agentotp.Store { bs = &brokenStore{Store: s}; return bs })
	srv, url := drainingServer(t, h)
	_, na := h.agent("a", false)
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	// The request is made through another service on the same store (as
	// before a restart), so that this relay does not hold it in memory and
	// the long-poll's last read goes to the store.
	before := relay.New(bs, nil, relay.Config{})
	principal, err := before.Authenticate(ctxT(t), na.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	req, err := before.CreateRequest(ctxT(t), principal, relay.CreateRequestInput{Reason: "Sign in", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		resp *http.Response
		body []byte
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		r, _ := http.NewRequest(http.MethodGet, url+"/v1/otp/"+req.ID+"?wait=55", nil)
		r.Header.Set("Authorization", "Bearer "+na.APIKey)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- answer{resp, b, err}
	}()
	for deadline := time.Now().Add(20 * time.Second); h.svc.Waiters() != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the long-poll never started waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
	bs.broken.Store(true)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	a := <-got
	if a.err != nil {
		t.Fatal(a.err)
	}
	var p struct {
		Code       string `json:"code"`
		RetryAfter int    `json:"retry_after"`
	}
	if a.resp.StatusCode != http.StatusServiceUnavailable || a.resp.Header.Get("Content-Type") != "application/problem+json" ||
		a.resp.Header.Get("Retry-After") != "2" || json.Unmarshal(a.body, &p) != nil || p.Code != agentotp.EServiceUnavailable || p.RetryAfter != 2 {
		t.Fatalf("long-poll at shutdown with an unreadable store: %d %v %s", a.resp.StatusCode, a.resp.Header, a.body)
	}
	if strings.Contains(string(a.body), "disk") {
		t.Fatalf("the store's error leaked: %s", a.body)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

// TestWaitRefusalKeepsConnection: a long-poll that fails at once (an
// unknown request) with no shutdown under way is an ordinary 404 on a
// connection that stays open for the next call.
func TestWaitRefusalKeepsConnection(t *testing.T) {
	h := newHarness(t)
	_, url := drainingServer(t, h)
	_, na := h.agent("a", false)
	r, _ := http.NewRequest(http.MethodGet, url+"/v1/otp/otp_unknown?wait=5", nil)
	r.Header.Set("Authorization", "Bearer "+na.APIKey)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Close {
		t.Fatalf("long-poll on an unknown request: %d, close %v; want 404 on a kept connection", resp.StatusCode, resp.Close)
	}
}
