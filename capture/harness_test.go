package capture_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/relay"
)

// recordingListener is the test hook on the relay's network input: every
// byte any connection delivers to the relay is also written to the tape.
type recordingListener struct {
	net.Listener
	tape *relaytest.Buffer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, tape: l.tape}, nil
}

type recordingConn struct {
	net.Conn
	tape *relaytest.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.tape.Write(p[:n])
	return n, err
}

// relayEnv is a real relay (SQLite file, service, HTTP API on loopback)
// whose every received byte and log line is kept.
type relayEnv struct {
	t        testing.TB
	dir      string
	logs     *relaytest.Buffer
	received *relaytest.Buffer
	svc      *relay.Service
	url      string
	ownerID  string
}

func newRelay(t *testing.T) *relayEnv { return newRelayB(t) }

// newRelayB is newRelay for tests and benchmarks.
func newRelayB(t testing.TB) *relayEnv {
	t.Helper()
	received := &relaytest.Buffer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := relaytest.New(t, relaytest.Options{
		Listener: &recordingListener{Listener: ln, tape: received},
		Handler: func(svc *relay.Service, log *slog.Logger, _ string) (http.Handler, error) {
			cfg := httpapi.DefaultConfig()
			cfg.AgentRate, cfg.SourceRate, cfg.OwnerRate = 0, 0, 0 // benchmarks make many requests
			return httpapi.New(svc, log, cfg).Handler(), nil
		},
	})
	return &relayEnv{t: t, dir: r.Dir, logs: r.Logs, received: received, svc: r.Service, url: r.URL, ownerID: r.Owner.ID}
}

func (e *relayEnv) agent() *client.Client {
	e.t.Helper()
	n, err := e.svc.CreateAgent(context.Background(), e.ownerID, "bot", false)
	if err != nil {
		e.t.Fatal(err)
	}
	return client.New(n.APIKey, client.WithBaseURL(e.url), client.WithMaxRetries(0))
}

func (e *relayEnv) source(kind string) string {
	e.t.Helper()
	n, err := e.svc.CreateSource(context.Background(), e.ownerID, "edge-"+kind, kind)
	if err != nil {
		e.t.Fatal(err)
	}
	return n.Token
}

// request makes a request with a key of alg, approved unless pending.
func (e *relayEnv) request(ctx context.Context, agent *client.Client, alg client.Algorithm, opts client.RequestOptions, approve bool) (*client.OTPRequest, *client.PrivateKey) {
	e.t.Helper()
	pub, priv, err := client.GenerateKeyPair(alg)
	if err != nil {
		e.t.Fatal(err)
	}
	opts.PublicKey = client.ExportPublicKey(pub)
	if opts.Reason == "" {
		opts.Reason = "Sign up for Acme"
	}
	req, err := agent.RequestOTP(ctx, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if approve {
		if _, err := e.svc.Decide(ctx, e.ownerID, req.ID, relay.Decision{Approve: true}); err != nil {
			e.t.Fatal(err)
		}
	}
	return req, priv
}

// everything returns every byte the relay holds or held: its data
// directory, its log, and all it received on the network.
func (e *relayEnv) everything() map[string][]byte {
	var files []byte
	filepath.WalkDir(e.dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			files = append(files, b...)
		}
		return nil
	})
	return map[string][]byte{"data directory": files, "log": e.logs.Bytes(), "received bytes": e.received.Bytes()}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
