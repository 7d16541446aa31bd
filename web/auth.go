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

// allowLogin applies the log-in rate limits: per client address, and
// across all addresses.
func (s *Server) allowLogin(w http.ResponseWriter, r *http.Request) bool {
	now := time.Now()
	ok, retry := s.ipRL.Allow(ratelimit.ClientIP(r), now)
	if ok {
		ok, retry = s.allRL.Allow("", now)
	}
	if ok {
		return true
	}
	s.log.WarnContext(r.Context(), "dashboard: log-in rate limited", "ip", ratelimit.ClientIP(r))
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	s.renderError(w, r, http.StatusTooManyRequests, "Too many attempts",
		"Too many log-in attempts. Wait "+strconv.Itoa(retry)+" seconds and try again.")
	return false
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
	if !s.allowLogin(w, r) {
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
	var ns *relay.NewSession
	err := s.withHashSlot(r.Context(), func() error {
		var err error
		ns, err = s.svc.LoginWithPassword(r.Context(), ownerID, r.PostFormValue("password"), s.cfg.SessionTTL)
		return err
	})
	if err != nil {
		if isAuthError(err) {
			s.log.WarnContext(r.Context(), "dashboard: failed log-in", "ip", ratelimit.ClientIP(r))
			s.renderLogin(w, r, http.StatusUnauthorized, loginView{Next: next, Error: "Wrong password."})
			return
		}
		s.serverError(w, r, err)
		return
	}
	s.startSession(w, r, ns.Token, next)
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

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, token, next string) {
	s.setSessionCookie(w, r, token)
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

// linkLogin uses a one-time log-in link.
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
	if !s.allowLogin(w, r) {
		return
	}
	ns, err := s.svc.LoginWithLink(r.Context(), r.PostFormValue("token"), s.cfg.SessionTTL)
	if err != nil {
		if isAuthError(err) {
			s.renderError(w, r, http.StatusNotFound, "Link not valid", "This log-in link is unknown, already used, or expired. Nothing changed.")
			return
		}
		s.serverError(w, r, err)
		return
	}
	s.startSession(w, r, ns.Token, "/")
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
