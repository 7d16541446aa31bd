package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentotp/agentotp/httpapi"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type serveOptions struct {
	addr      string
	dataDir   string
	database  string
	publicURL string
	logFormat string
	logLevel  string
	sweep     time.Duration
	leaseTTL  time.Duration       // serve_cluster.go
	webhooks  webhookServeOptions // webhooks.go
	smtp      smtpServeOptions    // serve_smtp.go
	cors      corsServeOptions    // serve_cors.go
	tls       tlsServeOptions     // serve_tls.go
	conns     connServeOptions    // serve_conns.go
	limits    limitServeOptions   // serve_limits.go

	telegram telegramServeOptions // serve_telegram.go
	metrics  metricsServeOptions  // serve_metrics.go
}

func newServeCmd(a *app) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the relay (embedded SQLite in the data directory, or PostgreSQL shared by several relays)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), a, o)
		},
	}
	o.flags(cmd.Flags())
	return cmd
}

// flags adds serve's flags to f, with their defaults.
func (o *serveOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.addr, "addr", "127.0.0.1:8787", "listen address (env AGENTOTP_ADDR)")
	f.StringVar(&o.dataDir, "data", defaultDataDir, "data directory of the embedded store and owner.token (env AGENTOTP_DATA)")
	f.StringVar(&o.database, "database", "", "database URL, sqlite:PATH (default sqlite:<data>/agentotp.db) (env AGENTOTP_DATABASE)")
	f.StringVar(&o.publicURL, "public-url", "", "public base URL used in approval_url (default http://<addr>, https://<addr> with --tls-cert) (env AGENTOTP_PUBLIC_URL)")
	f.StringVar(&o.logFormat, "log-format", "auto", "log format: auto (text on a terminal, else JSON), text or json (env AGENTOTP_LOG_FORMAT)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error (env AGENTOTP_LOG_LEVEL)")
	o.webhooks.flags(f)
	o.smtp.flags(f)
	o.cors.flags(f)
	o.tls.flags(f)
	o.conns.flags(f)
	o.limits.flags(f)
	o.telegram.flags(f)
	o.metrics.flags(f)
	f.DurationVar(&o.sweep, "sweep-interval", 5*time.Second, "how often expired requests are swept (env AGENTOTP_SWEEP_INTERVAL)")
	f.DurationVar(&o.leaseTTL, "cluster-lease-ttl", defaultLeaseTTL, "with a PostgreSQL --database: how long the lease of what runs on one relay at a time (sweepers, IMAP, Telegram) outlives its holder; renewed every third of it, 1s to 5m (env AGENTOTP_CLUSTER_LEASE_TTL)")
}

// newLogger builds the slog logger: text on a terminal, JSON otherwise;
// lines logged while handling an HTTP request carry its request_id.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	log, err := newBaseLogger(w, format, level)
	if err != nil {
		return nil, err
	}
	return slog.New(httpapi.RequestIDHandler(log.Handler())), nil
}

func newBaseLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "auto":
		if isTerminal(w) { // root.go
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
	return "", unsupportedScheme(scheme) // database.go
}

func serve(ctx context.Context, a *app, o serveOptions) (err error) {
	log, err := newLogger(a.stderr, o.logFormat, o.logLevel)
	if err != nil {
		return &exitErr{exitUsage, err}
	}
	m := newRelayMain(a.stdout, log, o) // serve_main.go
	defer func() { err = errors.Join(err, m.Close()) }()
	return m.Run(ctx)
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
