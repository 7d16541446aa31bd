package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/sqlite"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// clock is a settable clock for expiry tests.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// harness is a real relay: a SQLite file in a temp dir, the service and
// the HTTP API on a loopback port.
type harness struct {
	t          testing.TB
	dir        string
	store      *sqlite.DB
	svc        *relay.Service
	api        *httpapi.Server
	srv        *httptest.Server
	clock      *clock
	logs       *syncBuffer
	ownerToken string
	owner      *client.OwnerClient
	keys       map[*client.Client]string // the API key behind each agent client
}

type harnessOption func(*httpapi.Config)

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	return newHarnessStore(t, nil, opts...)
}

// newHarnessStore is newHarness with the relay's store wrapped by wrap,
// when not nil.
func newHarnessStore(t testing.TB, wrap func(agentotp.Store) agentotp.Store, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: &clock{}, logs: &syncBuffer{}, keys: map[*client.Client]string{}}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(h.dir, "agentotp.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	h.store = store
	cfg := httpapi.DefaultConfig()
	cfg.SSEHeartbeat = 200 * time.Millisecond
	for _, o := range opts {
		o(&cfg)
	}
	h.srv = httptest.NewUnstartedServer(nil)
	h.srv.Start()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize)) // keeps SMS sources' tokens (smsgate_test.go)
	if err != nil {
		t.Fatal(err)
	}
	var relayStore agentotp.Store = store
	if wrap != nil {
		relayStore = wrap(store)
	}
	h.svc = relay.New(relayStore, relay.NewBroker(), relay.Config{PublicURL: h.srv.URL, Logger: log, Now: h.clock.Now, Secrets: box})
	h.api = httpapi.New(h.svc, log, cfg)
	h.srv.Config.Handler = h.api.Handler()
	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { h.svc.Run(runCtx, time.Hour); close(ran) }()
	_, tok, err := h.svc.EnsureOwner(ctx, "owner", false)
	if err != nil {
		t.Fatal(err)
	}
	h.ownerToken = tok
	h.owner = client.NewOwnerClient(tok, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	t.Cleanup(func() {
		stopRun()
		<-ran
		h.srv.Close()
		store.Close()
	})
	if n := liveSeed(t); n > 0 { // live10k_test.go
		o, _, _ := h.svc.EnsureOwner(ctx, "owner", false)
		h.seedLive(ctx, o.ID, n)
	}
	return h
}

// agent creates an agent and returns a client with its key.
func (h *harness) agent(name string, test bool) (*client.Client, *client.NewAgent) {
	h.t.Helper()
	n, err := h.owner.CreateAgent(context.Background(), name, test)
	if err != nil {
		h.t.Fatal(err)
	}
	c := client.New(n.APIKey, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	h.keys[c] = n.APIKey
	return c, n
}

// source creates a capture source and returns a client with its token.
func (h *harness) source(kind string) (*client.SourceClient, string) {
	h.t.Helper()
	n, err := h.owner.CreateSource(context.Background(), "src-"+kind, kind)
	if err != nil {
		h.t.Fatal(err)
	}
	return client.NewSourceClient(n.Token, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0)), n.Token
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
