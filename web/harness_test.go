package web_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/ratelimit"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/sqlite"
	"github.com/agentotp/agentotp/web"
)

// testPassword is the owner's dashboard password in these tests.
const testPassword = "correct horse battery staple"

// harness is a real relay on loopback: a SQLite file in a temp dir, the
// service, and the API with the dashboard mounted on the same port, as
// `agentotp serve` wires them.
type harness struct {
	t          testing.TB
	store      *sqlite.DB
	dbPath     string
	svc        *relay.Service
	dash       *web.Server
	srv        *httptest.Server
	clock      *relaytest.Clock
	logs       *relaytest.Buffer
	ownerID    string
	ownerToken string
	owner      *client.OwnerClient
}

func newHarness(t testing.TB, opts ...func(*web.Config)) *harness {
	t.Helper()
	h := &harness{t: t}
	r := relaytest.New(t, relaytest.Options{
		SweepEvery: 200 * time.Millisecond,
		Handler: func(svc *relay.Service, log *slog.Logger, url string) (http.Handler, error) {
			wcfg := web.Config{PublicURL: url, Logger: log, Heartbeat: 200 * time.Millisecond, LoginAddressFailures: 100, LoginAccountFailures: 100}
			for _, o := range opts {
				o(&wcfg)
			}
			dash, err := web.New(svc, wcfg)
			if err != nil {
				return nil, err
			}
			h.dash = dash
			cfg := httpapi.DefaultConfig()
			cfg.SSEHeartbeat = 200 * time.Millisecond
			cfg.AgentRate, cfg.AgentBurst = 6000, 1000 // benchmarks make many requests
			cfg.Web = dash
			// Browsers of the tests name their address in X-Forwarded-For
			// (browser.addr), as if behind a proxy on loopback.
			if cfg.Proxies, err = ratelimit.ParseProxies([]string{"127.0.0.0/8", "::1"}, ""); err != nil {
				return nil, err
			}
			return httpapi.New(svc, log, cfg).Handler(), nil
		},
	})
	h.store, h.dbPath, h.svc, h.srv, h.clock, h.logs = r.Store, r.DBPath, r.Service, r.Server, r.Clock, r.Logs
	h.ownerID, h.ownerToken = r.Owner.ID, r.OwnerToken
	h.owner = client.NewOwnerClient(h.ownerToken, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	if err := h.owner.SetPassword(context.Background(), testPassword); err != nil {
		t.Fatal(err)
	}
	return h
}

// agent creates a live agent of the owner and returns its client and key.
func (h *harness) agent(name string) (*client.Client, string) {
	h.t.Helper()
	n, err := h.svc.CreateAgent(context.Background(), h.ownerID, name, false)
	if err != nil {
		h.t.Fatal(err)
	}
	return client.New(n.APIKey, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0)), n.APIKey
}

// request makes agent c ask for a code and returns the request.
func (h *harness) request(c *client.Client, reason string) *client.OTPRequest {
	h.t.Helper()
	req, _ := h.requestKey(c, reason)
	return req
}

// requestKey is request, also returning the agent's private key.
func (h *harness) requestKey(c *client.Client, reason string) (*client.OTPRequest, *client.PrivateKey) {
	h.t.Helper()
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		h.t.Fatal(err)
	}
	req, err := c.RequestOTP(ctxT(h.t), client.RequestOptions{
		Reason: reason, ExpectedSender: "Acme", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.example"},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return req, priv
}

// stored returns the stored request.
func (h *harness) stored(id string) *agentotp.Request {
	h.t.Helper()
	r, err := h.store.GetRequest(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// unchanged fails unless request id is still pending at version.
func (h *harness) unchanged(id string, version int64, what string) {
	h.t.Helper()
	r := h.stored(id)
	if r.Status != agentotp.StatusPending || r.Version != version || r.DecidedBy != "" {
		h.t.Errorf("%s: request is %s (version %d, decided by %q); want it pending and unchanged at version %d",
			what, r.Status, r.Version, r.DecidedBy, version)
	}
}

// browser is a cookie-keeping HTTP client that does not follow
// redirects, so that tests see each one.
type browser struct {
	h    *harness
	c    *http.Client
	jar  *cookiejar.Jar
	addr string // the client address a trusted proxy forwards, when set
}

func (h *harness) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{h: h, jar: jar, c: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is what a browser call returns.
type response struct {
	status int
	body   string
	header http.Header
}

func (r response) location() string { return r.header.Get("Location") }

func (b *browser) do(req *http.Request) response {
	b.h.t.Helper()
	if b.addr != "" {
		req.Header.Set("X-Forwarded-For", b.addr)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(body), resp.Header}
}

func (b *browser) get(path string) response {
	b.h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.h.srv.URL+path, nil)
	if err != nil {
		b.h.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) response {
	b.h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.h.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the forms of the page at path.
func (b *browser) csrf(path string) string {
	b.h.t.Helper()
	r := b.get(path)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.h.t.Fatalf("GET %s (%d): no CSRF token in the page", path, r.status)
	}
	return html.UnescapeString(m[1])
}

// login logs in with the password and returns the final response.
func (b *browser) login(password string, extra url.Values) response {
	b.h.t.Helper()
	form := url.Values{"csrf": {b.csrf("/login")}, "password": {password}}
	for k, v := range extra {
		form[k] = v
	}
	return b.post("/login", form)
}

// mustLogin logs in and fails the test if that does not work.
func (b *browser) mustLogin() {
	b.h.t.Helper()
	r := b.login(testPassword, nil)
	if r.status != http.StatusSeeOther || r.location() != "/" {
		b.h.t.Fatalf("log-in: %d to %q: %s", r.status, r.location(), r.body)
	}
}

// sessionCookie returns the browser's session cookie value.
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.h.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "agentotp_session" {
			return c.Value
		}
	}
	return ""
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
