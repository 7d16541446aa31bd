package imap_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/imap"
	"github.com/agentotp/agentotp/imap/imaptest"
	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/sqlite"
)

// relayProc is one run of a real relay: the SQLite file in dir, the
// service with its IMAP manager, and the HTTP API on a fixed loopback
// address. Stop and start it again to restart the relay over the same
// data, as a new process would.
type relayProc struct {
	t      testing.TB
	dir    string
	key    []byte
	addr   string
	logs   *relaytest.Buffer
	imapCf imap.Config

	store *sqlite.DB
	svc   *relay.Service
	srv   *httptest.Server
	stop  func()

	ownerToken string
	owner      *client.OwnerClient
}

// testIMAPConfig keeps the test's waits short.
func testIMAPConfig() imap.Config {
	return imap.Config{
		Reconcile:      200 * time.Millisecond,
		MinBackoff:     100 * time.Millisecond,
		MaxBackoff:     500 * time.Millisecond,
		CommandTimeout: 10 * time.Second,
		DialTimeout:    5 * time.Second,
	}
}

func newRelay(t testing.TB, cfg imap.Config) *relayProc {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &relayProc{t: t, dir: t.TempDir(), key: key, addr: addr, logs: &relaytest.Buffer{}, imapCf: cfg}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// URL is the relay's base URL.
func (p *relayProc) URL() string { return "http://" + p.addr }

// Start opens the store and starts the service, the IMAP manager and the
// HTTP server.
func (p *relayProc) Start() {
	t := p.t
	t.Helper()
	log := slog.New(slog.NewJSONHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	store, err := sqlite.Open(ctx, filepath.Join(p.dir, "agentotp.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(p.key)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; ; i++ { // the port of the previous run may take a moment
		if ln, err = net.Listen("tcp", p.addr); err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	svc := relay.New(store, relay.NewBroker(), relay.Config{PublicURL: p.URL(), Logger: log, Secrets: box})
	cfg := p.imapCf
	cfg.Logger = log
	mgr := imap.New(svc, store, cfg)
	svc.AddNotifier(mgr)
	hcfg := httpapi.DefaultConfig()
	hcfg.OwnerRate, hcfg.OwnerBurst = 0, 0 // the tests poll the status
	hcfg.AgentRate, hcfg.AgentBurst = 0, 0 // and the benchmarks make many requests
	srv := httptest.NewUnstartedServer(httpapi.New(svc, log, hcfg).Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx, time.Second) })
	wg.Go(func() { mgr.Run(ctx) })
	if p.ownerToken == "" {
		_, tok, err := svc.EnsureOwner(ctx, "owner", false)
		if err != nil {
			t.Fatal(err)
		}
		p.ownerToken = tok
	}
	p.store, p.svc, p.srv = store, svc, srv
	p.owner = client.NewOwnerClient(p.ownerToken, client.WithBaseURL(p.URL()), client.WithMaxRetries(0))
	p.stop = func() {
		srv.Close()
		cancel()
		wg.Wait()
		store.Close()
	}
}

// Stop ends this run of the relay; the data stays.
func (p *relayProc) Stop() {
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
}

// Restart stops the relay and starts it again over the same data.
func (p *relayProc) Restart() {
	p.t.Helper()
	p.Stop()
	p.Start()
}

// agent creates an agent and returns a client with its key.
func (p *relayProc) agent(name string) *client.Client {
	p.t.Helper()
	n, err := p.owner.CreateAgent(context.Background(), name, false)
	if err != nil {
		p.t.Fatal(err)
	}
	return client.New(n.APIKey, client.WithBaseURL(p.URL()), client.WithMaxRetries(0))
}

// imapSource creates an email source that reads the Dovecot user's
// mailbox.
func (p *relayProc) imapSource(d *imaptest.Dovecot, settings client.IMAPSettings) *client.Source {
	p.t.Helper()
	ctx := context.Background()
	n, err := p.owner.CreateSource(ctx, "inbox", "email")
	if err != nil {
		p.t.Fatal(err)
	}
	if settings.Host == "" {
		settings.Host = "127.0.0.1"
	}
	if settings.Port == 0 {
		settings.Port = d.Port
	}
	if settings.TLSMode == "" {
		settings.TLSMode = "plain"
	}
	if settings.Username == "" {
		settings.Username = d.User
	}
	if settings.Password == "" {
		settings.Password = d.Password
	}
	src, err := p.owner.SetSourceIMAP(ctx, n.Source.ID, settings)
	if err != nil {
		p.t.Fatal(err)
	}
	return src
}

// waitIMAP polls the owner API until cond holds for the source's IMAP
// status, and returns the source.
func (p *relayProc) waitIMAP(sourceID, what string, cond func(st client.SourceIMAPStatus) bool) *client.Source {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last *client.Source
	for time.Now().Before(deadline) {
		src, err := p.owner.GetSource(context.Background(), sourceID)
		if err != nil {
			p.t.Fatal(err)
		}
		last = src
		if src.IMAP != nil && cond(src.IMAP.Status) {
			return src
		}
		time.Sleep(10 * time.Millisecond)
	}
	if last != nil && last.IMAP != nil {
		p.t.Fatalf("IMAP status never became %s; last: %+v", what, last.IMAP.Status)
	}
	p.t.Fatalf("IMAP status never became %s; source: %+v", what, last)
	return nil
}

func stateIs(states ...string) func(st client.SourceIMAPStatus) bool {
	return func(st client.SourceIMAPStatus) bool {
		for _, s := range states {
			if st.State == s {
				return true
			}
		}
		return false
	}
}

// waitingRequest makes the agent request a code from acme.test by email,
// and the owner approve it.
func waitingRequest(t testing.TB, p *relayProc, agent *client.Client) (*client.OTPRequest, *client.PrivateKey) {
	t.Helper()
	ctx := context.Background()
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	req, err := agent.RequestOTP(ctx, client.RequestOptions{
		Reason: "Sign up for Acme", ExpectedSender: "Acme", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.owner.Approve(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	return req, priv
}

// receive waits for the request's code, consumes it and decrypts it.
func receive(t testing.TB, agent *client.Client, req *client.OTPRequest, priv *client.PrivateKey) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := agent.WaitForOTP(ctx, req.ID, 30*time.Second)
	if err != nil {
		t.Fatalf("wait for %s: %v", req.ID, err)
	}
	if got.Status != client.StatusOTPReceived {
		t.Fatalf("request %s is %s; want otp_received", req.ID, got.Status)
	}
	res, err := agent.ConsumeOTP(ctx, req.ID, priv)
	if err != nil {
		t.Fatalf("consume %s: %v", req.ID, err)
	}
	return res.Code
}

// status returns the request's status now.
func status(t testing.TB, agent *client.Client, id string) client.Status {
	t.Helper()
	r, err := agent.GetOTPStatus(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Status
}

// rawCall makes an owner API call and returns status and body.
func (p *relayProc) rawCall(method, path, body string) (int, []byte) {
	p.t.Helper()
	return p.rawCallAs(p.ownerToken, method, path, body)
}

// rawCallAs makes an API call with token.
func (p *relayProc) rawCallAs(token, method, path, body string) (int, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.URL()+path, bytes.NewReader([]byte(body)))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// searchedAfter waits until the connector has searched the mailbox after
// req was made and waits in IDLE again: its status changed after that.
func searchedAfter(t testing.TB, p *relayProc, sourceID string, req *client.OTPRequest) {
	t.Helper()
	p.waitIMAP(sourceID, "idle after the request", func(st client.SourceIMAPStatus) bool {
		return st.State == "idle" && st.UpdatedAt != nil && st.UpdatedAt.After(req.CreatedAt)
	})
}
