package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/agentotp/agentotp"
)

// Config tunes the manager and its connectors. Zero fields take the
// defaults named.
type Config struct {
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
	// Reconcile is how often the settings and the owners' live requests
	// are read again (default 5 s). Request changes the relay reports wake
	// the manager at once.
	Reconcile time.Duration
	// IdleRestart is how long one IDLE runs before the connector ends it,
	// sends NOOP and issues it again (default 20 min; at most 25 min).
	IdleRestart time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnects
	// (defaults 1 s and 5 min).
	MinBackoff, MaxBackoff time.Duration
	// CommandTimeout bounds the answer to one command (default 60 s); a
	// connection that misses it is closed and counts as dead.
	CommandTimeout time.Duration
	// DialTimeout bounds connecting and the TLS handshake (default 30 s).
	DialTimeout time.Duration
	// KeepAlive is the TCP keepalive idle time and probe interval (default
	// 30 s and 10 s, three probes): it finds a dead peer during IDLE.
	KeepAlive time.Duration
	// MaxMessageSize skips larger messages without fetching them (default
	// 10 MiB, the raw-email limit of the HTTP API).
	MaxMessageSize int64
	// TLSConfig is cloned for each connection (the server name is set
	// from the host); nil uses the system roots.
	TLSConfig *tls.Config
	// Now is the clock of status times and arrival bounds; nil: the
	// relay's (Manager) or time.Now (Watcher).
	Now func() time.Time
}

const maxIdleRestart = 25 * time.Minute

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Reconcile <= 0 {
		c.Reconcile = 5 * time.Second
	}
	if c.IdleRestart <= 0 {
		c.IdleRestart = 20 * time.Minute
	}
	c.IdleRestart = min(c.IdleRestart, maxIdleRestart)
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 60 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 30 * time.Second
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 30 * time.Second
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 10 << 20
	}
}

// Relay is what the connectors need of the relay service (relay.Service
// provides it).
type Relay interface {
	// Now is the relay's clock.
	Now() time.Time
	// IMAPPassword opens a source's sealed IMAP password.
	IMAPPassword(src *agentotp.IMAPSource) (string, error)
	// EmailDemand says what the owner's live requests want of email.
	EmailDemand(ctx context.Context, ownerID string) (agentotp.EmailDemand, error)
	// IngestSourceMail hands a raw email to the relay for the source.
	IngestSourceMail(ctx context.Context, ownerID, sourceID string, m agentotp.Mail) (*agentotp.IngestResult, error)
}

// Store is the connectors' own part of the store: their settings, cursors
// and status rows.
type Store interface {
	ListActiveIMAPSources(ctx context.Context) ([]*agentotp.IMAPSource, error)
	SaveIMAPCursor(ctx context.Context, sourceID string, version int64, uidValidity, lastUID uint32) error
	SetIMAPStatus(ctx context.Context, sourceID string, version int64, st agentotp.IMAPStatus) error
}

// Manager runs the IMAP connectors of every owner's email sources.
type Manager struct {
	svc   Relay
	store Store
	cfg   Config
	log   *slog.Logger
	kick  chan struct{}

	mu    sync.Mutex
	conns map[string]*connector // by source id
}

// New returns a manager over the relay service and the connectors' store.
// Register it with the service's AddNotifier before the service runs, so
// that request changes wake it, and call Run.
func New(svc Relay, store Store, cfg Config) *Manager {
	cfg.defaults()
	if cfg.Now == nil {
		cfg.Now = svc.Now
	}
	return &Manager{
		svc: svc, store: store, cfg: cfg, log: cfg.Logger,
		kick: make(chan struct{}, 1), conns: map[string]*connector{},
	}
}

// Notify implements the relay's Notifier: any request change may start or stop
// connectors, so the manager looks again.
func (m *Manager) Notify(ctx context.Context, ev agentotp.RequestChange) { m.Kick() }

// Kick makes Run reconcile now rather than at its next tick.
func (m *Manager) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Run starts and stops connectors until ctx ends, then stops them all and
// waits for them.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Reconcile)
	defer t.Stop()
	for {
		if err := m.reconcile(ctx); err != nil && ctx.Err() == nil {
			m.log.WarnContext(ctx, "imap: reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			m.mu.Lock()
			conns := m.conns
			m.conns = map[string]*connector{}
			m.mu.Unlock()
			for _, c := range conns {
				c.stop()
			}
			for _, c := range conns {
				<-c.done
			}
			return
		case <-t.C:
		case <-m.kick:
		}
	}
}

// action is what reconcile does for one source.
type action int

const (
	keep        action = iota // leave the running connector (or none) as is
	start                     // start a connector
	restart                   // stop the running one, start a new one
	stop                      // stop the running one
	markStopped               // none runs and none should: record "stopped"
)

// plan decides, for one source, from its stored settings, the owner's
// demand and the connector running for it (if any), what to do.
func plan(row *agentotp.IMAPSource, d agentotp.EmailDemand, running *connector) action {
	switch {
	case running == nil && d.Want:
		return start
	case running == nil && row.Status.State != agentotp.IMAPStateStopped:
		return markStopped
	case running == nil:
		return keep
	case !d.Want:
		return stop
	case running.version != row.Version || running.exited():
		return restart
	}
	return keep
}

// reconcile reads every active source's settings and the owners' demand,
// and makes the running connectors match.
func (m *Manager) reconcile(ctx context.Context) error {
	rows, err := m.store.ListActiveIMAPSources(ctx)
	if err != nil {
		return err
	}
	demands := map[string]agentotp.EmailDemand{}
	var errs []error
	for _, row := range rows {
		if _, ok := demands[row.OwnerID]; ok {
			continue
		}
		d, err := m.svc.EmailDemand(ctx, row.OwnerID)
		if err != nil {
			errs = append(errs, err)
			// Keep what runs: a failed read is no reason to stop.
			demands[row.OwnerID] = agentotp.EmailDemand{Want: m.running(row.OwnerID)}
			continue
		}
		demands[row.OwnerID] = d
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, row := range rows {
		seen[row.SourceID] = true
		d := demands[row.OwnerID]
		c := m.conns[row.SourceID]
		switch plan(row, d, c) {
		case start:
			m.conns[row.SourceID] = m.startConnector(ctx, row, d.Since, nil)
		case restart:
			c.stop()
			m.conns[row.SourceID] = m.startConnector(ctx, row, d.Since, c)
		case stop:
			c.stop()
			delete(m.conns, row.SourceID)
		case markStopped:
			st := row.Status
			st.State, st.UpdatedAt = agentotp.IMAPStateStopped, m.svc.Now()
			if err := m.store.SetIMAPStatus(ctx, row.SourceID, row.Version, st); err != nil &&
				!errors.Is(err, agentotp.ErrConflict) && !errors.Is(err, agentotp.ErrNotFound) {
				errs = append(errs, err)
			}
		case keep:
			if c != nil && !d.Since.IsZero() {
				c.setSince(d.Since)
				// A request newer than the last search: search again now, so
				// that a message arriving from here on is known to be newer.
				c.searchIfBefore(d.Latest)
			}
		}
	}
	for id, c := range m.conns {
		if !seen[id] { // settings deleted or source revoked
			c.stop()
			delete(m.conns, id)
		}
	}
	return errors.Join(errs...)
}

// running reports whether a connector of the owner runs.
func (m *Manager) running(ownerID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conns {
		if c.src.OwnerID == ownerID {
			return true
		}
	}
	return false
}

// startConnector starts a connector for row. prev, if not nil, is the
// connector it replaces: the new one waits until prev has finished, so that
// their status writes do not interleave.
func (m *Manager) startConnector(ctx context.Context, row *agentotp.IMAPSource, since time.Time, prev *connector) *connector {
	cctx, cancel := context.WithCancel(ctx)
	c := newConnector(m, row, since, cancel)
	go func() {
		defer close(c.done)
		if prev != nil {
			<-prev.done
		}
		c.run(cctx)
	}()
	return c
}
