// Package web is the owner's dashboard: server-rendered html/template
// pages with embedded assets, served by `agentotp serve` on the API's
// port. It works without JavaScript; a small script (static/app.js) adds
// live updates over Server-Sent Events and countdowns.
//
// Log-in is by password (argon2id, set with `agentotp owner passwd`) or by
// a one-time link (`agentotp owner login-link`). A session is a random
// token in an HttpOnly, SameSite=Lax cookie (Secure when the relay is
// served over https), of which the store keeps only a hash. Every form
// carries a CSRF token derived from the session's token, and cross-origin
// posts are refused besides. Every change goes through *relay.Service,
// which writes the audit log.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/ratelimit"
	"github.com/agentotp/agentotp/relay"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// SourceStatusFunc reports the state of a source's connector (an IMAP
// connection, say) for the sources page; ok is false when the source has
// no connector.
type SourceStatusFunc func(ctx context.Context, src *agentotp.Source) (status string, ok bool)

// Config tunes the dashboard.
type Config struct {
	// PublicURL is the relay's base URL. When it is https, cookies are
	// Secure and carry the __Host- prefix; over plain http (a relay on
	// loopback) they cannot be Secure, or the browser would drop them.
	PublicURL string
	// SessionTTL is how long a log-in lasts; 0 means relay.DefaultSessionTTL.
	SessionTTL time.Duration
	// Log-in limits (auth.go). Wrong passwords are counted per client
	// address and per account: past LoginAddressFailures from one address
	// (default 5), or LoginAccountFailures on one account from anywhere
	// (default 20), each further one locks that address or account out of
	// password log-in for LoginLockout (default 1 min), doubling with each
	// failure up to LoginMaxLockout (default 1 h). A one-time log-in link
	// is never refused for them; wrong links are limited to
	// LoginLinkFailures a minute per address (default 10).
	LoginAddressFailures, LoginAccountFailures, LoginLinkFailures int
	LoginLockout, LoginMaxLockout                                 time.Duration
	// Heartbeat is the interval of SSE comments; 0 means 15 s.
	Heartbeat time.Duration
	// MaxStreamsPerSession bounds the live feeds (GET /events) one log-in
	// session keeps open at once, and MaxStreams those of all sessions;
	// beyond either, a new one is refused with 429. 0 or less means the
	// defaults (8 and 1000).
	MaxStreamsPerSession, MaxStreams int
	// SourceStatus, when set, adds a connector column to the sources page.
	SourceStatus SourceStatusFunc
	// Logger receives the dashboard's logs; nil discards them.
	Logger *slog.Logger
}

// Server is the dashboard's HTTP handler.
type Server struct {
	svc     *relay.Service
	cfg     Config
	log     *slog.Logger
	secure  bool // PublicURL is https
	pages   map[string]*template.Template
	handler http.Handler
	assets  map[string]string // asset name -> version (hash) for cache busting
	limits  *loginLimits
	hashSem chan struct{}    // bounds concurrent argon2id verifications (64 MiB each)
	streams *ratelimit.Slots // open live feeds, per session and in all
}

// New returns the dashboard for svc.
func New(svc *relay.Service, cfg Config) (*Server, error) {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = relay.DefaultSessionTTL
	}
	cfg.setLoginDefaults() // auth.go
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.MaxStreamsPerSession <= 0 {
		cfg.MaxStreamsPerSession = 8
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		svc: svc, cfg: cfg, log: cfg.Logger,
		secure:  strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://"),
		limits:  newLoginLimits(cfg),
		hashSem: make(chan struct{}, 2),
		streams: ratelimit.NewSlots(cfg.MaxStreamsPerSession, cfg.MaxStreams),
	}
	if err := s.loadAssets(); err != nil {
		return nil, err
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	s.routes(mux)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusForbidden, "Cross-site request refused", "This form was sent from another site, so it was ignored. Nothing changed.")
	}))
	s.handler = s.headers(cop.Handler(mux))
	return s, nil
}

// ServeHTTP serves the dashboard.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /login/link", s.linkPage)
	mux.HandleFunc("POST /login/link", s.linkLogin)
	mux.Handle("POST /logout", s.authed(s.logout))

	mux.Handle("GET /{$}", s.authed(s.pendingPage))
	mux.Handle("GET /r/{id}", s.authed(s.requestPage))
	mux.Handle("POST /r/{id}/approve", s.authed(s.approve))
	mux.Handle("POST /r/{id}/deny", s.authed(s.deny))
	mux.Handle("GET /history", s.authed(s.historyPage))
	mux.Handle("GET /agents", s.authed(s.agentsPage))
	mux.Handle("POST /agents", s.authed(s.createAgent))
	mux.Handle("POST /agents/{id}/rotate", s.authed(s.rotateAgent))
	mux.Handle("POST /agents/{id}/revoke", s.authed(s.revokeAgent))
	mux.Handle("GET /sources", s.authed(s.sourcesPage))
	mux.Handle("POST /sources", s.authed(s.createSource))
	mux.Handle("POST /sources/{id}/revoke", s.authed(s.revokeSource))
	mux.Handle("GET /audit", s.authed(s.auditPage))
	mux.Handle("GET /audit/export", s.authed(s.auditExport))
	s.policyRoutes(mux)
	mux.Handle("GET /passkeys", s.authed(s.passkeysPage))
	mux.Handle("POST /passkeys/begin", s.authed(s.passkeyRegisterBegin))
	mux.Handle("POST /passkeys/finish", s.authed(s.passkeyRegisterFinish))
	mux.Handle("POST /passkeys/{id}/remove", s.authed(s.passkeyRemove))
	mux.HandleFunc("POST /login/passkey/begin", s.passkeyLoginBegin)
	mux.HandleFunc("POST /login/passkey/finish", s.passkeyLoginFinish)
	mux.Handle("POST /r/{id}/passkey/begin", s.authed(s.passkeyDecideBegin))
	mux.Handle("POST /r/{id}/passkey/finish", s.authed(s.passkeyDecideFinish))
	s.enrollRoutes(mux) // enroll.go
	mux.Handle("GET /events", s.authed(s.events))
	mux.HandleFunc("GET /static/{name}", s.static)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusNotFound, "Not found", "There is no page at this address.")
	})
}

// headers sets the security headers of every dashboard response.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// No Referer: a log-in link's token is in its query.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// loadAssets versions the embedded static files by their content hash.
func (s *Server) loadAssets() error {
	s.assets = map[string]string{}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return fmt.Errorf("web: static assets: %w", err)
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return fmt.Errorf("web: static asset %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		s.assets[e.Name()] = hex.EncodeToString(sum[:6])
	}
	return nil
}

// static serves an embedded asset; a versioned URL is cached for a year.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v, ok := s.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, _ := staticFS.ReadFile("static/" + name)
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	if r.URL.Query().Get("v") == v {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", `"`+v+`"`)
	if r.Header.Get("If-None-Match") == `"`+v+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(b)
}

// asset returns the versioned URL of a static file.
func (s *Server) asset(name string) string { return "/static/" + name + "?v=" + s.assets[name] }

// isAuthError reports an AUTHENTICATION_ERROR of the service.
func isAuthError(err error) bool { return agentotp.ErrorCode(err) == agentotp.EAuthentication }

// userMessage returns the message of a domain error that is safe and
// useful to show, or a generic one.
func userMessage(err error) string {
	var e *agentotp.Error
	if errors.As(err, &e) && e.Code != agentotp.EInternal {
		return e.Error()
	}
	return "Something went wrong on the relay; the error was logged."
}
