package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	domain "github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/imap"
	"github.com/agentotp/agentotp/postgres"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/sqlite"
	"github.com/agentotp/agentotp/telegram"
	"github.com/agentotp/agentotp/webhook"
)

// database is where serve keeps its data, from --database: a SQLite file
// (the default, in the data directory) or a PostgreSQL database that
// several relays may share.
type database struct {
	sqlitePath  string // set for SQLite
	postgresURL string // set for PostgreSQL
}

// parseDatabase reads --database: "" or sqlite:PATH for SQLite,
// postgres://… or postgresql://… for PostgreSQL.
func parseDatabase(flag, dataDir string) (database, error) {
	scheme, _, _ := strings.Cut(flag, ":")
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		u, err := url.Parse(flag)
		if err != nil || !strings.HasPrefix(flag[len(scheme):], "://") {
			return database{}, errors.New("--database: a PostgreSQL URL looks like postgres://USER:PASSWORD@HOST:5432/DBNAME?sslmode=verify-full")
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return database{}, errors.New("--database: the PostgreSQL URL names no host")
		}
		return database{postgresURL: flag}, nil
	}
	path, err := sqlitePath(flag, dataDir)
	if err != nil {
		return database{}, err
	}
	return database{sqlitePath: path}, nil
}

// String names the database for a person (the banner, the log): the
// password of a PostgreSQL URL is never in it.
func (d database) String() string {
	if d.postgresURL != "" {
		return redactURL(d.postgresURL)
	}
	return "sqlite:" + d.sqlitePath
}

// redactURL returns the URL with its password, in the user part or in a
// password= parameter, replaced by "xxxxx".
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a database URL that does not parse)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			q.Set(k, "xxxxx")
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// unsupportedScheme is sqlitePath's refusal of another scheme.
func unsupportedScheme(scheme string) error {
	return fmt.Errorf("--database: unsupported scheme %q; use sqlite:PATH or postgres://USER:PASSWORD@HOST/DBNAME", scheme)
}

// relayStore is what serve needs of a store: the domain's, and the parts
// of their own the webhook worker, the IMAP connectors and the Telegram
// bot use, and the metrics' readings. Both stores provide it.
type relayStore interface {
	domain.Store
	webhook.Store
	imap.Store
	telegram.Prompts
	telegram.EnrollPrompts
	WebhookOutboxStats(ctx context.Context) (pending int, oldest time.Time, err error)
	IMAPConnectorStates(ctx context.Context) (map[string]int, error)
	Close() error
}

// openStore opens the database serve was given. A PostgreSQL store is
// an agentotp.Cluster too.
func openStore(ctx context.Context, db database, log *slog.Logger, box *secretbox.Box) (relayStore, error) {
	if db.postgresURL == "" {
		store, err := sqlite.Open(ctx, db.sqlitePath, log, sqlite.WithSecretBox(box))
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return store, nil
	}
	store, err := postgres.Open(ctx, db.postgresURL, log, postgres.WithSecretBox(box))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", db, err)
	}
	return store, nil
}

// Both stores are what serve needs; the PostgreSQL one is also a Cluster.
var (
	_ relayStore     = (*sqlite.DB)(nil)
	_ relayStore     = (*postgres.Store)(nil)
	_ domain.Cluster = (*postgres.Store)(nil)
)
