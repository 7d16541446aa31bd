// Package postgres is the agentotp store on PostgreSQL 15 or later: an
// [agentotp.Store] that several relay processes share, written with
// github.com/jackc/pgx/v5 (pgxpool).
//
// The schema is a list of SQL migrations embedded in the binary; [Open]
// applies those not yet applied, in one transaction that holds a fixed
// advisory lock, so that relays starting at once migrate once.
//
// Times are stored as bigint unix microseconds (0 for the zero time) and
// returned in UTC, as the SQLite store does; booleans as bigint 0 or 1;
// hashes and sealed blobs as bytea. Table and column names are the SQLite
// store's, so that rows copy from one to the other table by table.
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/secretbox"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the key of the transaction-level advisory lock that
// serializes migrations across processes ("agentotp" in ASCII, as a
// bigint).
const migrateLockKey int64 = 0x6167656e746f7470

// Store is an [agentotp.Store] kept in a PostgreSQL database. It is safe
// for concurrent use, and several Stores (in one process or many) may
// share one database.
type Store struct {
	pool     *pgxpool.Pool
	logger   *slog.Logger
	box      *secretbox.Box // seals the secrets the store must read back
	auditKey []byte         // keys the audit chain; derived from box's key
	instance string         // names this handle (Instance)

	maxConns int32 // WithMaxConns; 0 keeps pgxpool's default
	liveCap  int   // WithLiveCap; 0: none
}

// Option configures Open.
type Option func(*Store)

// WithSecretBox makes the store seal the secrets it must read back (the
// agents' webhook signing secrets, source keys, IMAP passwords) with box,
// and derive the audit chain's key from it. Without it, Open loads the box
// key from $AGENTOTP_SECRET_KEY and fails when that is unset: a database
// has no directory to keep a key file in.
func WithSecretBox(box *secretbox.Box) Option { return func(s *Store) { s.box = box } }

// WithMaxConns bounds the connections the store's pool opens (pgxpool's
// default, the larger of 4 and the number of CPUs, when n < 1).
func WithMaxConns(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.maxConns = int32(min(n, 1<<20))
		}
	}
}

// WithLiveCap sets the bound that CreateRequest keeps on an agent's live
// requests (waiting and unexpired), for the whole cluster:
// agentotp.MaxLiveRequestsPerAgent unless this option is given; n < 1
// lifts it. Only the store suite lifts it, whose fixtures make more
// waiting requests of one agent than the relay allows (the relay checks
// the bound again itself).
func WithLiveCap(n int) Option { return func(s *Store) { s.liveCap = max(n, 0) } }

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string), applies the migrations it has not yet
// run, and returns the store. A nil logger discards the log.
func Open(ctx context.Context, url string, logger *slog.Logger, opts ...Option) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{logger: logger, liveCap: agentotp.MaxLiveRequestsPerAgent}
	for _, o := range opts {
		o(s)
	}
	if s.box == nil {
		if strings.TrimSpace(os.Getenv(secretbox.EnvKey)) == "" {
			return nil, fmt.Errorf("postgres: open: no secret box: give one (WithSecretBox) or set %s", secretbox.EnvKey)
		}
		key, err := secretbox.LoadKey("")
		if err != nil {
			return nil, fmt.Errorf("postgres: open: %w", err)
		}
		if s.box, err = secretbox.New(key); err != nil {
			return nil, fmt.Errorf("postgres: open: %w", err)
		}
	}
	s.auditKey = s.box.DeriveKey(secretbox.PurposeAuditChain)
	s.instance = newInstance()

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's error may quote the URL, password and all.
		return nil, errors.New("postgres: open: the database URL does not parse")
	}
	if s.maxConns > 0 {
		cfg.MaxConns = s.maxConns
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "agentotp " + s.instance
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	s.pool = pool
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.checkSecretKey(ctx); err != nil { // keycheck.go
		pool.Close()
		return nil, err
	}
	return s, nil
}

// newInstance returns a name for a store handle that is unique for the
// life of the process: host-pid-<8 random hex>.
func newInstance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Instance names this store handle: the Origin of the changes it commits
// (agentotp.Cluster).
func (s *Store) Instance() string { return s.instance }

// Pool returns the store's connection pool, for the other parts of this
// package and for tests; callers must not close it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// SecretBox returns the box the store seals secrets with.
func (s *Store) SecretBox() *secretbox.Box { return s.box }

// Close closes the store's connections, waiting for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migrations returns the embedded migrations' versions (file names without
// ".sql") and bodies, in name order.
func migrations() ([]string, map[string]string, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	var versions []string
	bodies := map[string]string{}
	for _, name := range names {
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		v := strings.TrimSuffix(path.Base(name), ".sql")
		versions = append(versions, v)
		bodies[v] = string(b)
	}
	return versions, bodies, nil
}

// migrate applies, in the order of their names, the embedded migrations
// that schema_migrations does not list yet, all in one transaction that
// holds the advisory lock migrateLockKey: a second process that opens the
// database meanwhile waits, and then finds them applied.
func (s *Store) migrate(ctx context.Context) error {
	versions, bodies, err := migrations()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	var applied []string
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    text   NOT NULL PRIMARY KEY,
			applied_at bigint NOT NULL
		)`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		done, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, v := range versions {
			if slices.Contains(done, v) {
				continue
			}
			if _, err := tx.Exec(ctx, bodies[v]); err != nil {
				return fmt.Errorf("%s: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
				v, time.Now().UnixMicro()); err != nil {
				return fmt.Errorf("%s: %w", v, err)
			}
			applied = append(applied, v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, v := range applied {
		s.logger.InfoContext(ctx, "postgres: applied migration", "version", v)
	}
	return nil
}

// tx runs fn in a read-committed transaction and commits it when fn
// returns nil; fn's error (or the commit's) is returned, and a failed fn
// leaves nothing written.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

var _ agentotp.Store = (*Store)(nil)
