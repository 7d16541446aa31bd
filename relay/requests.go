package relay

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/seal"
)

// CreateRequestInput is what an agent asks for.
type CreateRequestInput struct {
	Reason         string
	ExpectedSender string
	Filter         *agentotp.Filter
	PublicKey      string
	TTL            time.Duration // 0 means the default
	WebhookURL     string
	IncludeMessage bool
}

// validate checks the input and returns the key, parsed by parse.
func (in *CreateRequestInput) validate(parse func(string) (*seal.PublicKey, error)) (*seal.PublicKey, error) {
	var v agentotp.ValidationErrors
	switch n := utf8.RuneCountInString(in.Reason); {
	case !utf8.ValidString(in.Reason):
		v.Add("reason", "must be valid UTF-8")
	case hasControl(in.Reason):
		v.Add("reason", "must not hold control characters")
	case n == 0:
		v.Add("reason", "is required")
	case n > agentotp.MaxReasonLen:
		v.Add("reason", "is %d characters; at most %d allowed", n, agentotp.MaxReasonLen)
	}
	if utf8.RuneCountInString(in.ExpectedSender) > agentotp.MaxExpectedSenderLen {
		v.Add("expected_sender", "at most %d characters allowed", agentotp.MaxExpectedSenderLen)
	} else if !utf8.ValidString(in.ExpectedSender) || hasControl(in.ExpectedSender) {
		v.Add("expected_sender", "must be UTF-8 without control characters")
	}
	var key *seal.PublicKey
	if in.PublicKey == "" {
		v.Add("public_key", "is required")
	} else {
		k, err := parse(in.PublicKey)
		if err != nil {
			// seal's message names the field already.
			v.Add("public_key", "%s", strings.TrimPrefix(err.Error(), "public_key: "))
		}
		key = k
	}
	if in.TTL == 0 {
		in.TTL = agentotp.DefaultTTL
	}
	if in.TTL < agentotp.MinTTL || in.TTL > agentotp.MaxTTL {
		v.Add("ttl", "must be between %d and %d seconds", int(agentotp.MinTTL.Seconds()), int(agentotp.MaxTTL.Seconds()))
	}
	if in.Filter != nil {
		if _, err := in.Filter.Compile(); err != nil {
			v = append(v, fieldsOf(err)...)
		}
	}
	if in.WebhookURL != "" {
		if err := agentotp.ValidateWebhookURL("webhook_url", in.WebhookURL); err != nil {
			v = append(v, fieldsOf(err)...)
		}
	}
	if in.IncludeMessage && key != nil && key.Algorithm().IsRSA() {
		v.Add("include_message", "needs an HPKE key (X25519 or ML-KEM-768+X25519); RSA-OAEP cannot seal a whole message")
	}
	return key, v.Err()
}

// fieldsOf returns the field errors of a validation error.
func fieldsOf(err error) []agentotp.FieldError {
	var e *agentotp.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// hasControl reports whether s holds a control or format character: text
// an agent writes is shown to the owner on terminals, pages and Telegram,
// where such characters could hide or fake what is shown.
func hasControl(s string) bool { return agentotp.HasControl(s) }

// MaxLiveRequestsPerAgent bounds an agent's requests that are waiting
// (pending approval, approved, or holding a code). A new request beyond
// it is refused with RATE_LIMIT_ERROR until one ends.
const MaxLiveRequestsPerAgent = agentotp.MaxLiveRequestsPerAgent

// checkLiveCap refuses a request beyond MaxLiveRequestsPerAgent.
func (s *Service) checkLiveCap(ctx context.Context, p *Principal) error {
	now := s.Now()
	n, err := s.index.countAgent(ctx, p.OwnerID, p.AgentID, func(e *indexEntry) bool { return !e.req.ExpiredAt(now) })
	if err != nil {
		return fmt.Errorf("create request: %w", err)
	}
	if n >= MaxLiveRequestsPerAgent {
		return liveCapError(n) // relay/cluster.go
	}
	return nil
}

// CreateRequest stores a new request of the agent p. A test key's request
// is approved at once and, without a filter, receives a synthetic code.
func (s *Service) CreateRequest(ctx context.Context, p *Principal, in CreateRequestInput) (*agentotp.Request, error) {
	if !p.IsAgent() {
		return nil, errAuth
	}
	key, err := in.validate(s.keys.parse)
	if err != nil {
		return nil, err
	}
	if err := s.checkLiveCap(ctx, p); err != nil {
		return nil, err
	}
	now := s.Now()
	r := &agentotp.Request{
		ID: agentotp.NewID("otp_"), OwnerID: p.OwnerID, AgentID: p.AgentID, Test: p.Test,
		Status: agentotp.StatusPending, Reason: in.Reason, ExpectedSender: in.ExpectedSender,
		Encryption: string(key.Algorithm()), PublicKey: key.String(), KeyFingerprint: key.Fingerprint(),
		WebhookURL: in.WebhookURL, IncludeMessage: in.IncludeMessage,
		CreatedAt: now, ExpiresAt: now.Add(in.TTL), UpdatedAt: now,
	}
	if in.Filter != nil {
		r.Filter = *in.Filter
	}
	actor := agentotp.ActorAgent(p.AgentID)
	audit := []agentotp.AuditEntry{s.requestAudit(r, actor, agentotp.AuditRequestCreated, now, map[string]string{
		"encryption": r.Encryption, "key_fingerprint": r.KeyFingerprint,
	})}
	if p.Test {
		if err := r.Approve(agentotp.DecidedByTestKey, now); err != nil {
			return nil, err
		}
		audit = append(audit, s.requestAudit(r, agentotp.DecidedByTestKey, agentotp.AuditRequestApproved, now, nil))
		if r.Filter.IsZero() {
			payload, err := key.Seal(r.ID, []byte(newSyntheticCode()))
			if err != nil {
				return nil, fmt.Errorf("seal synthetic code: %w", err)
			}
			md := agentotp.MessageMetadata{MessageID: agentotp.NewID("msg_"), Source: agentotp.ChannelTest, Sender: "agentotp", ReceivedAt: now, Confidence: 1}
			if err := r.Match(payload, nil, md, now); err != nil {
				return nil, err
			}
			audit = append(audit, s.requestAudit(r, agentotp.ActorSystem, agentotp.AuditOTPReceived, now, map[string]string{"source": string(agentotp.ChannelTest)}))
		}
	}
	// Policies decide a non-test request (relay/policy.go).
	if err := s.storeNewRequest(ctx, r, audit, now); errors.Is(err, agentotp.ErrLiveCap) {
		return nil, liveCapError(0) // a store shared by several relays counts for the whole cluster
	} else if err != nil {
		return nil, fmt.Errorf("create request: %w", err)
	}
	s.log.InfoContext(ctx, "request created", "request_id", r.ID, "agent_id", r.AgentID, "status", r.Status, "encryption", r.Encryption, "ttl_s", int(in.TTL.Seconds()))
	s.published(ctx, r, audit[0])
	if e := s.index.entry(r.OwnerID, r.ID); e != nil {
		e.live.primeKey(key) // parsed once, by validate
	}
	return r, nil
}

var errOTPNotFound = agentotp.Errorf(agentotp.EOTPNotFound, "no such OTP request")

// load returns a request, ending it first if its TTL has passed.
func (s *Service) load(ctx context.Context, id string) (*agentotp.Request, error) {
	return s.read(ctx, id, false)
}

// read is load; with fresh set it reads the store, not the service's copy
// of the request (caches.go), as it does after a lost versioned write, and
// keeps what it read as that copy (never replacing a later version).
func (s *Service) read(ctx context.Context, id string, fresh bool) (*agentotp.Request, error) {
	for {
		cached := !s.shared.Load()
		var r *agentotp.Request
		if !fresh && cached {
			r = s.requests.get(id)
		}
		if r == nil {
			var err error
			r, err = s.store.GetRequest(ctx, id)
			if errors.Is(err, agentotp.ErrNotFound) {
				return nil, errOTPNotFound
			}
			if err != nil {
				return nil, fmt.Errorf("get request: %w", err)
			}
			if fresh && cached {
				s.requests.put(r, time.Now())
			}
		}
		if r.Status.Final() || !r.ExpiredAt(s.Now()) {
			return r, nil
		}
		err := s.expire(ctx, r)
		if errors.Is(err, agentotp.ErrConflict) {
			fresh = true
			continue
		}
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

func (s *Service) expire(ctx context.Context, r *agentotp.Request) error {
	prev := r.Version
	now := s.Now()
	if err := r.Expire(now); err != nil {
		return err
	}
	if err := s.commit(ctx, r, prev, s.requestAudit(r, agentotp.ActorSystem, agentotp.AuditRequestExpired, now, nil)); err != nil {
		return fmt.Errorf("expire request %s: %w", r.ID, err)
	}
	return nil
}

// agentRequest loads a request of agent p; another agent's request is not
// found.
func (s *Service) agentRequest(ctx context.Context, p *Principal, id string) (*agentotp.Request, error) {
	if !p.IsAgent() {
		return nil, errAuth
	}
	r, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.OwnerID != p.OwnerID || r.AgentID != p.AgentID {
		return nil, errOTPNotFound
	}
	return r, nil
}

// GetRequest returns the agent's request.
func (s *Service) GetRequest(ctx context.Context, p *Principal, id string) (*agentotp.Request, error) {
	return s.agentRequest(ctx, p, id)
}

// ErrWaitStopped is WaitRequest's answer when its stop channel closed
// (the relay is shutting down): the caller reads the request as it stands.
var ErrWaitStopped = errors.New("relay: wait stopped")

// WaitRequest returns the agent's request once its status is no longer
// pending_approval or approved, or when wait has passed, whichever comes
// first; ErrWaitStopped once stop is closed (nil: never). It sleeps on the
// broker and on the service's one clock of deadlines, never in a polling
// loop and with no timer of its own.
func (s *Service) WaitRequest(ctx context.Context, p *Principal, id string, wait time.Duration, stop <-chan struct{}) (*agentotp.Request, error) {
	end := time.Now().Add(wait)
	for {
		// Subscribe before reading, so a change between the read and the
		// wait is not missed.
		changed, release := s.broker.Subscribe(id)
		r, err := s.agentRequest(ctx, p, id)
		if err != nil || !r.Status.Live() {
			release()
			return r, err
		}
		// Wake at whichever comes first: the end of the wait or the
		// request's expiry (s.Now may be a test clock: count from it).
		at, expiring := end, false
		if untilExpiry := r.ExpiresAt.Sub(s.Now()); time.Now().Add(untilExpiry).Before(at) {
			at, expiring = time.Now().Add(untilExpiry), true
		}
		// Only the status is kept while parked, not the request read.
		status := r.Status
		r = nil
		woke := s.park(ctx, changed, at, stop)
		release()
		switch woke {
		case wokeChanged:
			r2, err := s.agentRequest(ctx, p, id)
			if err != nil || r2.Status != status {
				return r2, err
			}
			// A held message changes no status; keep waiting.
		case wokeDeadline:
			if !expiring {
				return s.agentRequest(ctx, p, id)
			}
			// The request's TTL passed: the next load ends it.
		case wokeStopped:
			return nil, ErrWaitStopped
		default:
			return nil, ctx.Err()
		}
	}
}

// What ended a park.
const (
	wokeDone = iota
	wokeChanged
	wokeDeadline
	wokeStopped
)

// park sleeps until changed is closed, at passes, stop is closed or ctx
// ends, and says which. It is a frame of its own, with nothing on the
// stack below it but the caller's, so that a parked waiter's stack stays
// small (it is what a waiting goroutine keeps, times 10,000).
func (s *Service) park(ctx context.Context, changed <-chan struct{}, at time.Time, stop <-chan struct{}) int {
	due, cancel := s.waits.add(at)
	woke := wokeDone
	select {
	case <-changed:
		woke = wokeChanged
	case <-due:
		woke = wokeDeadline
	case <-stop:
		woke = wokeStopped
	case <-ctx.Done():
	}
	cancel()
	return woke
}

// Consumed is what a consume hands the agent: ciphertext only.
type Consumed struct {
	Request *agentotp.Request
	Payload []byte
	Content []byte
}

// Consume hands the agent its sealed code once. Of any number of
// concurrent calls exactly one succeeds; the others see
// OTP_ALREADY_CONSUMED.
func (s *Service) Consume(ctx context.Context, p *Principal, id string) (*Consumed, error) {
	if _, err := s.agentRequest(ctx, p, id); err != nil {
		return nil, err
	}
	var out Consumed
	r, err := s.update(ctx, id, nil, func(r *agentotp.Request, now time.Time) (agentotp.AuditEntry, error) {
		if r.OwnerID != p.OwnerID || r.AgentID != p.AgentID {
			return agentotp.AuditEntry{}, errOTPNotFound
		}
		if r.Status == agentotp.StatusDenied {
			e := agentotp.FinalError(r.Status)
			e.DenyReason = r.DenyReason
			if r.DenyReason != "" {
				e.Message += ": " + r.DenyReason
			}
			return agentotp.AuditEntry{}, e
		}
		payload, content, err := r.Consume(now)
		if err != nil {
			return agentotp.AuditEntry{}, err
		}
		out.Payload, out.Content = payload, content
		return s.requestAudit(r, agentotp.ActorAgent(p.AgentID), agentotp.AuditRequestConsumed, now, nil), nil
	})
	if err != nil {
		return nil, err
	}
	out.Request = r
	return &out, nil
}

// Cancel ends the agent's live request.
func (s *Service) Cancel(ctx context.Context, p *Principal, id string) (*agentotp.Request, error) {
	if !p.IsAgent() {
		return nil, errAuth
	}
	return s.update(ctx, id, nil, func(r *agentotp.Request, now time.Time) (agentotp.AuditEntry, error) {
		if r.OwnerID != p.OwnerID || r.AgentID != p.AgentID {
			return agentotp.AuditEntry{}, errOTPNotFound
		}
		if err := r.Cancel(now); err != nil {
			return agentotp.AuditEntry{}, err
		}
		return s.requestAudit(r, agentotp.ActorAgent(p.AgentID), agentotp.AuditRequestCancelled, now, nil), nil
	})
}

// Channels an owner decides through, recorded as the audit detail "via".
const (
	// ViaDashboard: the web dashboard.
	ViaDashboard = "dashboard"
	// ViaTelegram: a Telegram prompt's buttons.
	ViaTelegram = "telegram"
)

// Decision is an answer to a pending request: approve or deny (with an
// optional reason the agent sees), who decided (decided_by:
// agentotp.DecidedByOwner, the default, or a policy), and through what
// (Via and, on the dashboard, Session; empty for the owner API and CLI).
type Decision struct {
	Approve bool
	Reason  string
	By      string
	Via     string
	Session string
	// Signed, when set, is the owner's signed statement of this decision
	// (see package approval); it is checked before anything is recorded
	// and kept in the decision's audit entry. Without it the relay records
	// a statement of its own, marked unsigned.
	Signed *approval.Signed
}

// Decide approves or denies a pending request of the owner. Approving a
// request that already holds a code releases the code to the agent;
// denying deletes it. The audit entry records who decided and through
// what.
func (s *Service) Decide(ctx context.Context, ownerID, id string, d Decision) (*agentotp.Request, error) {
	if n := utf8.RuneCountInString(d.Reason); n > agentotp.MaxDenyReasonLen || !utf8.ValidString(d.Reason) {
		return nil, agentotp.FieldErr("reason", "at most %d characters of UTF-8", agentotp.MaxDenyReasonLen)
	}
	by := d.By
	if by == "" {
		by = agentotp.DecidedByOwner
	}
	return s.update(ctx, id, nil, func(r *agentotp.Request, now time.Time) (agentotp.AuditEntry, error) {
		if r.OwnerID != ownerID {
			return agentotp.AuditEntry{}, errOTPNotFound
		}
		if err := s.checkSigned(ctx, r, d.Approve, d.Signed, now); err != nil {
			return agentotp.AuditEntry{}, err
		}
		details := map[string]string{}
		if d.Via != "" {
			details["via"] = d.Via
		}
		if d.Session != "" {
			details["session"] = d.Session
		}
		action, err := agentotp.AuditRequestApproved, error(nil)
		if d.Approve {
			err = r.Approve(by, now)
		} else {
			action = agentotp.AuditRequestDenied
			if d.Reason != "" {
				details["deny_reason"] = d.Reason
			}
			err = r.Deny(by, d.Reason, now)
		}
		if err != nil {
			return agentotp.AuditEntry{}, err
		}
		if d.Signed != nil {
			statementDetails(details, r, "", now, d.Signed)
		}
		return s.requestAudit(r, by, action, now, details), nil
	})
}

// OwnerRequest returns a request of the owner.
func (s *Service) OwnerRequest(ctx context.Context, ownerID, id string) (*agentotp.Request, error) {
	r, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.OwnerID != ownerID {
		return nil, errOTPNotFound
	}
	return r, nil
}

// ListRequests lists the owner's requests, newest first.
func (s *Service) ListRequests(ctx context.Context, q agentotp.RequestQuery) ([]*agentotp.Request, string, error) {
	if q.Status != "" && !q.Status.Valid() {
		return nil, "", agentotp.FieldErr("status", "unknown status %q", q.Status)
	}
	if q.Limit < 0 || q.Limit > 100 {
		return nil, "", agentotp.FieldErr("limit", "must be between 1 and 100")
	}
	rs, next, err := s.store.ListRequests(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list requests: %w", err)
	}
	return rs, next, nil
}

// Sweep ends every request whose TTL has passed and deletes its
// ciphertext. It returns how many it ended.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	n := 0
	for {
		due, err := s.store.ListDueRequests(ctx, s.Now(), 100)
		if err != nil {
			return n, fmt.Errorf("sweep: %w", err)
		}
		if len(due) == 0 {
			return n, nil
		}
		for _, r := range due {
			err := s.expire(ctx, r)
			if errors.Is(err, agentotp.ErrConflict) {
				continue // changed meanwhile; the next round sees it again if still due
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

// MessageMemory is how long the relay remembers a source's message ids to
// ignore a second delivery. Gateways retry for minutes or hours; a week is
// ample, and a resend older than that is older than any request it could
// feed.
const MessageMemory = 7 * 24 * time.Hour

// PruneMessages forgets message ids older than MessageMemory.
func (s *Service) PruneMessages(ctx context.Context) (int64, error) {
	n, err := s.store.PruneMessages(ctx, s.Now().Add(-MessageMemory))
	if err != nil {
		return 0, fmt.Errorf("prune messages: %w", err)
	}
	return n, nil
}

// RunSweeper sweeps every interval until ctx ends, and prunes remembered
// message ids once an hour.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastPrune time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if now := s.Now(); now.Sub(lastPrune) >= time.Hour {
				lastPrune = now
				if n, err := s.PruneMessages(ctx); err != nil && ctx.Err() == nil {
					s.log.ErrorContext(ctx, "prune failed", "err", err)
				} else if n > 0 {
					s.log.DebugContext(ctx, "forgot old message ids", "count", n)
				}
			}
			if n, err := s.Sweep(ctx); err != nil {
				if ctx.Err() == nil {
					s.log.ErrorContext(ctx, "sweep failed", "err", err)
				}
			} else if n > 0 {
				s.log.DebugContext(ctx, "swept expired requests", "count", n)
			}
		}
	}
}

// newSyntheticCode returns a random six-digit code for test keys.
func newSyntheticCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000)) // never fails (crypto/rand panics on an unusable source)
	return fmt.Sprintf("%06d", n)
}
