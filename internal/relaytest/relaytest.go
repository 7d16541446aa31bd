// Package relaytest builds real relays for tests: a SQLite file in a
// temporary directory, the service with its background loop running, and
// an HTTP server on loopback whose handler the test chooses. It also holds
// the small helpers many packages' tests need: a buffer safe for
// concurrent writes (for logs) and a clock a test can move.
//
// It is for tests only; nothing in the relay imports it.
package relaytest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/sqlite"
)

// Buffer is a bytes.Buffer safe for concurrent use, for a logger that
// goroutines of the relay write to while the test reads.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of what was written so far.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Clock is a clock a test moves. Its zero value follows the wall clock;
// Advance moves it ahead of the wall clock, and Set stops it at a given
// time (from which Advance then moves it).
type Clock struct {
	mu     sync.Mutex
	fixed  time.Time
	offset time.Duration
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fixed.IsZero() {
		return c.fixed.Add(c.offset)
	}
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Set stops the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fixed, c.offset = t, 0
}

// Options tunes New. The zero value gives a relay with a JSON debug log,
// a sweeper every hour and a handler that answers 404.
type Options struct {
	// Handler builds the HTTP handler once the service exists; publicURL
	// is the loopback server's URL.
	Handler func(svc *relay.Service, log *slog.Logger, publicURL string) (http.Handler, error)
	// WrapStore, when set, wraps the store the service is given (to
	// inject faults or count calls).
	WrapStore func(agentotp.Store) agentotp.Store
	// Listener, when set, is the listener the server accepts on.
	Listener net.Listener
	// SweepEvery is how often the service's background loop runs
	// (default one hour: tests that need expiry move the Clock and sweep).
	SweepEvery time.Duration
	// RelayConfig, when set, edits the service's configuration before
	// the service is made.
	RelayConfig func(*relay.Config)
}

// Relay is a running relay built by New; the test's cleanup stops it.
type Relay struct {
	Dir        string // the data directory
	DBPath     string // the SQLite file in Dir
	Store      *sqlite.DB
	Service    *relay.Service
	Server     *httptest.Server
	URL        string // Server.URL
	Log        *slog.Logger
	Logs       *Buffer // everything Log wrote
	Clock      *Clock  // the service's clock
	Owner      *agentotp.Owner
	OwnerToken string
}

// New starts a relay for t and stops it when t ends: connections are
// closed, the service's loop stops and is waited for, then the server
// and the store close.
func New(t testing.TB, o Options) *Relay {
	t.Helper()
	r := &Relay{Dir: t.TempDir(), Logs: &Buffer{}, Clock: &Clock{}}
	r.DBPath = filepath.Join(r.Dir, "agentotp.db")
	r.Log = slog.New(slog.NewJSONHandler(r.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	store, err := sqlite.Open(ctx, r.DBPath, r.Log)
	if err != nil {
		t.Fatalf("relaytest: open the store: %v", err)
	}
	r.Store = store
	key, err := secretbox.LoadKey(r.Dir)
	if err != nil {
		t.Fatalf("relaytest: secret key: %v", err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatalf("relaytest: secret box: %v", err)
	}
	r.Server = httptest.NewUnstartedServer(http.NotFoundHandler())
	if o.Listener != nil {
		r.Server.Listener.Close()
		r.Server.Listener = o.Listener
	}
	r.Server.Start()
	r.URL = r.Server.URL
	var s agentotp.Store = store
	if o.WrapStore != nil {
		s = o.WrapStore(store)
	}
	cfg := relay.Config{PublicURL: r.URL, Logger: r.Log, Now: r.Clock.Now, Secrets: box}
	if o.RelayConfig != nil {
		o.RelayConfig(&cfg)
	}
	r.Service = relay.New(s, relay.NewBroker(), cfg)
	if o.Handler != nil {
		h, err := o.Handler(r.Service, r.Log, r.URL)
		if err != nil {
			t.Fatalf("relaytest: handler: %v", err)
		}
		r.Server.Config.Handler = h
	}
	every := o.SweepEvery
	if every <= 0 {
		every = time.Hour
	}
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { r.Service.Run(runCtx, every); close(ran) }()
	t.Cleanup(func() {
		r.Server.CloseClientConnections()
		stop()
		<-ran
		r.Server.Close()
		store.Close()
	})
	owner, tok, err := r.Service.EnsureOwner(ctx, "owner", false)
	if err != nil {
		t.Fatalf("relaytest: owner: %v", err)
	}
	r.Owner, r.OwnerToken = owner, tok
	return r
}
