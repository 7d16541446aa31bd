package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/agentotp/agentotp"
)

// Store is what the worker needs of the store.
type Store interface {
	agentotp.WebhookStore
	GetAgent(ctx context.Context, ownerID, id string) (*agentotp.Agent, error)
	// PreviousWebhookSecret is the secret the agent had before its key
	// was rotated, while the rotation's grace period lasts at now ("" when
	// there is none): deliveries are signed with it too.
	PreviousWebhookSecret(ctx context.Context, ownerID, agentID string, now time.Time) (string, error)
}

// Config tunes the worker. Zero values take the defaults.
type Config struct {
	// AllowPrivate lets webhooks reach loopback, private, link-local,
	// unique-local and CGNAT addresses (serve --allow-private-webhooks).
	AllowPrivate bool
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// RetryBase is the delay before the first retry; each later one
	// doubles it, with ±25 % jitter (default 5 s).
	RetryBase time.Duration
	// RetryMax caps one delay (default 1 h).
	RetryMax time.Duration
	// MaxAge is how long one delivery is tried (default 24 h).
	MaxAge time.Duration
	// Concurrency bounds the attempts in flight (default 8); those of one
	// request are never concurrent, and go out in order. Order is not kept
	// across requests, so one failing delivery to a URL holds back only
	// its own request's later events while a backlog drains as fast as
	// the receiver accepts.
	Concurrency int
	// PollInterval is how often the outbox is checked when nothing woke
	// the worker (default 1 s).
	PollInterval time.Duration
	// Retention is how long finished deliveries stay listed (default 7 days).
	Retention time.Duration
	// Client sends the requests; nil means NewHTTPClient(AllowPrivate,
	// Timeout). A replacement must keep the address guard.
	Client *http.Client
	// UserAgent is sent with every request (default "agentotp-webhook/1").
	UserAgent string
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnAttempt, when set, is told the outcome of each attempt stored:
	// OutcomeDelivered, OutcomeRetry or OutcomeFailed (for metrics).
	OnAttempt func(outcome string)
}

// Attempt outcomes given to Config.OnAttempt.
const (
	OutcomeDelivered = "delivered" // a 2xx answer
	OutcomeRetry     = "retry"     // failed; another attempt is due
	OutcomeFailed    = "failed"    // failed for good: refused, 4xx, or given up
)

// Worker drains the webhook outbox.
type Worker struct {
	store Store
	cfg   Config
	log   *slog.Logger
	wake  chan struct{}
}

// New returns a worker over store.
func New(store Store, cfg Config) *Worker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Hour
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = agentotp.WebhookMaxAge
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.Client == nil {
		cfg.Client = NewHTTPClient(cfg.AllowPrivate, cfg.Timeout)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "agentotp-webhook/1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{store: store, cfg: cfg, log: log, wake: make(chan struct{}, 1)}
}

// Wake makes the worker look at the outbox now: call it after a change
// that may have queued a delivery has committed. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// lease is how long a claimed delivery is reserved for its attempt.
func (w *Worker) lease() time.Duration { return w.cfg.Timeout + 30*time.Second }

// Run delivers until ctx ends, then waits for the attempts in flight.
func (w *Worker) Run(ctx context.Context) {
	poll := time.NewTicker(w.cfg.PollInterval)
	defer poll.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	slots := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	w.prune(ctx)
	for {
		if free := cap(slots) - len(slots); free > 0 {
			now := w.cfg.Now()
			ds, err := w.store.ClaimWebhooks(ctx, now, now.Add(w.lease()), free)
			if err != nil && ctx.Err() == nil {
				w.log.ErrorContext(ctx, "webhook: claim", "err", err)
			}
			for _, d := range ds {
				slots <- struct{}{}
				wg.Go(func() {
					defer func() { <-slots; w.Wake() }()
					w.deliver(ctx, d)
				})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-poll.C:
		case <-prune.C:
			w.prune(ctx)
		}
	}
}

func (w *Worker) prune(ctx context.Context) {
	n, err := w.store.PruneWebhooks(ctx, w.cfg.Now().Add(-w.cfg.Retention))
	if err != nil && ctx.Err() == nil {
		w.log.ErrorContext(ctx, "webhook: prune", "err", err)
	} else if n > 0 {
		w.log.InfoContext(ctx, "webhook: pruned finished deliveries", "count", n)
	}
}

// Outcome is the result of one attempt.
type Outcome struct {
	StatusCode int           // 0 when no response arrived
	Err        error         // why it failed; nil on success
	Retry      bool          // whether a later attempt may succeed
	RetryAfter time.Duration // the receiver's Retry-After, 0 when none
}

// SendSigned makes one attempt to deliver d at now, signed with each of
// secrets (the agent's secret and, during a key rotation's grace period,
// the one it had), space separated in webhook-signature as Standard
// Webhooks allows, so a receiver that knows either secret verifies the
// delivery. It classifies the result: 2xx succeeds; a timeout, network
// error, 5xx or 429 may be retried; a refused address, redirect, 410 or
// other 4xx may not.
func (w *Worker) SendSigned(ctx context.Context, d *agentotp.WebhookDelivery, secrets []string, now time.Time) Outcome {
	body := d.Body()
	sig, err := SignAll(secrets, d.ID, now, body)
	if err != nil {
		return Outcome{Err: errors.New("the agent has no usable webhook secret; rotate it")}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return Outcome{Err: errors.New("the webhook URL is not a valid URL")}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.User != nil {
		return Outcome{Err: errors.New("the webhook URL must be http or https, without credentials")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.cfg.UserAgent)
	req.Header.Set(HeaderID, d.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set(HeaderOTPSignature, sig)
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		// url.Error names the URL, which may hold the receiver's token:
		// keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, ErrRefusedAddress) {
			return Outcome{Err: err}
		}
		return Outcome{Err: fmt.Errorf("no response: %w", err), Retry: true}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	o := Outcome{StatusCode: resp.StatusCode}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return o
	case c == http.StatusTooManyRequests || c >= 500:
		o.Err, o.Retry = fmt.Errorf("HTTP %d", c), true
		o.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	case c == http.StatusGone:
		o.Err = errors.New("HTTP 410 Gone: the receiver asked for no more deliveries")
	case c >= 300 && c < 400:
		o.Err = fmt.Errorf("HTTP %d: redirects are not followed", c)
	default:
		o.Err = fmt.Errorf("HTTP %d", c)
	}
	return o
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the delay before retry number attempts (1 for the first
// retry): RetryBase doubling up to RetryMax, with ±25 % jitter.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.cfg.RetryBase
	for i := 1; i < attempts && d < w.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, w.cfg.RetryMax)
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// deliver makes one attempt on d and stores its outcome.
func (w *Worker) deliver(ctx context.Context, d *agentotp.WebhookDelivery) {
	now := w.cfg.Now()
	var o Outcome
	a, err := w.store.GetAgent(ctx, d.OwnerID, d.AgentID)
	switch {
	case errors.Is(err, agentotp.ErrNotFound):
		o = Outcome{Err: errors.New("the agent no longer exists")}
	case err != nil:
		o = Outcome{Err: fmt.Errorf("the store: %w", err), Retry: true}
	case !a.Active():
		o = Outcome{Err: errors.New("the agent is revoked")}
	default:
		secrets := []string{a.WebhookSecret}
		if prev, err := w.store.PreviousWebhookSecret(ctx, d.OwnerID, d.AgentID, now); err != nil {
			w.log.WarnContext(ctx, "webhook: the previous secret of a rotated key", "agent_id", d.AgentID, "err", err)
		} else if prev != "" && prev != a.WebhookSecret {
			secrets = append(secrets, prev)
		}
		o = w.SendSigned(ctx, d, secrets, now)
	}
	save := context.WithoutCancel(ctx)
	save, cancel := context.WithTimeout(save, 10*time.Second)
	defer cancel()
	if ctx.Err() != nil {
		// Shutting down: this attempt does not count; it is due at once
		// when the relay is back.
		d.NextAttemptAt = now
		if err := w.store.SaveWebhookAttempt(save, d); err != nil {
			w.log.Error("webhook: release delivery at shutdown", "id", d.ID, "err", err)
		}
		return
	}
	d.Attempts++
	d.LastAttemptAt, d.LastStatusCode = now, o.StatusCode
	host := hostOf(d.URL)
	switch {
	case o.Err == nil:
		d.State, d.DeliveredAt, d.LastError = agentotp.DeliveryDelivered, now, ""
		w.log.DebugContext(ctx, "webhook delivered", "id", d.ID, "request_id", d.RequestID, "status", d.Status, "host", host, "attempts", d.Attempts)
	case o.Retry:
		delay := max(w.backoff(d.Attempts), o.RetryAfter)
		d.LastError = o.Err.Error()
		if next := now.Add(delay); next.After(d.CreatedAt.Add(w.cfg.MaxAge)) {
			d.State = agentotp.DeliveryFailed
			d.LastError = fmt.Sprintf("gave up after %s: %s", w.cfg.MaxAge, o.Err)
			w.log.WarnContext(ctx, "webhook: giving up", "id", d.ID, "request_id", d.RequestID, "host", host, "attempts", d.Attempts, "err", o.Err)
		} else {
			d.NextAttemptAt = next
			w.log.InfoContext(ctx, "webhook: attempt failed; will retry", "id", d.ID, "request_id", d.RequestID, "host", host,
				"attempts", d.Attempts, "retry_in", delay.Round(time.Millisecond).String(), "err", o.Err)
		}
	default:
		d.State, d.LastError = agentotp.DeliveryFailed, o.Err.Error()
		w.log.WarnContext(ctx, "webhook: delivery failed; not retried", "id", d.ID, "request_id", d.RequestID, "host", host, "err", o.Err)
	}
	if err := w.store.SaveWebhookAttempt(save, d); err != nil {
		w.log.Error("webhook: save attempt", "id", d.ID, "err", err)
		return
	}
	if w.cfg.OnAttempt != nil {
		switch d.State {
		case agentotp.DeliveryDelivered:
			w.cfg.OnAttempt(OutcomeDelivered)
		case agentotp.DeliveryFailed:
			w.cfg.OnAttempt(OutcomeFailed)
		default:
			w.cfg.OnAttempt(OutcomeRetry)
		}
	}
	if o.StatusCode == http.StatusGone {
		// The receiver asked for no more deliveries: stop the URL for
		// this agent, pending deliveries and later ones alike.
		if n, err := w.store.WebhookGone(save, d.AgentID, d.URL, d.LastError, now); err != nil {
			w.log.Error("webhook: stop the URL after 410", "agent_id", d.AgentID, "host", host, "err", err)
		} else {
			w.log.InfoContext(ctx, "webhook: URL stopped for the agent after 410", "agent_id", d.AgentID, "host", host, "pending_failed", n)
		}
	}
}

// hostOf returns the host of a URL, for logs: paths and queries may hold a
// receiver's token.
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "?"
	}
	return p.Host
}
