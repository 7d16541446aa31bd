package smtp_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/smtp"
	"github.com/agentotp/agentotp/sqlite"
)

// logBuf is a log sink safe for concurrent writes.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// relayEnv is a real relay: SQLite in a temp dir, the service, the HTTP
// API on a loopback port, and (once started) the SMTP receiver on another.
type relayEnv struct {
	t       testing.TB
	dir     string
	log     *slog.Logger
	logs    *logBuf
	svc     *relay.Service
	http    *httptest.Server
	ownerID string
	smtp    string // host:port of the SMTP receiver
}

func newRelay(t *testing.T) *relayEnv { return newRelayTB(t) }

// newRelayTB is newRelay for tests and benchmarks.
func newRelayTB(t testing.TB) *relayEnv {
	t.Helper()
	e := &relayEnv{t: t, dir: t.TempDir(), logs: &logBuf{}}
	e.log = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(e.dir, "agentotp.db"), e.log)
	if err != nil {
		t.Fatal(err)
	}
	key, err := secretbox.LoadKey(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewUnstartedServer(nil)
	e.http.Start()
	e.svc = relay.New(store, relay.NewBroker(), relay.Config{PublicURL: e.http.URL, Logger: e.log, Secrets: box})
	e.http.Config.Handler = httpapi.New(e.svc, e.log, httpapi.DefaultConfig()).Handler()
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.Run(runCtx, time.Hour); close(done) }()
	o, _, err := e.svc.EnsureOwner(ctx, "owner", false)
	if err != nil {
		t.Fatal(err)
	}
	e.ownerID = o.ID
	t.Cleanup(func() {
		stop()
		<-done
		e.http.Close()
		store.Close()
	})
	return e
}

// startSMTP runs an SMTP server with handler h on a loopback port.
func (e *relayEnv) startSMTP(cfg smtp.Config, h smtp.Handler) *smtp.Server {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.Logger = e.log
	srv := smtp.New(cfg, h)
	go srv.Serve(ln)
	e.t.Cleanup(func() { srv.Close() })
	e.smtp = ln.Addr().String()
	return srv
}

// agent creates an agent and returns its client.
func (e *relayEnv) agent() *client.Client {
	e.t.Helper()
	n, err := e.svc.CreateAgent(context.Background(), e.ownerID, "bot", false)
	if err != nil {
		e.t.Fatal(err)
	}
	return client.New(n.APIKey, client.WithBaseURL(e.http.URL), client.WithMaxRetries(0))
}

// source creates a capture source and returns its id and token.
func (e *relayEnv) source(kind string) (string, string) {
	e.t.Helper()
	n, err := e.svc.CreateSource(context.Background(), e.ownerID, "src-"+kind, kind)
	if err != nil {
		e.t.Fatal(err)
	}
	return n.Source.ID, n.Token
}

// request makes a request with an X25519 key and approves it.
func (e *relayEnv) request(ctx context.Context, agent *client.Client, f *client.Filter) (*client.OTPRequest, *client.PrivateKey) {
	e.t.Helper()
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "Sign up for Acme", PublicKey: client.ExportPublicKey(pub), Filter: f})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.Decide(ctx, e.ownerID, req.ID, relay.Decision{Approve: true}); err != nil {
		e.t.Fatal(err)
	}
	return req, priv
}

// status returns the request's current status as its agent sees it.
func status(t *testing.T, ctx context.Context, agent *client.Client, id string) client.Status {
	t.Helper()
	r, err := agent.GetOTPStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Status
}

// receive waits for the request's code and consumes it.
func receive(t *testing.T, ctx context.Context, agent *client.Client, id string, priv *client.PrivateKey) (*client.OTPRequest, string) {
	t.Helper()
	r, err := agent.WaitForOTP(ctx, id, 20*time.Second)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if r.Status != client.StatusOTPReceived {
		t.Fatalf("status %s; want otp_received", r.Status)
	}
	out, err := agent.ConsumeOTP(ctx, id, priv)
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	return r, out.Code
}

// dataFiles returns the bytes of every file in the relay's data directory.
func (e *relayEnv) dataFiles() []byte {
	e.t.Helper()
	var all []byte
	filepath.WalkDir(e.dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			all = append(all, b...)
		}
		return nil
	})
	return all
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
