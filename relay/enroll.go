package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
)

// EnrollConfig tunes agents' self-enrollment.
type EnrollConfig struct {
	// TTL is how long an enrollment waits for the owner and then for the
	// agent to collect its key; 0 means agentotp.DefaultEnrollmentTTL.
	TTL time.Duration
	// Interval is the least time between the starts of two polls of one
	// device code; 0 means agentotp.DefaultEnrollmentInterval.
	Interval time.Duration
	// MaxLive bounds an owner's enrollments waiting at once (pending or
	// approved); 0 means MaxLiveEnrollments.
	MaxLive int
}

// MaxLiveEnrollments is the default bound on an owner's enrollments that
// wait at once; beyond it a new one is RATE_LIMIT_ERROR.
const MaxLiveEnrollments = 20

// EnrollmentNotifier is told of enrollment changes (the Telegram bot).
// Like Notifier, it runs on its own goroutine, and events it cannot keep
// up with are dropped for it alone.
type EnrollmentNotifier interface {
	NotifyEnrollment(ctx context.Context, ev agentotp.EnrollmentChange)
}

// enrollState is the service's in-memory part of enrollments: the user
// codes of live enrollments (never stored: the store keeps their hashes),
// the polling gates of device codes, and the notifiers.
type enrollState struct {
	mu        sync.Mutex
	cfg       EnrollConfig
	codes     map[string]string    // enrollment id -> user code, while live
	polls     map[string]*pollGate // enrollment id -> its device code's gate
	notifiers []chan agentotp.EnrollmentChange
}

// pollGate spaces the polls of one device code.
type pollGate struct {
	last     time.Time
	interval time.Duration
}

// ConfigureEnrollment sets the enrollment settings; call it before serving.
func (s *Service) ConfigureEnrollment(cfg EnrollConfig) {
	s.enroll.mu.Lock()
	defer s.enroll.mu.Unlock()
	s.enroll.cfg = cfg
}

func (s *Service) enrollConfig() EnrollConfig {
	s.enroll.mu.Lock()
	cfg := s.enroll.cfg
	s.enroll.mu.Unlock()
	if cfg.TTL <= 0 {
		cfg.TTL = agentotp.DefaultEnrollmentTTL
	}
	if cfg.Interval <= 0 {
		cfg.Interval = agentotp.DefaultEnrollmentInterval
	}
	if cfg.MaxLive <= 0 {
		cfg.MaxLive = MaxLiveEnrollments
	}
	return cfg
}

// EnrollInput is what an agent sends to enroll, and where it came from.
type EnrollInput struct {
	Name        string
	Description string
	Test        bool
	ClientAddr  string
	UserAgent   string
}

// NewEnrollment is a started enrollment with its codes, shown once to the
// agent (RFC 8628 §3.2).
type NewEnrollment struct {
	Enrollment              *agentotp.Enrollment
	UserCode                string
	DeviceCode              string
	VerificationURI         string
	VerificationURIComplete string
	ExpiresIn               time.Duration
	Interval                time.Duration
}

// VerificationURI is the owner's page for enrollments.
func (s *Service) VerificationURI() string { return s.publicURL + "/enroll" }

var errEnrollmentNotFound = agentotp.Errorf(agentotp.ENotFound, "no such enrollment")

// StartEnrollment records an agent's wish to be given a key. It belongs to
// the relay's first owner (the one serve created). Only the hashes of the
// codes are stored; the user code is also kept in memory while the
// enrollment is live, so that the owner's pages can show it.
func (s *Service) StartEnrollment(ctx context.Context, in EnrollInput) (*NewEnrollment, error) {
	var v agentotp.ValidationErrors
	if err := validateName(in.Name); err != nil {
		v = append(v, fieldsOf(err)...)
	}
	switch n := utf8.RuneCountInString(in.Description); {
	case !utf8.ValidString(in.Description) || hasControl(in.Description):
		v.Add("description", "must be UTF-8 without control characters")
	case n > agentotp.MaxDescriptionLen:
		v.Add("description", "is %d characters; at most %d allowed", n, agentotp.MaxDescriptionLen)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	owners, err := s.store.ListOwners(ctx)
	if err != nil {
		return nil, fmt.Errorf("start enrollment: %w", err)
	}
	if len(owners) == 0 {
		return nil, agentotp.Errorf(agentotp.EServiceUnavailable, "the relay has no owner yet")
	}
	owner := owners[0]
	cfg := s.enrollConfig()
	live := 0
	for _, st := range []agentotp.EnrollmentStatus{agentotp.EnrollmentPending, agentotp.EnrollmentApproved} {
		es, err := s.store.ListEnrollments(ctx, agentotp.EnrollmentQuery{OwnerID: owner.ID, Status: st, Limit: 100})
		if err != nil {
			return nil, fmt.Errorf("start enrollment: %w", err)
		}
		for _, e := range es {
			if !e.ExpiredAt(s.Now()) {
				live++
			}
		}
	}
	if live >= cfg.MaxLive {
		return nil, &agentotp.Error{Code: agentotp.ERateLimit, RetryAfter: 60,
			Message: fmt.Sprintf("%d enrollments already wait for the owner; retry later", live)}
	}
	now := s.Now()
	for attempt := 0; ; attempt++ {
		user, device := agentotp.NewUserCode(), agentotp.NewDeviceCode()
		e := &agentotp.Enrollment{
			ID: agentotp.NewID("enr_"), OwnerID: owner.ID, Name: in.Name, Description: in.Description, Test: in.Test,
			UserCodeHash: agentotp.HashUserCode(user), DeviceCodeHash: agentotp.HashToken(device),
			ClientAddr: clipHeader(in.ClientAddr, 64), UserAgent: clipHeader(in.UserAgent, agentotp.MaxUserAgentLen),
			Status: agentotp.EnrollmentPending, CreatedAt: now, ExpiresAt: now.Add(cfg.TTL),
		}
		ae := s.enrollmentAudit(e, agentotp.ActorSystem, agentotp.AuditEnrollmentCreated, now, map[string]string{
			"name": e.Name, "test": fmt.Sprint(e.Test), "client_address": e.ClientAddr, "user_agent": e.UserAgent,
		})
		err := s.store.CreateEnrollment(ctx, e, ae)
		if errors.Is(err, agentotp.ErrConflict) && attempt < 3 {
			continue // a user code in use: draw again
		}
		if err != nil {
			return nil, fmt.Errorf("start enrollment: %w", err)
		}
		s.enroll.mu.Lock()
		if s.enroll.codes == nil {
			s.enroll.codes = map[string]string{}
		}
		s.enroll.codes[e.ID] = user
		s.enroll.mu.Unlock()
		s.log.InfoContext(ctx, "enrollment started", "enrollment_id", e.ID, "client_addr", e.ClientAddr, "test", e.Test)
		s.enrollmentChanged(ctx, e, agentotp.AuditEnrollmentCreated, user, now)
		return &NewEnrollment{
			Enrollment: e, UserCode: user, DeviceCode: device,
			VerificationURI: s.VerificationURI(), VerificationURIComplete: s.VerificationURI() + "?code=" + user,
			ExpiresIn: cfg.TTL, Interval: cfg.Interval,
		}, nil
	}
}

// clipHeader keeps what a client sent in a header printable and bounded:
// control and format characters become spaces, invalid UTF-8 is replaced,
// and it is cut to at most n bytes on a character boundary.
func clipHeader(v string, n int) string {
	v = strings.Map(func(r rune) rune {
		if agentotp.HasControl(string(r)) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(v, "\uFFFD"))
	v = strings.TrimSpace(v)
	for len(v) > n {
		_, size := utf8.DecodeLastRuneInString(v)
		v = v[:len(v)-size]
	}
	return v
}

func (s *Service) enrollmentAudit(e *agentotp.Enrollment, actor, action string, at time.Time, details map[string]string) agentotp.AuditEntry {
	a := s.audit(e.OwnerID, actor, action, at)
	a.AgentID = e.AgentID
	if details == nil {
		details = map[string]string{}
	}
	details["enrollment_id"] = e.ID
	details["status"] = string(e.Status)
	a.Details = details
	return a
}

// enrollmentChanged wakes the enrollment's pollers, tells the owner's
// live feeds and queues the change for the enrollment notifiers; a final
// enrollment's user code and gate are forgotten.
func (s *Service) enrollmentChanged(ctx context.Context, e *agentotp.Enrollment, action, userCode string, at time.Time) {
	s.enroll.mu.Lock()
	if e.Status.Final() {
		delete(s.enroll.codes, e.ID)
		delete(s.enroll.polls, e.ID)
	}
	chans := s.enroll.notifiers
	s.enroll.mu.Unlock()
	s.broker.Publish(e.OwnerID, e.ID)
	ev := agentotp.EnrollmentChange{Action: action, Enrollment: *e, UserCode: userCode, At: at}
	ev.Enrollment.UserCodeHash, ev.Enrollment.DeviceCodeHash = nil, nil
	for _, ch := range chans {
		select {
		case ch <- ev:
		default:
			s.log.WarnContext(ctx, "enrollment notifier queue full; event dropped for it", "action", action, "enrollment_id", e.ID)
		}
	}
}

// AddEnrollmentNotifier runs n on its own goroutine, for the changes from
// now on, until ctx ends.
func (s *Service) AddEnrollmentNotifier(ctx context.Context, n EnrollmentNotifier) {
	ch := make(chan agentotp.EnrollmentChange, 256)
	s.enroll.mu.Lock()
	s.enroll.notifiers = append(s.enroll.notifiers, ch)
	s.enroll.mu.Unlock()
	go func() {
		defer func() {
			s.enroll.mu.Lock()
			defer s.enroll.mu.Unlock()
			for i, c := range s.enroll.notifiers {
				if c == ch {
					s.enroll.notifiers = append(s.enroll.notifiers[:i:i], s.enroll.notifiers[i+1:]...)
					break
				}
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-ch:
				func() {
					defer func() {
						if v := recover(); v != nil {
							s.log.ErrorContext(ctx, "enrollment notifier panicked", "action", ev.Action, "panic", v)
						}
					}()
					n.NotifyEnrollment(ctx, ev)
				}()
			}
		}
	}()
}

// loadEnrollment returns an enrollment, ending it first if its TTL has
// passed (undecided means denied: the agent gets no key).
func (s *Service) loadEnrollment(ctx context.Context, id string, first *agentotp.Enrollment) (*agentotp.Enrollment, error) {
	e := first
	for {
		if e == nil {
			var err error
			e, err = s.store.GetEnrollment(ctx, id)
			if errors.Is(err, agentotp.ErrNotFound) {
				return nil, errEnrollmentNotFound
			}
			if err != nil {
				return nil, fmt.Errorf("get enrollment: %w", err)
			}
		}
		if e.Status.Final() || !e.ExpiredAt(s.Now()) {
			return e, nil
		}
		err := s.expireEnrollment(ctx, e)
		if errors.Is(err, agentotp.ErrConflict) {
			e = nil
			continue
		}
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

func (s *Service) expireEnrollment(ctx context.Context, e *agentotp.Enrollment) error {
	prev, now := e.Version, s.Now()
	was := e.Status
	if err := e.Expire(); err != nil {
		return err
	}
	ae := s.enrollmentAudit(e, agentotp.ActorSystem, agentotp.AuditEnrollmentExpired, now, map[string]string{"was": string(was)})
	if err := s.store.UpdateEnrollment(ctx, e, prev, ae); err != nil {
		return fmt.Errorf("expire enrollment %s: %w", e.ID, err)
	}
	s.log.InfoContext(ctx, "enrollment expired", "enrollment_id", e.ID, "was", was)
	s.enrollmentChanged(ctx, e, agentotp.AuditEnrollmentExpired, "", now)
	return nil
}

// OwnerEnrollment is an enrollment as the owner sees it: with its user
// code while the relay still holds it in memory ("" after a restart, or
// once the enrollment is final).
type OwnerEnrollment struct {
	*agentotp.Enrollment
	UserCode string
}

func (s *Service) ownerView(e *agentotp.Enrollment) *OwnerEnrollment {
	s.enroll.mu.Lock()
	defer s.enroll.mu.Unlock()
	return &OwnerEnrollment{Enrollment: e, UserCode: s.enroll.codes[e.ID]}
}

// ListEnrollments returns the owner's enrollments, newest first (limit
// 1..100, 0 meaning 50), optionally of one status.
func (s *Service) ListEnrollments(ctx context.Context, ownerID string, status agentotp.EnrollmentStatus, limit int) ([]*OwnerEnrollment, error) {
	if status != "" && !status.Valid() {
		return nil, agentotp.FieldErr("status", "unknown status %q", status)
	}
	if limit < 0 || limit > 100 {
		return nil, agentotp.FieldErr("limit", "must be between 1 and 100")
	}
	if limit == 0 {
		limit = 50
	}
	es, err := s.store.ListEnrollments(ctx, agentotp.EnrollmentQuery{OwnerID: ownerID, Status: status, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("list enrollments: %w", err)
	}
	out := make([]*OwnerEnrollment, 0, len(es))
	for _, e := range es {
		if e, err = s.loadEnrollment(ctx, e.ID, e); err != nil {
			return nil, err
		}
		if status != "" && e.Status != status {
			continue // expired just now
		}
		out = append(out, s.ownerView(e))
	}
	return out, nil
}

// GetEnrollment returns one enrollment of the owner; another owner's is
// NOT_FOUND.
func (s *Service) GetEnrollment(ctx context.Context, ownerID, id string) (*OwnerEnrollment, error) {
	e, err := s.loadEnrollment(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	if e.OwnerID != ownerID {
		return nil, errEnrollmentNotFound
	}
	return s.ownerView(e), nil
}

// FindEnrollment returns the owner's live enrollment whose user code is
// code (as typed: case, dashes and spaces do not matter).
func (s *Service) FindEnrollment(ctx context.Context, ownerID, code string) (*OwnerEnrollment, error) {
	if agentotp.NormalizeUserCode(code) == "" {
		return nil, agentotp.FieldErr("code", "is not a user code (8 letters, like BCDF-GHJK)")
	}
	e, err := s.store.FindEnrollmentByUserCode(ctx, ownerID, agentotp.HashUserCode(code))
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, agentotp.Errorf(agentotp.ENotFound, "no waiting enrollment has this code")
	}
	if err != nil {
		return nil, fmt.Errorf("find enrollment: %w", err)
	}
	if e, err = s.loadEnrollment(ctx, e.ID, e); err != nil {
		return nil, err
	}
	v := s.ownerView(e)
	if v.UserCode == "" && !e.Status.Final() {
		v.UserCode = formatUserCode(agentotp.NormalizeUserCode(code))
	}
	return v, nil
}

func formatUserCode(n string) string {
	if len(n) != 8 {
		return n
	}
	return n[:4] + "-" + n[4:]
}

// EnrollDecision is the owner's answer to an enrollment, and through what
// it was given (Via and, on the dashboard, Session).
type EnrollDecision struct {
	Approve bool
	Via     string
	Session string
}

// DecideEnrollment approves or denies the owner's pending enrollment. An
// approval creates nothing yet: the agent and its key are made when the
// agent collects them.
func (s *Service) DecideEnrollment(ctx context.Context, ownerID, id string, d EnrollDecision) (*OwnerEnrollment, error) {
	var e *agentotp.Enrollment
	for {
		var err error
		if e, err = s.loadEnrollment(ctx, id, nil); err != nil {
			return nil, err
		}
		if e.OwnerID != ownerID {
			return nil, errEnrollmentNotFound
		}
		if e.Status == agentotp.EnrollmentExpired {
			return nil, agentotp.Errorf(agentotp.EConflict, "the enrollment expired; the agent must start a new one")
		}
		prev, now := e.Version, s.Now()
		action := agentotp.AuditEnrollmentApproved
		if d.Approve {
			err = e.Approve(agentotp.DecidedByOwner, now)
		} else {
			action = agentotp.AuditEnrollmentDenied
			err = e.Deny(agentotp.DecidedByOwner, now)
		}
		if err != nil {
			return nil, err
		}
		details := map[string]string{}
		if d.Via != "" {
			details["via"] = d.Via
		}
		if d.Session != "" {
			details["session"] = d.Session
		}
		err = s.store.UpdateEnrollment(ctx, e, prev, s.enrollmentAudit(e, agentotp.ActorOwner, action, now, details))
		if errors.Is(err, agentotp.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("decide enrollment %s: %w", id, err)
		}
		s.log.InfoContext(ctx, "enrollment decided", "enrollment_id", e.ID, "approved", d.Approve, "via", d.Via)
		s.enrollmentChanged(ctx, e, action, "", now)
		return s.ownerView(e), nil
	}
}

// IssuedKey is what an approved enrollment hands its agent, once.
type IssuedKey struct {
	Agent         *agentotp.Agent
	APIKey        string
	WebhookSecret string
}

var errBadDeviceCode = agentotp.Errorf(agentotp.EInvalidGrant, "unknown or used device code")

// PollEnrollment is the agent's poll with its device code (RFC 8628
// §3.4). With wait > 0 it holds while the enrollment is pending, until it
// changes or wait passes. An approved enrollment hands out its key: the
// agent and its credential are created now, in the same transaction that
// marks the enrollment issued, so of concurrent polls exactly one gets
// the key and the others invalid_grant. Otherwise the error is the RFC
// 8628 one: authorization_pending, slow_down (polls closer than the
// interval, which then grows), access_denied, expired_token; an unknown
// or used device code is invalid_grant.
func (s *Service) PollEnrollment(ctx context.Context, deviceCode string, wait time.Duration) (*IssuedKey, error) {
	if deviceCode == "" {
		return nil, agentotp.FieldErr("device_code", "is required")
	}
	if len(deviceCode) > 200 || !strings.HasPrefix(deviceCode, agentotp.PrefixDeviceCode) {
		return nil, errBadDeviceCode
	}
	e, err := s.store.FindEnrollmentByDeviceCode(ctx, agentotp.HashToken(deviceCode))
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errBadDeviceCode
	}
	if err != nil {
		return nil, fmt.Errorf("poll enrollment: %w", err)
	}
	if err := s.gatePoll(e.ID); err != nil {
		return nil, err
	}
	deadline := time.NewTimer(max(wait, 0))
	defer deadline.Stop()
	for {
		changed, release := s.broker.Subscribe(e.ID)
		e, err = s.loadEnrollment(ctx, e.ID, nil)
		if err != nil {
			release()
			return nil, err
		}
		if e.Status != agentotp.EnrollmentPending || wait <= 0 {
			release()
			return s.issue(ctx, e)
		}
		expiry := time.NewTimer(e.ExpiresAt.Sub(s.Now()))
		select {
		case <-changed:
		case <-expiry.C:
		case <-deadline.C:
			wait = 0 // answer as it stands
		case <-ctx.Done():
			expiry.Stop()
			release()
			return nil, ctx.Err()
		}
		expiry.Stop()
		release()
	}
}

// gatePoll refuses a poll that starts less than the interval after the
// previous one of the same device code, and then widens its interval.
func (s *Service) gatePoll(id string) error {
	cfg := s.enrollConfig()
	now := time.Now()
	s.enroll.mu.Lock()
	defer s.enroll.mu.Unlock()
	if s.enroll.polls == nil {
		s.enroll.polls = map[string]*pollGate{}
	}
	g := s.enroll.polls[id]
	if g == nil {
		g = &pollGate{interval: cfg.Interval}
		s.enroll.polls[id] = g
	}
	if !g.last.IsZero() && now.Sub(g.last) < g.interval {
		g.interval = min(g.interval+agentotp.SlowDownStep, agentotp.MaxEnrollmentInterval)
		secs := int((g.interval + time.Second - 1) / time.Second)
		return &agentotp.Error{Code: agentotp.ESlowDown, RetryAfter: secs,
			Message: fmt.Sprintf("polling too fast; wait %d s between polls", secs)}
	}
	g.last = now
	return nil
}

// issue hands out the key of an approved enrollment, or returns the error
// its status calls for.
func (s *Service) issue(ctx context.Context, e *agentotp.Enrollment) (*IssuedKey, error) {
	for {
		if e.Status != agentotp.EnrollmentApproved {
			return nil, e.Issue("", s.Now()) // the status's error
		}
		prev, now := e.Version, s.Now()
		prefix := agentotp.PrefixLiveKey
		if e.Test {
			prefix = agentotp.PrefixTestKey
		}
		a := &agentotp.Agent{ID: agentotp.NewID("agt_"), OwnerID: e.OwnerID, Name: e.Name, Test: e.Test, WebhookSecret: agentotp.NewWebhookSecret(), CreatedAt: now}
		key, cred := newCredential(prefix, agentotp.CredentialAgent, e.OwnerID, now)
		cred.AgentID, a.KeyPrefix = a.ID, cred.Prefix
		if err := e.Issue(a.ID, now); err != nil {
			return nil, err
		}
		created := s.audit(e.OwnerID, agentotp.ActorOwner, agentotp.AuditAgentCreated, now)
		created.AgentID = a.ID
		created.Details = map[string]string{"name": a.Name, "test": fmt.Sprint(a.Test), "key_prefix": cred.Prefix, "via": "enrollment", "enrollment_id": e.ID}
		issued := s.enrollmentAudit(e, agentotp.ActorAgent(a.ID), agentotp.AuditEnrollmentIssued, now, map[string]string{"key_prefix": cred.Prefix})
		err := s.store.IssueEnrollment(ctx, e, prev, a, cred, created, issued)
		if errors.Is(err, agentotp.ErrConflict) {
			// Another poll (or the sweeper) got there first: answer as it
			// stands now.
			var lerr error
			if e, lerr = s.loadEnrollment(ctx, e.ID, nil); lerr != nil {
				return nil, lerr
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("issue enrollment %s: %w", e.ID, err)
		}
		s.log.InfoContext(ctx, "enrollment issued", "enrollment_id", e.ID, "agent_id", a.ID, "test", a.Test)
		s.enrollmentChanged(ctx, e, agentotp.AuditEnrollmentIssued, "", now)
		return &IssuedKey{Agent: a, APIKey: key, WebhookSecret: a.WebhookSecret}, nil
	}
}

// SweepEnrollments expires every live enrollment whose TTL has passed and
// returns how many it ended.
func (s *Service) SweepEnrollments(ctx context.Context) (int, error) {
	n := 0
	for {
		due, err := s.store.ListDueEnrollments(ctx, s.Now(), 100)
		if err != nil {
			return n, fmt.Errorf("sweep enrollments: %w", err)
		}
		for _, e := range due {
			err := s.expireEnrollment(ctx, e)
			if errors.Is(err, agentotp.ErrConflict) {
				continue
			}
			if err != nil {
				return n, err
			}
			n++
		}
		if len(due) < 100 {
			return n, nil
		}
	}
}

// RunEnrollmentSweeper sweeps enrollments every interval until ctx ends.
func (s *Service) RunEnrollmentSweeper(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.SweepEnrollments(ctx); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "enrollment sweep failed", "err", err)
			}
		}
	}
}
