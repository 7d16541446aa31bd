package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/secretbox"
)

// Config holds the service's settings.
type Config struct {
	// PublicURL is the relay's base URL, used in approval_url.
	PublicURL string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Secrets seals what the relay must read back (a source token that
	// keys a gateway's webhook signature); nil: nothing is kept, and
	// signed SMS-gateway webhooks cannot be verified.
	Secrets *secretbox.Box
}

// Service runs the relay's use cases.
type Service struct {
	store     agentotp.Store
	broker    *Broker
	log       *slog.Logger
	now       func() time.Time
	publicURL string
	hub       hub
	secrets   *secretbox.Box
	index     liveIndex
	passkeys  ceremonies  // begun passkey ceremonies (passkey.go)
	enroll    enrollState // agents' self-enrollment (enroll.go)
	// shared is set once RunCluster runs: the store is shared with other
	// relays, whose changes the index hears of a moment late.
	shared atomic.Bool
	waits  waitClock // deadlines of long-polls and event streams (waitclock.go)

	keys      keyCache      // parsed public keys (caches.go)
	creds     credCache     // credentials behind bearer tokens
	approvals approvalCache // decisions' signed statements
	requests  requestCache  // live and received requests as last committed
}

// New returns a service over store.
func New(store agentotp.Store, broker *Broker, cfg Config) *Service {
	s := &Service{store: store, broker: broker, log: cfg.Logger, now: cfg.Now, publicURL: strings.TrimRight(cfg.PublicURL, "/")}
	s.secrets = cfg.Secrets
	s.index.load = func(ctx context.Context, ownerID string) ([]*agentotp.Request, error) {
		return s.store.ListLiveRequests(ctx, ownerID)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.broker == nil {
		s.broker = NewBroker()
	}
	return s
}

// Now returns the service's clock reading, truncated to microseconds (the
// stores' resolution) and in UTC.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// ApprovalURL returns the owner's page for a request.
func (s *Service) ApprovalURL(id string) string { return s.publicURL + "/r/" + id }

// Principal is an authenticated caller.
type Principal struct {
	Kind     agentotp.CredentialKind
	OwnerID  string
	AgentID  string // agents
	SourceID string // sources
	// SourceKind is the source's kind, when Authenticate read it; ""
	// means Ingest reads it from the store.
	SourceKind agentotp.SourceKind
	Test       bool // an ak_test_ key
	// KeyHash identifies the credential (its hash) for rate limiting.
	KeyHash string
}

// IsAgent reports whether p is an agent.
func (p *Principal) IsAgent() bool { return p != nil && p.Kind == agentotp.CredentialAgent }

// IsOwner reports whether p is an owner.
func (p *Principal) IsOwner() bool { return p != nil && p.Kind == agentotp.CredentialOwner }

// IsSource reports whether p is a capture source.
func (p *Principal) IsSource() bool { return p != nil && p.Kind == agentotp.CredentialSource }

var errAuth = agentotp.Errorf(agentotp.EAuthentication, "invalid, revoked or missing credential")

// Authenticate resolves a bearer token into a principal. Unknown, revoked,
// expired or malformed tokens are AUTHENTICATION_ERROR; the error never
// repeats the token.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	kind := agentotp.KindOfToken(token)
	if kind == "" || len(token) > 200 {
		return nil, errAuth
	}
	hash := agentotp.HashToken(token)
	now := s.Now()
	cached := !s.shared.Load() // another relay may revoke what a shared store holds
	if cached {
		if cred, p, ok := s.creds.get(hash, now); ok {
			if cred.Kind != kind || !cred.Verify(token, now) {
				return nil, errAuth
			}
			return &p, nil
		}
	}
	gen := s.creds.generation()
	cred, err := s.store.FindCredential(ctx, hash)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errAuth
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if cred.Kind != kind || !cred.Verify(token, now) {
		return nil, errAuth
	}
	p := &Principal{Kind: cred.Kind, OwnerID: cred.OwnerID, AgentID: cred.AgentID, SourceID: cred.SourceID, KeyHash: fmt.Sprintf("%x", hash[:12])}
	switch cred.Kind {
	case agentotp.CredentialAgent:
		a, err := s.store.GetAgent(ctx, cred.OwnerID, cred.AgentID)
		if errors.Is(err, agentotp.ErrNotFound) {
			return nil, errAuth
		}
		if err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		if !a.Active() {
			return nil, errAuth
		}
		p.Test = a.Test
	case agentotp.CredentialSource:
		src, err := s.store.GetSource(ctx, cred.OwnerID, cred.SourceID)
		if errors.Is(err, agentotp.ErrNotFound) {
			return nil, errAuth
		}
		if err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		if !src.Active() {
			return nil, errAuth
		}
		p.SourceKind = src.Kind // a source's kind never changes
	}
	if cached {
		s.creds.put(gen, hash, cred, *p, now)
	}
	return p, nil
}

// audit builds an audit entry stamped now.
func (s *Service) audit(ownerID, actor, action string, at time.Time) agentotp.AuditEntry {
	return agentotp.AuditEntry{ID: agentotp.NewID("evt_"), OwnerID: ownerID, At: at, Actor: actor, Action: action}
}

func (s *Service) requestAudit(r *agentotp.Request, actor, action string, at time.Time, details map[string]string) agentotp.AuditEntry {
	e := s.audit(r.OwnerID, actor, action, at)
	e.RequestID, e.AgentID = r.ID, r.AgentID
	if details == nil {
		details = map[string]string{}
	}
	details["status"] = string(r.Status)
	switch action {
	case agentotp.AuditRequestApproved, agentotp.AuditRequestDenied:
		if details[detailStatement] == "" { // Decide puts an owner-signed one there
			decision := approval.Approve
			if action == agentotp.AuditRequestDenied {
				decision = approval.Deny
			}
			statementDetails(details, r, decision, at, nil)
		}
	}
	e.Details = details
	return e
}

// EnsureOwner returns the relay's owner, creating it on first start. It
// returns a fresh owner token when it created the owner or when
// mintToken is set (serve mints one when the token file is missing).
func (s *Service) EnsureOwner(ctx context.Context, name string, mintToken bool) (*agentotp.Owner, string, error) {
	owners, err := s.store.ListOwners(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("ensure owner: %w", err)
	}
	now := s.Now()
	if len(owners) > 0 {
		o := owners[0]
		if !mintToken {
			return o, "", nil
		}
		token, cred := newCredential(agentotp.PrefixOwnerToken, agentotp.CredentialOwner, o.ID, now)
		if err := s.store.CreateCredential(ctx, cred); err != nil {
			return nil, "", fmt.Errorf("ensure owner: %w", err)
		}
		return o, token, nil
	}
	o := &agentotp.Owner{ID: agentotp.NewID("own_"), Name: name, CreatedAt: now}
	token, cred := newCredential(agentotp.PrefixOwnerToken, agentotp.CredentialOwner, o.ID, now)
	if err := s.store.CreateOwner(ctx, o, cred, s.audit(o.ID, agentotp.ActorSystem, agentotp.AuditOwnerCreated, now)); err != nil {
		return nil, "", fmt.Errorf("ensure owner: %w", err)
	}
	return o, token, nil
}

func newCredential(prefix string, kind agentotp.CredentialKind, ownerID string, now time.Time) (string, *agentotp.Credential) {
	token := agentotp.NewToken(prefix)
	return token, &agentotp.Credential{
		Hash: agentotp.HashToken(token), Kind: kind, OwnerID: ownerID,
		Prefix: agentotp.TokenPrefix(token), CreatedAt: now,
	}
}
