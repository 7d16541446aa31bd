package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/imap"
	"github.com/agentotp/agentotp/internal/connlimit"
	"github.com/agentotp/agentotp/internal/drain"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/web"
	"github.com/agentotp/agentotp/webhook"
)

// shutdownTimeout bounds how long the HTTP and SMTP servers wait for the
// requests and sessions in flight when the relay stops.
const shutdownTimeout = 10 * time.Second

// relayMain is one run of the relay (`agentotp serve`), shaped after WTF
// Dial's cmd/wtfd: Run opens the store, starts every component (HTTP
// server, SMTP receiver, IMAP connectors, webhook worker, Telegram bot,
// sweeper and notifiers) under one errgroup and returns once every one of
// them has stopped; Close then closes the store. A component that fails,
// at start or later, stops the others, and Run returns its error wrapped
// with its name.
type relayMain struct {
	o      serveOptions
	banner io.Writer // for a person: stdout, never the log stream
	log    *slog.Logger
	unlock func() // releases the data directory's lock (datadir_lock.go)

	mu      sync.Mutex
	cancel  context.CancelFunc // ends the Run in progress
	stopped chan struct{}      // closed when Run has returned
	closed  bool

	// store is set by Run; Close reads it only after Run has returned.
	store relayStore // database.go
}

// component is one part of the running relay.
type component struct {
	name string
	// run works until ctx ends, then returns nil once it has stopped
	// (its goroutines too). An error, at start or later, stops the relay.
	run func(ctx context.Context) error
}

func newRelayMain(banner io.Writer, log *slog.Logger, o serveOptions) *relayMain {
	return &relayMain{o: o, banner: banner, log: log}
}

// Run runs the relay until ctx ends or a component fails, and returns
// once every component has stopped. It may be called once.
func (m *relayMain) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.closed || m.stopped != nil {
		m.mu.Unlock()
		return errors.New("serve: the relay runs once")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.cancel = cancel
	m.stopped = make(chan struct{})
	m.mu.Unlock()
	defer close(m.stopped)

	comps, err := m.setup(ctx)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range comps {
		g.Go(func() error {
			err := c.run(gctx)
			if err != nil {
				err = fmt.Errorf("%s: %w", c.name, err)
				m.log.Error("component failed", "component", c.name, "err", err)
			}
			m.log.Info("component stopped", "component", c.name)
			return err
		})
	}
	m.log.Info("relay started", "components", len(comps))
	return g.Wait()
}

// Close stops a Run in progress and waits for it, then closes the store.
// It may be called more than once.
func (m *relayMain) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	cancel, stopped := m.cancel, m.stopped
	m.mu.Unlock()
	if cancel != nil {
		cancel()
		<-stopped
	}
	if m.unlock != nil {
		defer m.unlock() // the next relay may open the directory once the store is closed
	}
	if m.store == nil {
		return nil
	}
	err := m.store.Close()
	m.log.Info("store closed")
	if err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// setup opens the store and builds every component; nothing runs yet but
// the HTTP listener, whose address the public URL may need. On an error
// it leaves nothing open but the store, which Close closes.
func (m *relayMain) setup(ctx context.Context) ([]component, error) {
	o, log := m.o, m.log
	db, err := parseDatabase(o.database, o.dataDir) // database.go
	if err != nil {
		return nil, &exitErr{exitUsage, err}
	}
	// Flags are checked before anything opens.
	if o.leaseTTL < time.Second || o.leaseTTL > 5*time.Minute {
		return nil, &exitErr{exitUsage, fmt.Errorf("--cluster-lease-ttl must be between 1s and 5m, not %s", o.leaseTTL)}
	}
	corsOrigins, err := o.cors.parse()
	if err != nil {
		return nil, err
	}
	smtpPlan, err := o.smtp.prepare()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := o.tls.config() // serve_tls.go
	if err != nil {
		return nil, err
	}
	if err := o.conns.check(); err != nil { // serve_conns.go
		return nil, err
	}
	if err := secureDataDir(o.dataDir, db.sqlitePath); err != nil { // serve_files.go
		return nil, err
	}
	if m.unlock, err = lockDataDir(o.dataDir); err != nil { // datadir_lock.go: one relay per data directory
		return nil, err
	}
	// The secret box seals the webhook and source secrets at rest and
	// keys the audit chain: relays that share a database share its key.
	box, err := loadSecretBox(o.dataDir) // webhooks.go
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, db, log, box) // database.go
	if err != nil {
		return nil, err
	}
	m.store = store
	if db.sqlitePath != "" {
		if err := restrictDBFiles(db.sqlitePath); err != nil { // the -wal and -shm Open made
			return nil, err
		}
	}
	// A store that several relays share: what must run once runs under a
	// lease, limits count for the cluster (serve_cluster.go).
	cluster, _ := store.(domain.Cluster)
	leases := &leaseRunner{c: cluster, ttl: o.leaseTTL, log: log}

	tcp, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	// Bounded connections (serve_conns.go); under TLS a refused one is
	// closed, since a plain 503 would not reach a TLS client.
	var ln net.Listener = connlimit.New(tcp, connlimit.Config{
		Max: o.conns.max, MaxPerAddr: o.conns.perAddr, Exempt: connlimit.Loopback(), HTTP503: tlsCfg == nil, Logger: log,
	})
	ok := false
	defer func() {
		if !ok {
			ln.Close()
		}
	}()
	publicURL := o.publicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
		if tlsCfg != nil {
			publicURL = "https://" + ln.Addr().String()
		}
	}
	svc := relay.New(store, relay.NewBroker(), relay.Config{PublicURL: publicURL, Logger: log, Secrets: box})

	tokenPath := filepath.Join(o.dataDir, "owner.token")
	_, statErr := os.Stat(tokenPath)
	var owner *domain.Owner
	var token string
	ensure := func(ctx context.Context) (err error) {
		owner, token, err = svc.EnsureOwner(ctx, "owner", errors.Is(statErr, os.ErrNotExist))
		return err
	}
	if cluster != nil {
		err = cluster.Exclusive(ctx, "ensure-owner", ensure) // two relays starting at once make one owner
	} else {
		err = ensure(ctx)
	}
	if err != nil {
		return nil, err
	}
	if token != "" {
		if err := writeSecretFile(tokenPath, token+"\n"); err != nil {
			return nil, err
		}
	}

	apiCfg := httpapi.DefaultConfig()
	apiCfg.CORSOrigins = corsOrigins
	if cluster != nil {
		apiCfg.SharedLimits = cluster // the per-credential limits hold for the whole cluster
	}
	metrics := httpapi.NewMetrics(svc) // fed by the webhook worker, the bot and the store (serve_metrics.go)
	apiCfg.Metrics, apiCfg.NoMetricsRoute = metrics, o.metrics.addr != ""
	apiCfg.TelegramKnown = true // newTelegram has metrics watch the bot, when there is one
	metrics.WatchOutbox(store.WebhookOutboxStats)
	metrics.WatchIMAP(store.IMAPConnectorStates)
	o.telegram.metrics = metrics
	if err := o.limits.apply(&apiCfg); err != nil { // serve_limits.go
		return nil, err
	}
	if apiCfg.Web, err = web.New(svc, web.Config{PublicURL: publicURL, Logger: log, SourceStatus: imapStatus(svc)}); err != nil { // the dashboard, same port
		return nil, err
	}

	// The notifiers (webhook worker, Telegram bot, IMAP manager) register
	// before the relay component starts them.
	hooks := webhook.New(store, webhook.Config{
		AllowPrivate: o.webhooks.allowPrivate, RetryBase: o.webhooks.retryBase, Timeout: o.webhooks.timeout, Logger: log,
		OnAttempt: metrics.WebhookAttempt,
	})
	svc.AddNotifier(relay.WakeOnChange(hooks.Wake))
	if o.webhooks.allowPrivate {
		log.Warn("webhooks may reach private and loopback addresses (--allow-private-webhooks)")
	}
	var botGate, mailGate *leaseGate // held while this relay runs the bot, the connectors
	if cluster != nil {
		botGate, mailGate = &leaseGate{}, &leaseGate{}
		o.telegram.gate = botGate
	}
	bot, err := newTelegram(ctx, svc, store, log, o.telegram) // serve_telegram.go; nil without a token
	if err != nil {
		return nil, err
	}
	if bot != nil {
		if botGate != nil {
			svc.AddNotifier(gatedNotifier{botGate, bot}) // only the relay that polls sends messages
		} else {
			svc.AddNotifier(bot)
		}
	}
	mail := imap.New(svc, store, imap.Config{Logger: log})
	if mailGate != nil {
		svc.AddNotifier(gatedNotifier{mailGate, mail})
	} else {
		svc.AddNotifier(mail)
	}

	srv := &http.Server{
		Handler:           httpapi.New(svc, log, apiCfg).Handler(),
		ReadHeaderTimeout: httpReadHeaderTimeout, // serve_conns.go
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout, // long-polls and SSE move their own deadlines
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         tlsCfg,
	}
	// Requests do not end with ctx: at shutdown the drain signal makes
	// long-polls answer with the request as it stands and event streams
	// end cleanly, while their contexts stay alive to do so.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if !ok {
			cancelBase()
		}
	}()
	draining := drain.New()
	srv.BaseContext = func(net.Listener) context.Context { return drain.With(baseCtx, draining) }
	srv.RegisterOnShutdown(draining.Start)

	sweeper := func(ctx context.Context) error {
		iv := o.sweep
		if iv <= 0 {
			iv = time.Second // as Service.Run has it
		}
		svc.RunSweeper(ctx, iv)
		return nil
	}
	enrollments := func(ctx context.Context) error { svc.RunEnrollmentSweeper(ctx, o.sweep); return nil } // they expire like requests (relay/enroll.go)
	connectors := func(ctx context.Context) error { mail.Run(ctx); return nil }
	poller := func(ctx context.Context) error {
		if err := bot.Run(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	}
	var comps []component
	if cluster == nil {
		comps = []component{
			{"relay", func(ctx context.Context) error { svc.Run(ctx, o.sweep); return nil }}, // sweeper and notifiers
			{"enrollments", enrollments},
			{"imap", connectors},
		}
		if bot != nil {
			comps = append(comps, component{"telegram", poller})
		}
	} else {
		// Notifiers, webhook workers (the outbox's claim is cluster-safe),
		// the listener and the HTTP server run on every relay; the rest on
		// one relay at a time (serve_cluster.go).
		comps = []component{
			{"notifiers", func(ctx context.Context) error { svc.RunNotifiers(ctx); return nil }},
			{"cluster", func(ctx context.Context) error { return svc.RunCluster(ctx, cluster) }},
			leases.component("sweeper", nil, sweeper),
			leases.component("enrollments", nil, enrollments),
			leases.component("imap", mailGate, connectors),
		}
		if bot != nil {
			comps = append(comps, leases.component("telegram", botGate, poller))
		}
	}
	comps = append(comps,
		component{"webhooks", func(ctx context.Context) error { hooks.Run(ctx); return nil }},
		component{"http", func(ctx context.Context) error {
			defer cancelBase() // ends any request left after the shutdown
			return serveHTTP(ctx, srv, ln, log)
		}},
	)
	if smtpPlan != nil {
		c, err := smtpPlan.component(m.banner, svc, log) // serve_smtp.go
		if err != nil {
			return nil, err
		}
		comps = append(comps, c)
	}

	fmt.Fprintf(m.banner, "agentotp relay listening on %s\n", publicURL)
	fmt.Fprintf(m.banner, "  data:        %s\n", o.dataDir)
	fmt.Fprintf(m.banner, "  database:    %s\n", db) // never its password (database.go)
	if cluster != nil {
		fmt.Fprintf(m.banner, "  cluster:     shared with the relays on the same database; instance %s; sweepers, IMAP and Telegram run on one relay at a time (lease %s)\n", cluster.Instance(), leases.ttl)
	}
	fmt.Fprintf(m.banner, "  owner:       %s (token in %s, mode 0600)\n", owner.ID, tokenPath)
	fmt.Fprintf(m.banner, "  dashboard:   %s/ (log in after `agentotp owner passwd` or `agentotp owner login-link`)\n", publicURL)
	if bot != nil {
		fmt.Fprintf(m.banner, "  telegram:    bot polling %s (link a chat: agentotp owner telegram-link)\n", o.telegram.apiURL)
	}
	if o.metrics.addr != "" {
		// Listening now (so a busy address fails the start, and the banner
		// names it); the component stops it with the relay.
		stop, err := o.metrics.start(ctx, m.banner, metrics.Handler(), log) // serve_metrics.go
		if err != nil {
			return nil, err
		}
		comps = append(comps, component{"metrics", func(ctx context.Context) error {
			<-ctx.Done()
			stop()
			return nil
		}})
	}
	fmt.Fprintf(m.banner, "next, in another shell:\n  agentotp agents create --name my-agent --server %s --data %s\n", publicURL, o.dataDir)
	log.Info("relay listening", "addr", ln.Addr().String(), "public_url", publicURL, "owner_id", owner.ID, "database", db.String())
	ok = true
	return comps, nil
}

// serveHTTP serves srv on ln until ctx ends, then shuts it down: no new
// connections, the drain signal (registered with srv) answers long-polls
// and ends event streams, and the other requests in flight finish (within
// shutdownTimeout).
//
// An HTTP/2 connection whose client reset its last stream after the
// server's GOAWAY can stay open until its idle timeout (net/http's HTTP/2
// server starts its close timer only after a frame it writes), which would
// hold Shutdown for that long with nothing left to do. So once no request
// is in flight, Shutdown gets idleGrace more to finish by itself, and then
// the remaining idle connections are closed.
func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger) error {
	var active atomic.Int64
	next := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		defer active.Add(-1)
		next.ServeHTTP(w, r)
	})
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(shutCtx) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var idleSince time.Time
	var err error
wait:
	for {
		select {
		case err = <-shut:
			break wait
		case <-tick.C:
			if active.Load() > 0 {
				idleSince = time.Time{}
				continue
			}
			if idleSince.IsZero() {
				idleSince = time.Now()
			} else if time.Since(idleSince) > idleGrace {
				log.Info("closing idle connections left after the shutdown")
				srv.Close()
				<-shut
				break wait
			}
		}
	}
	if err != nil {
		srv.Close()
		err = fmt.Errorf("shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed
	return err
}

// idleGrace is how long Shutdown may take once no request is in flight
// (HTTP/2's own GOAWAY close takes 1 s).
const idleGrace = 2 * time.Second
