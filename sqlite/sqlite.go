// Package sqlite is the embedded store of agentotp: an [agentotp.Store] in
// one SQLite file, written with the pure-Go driver modernc.org/sqlite.
//
// The database runs in WAL mode. All writes go through a single connection
// and begin their transactions IMMEDIATE, so writers are serialized inside
// the process and never fail with SQLITE_BUSY; writes that arrive together
// share one transaction, each in a savepoint of its own (group commit); reads use a separate pool of
// read-only connections that WAL lets proceed beside the writer. The schema
// is a list of SQL migrations embedded in the binary and applied by [Open].
//
// Times are stored as unix microseconds (0 for the zero time) and returned
// in UTC, so a time written with finer precision reads back truncated to
// the microsecond.
//
// The ciphertext of a request that reached a final status does not linger:
// deleted content is overwritten with zeros (PRAGMA secure_delete), and
// once an update has erased ciphertext a background checkpoint copies the
// write-ahead log into the database and truncates it, since the log still
// holds the older page images: within CheckpointDelay, or sooner once
// CheckpointBatch requests wait for it.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
	"github.com/agentotp/agentotp/secretbox"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeout is how long a connection waits for a lock that another
// process holds before it gives up with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// checkpointWait bounds how long the background checkpoint waits for
// readers, while it holds up writers.
const checkpointWait = 500 * time.Millisecond

// DB is an [agentotp.Store] kept in one SQLite database file. It is safe for
// concurrent use.
type DB struct {
	write  *sql.DB // one connection: every write transaction is serialized
	read   *sql.DB // read-only connections
	logger *slog.Logger
	box    *secretbox.Box // seals the secrets the store must read back (secrets.go)
	// auditKey keys the audit chain (audit.go); derived from box's key.
	auditKey []byte

	erased chan struct{} // signals the checkpointer that ciphertext was erased
	// erasedFull signals that CheckpointBatch erasures wait; pendingErased
	// counts them.
	erasedFull    chan struct{}
	pendingErased atomic.Int64
	stop          chan struct{}  // closed by Close
	wg            sync.WaitGroup // the checkpointer and the committer
	txq           chan *txReq    // writes waiting for the committer (tx)
	grouped       atomic.Int64   // writes that shared a transaction with others

	closeOnce sync.Once
	closeErr  error
}

var _ agentotp.Store = (*DB)(nil)

// Open opens (creating it if needed) the SQLite database at path, applies
// the migrations it has not yet run, and returns the store. path must name
// a file: an in-memory database cannot be shared by the read and write
// connections. A nil logger discards the log.
func Open(ctx context.Context, path string, logger *slog.Logger, opts ...Option) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: want the path of a database file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	uri := fileURI(abs)
	ms := busyTimeout.Milliseconds()

	write, err := openDB(writeDSN(uri))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	db := &DB{write: write, logger: logger}
	for _, o := range opts {
		o(db)
	}
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// The box, and the audit key derived from it, before the migrations:
	// one of them seals the audit rows written before the chain was keyed.
	if err := db.ensureBox(abs); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.auditKey = db.box.DeriveKey(secretbox.PurposeAuditChain)
	if err := db.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}
	db.erased = make(chan struct{}, 1)
	db.erasedFull = make(chan struct{}, 1)
	if err := db.initSecrets(ctx, abs); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	readDSN := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=query_only(1)", uri, ms)
	read, err := openDB(readDSN)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxIdleTime(5 * time.Minute)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.read = read
	db.stop = make(chan struct{})
	db.txq = make(chan *txReq)
	db.wg.Go(db.checkpointer)
	db.wg.Go(db.committer)
	return db, nil
}

// fileURI is the file: URI of the absolute path abs, so that SQLite (not
// the driver) parses the path: its characters are percent-escaped and
// cannot be mistaken for parameters.
func fileURI(abs string) string {
	slashed := filepath.ToSlash(abs)
	if !strings.HasPrefix(slashed, "/") {
		slashed = "/" + slashed // C:/x becomes file:/C:/x
	}
	return "file:" + (&url.URL{Path: slashed}).EscapedPath()
}

// writeDSN is the data source name of the write connection to the
// database at the file: URI uri: WAL, synchronous NORMAL, secure_delete,
// foreign keys, IMMEDIATE transactions, and temporary files in memory
// (temp_store MEMORY): the savepoint of each write of a group commit keeps
// the pages it changes in a sub-journal, which then lives in memory rather
// than in a temporary file written page by page, so the pages of a
// request's ciphertext are never copied to another file on disk.
func writeDSN(uri string) string {
	return fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"+
		"&_pragma=synchronous(NORMAL)&_pragma=secure_delete(1)&_pragma=temp_store(MEMORY)&_txlock=immediate", uri, busyTimeout.Milliseconds())
}

// Close closes the database. It first lets SQLite refresh the statistics
// of its query planner (PRAGMA optimize); the last connection to close
// checkpoints the write-ahead log into the database file. Later calls
// return the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		close(db.stop)
		db.wg.Wait()
		_, err := db.write.Exec("PRAGMA optimize")
		db.closeErr = errors.Join(err, db.read.Close(), db.write.Close())
	})
	return db.closeErr
}

// Checkpoint copies the write-ahead log into the database file and
// truncates the log, so that no older page image (the ciphertext of a
// finished request, say) remains in it. The store runs it by itself after
// ciphertext was erased; it fails if readers keep it from finishing.
func (db *DB) Checkpoint(ctx context.Context) error {
	var busy, frames, done int
	if err := db.write.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
		return fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("sqlite: checkpoint: blocked by readers (%d of %d frames copied)", done, frames)
	}
	return nil
}

// The checkpoint that erases finished requests' ciphertext from the
// write-ahead log runs at most CheckpointDelay after the first erasure
// since the last checkpoint, or at once when CheckpointBatch requests'
// ciphertext is waiting, whichever comes first: one checkpoint serves a
// batch of finished requests instead of each paying for its own (a
// truncating checkpoint holds up every write while it copies the log and
// syncs the file). The batch bounds the log's growth under load; below
// about a thousand finished requests a second the delay is what counts. Readers that block
// it delay it further by the retries below (at most about 2 s).
const (
	CheckpointDelay = time.Second
	CheckpointBatch = 1024
)

// checkpointer runs Checkpoint once updates have erased ciphertext, within
// the bound of CheckpointDelay and CheckpointBatch, retrying a few times
// while readers block it, until Close.
func (db *DB) checkpointer() {
	for {
		select {
		case <-db.stop:
			return
		case <-db.erased:
		}
		wait := time.NewTimer(CheckpointDelay)
		select {
		case <-db.stop:
			wait.Stop()
			return
		case <-wait.C:
		case <-db.erasedFull:
			wait.Stop()
		}
		db.pendingErased.Store(0)
		// An erasure signalled after the reset starts the next round.
		select {
		case <-db.erasedFull:
		default:
		}
		for attempt := range 5 {
			ctx, cancel := context.WithTimeout(context.Background(), checkpointWait)
			err := db.Checkpoint(ctx)
			cancel()
			if err == nil {
				break
			}
			db.logger.Debug("sqlite: checkpoint after erasing ciphertext", "attempt", attempt+1, "err", err)
			select {
			case <-db.stop:
				return
			case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
			}
		}
	}
}

// erasedCiphertext tells the checkpointer that ciphertext was erased.
func (db *DB) erasedCiphertext() {
	n := db.pendingErased.Add(1)
	select {
	case db.erased <- struct{}{}:
	default:
	}
	if n >= CheckpointBatch {
		select {
		case db.erasedFull <- struct{}{}:
		default:
		}
	}
}

// migrate applies, in the order of their names, the embedded migrations
// that schema_migrations does not list yet. Each runs in its own
// transaction together with its schema_migrations row.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    TEXT    NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", version, err)
		}
		applied := false
		err = db.tx(ctx, func(tx *sql.Tx) error {
			var n int
			// Checked inside the IMMEDIATE transaction, so two processes
			// opening the same file cannot both apply a migration.
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			if err := db.afterMigration(ctx, tx, version); err != nil { // audit.go
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				version, time.Now().UnixMicro()); err != nil {
				return err
			}
			applied = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", version, err)
		}
		if applied {
			db.logger.InfoContext(ctx, "sqlite: applied migration", "version", version)
		}
	}
	return nil
}

// maxGroup bounds the writes one group commit takes.
const maxGroup = 64

// txReq is one write waiting for the committer.
type txReq struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan error
}

// tx runs fn in a write transaction, which the write connection begins
// IMMEDIATE, and commits it when fn returns nil; fn's error (or the
// commit's) is returned, and a failed fn leaves nothing written.
//
// Writes that arrive together share one transaction (group commit): the
// committer takes every write queued while the previous transaction ran,
// up to maxGroup, runs each inside a savepoint of one transaction (a
// failing one is rolled back to its savepoint, alone), and commits once;
// each caller is told its own outcome. Before Open has started the
// committer (migrations, say) fn runs in a transaction of its own.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.txq == nil {
		return db.txAlone(ctx, fn)
	}
	r := &txReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.txq <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.stop:
		return errors.New("the store is closed")
	}
	return <-r.done
}

// txAlone runs fn in a transaction of its own.
func (db *DB) txAlone(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// committer runs the queued writes, a group at a time, until Close.
func (db *DB) committer() {
	for {
		var first *txReq
		select {
		case <-db.stop:
			return
		case first = <-db.txq:
		}
		group := []*txReq{first}
	drain:
		for len(group) < maxGroup {
			select {
			case r := <-db.txq:
				group = append(group, r)
			default:
				break drain
			}
		}
		db.runGroup(group)
	}
}

// runGroup runs a group of writes in one transaction and tells each its
// outcome.
func (db *DB) runGroup(group []*txReq) {
	if len(group) == 1 {
		r := group[0]
		r.done <- db.txAlone(r.ctx, r.fn)
		return
	}
	db.grouped.Add(int64(len(group)))
	errs := make([]error, len(group))
	tx, err := db.write.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range group {
			r.done <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	ok := false
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.Exec("SAVEPOINT w"); err != nil {
			errs[i] = fmt.Errorf("savepoint: %w", err)
			continue
		}
		if errs[i] = r.fn(tx); errs[i] != nil {
			if _, err := tx.Exec("ROLLBACK TO w"); err != nil {
				errs[i] = errors.Join(errs[i], fmt.Errorf("rollback to savepoint: %w", err))
			}
		}
		if _, err := tx.Exec("RELEASE w"); err != nil && errs[i] == nil {
			errs[i] = fmt.Errorf("release savepoint: %w", err)
		}
		ok = ok || errs[i] == nil
	}
	var cerr error
	if ok {
		if err := tx.Commit(); err != nil {
			cerr = fmt.Errorf("commit: %w", err)
		}
	} else {
		_ = tx.Rollback()
	}
	for i, r := range group {
		if errs[i] == nil && cerr != nil {
			errs[i] = cerr
		}
		r.done <- errs[i]
	}
}

// conflictOnDuplicate adds agentotp.ErrConflict to the chain of a primary
// key or unique constraint violation: a row with that key exists already.
func conflictOnDuplicate(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%w: %w", agentotp.ErrConflict, err)
		}
	}
	return err
}

// collect scans every row of rows with scan, and closes rows.
func collect[T any](rows *sql.Rows, scan func(storerow.Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	return storerow.Collect(rows, scan)
}

// list runs query on the read pool and scans its rows with scan; errors
// read "sqlite: <what>: …".
func list[T any](ctx context.Context, db *DB, what string, scan func(storerow.Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	out, err := collect(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}

// notFound turns sql.ErrNoRows into agentotp.ErrNotFound, and passes any
// other error (or nil) on.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return agentotp.ErrNotFound
	}
	return err
}

// changed passes on the outcome of an Exec, or agentotp.ErrNotFound when
// it changed no row.
func changed(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return agentotp.ErrNotFound
	}
	return nil
}
