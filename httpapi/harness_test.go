package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/sqlite"
)

// harness is a real relay: a SQLite file in a temp dir, the service and
// the HTTP API on a loopback port.
type harness struct {
	t          testing.TB
	dir        string
	store      *sqlite.DB
	svc        *relay.Service
	api        *httpapi.Server
	srv        *httptest.Server
	clock      *relaytest.Clock
	logs       *relaytest.Buffer
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
	h := &harness{t: t, keys: map[*client.Client]string{}}
	cfg := httpapi.DefaultConfig()
	cfg.SSEHeartbeat = 200 * time.Millisecond
	for _, o := range opts {
		o(&cfg)
	}
	r := relaytest.New(t, relaytest.Options{
		WrapStore: wrap,
		Handler: func(svc *relay.Service, log *slog.Logger, _ string) (http.Handler, error) {
			h.api = httpapi.New(svc, log, cfg)
			return h.api.Handler(), nil
		},
	})
	h.dir, h.store, h.svc, h.srv, h.clock, h.logs, h.ownerToken = r.Dir, r.Store, r.Service, r.Server, r.Clock, r.Logs, r.OwnerToken
	h.owner = client.NewOwnerClient(h.ownerToken, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	if n := liveSeed(t); n > 0 { // live10k_test.go
		h.seedLive(context.Background(), r.Owner.ID, n)
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
