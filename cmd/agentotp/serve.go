package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/sqlite"
	"github.com/agentotp/agentotp/web"
)

type serveOptions struct {
	addr      string
	dataDir   string
	database  string
	publicURL string
	logFormat string
	logLevel  string
	sweep     time.Duration
	webhooks  webhookServeOptions // webhooks.go
	smtp      smtpServeOptions    // serve_smtp.go
	cors      corsServeOptions    // serve_cors.go

	telegram telegramServeOptions // serve_telegram.go
}

func newServeCmd(a *app) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the relay (embedded SQLite in the data directory)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), a, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8787", "listen address (env AGENTOTP_ADDR)")
	f.StringVar(&o.dataDir, "data", defaultDataDir, "data directory of the embedded store and owner.token (env AGENTOTP_DATA)")
	f.StringVar(&o.database, "database", "", "database URL, sqlite:PATH (default sqlite:<data>/agentotp.db) (env AGENTOTP_DATABASE)")
	f.StringVar(&o.publicURL, "public-url", "", "public base URL used in approval_url (default http://<addr>) (env AGENTOTP_PUBLIC_URL)")
	f.StringVar(&o.logFormat, "log-format", "auto", "log format: auto (text on a terminal, else JSON), text or json (env AGENTOTP_LOG_FORMAT)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error (env AGENTOTP_LOG_LEVEL)")
	o.webhooks.flags(f)
	o.smtp.flags(f)
	o.cors.flags(f)
	o.telegram.flags(f)
	f.DurationVar(&o.sweep, "sweep-interval", 5*time.Second, "how often expired requests are swept (env AGENTOTP_SWEEP_INTERVAL)")
	return cmd
}

// newLogger builds the slog logger: text on a terminal, JSON otherwise.
func newLogger(w *os.File, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "auto":
		if fi, err := w.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be auto, text or json, not %q", format)
}

// sqlitePath resolves the database flag into a SQLite file path.
func sqlitePath(database, dataDir string) (string, error) {
	if database == "" {
		return filepath.Join(dataDir, "agentotp.db"), nil
	}
	if rest, ok := strings.CutPrefix(database, "sqlite:"); ok {
		rest = strings.TrimPrefix(rest, "//")
		if rest == "" {
			return "", errors.New("--database sqlite: needs a path, e.g. sqlite:./agentotp-data/agentotp.db")
		}
		return rest, nil
	}
	scheme, _, _ := strings.Cut(database, ":")
	return "", fmt.Errorf("--database: unsupported scheme %q; this build stores data in SQLite (sqlite:PATH)", scheme)
}

func serve(ctx context.Context, a *app, o serveOptions) error {
	logOut, ok := a.stderr.(*os.File)
	if !ok {
		logOut = os.Stderr
	}
	log, err := newLogger(logOut, o.logFormat, o.logLevel)
	if err != nil {
		return &exitErr{exitUsage, err}
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	dbPath, err := sqlitePath(o.database, o.dataDir)
	if err != nil {
		return &exitErr{exitUsage, err}
	}
	box, err := loadSecretBox(o.dataDir) // webhooks.go: seals the webhook secrets at rest
	if err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, dbPath, log, sqlite.WithSecretBox(box))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer store.Close()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	publicURL := o.publicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	svc := relay.New(store, relay.NewBroker(), relay.Config{PublicURL: publicURL, Logger: log, Secrets: box})

	tokenPath := filepath.Join(o.dataDir, "owner.token")
	_, statErr := os.Stat(tokenPath)
	owner, token, err := svc.EnsureOwner(ctx, "owner", errors.Is(statErr, os.ErrNotExist))
	if err != nil {
		ln.Close()
		return err
	}
	if token != "" {
		if err := writeSecretFile(tokenPath, token+"\n"); err != nil {
			ln.Close()
			return err
		}
	}

	apiCfg := httpapi.DefaultConfig()
	if apiCfg.CORSOrigins, err = o.cors.parse(); err != nil {
		ln.Close()
		return err
	}
	if apiCfg.Web, err = web.New(svc, web.Config{PublicURL: publicURL, Logger: log, SourceStatus: imapStatus(svc)}); err != nil { // the dashboard, same port
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           httpapi.New(svc, log, apiCfg).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      30 * time.Second, // long-polls and SSE extend their own deadline
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	startWebhookWorker(sweepCtx, svc, store, log, o.webhooks) // webhooks.go; before svc.Run, which starts the notifiers
	// serve_telegram.go; before svc.Run, like the webhook worker.
	if err := startTelegram(sweepCtx, a.stderr, svc, store, log, o.telegram); err != nil {
		ln.Close()
		return err
	}
	stopIMAP := startIMAP(sweepCtx, svc, store, log) // serve_imap.go; before svc.Run, like the webhook worker
	defer stopIMAP()
	runDone := make(chan struct{})
	enrollDone := make(chan struct{}) // enrollments expire like requests (relay/enroll.go)
	go func() { svc.RunEnrollmentSweeper(sweepCtx, o.sweep); close(enrollDone) }()
	go func() { svc.Run(sweepCtx, o.sweep); <-enrollDone; close(runDone) }()
	// Stop the sweeper and notifiers, and wait for them, before the
	// deferred store.Close runs.
	defer func() { stopSweep(); <-runDone }()

	fmt.Fprintf(a.stderr, "agentotp relay listening on %s\n", publicURL)
	fmt.Fprintf(a.stderr, "  data:        %s\n", o.dataDir)
	fmt.Fprintf(a.stderr, "  owner:       %s (token in %s, mode 0600)\n", owner.ID, tokenPath)
	fmt.Fprintf(a.stderr, "  dashboard:   %s/ (log in after `agentotp owner passwd` or `agentotp owner login-link`)\n", publicURL)
	stopSMTP, err := startSMTP(ctx, a.stderr, svc, log, o.smtp) // serve_smtp.go; off without --smtp-addr
	if err != nil {
		ln.Close()
		return err
	}
	defer stopSMTP()
	fmt.Fprintf(a.stderr, "next, in another shell:\n  agentotp agents create --name my-agent --server %s --data %s\n", publicURL, o.dataDir)
	log.Info("relay started", "addr", ln.Addr().String(), "public_url", publicURL, "owner_id", owner.ID)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// writeSecretFile writes data to path with mode 0600, replacing any file.
// The data goes to a new temporary file (created 0600, never following a
// link) that is then renamed over path.
func writeSecretFile(path, data string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.WriteString(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
