// Package httpapi serves the agentotp HTTP API v1 (agent, owner and
// ingestion endpoints) over the relay service, with problem+json errors,
// strict JSON decoding, body limits and per-credential rate limits.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/ratelimit"
	"github.com/agentotp/agentotp/relay"
)

// Config tunes the server.
type Config struct {
	// Per-credential request rates per minute, with bursts; 0 disables.
	AgentRate, AgentBurst   int
	OwnerRate, OwnerBurst   int
	SourceRate, SourceBurst int
	// SharedLimits, when set, counts the per-credential rates above for
	// the whole cluster of relays that share the store, instead of in
	// this process (limiter.go).
	SharedLimits SharedLimits
	// FailedAuthRate limits failed authentications per client address, a
	// minute: only failures are counted, and a valid credential is never
	// refused for them.
	FailedAuthRate int
	// Proxies are the reverse proxies whose forwarding header names the
	// client address of every per-address limit and of the access log;
	// nil trusts none (the peer is the client).
	Proxies *ratelimit.Proxies
	// EnrollRate and EnrollBurst limit POST /v1/agents/enroll per client
	// address (a minute); 0 disables (enroll.go).
	EnrollRate, EnrollBurst int
	// MaxWait bounds ?wait= on long-polls (API: 55 s).
	MaxWait time.Duration
	// MaxWaitsPerKey bounds the long-polls (?wait=) and event streams one
	// credential keeps open at once, and MaxWaits those of all
	// credentials; beyond either, a new one is refused with 429. 0 or less
	// means the default (2 × relay.MaxLiveRequestsPerAgent, and 10000).
	MaxWaitsPerKey, MaxWaits int
	// SSEHeartbeat is the interval of SSE comments that keep proxies open.
	SSEHeartbeat time.Duration
	// Web, when set, serves every path outside the API (/v1/…, /healthz,
	// /readyz, /metrics, /openapi.json): the web dashboard.
	Web http.Handler
	// Metrics collects the relay's Prometheus metrics; nil means a new
	// NewMetrics(svc). Give one to feed it from outside the HTTP server
	// (webhook worker, IMAP connectors, Telegram bot).
	Metrics *Metrics
	// TelegramKnown says the relay knows whether a Telegram bot runs: one
	// does exactly when Metrics watches its poller (WatchTelegram). A link
	// code is then refused (409) without a bot, since no one would read
	// the /link message.
	TelegramKnown bool
	// NoMetricsRoute leaves GET /metrics out of the API, for a relay that
	// serves Metrics.Handler on another address (serve --metrics-addr).
	NoMetricsRoute bool
	// CORSOrigins are the origins (ParseCORSOrigin) whose pages may call
	// the agent API from a browser; "*" allows any. Empty: no CORS.
	CORSOrigins []string
}

// DefaultConfig returns the production limits.
func DefaultConfig() Config {
	return Config{
		AgentRate: 120, AgentBurst: 60,
		OwnerRate: 600, OwnerBurst: 200,
		SourceRate: 600, SourceBurst: 200,
		FailedAuthRate: 30,
		EnrollRate:     enrollRate, EnrollBurst: enrollBurst,
		MaxWait:        55 * time.Second,
		MaxWaitsPerKey: defaultMaxWaitsPerKey,
		MaxWaits:       defaultMaxWaits,
		SSEHeartbeat:   15 * time.Second,
	}
}

// Default bounds on open long-polls and event streams: per credential,
// enough to follow each of an agent's live requests twice over.
const (
	defaultMaxWaitsPerKey = 2 * relay.MaxLiveRequestsPerAgent
	defaultMaxWaits       = 10000
)

// Server is the HTTP face of the relay.
type Server struct {
	svc      *relay.Service
	log      *slog.Logger
	cfg      Config
	mux      *http.ServeMux
	agentRL  limiter // limiter.go
	ownerRL  limiter
	sourceRL limiter
	failRL   *ratelimit.Limiter
	waits    *ratelimit.Slots // open long-polls and event streams
	metrics  *Metrics
}

// New returns a server for svc.
func New(svc *relay.Service, log *slog.Logger, cfg Config) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = slog.New(RequestIDHandler(log.Handler())) // requestid.go
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 55 * time.Second
	}
	if cfg.SSEHeartbeat <= 0 {
		cfg.SSEHeartbeat = 15 * time.Second
	}
	if cfg.MaxWaitsPerKey <= 0 {
		cfg.MaxWaitsPerKey = defaultMaxWaitsPerKey
	}
	if cfg.MaxWaits <= 0 {
		cfg.MaxWaits = defaultMaxWaits
	}
	s := &Server{
		svc: svc, log: log, cfg: cfg, mux: http.NewServeMux(),
		agentRL:  newLimiter(cfg.SharedLimits, "agent", cfg.AgentRate, cfg.AgentBurst),
		ownerRL:  newLimiter(cfg.SharedLimits, "owner", cfg.OwnerRate, cfg.OwnerBurst),
		sourceRL: newLimiter(cfg.SharedLimits, "source", cfg.SourceRate, cfg.SourceBurst),
		failRL:   ratelimit.New(cfg.FailedAuthRate, cfg.FailedAuthRate),
		waits:    ratelimit.NewSlots(cfg.MaxWaitsPerKey, cfg.MaxWaits),
		metrics:  cfg.Metrics,
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(svc)
	}
	s.routes()
	return s
}

// Handler returns the root handler with logging and panic recovery.
func (s *Server) Handler() http.Handler {
	return requestIDs(s.cfg.Proxies.Middleware(s.recoverer(s.logRequests(s.cors(s.mux)))))
}

func (s *Server) routes() {
	agent := func(h authedHandler) http.Handler { return s.auth(agentotp.CredentialAgent, s.agentRL, h) }
	owner := func(h authedHandler) http.Handler { return s.auth(agentotp.CredentialOwner, s.ownerRL, h) }
	source := func(h authedHandler) http.Handler { return s.auth(agentotp.CredentialSource, s.sourceRL, h) }

	s.mux.Handle("POST /v1/otp/request", agent(s.createRequest))
	s.mux.Handle("GET /v1/otp/{id}", agent(s.getRequest))
	s.mux.Handle("GET /v1/otp/{id}/events", agent(s.requestEvents))
	s.mux.Handle("POST /v1/otp/{id}/consume", agent(s.consume))
	s.mux.Handle("DELETE /v1/otp/{id}", agent(s.cancel))
	s.mux.Handle("POST /v1/test/messages", agent(s.ingestMessage))

	s.mux.Handle("GET /v1/owner/requests", owner(s.ownerListRequests))
	s.mux.Handle("GET /v1/owner/requests/{id}", owner(s.ownerGetRequest))
	s.mux.Handle("POST /v1/owner/requests/{id}/approve", owner(s.ownerApprove))
	s.mux.Handle("POST /v1/owner/requests/{id}/deny", owner(s.ownerDeny))
	s.mux.Handle("POST /v1/owner/agents", owner(s.ownerCreateAgent))
	s.mux.Handle("GET /v1/owner/agents", owner(s.ownerListAgents))
	s.mux.Handle("POST /v1/owner/agents/{id}/rotate", owner(s.ownerRotateAgent))
	s.mux.Handle("DELETE /v1/owner/agents/{id}", owner(s.ownerRevokeAgent))
	s.mux.Handle("POST /v1/owner/sources", owner(s.ownerCreateSource))
	s.mux.Handle("GET /v1/owner/sources", owner(s.ownerListSources))
	s.mux.Handle("DELETE /v1/owner/sources/{id}", owner(s.ownerRevokeSource))
	s.mux.Handle("POST /v1/owner/signing-keys", owner(s.ownerAddSigningKey))
	s.mux.Handle("GET /v1/owner/signing-keys", owner(s.ownerListSigningKeys))
	s.mux.Handle("DELETE /v1/owner/signing-keys/{id}", owner(s.ownerRevokeSigningKey))
	s.mux.Handle("GET /v1/owner/trust", owner(s.ownerTrust))
	s.imapRoutes(owner) // a source's IMAP mailbox (imap.go)
	// The owner token itself (ownertoken.go).
	s.mux.Handle("POST /v1/owner/token/rotate", owner(s.ownerRotateToken))
	s.mux.Handle("POST /v1/owner/token/revoke", owner(s.ownerRevokeTokens))
	s.mux.Handle("GET /v1/owner/audit", owner(s.ownerAudit))
	s.mux.Handle("GET /v1/owner/audit/export", owner(s.ownerAuditExport))
	s.mux.Handle("GET /v1/owner/audit/verify", owner(s.ownerAuditVerify))
	s.mux.Handle("GET /v1/owner/policies", owner(s.ownerListPolicies))
	s.mux.Handle("POST /v1/owner/policies", owner(s.ownerCreatePolicy))
	s.mux.Handle("GET /v1/owner/policies/{id}", owner(s.ownerGetPolicy))
	s.mux.Handle("PUT /v1/owner/policies/{id}", owner(s.ownerUpdatePolicy))
	s.mux.Handle("DELETE /v1/owner/policies/{id}", owner(s.ownerDeletePolicy))
	s.mux.Handle("GET /v1/owner/settings", owner(s.ownerGetSettings))
	s.mux.Handle("PUT /v1/owner/settings", owner(s.ownerPutSettings))
	s.mux.Handle("POST /v1/owner/telegram/link-code", owner(s.ownerTelegramLinkCode))
	s.mux.Handle("GET /v1/owner/telegram", owner(s.ownerGetTelegram))
	s.mux.Handle("DELETE /v1/owner/telegram", owner(s.ownerDeleteTelegram))

	s.mux.Handle("POST /v1/messages", source(s.ingestMessage))
	s.mux.HandleFunc("POST /v1/ingest/sms-gate", s.ingestSMSGate) // signed by a source token (smsgate.go)
	s.mux.Handle("GET /v1/capture/requests", source(s.captureRequests))
	s.mux.Handle("POST /v1/capture/deliveries", source(s.captureDeliver))

	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.log, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if !s.cfg.NoMetricsRoute {
		s.mux.Handle("GET /metrics", s.metrics.Handler())
	}
	s.mux.HandleFunc("GET /openapi.json", s.serveOpenAPI)
	s.dashboardRoutes(owner)
	s.webhookRoutes(owner) // webhooks.go
	s.enrollRoutes(owner)  // agents that enroll themselves (enroll.go)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Web != nil && !isAPIPath(r.URL.Path) {
			s.cfg.Web.ServeHTTP(w, r)
			return
		}
		if allow := s.allowedMethods(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, agentotp.Errorf(agentotp.EMethodNotAllowed, "%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", ")), 0)
			return
		}
		s.writeError(w, r, agentotp.Errorf(agentotp.ENotFound, "no such endpoint: %s %s", r.Method, r.URL.Path), 0)
	})
}

// allowedMethods returns the methods that have a route for r's path. The
// catch-all "/" takes every request the routes do not, so the mux itself
// never answers 405; this restores it. A method counts only when its
// route is one of the most specific that match: /v1/otp/request is POST's
// alone, although GET and DELETE /v1/otp/{id} would take the path too.
func (s *Server) allowedMethods(r *http.Request) []string {
	type match struct{ method, path string }
	var ms []match
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			_, path, _ := strings.Cut(pattern, " ")
			ms = append(ms, match{m, path})
		}
	}
	var allow []string
next:
	for _, a := range ms {
		for _, b := range ms {
			if moreSpecific(b.path, a.path) {
				continue next
			}
		}
		allow = append(allow, a.method)
	}
	return allow
}

// moreSpecific reports whether route path p, a literal where q has a
// wildcard, matches fewer paths than q; both match the same request.
func moreSpecific(p, q string) bool {
	ps, qs := strings.Split(p, "/"), strings.Split(q, "/")
	if len(ps) != len(qs) {
		return false
	}
	stricter := false
	for i := range ps {
		pw, qw := strings.HasPrefix(ps[i], "{"), strings.HasPrefix(qs[i], "{")
		switch {
		case !pw && qw:
			stricter = true
		case pw && !qw:
			return false
		}
	}
	return stricter
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.Ready(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "err", err)
		s.writeError(w, r, agentotp.Errorf(agentotp.EServiceUnavailable, "the store is not reachable"), 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, map[string]string{"status": "ready"})
}

// authedHandler is a handler that runs for an authenticated principal.
type authedHandler func(w http.ResponseWriter, r *http.Request, p *relay.Principal)

// bearer returns the credential of the request: Authorization: Bearer, or
// X-API-Key for agents.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// auth authenticates the caller as kind and applies its rate limit. The
// credential is checked first (looked up by its hash, so in time that
// does not depend on how much of it is right): a valid one is never
// refused for failures of other clients on its address. Only a failure
// is charged to the client's address, and one over its limit of failures
// is answered 429 instead of 401.
func (s *Server) auth(kind agentotp.CredentialKind, rl limiter, h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		token := bearer(r)
		p, err := s.svc.Authenticate(r.Context(), token)
		if err == nil && p.Kind != kind {
			err = agentotp.Errorf(agentotp.EAuthentication, "this credential cannot be used here")
		}
		if err != nil {
			s.authFailed(w, r, err)
			return
		}
		if !s.checkLimit(w, r, rl, p.KeyHash, now) {
			return
		}
		h(w, r, p)
	})
}

// authFailed answers a failed authentication: err, or 429 once the
// client's address is over its limit of failures. Errors that are not
// authentication failures (the store is down) are not charged.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, err error) {
	if agentotp.ErrorCode(err) == agentotp.EAuthentication {
		if ok, retry := s.failRL.Allow(ratelimit.ClientIP(r), time.Now()); !ok {
			s.writeError(w, r, tooManyFailures(retry), 0)
			return
		}
	}
	s.writeError(w, r, err, 0)
}

// tooManyFailures is the answer to a client over its limit of failed
// authentications.
func tooManyFailures(retry int) error {
	return &agentotp.Error{Code: agentotp.ERateLimit, Message: "too many failed authentications", RetryAfter: retry}
}

// waitRetryAfter is the Retry-After, in seconds, of a long-poll or event
// stream refused because too many are open.
const waitRetryAfter = 5

// holdWait takes one of the slots for open long-polls and event streams
// for p's credential. When none is free it answers 429 and returns false;
// otherwise the caller must call release when its wait or stream ends.
func (s *Server) holdWait(w http.ResponseWriter, r *http.Request, p *relay.Principal) (release func(), ok bool) {
	release, ok = s.waits.Acquire(p.KeyHash)
	if !ok {
		s.log.WarnContext(r.Context(), "too many open waits", "path", r.URL.Path)
		s.writeError(w, r, &agentotp.Error{Code: agentotp.ERateLimit, RetryAfter: waitRetryAfter,
			Message: "too many long-polls and event streams open; close one or retry later"}, 0)
	}
	return release, ok
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs method, path, route, status, size, duration, the
// client's address (after trusted proxies) and user agent (and, through the context, the request
// id); never other headers, query strings or bodies, which may hold
// credentials.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		s.metrics.observe(r, sw.status, time.Since(start))
		s.logRequest(r, sw, start) // waitlog.go
	})
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
				s.writeError(w, r, agentotp.Errorf(agentotp.EInternal, "internal error"), 0)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
