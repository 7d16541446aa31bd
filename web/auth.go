package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/ratelimit"
	"github.com/agentotp/agentotp/relay"
)

// Cookie names. Over https the __Host- prefix makes the browser insist on
// Secure, Path=/ and no Domain.
const (
	sessionCookie       = "agentotp_session"
	loginCookie         = "agentotp_login"
	deviceCookie        = "agentotp_device"
	securePrefix        = "__Host-"
	maxFormBytes        = 64 << 10
	loginCookieLifetime = time.Hour
)

// csrfLabel separates the CSRF token from every other use of a secret.
const csrfLabel = "agentotp/dashboard/csrf/v1"

// csrfFor derives the CSRF token of a secret (a session token, or the
// log-in form's cookie). It is bound to that secret: a token from another
// or an ended session does not match.
func csrfFor(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(csrfLabel))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF compares the form's token with the expected one in constant
// time.
func checkCSRF(r *http.Request, secret string) bool {
	got := r.PostFormValue("csrf")
	return secret != "" && got != "" && hmac.Equal([]byte(got), []byte(csrfFor(secret)))
}

// secureFor reports whether cookies of this request are Secure: the
// public URL is https, or the request came over TLS.
func (s *Server) secureFor(r *http.Request) bool { return s.secure || r.TLS != nil }

func (s *Server) cookieName(r *http.Request, base string) string {
	if s.secureFor(r) {
		return securePrefix + base
	}
	return base
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, base, value string, maxAge time.Duration, sameSite http.SameSite) {
	c := &http.Cookie{
		Name: s.cookieName(r, base), Value: value, Path: "/",
		HttpOnly: true, Secure: s.secureFor(r), SameSite: sameSite,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}

func (s *Server) cookie(r *http.Request, base string) string {
	c, err := r.Cookie(s.cookieName(r, base))
	if err != nil {
		return ""
	}
	return c.Value
}

// setSessionCookie stores the session token. SameSite=Lax, not Strict, so
// that an approval_url opened from a chat or a mail (a top-level
// navigation from another site) finds the owner logged in; every state
// change is a POST, which Lax does not carry across sites, and carries a
// CSRF token besides.
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	s.setCookie(w, r, sessionCookie, token, s.cfg.SessionTTL, http.SameSiteLaxMode)
}

// loginSecret returns the log-in form's cookie, setting a new one when
// missing: the log-in form's CSRF token is derived from it.
func (s *Server) loginSecret(w http.ResponseWriter, r *http.Request) string {
	if v := s.cookie(r, loginCookie); len(v) >= 32 && len(v) <= 64 {
		return v
	}
	v := rand.Text() + rand.Text()
	s.setCookie(w, r, loginCookie, v, loginCookieLifetime, http.SameSiteStrictMode)
	return v
}

// session is the logged-in owner of a request, and the CSRF token of its
// forms.
type session struct {
	*agentotp.Session
	csrf string
}

// authedHandler is a handler for a logged-in owner.
type authedHandler func(w http.ResponseWriter, r *http.Request, sess *session)

// authed admits requests of a live session only. Without one, it sends
// the browser to the log-in page, which later sends it back; nothing else
// happens. A POST must also carry the session's CSRF token, or it is
// refused with nothing changed.
func (s *Server) authed(h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := s.cookie(r, sessionCookie)
		sess, err := s.svc.DashboardSession(r.Context(), token)
		if err != nil {
			if !isAuthError(err) {
				s.serverError(w, r, err)
				return
			}
			if token != "" {
				s.setCookie(w, r, sessionCookie, "", -1, http.SameSiteLaxMode)
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(returnPath(r)), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.renderError(w, r, http.StatusBadRequest, "Form not readable", "The form could not be read (too large or malformed). Nothing changed.")
				return
			}
			if !checkCSRF(r, token) {
				s.log.WarnContext(r.Context(), "dashboard: CSRF token missing or stale", "path", r.URL.Path, "session", sess.ID)
				s.renderError(w, r, http.StatusForbidden, "Form expired",
					"This form's security token is missing or belongs to an older session, so it was refused and nothing changed. Reload the page and try again.")
				return
			}
		}
		h(w, r, &session{Session: sess, csrf: csrfFor(token)})
	})
}

// returnPath is where the log-in page sends the browser back to: the page
// asked for, or for a form, the page the form was on. A form is never
// re-sent after log-in.
func returnPath(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if r.URL.Path == "/events" {
			return "/"
		}
		return safeNext(r.URL.RequestURI())
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/r/"); ok {
		id, _, _ := strings.Cut(rest, "/")
		return safeNext("/r/" + id)
	}
	seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return safeNext("/" + seg)
}

// safeNext returns next if it is a path of this site (not another host,
// not the log-in pages), and "/" otherwise.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	for _, p := range []string{"/login", "/logout", "/events", "/static/"} {
		if strings.HasPrefix(u.Path, p) {
			return "/"
		}
	}
	return next
}

// Default log-in limits (Config).
const (
	defaultLoginAddressFailures = 5
	defaultLoginAccountFailures = 20
	defaultLoginLinkFailures    = 10
	defaultLoginLockout         = time.Minute
	defaultLoginMaxLockout      = time.Hour
	deviceCookieLifetime        = 365 * 24 * time.Hour
)

// setLoginDefaults fills in the log-in limits left at 0.
func (c *Config) setLoginDefaults() {
	for _, f := range []struct {
		v   *int
		def int
	}{{&c.LoginAddressFailures, defaultLoginAddressFailures}, {&c.LoginAccountFailures, defaultLoginAccountFailures}, {&c.LoginLinkFailures, defaultLoginLinkFailures}} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	if c.LoginLockout <= 0 {
		c.LoginLockout = defaultLoginLockout
	}
	if c.LoginMaxLockout <= 0 {
		c.LoginMaxLockout = defaultLoginMaxLockout
	}
}

// loginLimits are the dashboard's log-in limits (Config).
type loginLimits struct {
	addrLock    *ratelimit.Lockout // wrong passwords per client address
	accountLock *ratelimit.Lockout // wrong passwords per owner
	linkFailRL  *ratelimit.Limiter // wrong log-in links per client address
	deviceKey   []byte             // keys the known-browser cookie; made at start, never stored
}

func newLoginLimits(cfg Config) *loginLimits {
	return &loginLimits{
		addrLock:    ratelimit.NewLockout(cfg.LoginAddressFailures, cfg.LoginLockout, cfg.LoginMaxLockout),
		accountLock: ratelimit.NewLockout(cfg.LoginAccountFailures, cfg.LoginLockout, cfg.LoginMaxLockout),
		linkFailRL:  ratelimit.New(cfg.LoginLinkFailures, cfg.LoginLinkFailures),
		deviceKey:   newDeviceKey(),
	}
}

// deviceLabel separates the known-browser mark from every other use of
// the dashboard's key.
const deviceLabel = "agentotp/dashboard/device/v1\x00"

// deviceMark is the value of the known-browser cookie of an owner: proof
// that this browser logged in as the owner since the relay started (the
// key is made at start and never stored).
func (s *Server) deviceMark(ownerID string) string {
	m := hmac.New(sha256.New, s.limits.deviceKey)
	m.Write([]byte(deviceLabel + ownerID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// knownDevice reports whether the browser has logged in as ownerID
// before (since the relay started): its wrong passwords are then its
// address's alone, and a lockout of the account does not stop it.
func (s *Server) knownDevice(r *http.Request, ownerID string) bool {
	got := s.cookie(r, deviceCookie)
	return ownerID != "" && got != "" && hmac.Equal([]byte(got), []byte(s.deviceMark(ownerID)))
}

// loginLocked answers 429 when the password log-in of ownerID from this
// client is locked out: its address has too many wrong passwords, or the
// account has (unless the browser is one the owner logged in with).
func (s *Server) loginLocked(w http.ResponseWriter, r *http.Request, ownerID string) bool {
	now := time.Now()
	ip := ratelimit.ClientIP(r)
	locked, retry := s.limits.addrLock.Locked(ip, now)
	what := "from your address"
	if !locked && ownerID != "" && !s.knownDevice(r, ownerID) {
		locked, retry = s.limits.accountLock.Locked(ownerID, now)
		what = "for this account"
	}
	if !locked {
		return false
	}
	s.log.WarnContext(r.Context(), "dashboard: password log-in locked out", "ip", ip, "why", what)
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	s.renderError(w, r, http.StatusTooManyRequests, "Too many wrong passwords",
		"There were too many wrong passwords "+what+", so password log-in is paused for "+strconv.Itoa(retry)+
			" seconds (longer after each further one). A one-time log-in link still works: run `agentotp owner login-link`.")
	return true
}

// loginFailed records a wrong password: against the client's address,
// and against the account unless the browser is one the owner logged in
// with.
func (s *Server) loginFailed(r *http.Request, ownerID string) {
	now := time.Now()
	ip := ratelimit.ClientIP(r)
	d := s.limits.addrLock.Fail(ip, now)
	if ownerID != "" && !s.knownDevice(r, ownerID) {
		d = max(d, s.limits.accountLock.Fail(ownerID, now))
	}
	s.log.WarnContext(r.Context(), "dashboard: failed log-in", "ip", ip, "locked_seconds", int(d.Seconds()))
}

type loginView struct {
	Next      string
	Owners    []*agentotp.Owner // several owners with a password: pick one
	NoOwner   bool              // nobody has a password yet
	Error     string
	LoggedOut bool
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	// Already logged in: go on.
	if _, err := s.svc.DashboardSession(r.Context(), s.cookie(r, sessionCookie)); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, loginView{Next: safeNext(r.URL.Query().Get("next")), LoggedOut: r.URL.Query().Has("out")})
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	owners, err := s.svc.PasswordOwners(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v.NoOwner = len(owners) == 0
	if len(owners) > 1 {
		v.Owners = owners
	}
	csrf := csrfFor(s.loginSecret(w, r))
	s.render(w, r, status, "login", &page{Title: "Log in", CSRF: csrf, Bare: true, Data: v})
}

// login checks the password and opens a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "Form not readable", "The form could not be read.")
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if !checkCSRF(r, s.cookie(r, loginCookie)) {
		s.renderLogin(w, r, http.StatusForbidden, loginView{Next: next, Error: "The form expired. Please try again."})
		return
	}
	ownerID := r.PostFormValue("owner")
	if ownerID == "" {
		owners, err := s.svc.PasswordOwners(r.Context())
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if len(owners) == 1 {
			ownerID = owners[0].ID
		}
	}
	if len(ownerID) > 64 {
		ownerID = ownerID[:64] // no such owner; keeps the lockout's keys short
	}
	if s.loginLocked(w, r, ownerID) {
		return
	}
	var ns *relay.NewSession
	err := s.withHashSlot(r.Context(), func() error {
		var err error
		ns, err = s.svc.LoginWithPassword(r.Context(), ownerID, r.PostFormValue("password"), s.cfg.SessionTTL)
		return err
	})
	if err != nil {
		if isAuthError(err) {
			s.loginFailed(r, ownerID)
			s.renderLogin(w, r, http.StatusUnauthorized, loginView{Next: next, Error: "Wrong password."})
			return
		}
		s.serverError(w, r, err)
		return
	}
	s.limits.addrLock.Reset(ratelimit.ClientIP(r))
	s.startSession(w, r, ns, next)
}

// withHashSlot runs fn while holding one of the few slots for argon2id
// work, so that a burst of log-ins cannot take all the memory.
func (s *Server) withHashSlot(ctx context.Context, fn func() error) error {
	select {
	case s.hashSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashSem }()
	return fn()
}

// startSession sets the session cookie, and marks the browser as one the
// owner logged in with (knownDevice).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, ns *relay.NewSession, next string) {
	s.setSessionCookie(w, r, ns.Token)
	s.setCookie(w, r, deviceCookie, s.deviceMark(ns.Session.OwnerID), deviceCookieLifetime, http.SameSiteStrictMode)
	s.setCookie(w, r, loginCookie, "", -1, http.SameSiteStrictMode)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

type linkView struct {
	Token string
	Valid bool
	Error string
}

// linkPage asks to confirm a one-time log-in link. Opening the link does
// not use it, so that a chat app's link preview cannot spend it.
func (s *Server) linkPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	v := linkView{Token: token}
	status := http.StatusOK
	if _, err := s.svc.LoginLinkOwner(r.Context(), token); err != nil {
		if !isAuthError(err) {
			s.serverError(w, r, err)
			return
		}
		v.Token, v.Error, status = "", "This log-in link is unknown, already used, or expired. Run `agentotp owner login-link` for a new one.", http.StatusNotFound
	} else {
		v.Valid = true
	}
	csrf := csrfFor(s.loginSecret(w, r))
	s.render(w, r, status, "link", &page{Title: "Log in with a link", CSRF: csrf, Bare: true, Data: v})
}

// linkLogin uses a one-time log-in link. A valid link is never refused
// for wrong passwords or wrong links before it: only a wrong link counts,
// against its client's address, and past LoginLinkFailures a minute is
// answered 429.
func (s *Server) linkLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "Form not readable", "The form could not be read.")
		return
	}
	if !checkCSRF(r, s.cookie(r, loginCookie)) {
		s.renderError(w, r, http.StatusForbidden, "Form expired", "The form expired. Open the link again.")
		return
	}
	ns, err := s.svc.LoginWithLink(r.Context(), r.PostFormValue("token"), s.cfg.SessionTTL)
	if err != nil {
		if isAuthError(err) {
			if ok, retry := s.limits.linkFailRL.Allow(ratelimit.ClientIP(r), time.Now()); !ok {
				s.log.WarnContext(r.Context(), "dashboard: too many wrong log-in links", "ip", ratelimit.ClientIP(r))
				w.Header().Set("Retry-After", strconv.Itoa(retry))
				s.renderError(w, r, http.StatusTooManyRequests, "Too many attempts",
					"Too many unknown log-in links from your address. Wait "+strconv.Itoa(retry)+" seconds and try again.")
				return
			}
			s.renderError(w, r, http.StatusNotFound, "Link not valid", "This log-in link is unknown, already used, or expired. Nothing changed.")
			return
		}
		s.serverError(w, r, err)
		return
	}
	s.startSession(w, r, ns, "/")
}

// logout ends the session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	if err := s.svc.Logout(r.Context(), sess.Session); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.setCookie(w, r, sessionCookie, "", -1, http.SameSiteLaxMode)
	http.Redirect(w, r, "/login?out=1", http.StatusSeeOther)
}

// newDeviceKey is a fresh key for the known-browser cookie.
func newDeviceKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // never fails (crypto/rand)
	return k
}
