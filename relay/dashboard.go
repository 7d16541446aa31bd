package relay

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
)

// Token prefixes of the dashboard's secrets. Neither is an API credential:
// Authenticate refuses both.
const (
	prefixSession   = "ds_"
	prefixLoginLink = "ll_"
)

// Lifetimes of the dashboard's secrets.
const (
	// DefaultSessionTTL is how long a dashboard session lasts.
	DefaultSessionTTL = 7 * 24 * time.Hour
	// LoginLinkTTL is how long a one-time log-in link can be used.
	LoginLinkTTL = 15 * time.Minute
)

// dummyPasswordHash is verified against when an owner has no password, so
// that a failed log-in takes the same time either way. Nobody knows its
// password.
const dummyPasswordHash = "$argon2id$v=19$m=65536,t=3,p=2$7aN6SQigHGV00zwdRKUeEQ$pX3s4g6JdWTM9oPKDYyZ86YrMM8uKs1pCGheHwREIb0"

var errLogin = agentotp.Errorf(agentotp.EAuthentication, "wrong password")

var errLoginLink = agentotp.Errorf(agentotp.EAuthentication, "this log-in link is unknown, used or expired")

// SetOwnerPassword sets the owner's dashboard password (argon2id) and ends
// every dashboard session of the owner.
func (s *Service) SetOwnerPassword(ctx context.Context, ownerID, password string) error {
	if err := agentotp.ValidatePassword(password); err != nil {
		return err
	}
	now := s.Now()
	pw := &agentotp.OwnerPassword{OwnerID: ownerID, Hash: agentotp.HashPassword(password, agentotp.DefaultPasswordParams), UpdatedAt: now}
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditOwnerPasswordSet, now)
	e.Details = map[string]string{"sessions_ended": "all"}
	if err := s.store.SetOwnerPassword(ctx, pw, e); err != nil {
		if errors.Is(err, agentotp.ErrNotFound) {
			return agentotp.Errorf(agentotp.ENotFound, "no such owner")
		}
		return fmt.Errorf("set owner password: %w", err)
	}
	s.log.InfoContext(ctx, "owner password set", "owner_id", ownerID)
	return nil
}

// LoginLink is a one-time log-in link, shown once.
type LoginLink struct {
	URL       string
	ExpiresAt time.Time
}

// CreateLoginLink makes a one-time log-in link for the owner, valid for
// LoginLinkTTL. The token sits in the query, which the relay never logs.
func (s *Service) CreateLoginLink(ctx context.Context, ownerID string) (*LoginLink, error) {
	now := s.Now()
	token := agentotp.NewToken(prefixLoginLink)
	l := &agentotp.LoginLinkToken{Hash: agentotp.HashToken(token), OwnerID: ownerID, CreatedAt: now, ExpiresAt: now.Add(LoginLinkTTL)}
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditLoginLinkCreated, now)
	e.Details = map[string]string{"expires_at": l.ExpiresAt.Format(time.RFC3339)}
	if err := s.store.CreateLoginLink(ctx, l, e); err != nil {
		return nil, fmt.Errorf("create login link: %w", err)
	}
	s.log.InfoContext(ctx, "login link created", "owner_id", ownerID)
	return &LoginLink{URL: s.publicURL + "/login/link?token=" + url.QueryEscape(token), ExpiresAt: l.ExpiresAt}, nil
}

// PasswordOwners returns the owners that have a dashboard password, oldest
// first: the accounts the log-in form can open.
func (s *Service) PasswordOwners(ctx context.Context) ([]*agentotp.Owner, error) {
	owners, err := s.store.ListOwners(ctx)
	if err != nil {
		return nil, fmt.Errorf("password owners: %w", err)
	}
	var out []*agentotp.Owner
	for _, o := range owners {
		_, err := s.store.GetOwnerPassword(ctx, o.ID)
		if errors.Is(err, agentotp.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("password owners: %w", err)
		}
		out = append(out, o)
	}
	return out, nil
}

// NewSession is a session just opened, with its token (for the cookie).
type NewSession struct {
	Session *agentotp.Session
	Token   string
}

func (s *Service) newSession(ownerID, method string, ttl time.Duration) (*NewSession, agentotp.AuditEntry) {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	now := s.Now()
	token := agentotp.NewToken(prefixSession)
	sess := &agentotp.Session{ID: agentotp.NewID("ses_"), Hash: agentotp.HashToken(token), OwnerID: ownerID, Method: method, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditOwnerLoggedIn, now)
	e.Details = map[string]string{"via": ViaDashboard, "method": method, "session": sess.ID}
	return &NewSession{Session: sess, Token: token}, e
}

// LoginWithPassword checks the owner's password and opens a session of
// ttl (0: DefaultSessionTTL). A wrong password, an unknown owner and an
// owner without a password are the same AUTHENTICATION_ERROR, and take
// the same time.
func (s *Service) LoginWithPassword(ctx context.Context, ownerID, password string, ttl time.Duration) (*NewSession, error) {
	hash := dummyPasswordHash
	known := false
	if utf8.ValidString(ownerID) && len(ownerID) <= 64 && ownerID != "" {
		pw, err := s.store.GetOwnerPassword(ctx, ownerID)
		switch {
		case err == nil:
			hash, known = pw.Hash, true
		case !errors.Is(err, agentotp.ErrNotFound):
			return nil, fmt.Errorf("login: %w", err)
		}
	}
	ok, err := agentotp.VerifyPassword(hash, password)
	if err != nil {
		return nil, fmt.Errorf("login: owner %s: stored password hash: %w", ownerID, err)
	}
	if !ok || !known {
		return nil, errLogin
	}
	ns, e := s.newSession(ownerID, agentotp.LoginPassword, ttl)
	if err := s.store.CreateSession(ctx, ns.Session, e); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	s.cleanExpired(ctx)
	s.log.InfoContext(ctx, "owner logged in", "owner_id", ownerID, "session", ns.Session.ID, "method", agentotp.LoginPassword)
	return ns, nil
}

// LoginLinkOwner returns the owner of a usable log-in link, without using
// it: the page that asks to confirm the log-in shows nothing else.
func (s *Service) LoginLinkOwner(ctx context.Context, token string) (string, error) {
	l, err := s.loginLink(ctx, token)
	if err != nil {
		return "", err
	}
	return l.OwnerID, nil
}

func (s *Service) loginLink(ctx context.Context, token string) (*agentotp.LoginLinkToken, error) {
	if len(token) > 200 || len(token) < len(prefixLoginLink)+20 || token[:len(prefixLoginLink)] != prefixLoginLink {
		return nil, errLoginLink
	}
	l, err := s.store.GetLoginLink(ctx, agentotp.HashToken(token))
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errLoginLink
	}
	if err != nil {
		return nil, fmt.Errorf("login link: %w", err)
	}
	if !l.Usable(s.Now()) {
		return nil, errLoginLink
	}
	return l, nil
}

// LoginWithLink uses a one-time log-in link and opens a session of ttl.
// A link works once; unknown, used and expired links are the same
// AUTHENTICATION_ERROR.
func (s *Service) LoginWithLink(ctx context.Context, token string, ttl time.Duration) (*NewSession, error) {
	l, err := s.loginLink(ctx, token)
	if err != nil {
		return nil, err
	}
	ns, e := s.newSession(l.OwnerID, agentotp.LoginLink, ttl)
	err = s.store.UseLoginLink(ctx, l.Hash, ns.Session, e)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errLoginLink // used by a concurrent call, or expired meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("login link: %w", err)
	}
	s.cleanExpired(ctx)
	s.log.InfoContext(ctx, "owner logged in", "owner_id", l.OwnerID, "session", ns.Session.ID, "method", agentotp.LoginLink)
	return ns, nil
}

// cleanExpired removes ended sessions and links; a failure is only logged.
func (s *Service) cleanExpired(ctx context.Context) {
	if _, err := s.store.DeleteExpired(ctx, s.Now()); err != nil {
		s.log.WarnContext(ctx, "deleting expired dashboard sessions", "err", err)
	}
}

var errSession = agentotp.Errorf(agentotp.EAuthentication, "not logged in, or the session ended")

// DashboardSession returns the live session of a cookie's token; unknown,
// malformed and expired tokens are AUTHENTICATION_ERROR.
func (s *Service) DashboardSession(ctx context.Context, token string) (*agentotp.Session, error) {
	if len(token) > 200 || len(token) < len(prefixSession)+20 || token[:len(prefixSession)] != prefixSession {
		return nil, errSession
	}
	sess, err := s.store.GetSession(ctx, agentotp.HashToken(token))
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errSession
	}
	if err != nil {
		return nil, fmt.Errorf("dashboard session: %w", err)
	}
	if !sess.ValidAt(s.Now()) {
		return nil, errSession
	}
	return sess, nil
}

// Logout ends the session.
func (s *Service) Logout(ctx context.Context, sess *agentotp.Session) error {
	now := s.Now()
	e := s.audit(sess.OwnerID, agentotp.ActorOwner, agentotp.AuditOwnerLoggedOut, now)
	e.Details = map[string]string{"via": ViaDashboard, "session": sess.ID}
	err := s.store.DeleteSession(ctx, sess.Hash, e)
	if err != nil && !errors.Is(err, agentotp.ErrNotFound) {
		return fmt.Errorf("logout: %w", err)
	}
	s.log.InfoContext(ctx, "owner logged out", "owner_id", sess.OwnerID, "session", sess.ID)
	return nil
}
