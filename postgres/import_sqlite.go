package postgres

// The SQLite side of ImportSQLite (import.go): the relay's SQLite database
// opened read-only, its schema version checked, its audit chain read and
// verified, and its tables read row by row inside one read transaction.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// SQLiteSchema lists the migrations of the SQLite store (package sqlite)
// that ImportSQLite knows how to copy: a database must have applied
// exactly these. A test keeps it equal to the migrations the sqlite
// package applies.
var SQLiteSchema = []string{
	"0001_init",
	"0002_policies",
	"0003_webhooks",
	"0004_dashboard",
	"0005_capture",
	"0006_imap",
	"0007_webhook_gone",
	"0008_audit_keyed",
	"0010_enroll",
	"0011_webhook_request_order",
	"0011_webhook_secret_grace",
	"0012_signing_keys",
}

// sqliteMagic opens every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// sqliteSource is a relay's SQLite database, opened read-only, read
// inside one transaction so that every table is read at the same point.
type sqliteSource struct {
	path string
	db   *sql.DB
	tx   *sql.Tx
}

// openSQLiteSource opens the SQLite database file at path read-only and
// checks that it is an agentotp relay's at the schema SQLiteSchema names.
func openSQLiteSource(ctx context.Context, path string) (*sqliteSource, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("the SQLite database %s: %w", path, err)
	}
	if err := checkSQLiteFile(abs); err != nil {
		return nil, err
	}
	// Read-only. Without a write-ahead log holding data, as a relay that
	// stopped leaves it, the file is also opened immutable: SQLite then
	// takes no lock and makes no -wal and -shm beside it (nobody writes it
	// meanwhile: the caller holds the data directory's lock). A log that
	// holds transactions (a relay that was killed) must be read, which
	// takes SQLite's shared memory file.
	dsn := sqliteFileURI(abs) + "?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(10000)"
	if fi, err := os.Stat(abs + "-wal"); err != nil || fi.Size() == 0 {
		dsn += "&immutable=1"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the SQLite database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open the SQLite database %s: %w", path, err)
	}
	src := &sqliteSource{path: path, db: db, tx: tx}
	if err := src.checkSchema(ctx); err != nil {
		src.Close()
		return nil, err
	}
	return src, nil
}

// checkSQLiteFile tells a missing file, a directory and a file that is no
// SQLite database apart, before SQLite is asked to open it.
func checkSQLiteFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("no SQLite database at %s: the file does not exist", path)
	case err != nil:
		return fmt.Errorf("the SQLite database %s: %w", path, err)
	case fi.IsDir():
		return fmt.Errorf("%s is a directory, not a SQLite database file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("the SQLite database %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, []byte(sqliteMagic)) {
		return fmt.Errorf("%s is not a SQLite database file", path)
	}
	return nil
}

// sqliteFileURI is the file: URI of the absolute path abs, its characters
// escaped so that none is read as a URI parameter.
func sqliteFileURI(abs string) string {
	slashed := filepath.ToSlash(abs)
	if !strings.HasPrefix(slashed, "/") {
		slashed = "/" + slashed
	}
	return "file:" + (&url.URL{Path: slashed}).EscapedPath()
}

// Close ends the read transaction and closes the database.
func (s *sqliteSource) Close() error {
	_ = s.tx.Rollback()
	return s.db.Close()
}

// checkSchema refuses a database that is not an agentotp relay's, or
// whose migrations are not exactly SQLiteSchema.
func (s *sqliteSource) checkSchema(ctx context.Context) error {
	tables, err := s.tables(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(tables, "schema_migrations") || !slices.Contains(tables, "owners") {
		return fmt.Errorf("%s is not an agentotp relay's database (it has no schema_migrations and owners tables)", s.path)
	}
	rows, err := s.tx.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return fmt.Errorf("read the schema version of %s: %w", s.path, err)
	}
	var have []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("read the schema version of %s: %w", s.path, err)
		}
		have = append(have, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the schema version of %s: %w", s.path, err)
	}
	var unknown, missing []string
	for _, v := range have {
		if !slices.Contains(SQLiteSchema, v) {
			unknown = append(unknown, v)
		}
	}
	for _, v := range SQLiteSchema {
		if !slices.Contains(have, v) {
			missing = append(missing, v)
		}
	}
	switch {
	case len(unknown) > 0:
		return fmt.Errorf("%s has SQLite migrations this agentotp does not know (%s): it was written by a newer agentotp; migrate with that version",
			s.path, strings.Join(unknown, ", "))
	case len(missing) > 0:
		return fmt.Errorf("%s lacks SQLite migrations %s: it was written by an older agentotp; run this version's agentotp serve on it once (it upgrades the schema), stop it, then migrate",
			s.path, strings.Join(missing, ", "))
	}
	return nil
}

// tables returns the names of the database's tables, SQLite's own
// excepted.
func (s *sqliteSource) tables(ctx context.Context) ([]string, error) {
	rows, err := s.tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read the tables of %s: %w", s.path, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("read the tables of %s: %w", s.path, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the tables of %s: %w", s.path, err)
	}
	return out, nil
}

// columns returns the columns of table, in their order.
func (s *sqliteSource) columns(ctx context.Context, table string) ([]string, error) {
	rows, err := s.tx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", table, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	return out, nil
}

// count returns the number of rows of table matching where ("" for all).
func (s *sqliteSource) count(ctx context.Context, table, where string, args ...any) (int64, error) {
	q := `SELECT count(*) FROM "` + table + `"`
	if where != "" {
		q += ` WHERE ` + where
	}
	var n int64
	if err := s.tx.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the rows of %s: %w", table, err)
	}
	return n, nil
}

// query reads the columns cols of the rows of table that match where (""
// for all), in the order of order.
func (s *sqliteSource) query(ctx context.Context, table string, cols []string, where, order string, args []any) (*sql.Rows, error) {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = `"` + c + `"`
	}
	q := `SELECT ` + strings.Join(quoted, ", ") + ` FROM "` + table + `"`
	if where != "" {
		q += ` WHERE ` + where
	}
	if order != "" {
		q += ` ORDER BY ` + order
	}
	rows, err := s.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	return rows, nil
}

// each calls fn with every row that query returns, its values in the
// order of cols as the driver returns them (int64, float64, string,
// []byte or nil), valid only during the call.
func (s *sqliteSource) each(ctx context.Context, table string, cols []string, where, order string, args []any, fn func(vals []any) error) error {
	rows, err := s.query(ctx, table, cols, where, order, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	return nil
}

// importAuditLog is the audit log of a SQLite database: every entry in Seq
// order and the seal of its legacy (unkeyed) rows.
type importAuditLog struct {
	entries  []agentotp.AuditEntry
	verifier agentotp.AuditVerifier
	sealed   bool // audit_legacy holds a seal that verifies under the key
}

// audit reads the audit log and its legacy seal, checked with key.
func (s *sqliteSource) audit(ctx context.Context, key []byte) (*importAuditLog, error) {
	a := &importAuditLog{verifier: agentotp.AuditVerifier{Key: key}}
	var heads, mac string
	err := s.tx.QueryRowContext(ctx, `SELECT max_seq, heads, mac FROM audit_legacy WHERE id = 1`).Scan(&a.verifier.LegacyMaxSeq, &heads, &mac)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read audit_legacy: %w", err)
	default:
		a.sealed = a.openSeal(key, heads, mac)
	}
	cols := []string{"seq", "id", "owner_id", "at", "actor", "action", "request_id", "agent_id", "source_id", "details", "prev_hash", "hash", "chain"}
	err = s.each(ctx, "audit", cols, "", "seq", nil, func(v []any) error {
		e, err := auditEntryFromRow(v)
		if err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		a.entries = append(a.entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// openSeal checks the seal of the legacy rows (an audit_legacy row) with
// key, and takes the heads it holds when it verifies.
func (a *importAuditLog) openSeal(key []byte, heads, mac string) bool {
	if !hmac.Equal([]byte(mac), []byte(sqliteLegacyMAC(key, a.verifier.LegacyMaxSeq, heads))) {
		return false
	}
	return json.Unmarshal([]byte(heads), &a.verifier.LegacyHeads) == nil
}

// verify checks every owner's chain; it returns the owners' count, or an
// error naming the first break.
func (a *importAuditLog) verify() (int, error) {
	if !a.sealed {
		return 0, errors.New("the seal of the audit rows older than the keyed chain (audit_legacy) is missing or does not verify under this secret key")
	}
	byOwner := map[string][]agentotp.AuditEntry{}
	var owners []string
	for _, e := range a.entries {
		if _, ok := byOwner[e.OwnerID]; !ok {
			owners = append(owners, e.OwnerID)
		}
		byOwner[e.OwnerID] = append(byOwner[e.OwnerID], e)
	}
	for _, o := range owners {
		if b := a.verifier.VerifyOwner(o, byOwner[o]); b != nil {
			return 0, fmt.Errorf("the audit chain of owner %s breaks at seq %d (%s): %s", o, b.Seq, b.ID, b.Reason)
		}
	}
	return len(owners), nil
}

// auditEntryFromRow builds an entry from the values of an audit row, in
// the order audit reads them.
func auditEntryFromRow(v []any) (agentotp.AuditEntry, error) {
	var e agentotp.AuditEntry
	var at, chain int64
	var err error
	get := func(i int, dst *string) {
		if err == nil {
			*dst, err = sqliteText(v[i])
		}
	}
	getInt := func(i int, dst *int64) {
		if err == nil {
			*dst, err = sqliteInt(v[i])
		}
	}
	getInt(0, &e.Seq)
	get(1, &e.ID)
	get(2, &e.OwnerID)
	getInt(3, &at)
	get(4, &e.Actor)
	get(5, &e.Action)
	get(6, &e.RequestID)
	get(7, &e.AgentID)
	get(8, &e.SourceID)
	var details string
	if v[9] != nil {
		get(9, &details)
	}
	get(10, &e.PrevHash)
	get(11, &e.Hash)
	getInt(12, &chain)
	if err != nil {
		return e, fmt.Errorf("seq %d: %w", e.Seq, err)
	}
	if at != 0 {
		e.At = time.UnixMicro(at).UTC()
	}
	e.Chain = int(chain)
	if v[9] != nil {
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			// Only an edit can garble the details; the chain then breaks.
			e.Details = map[string]string{"invalid_details": details}
		}
	}
	return e, nil
}

// sqliteLegacyLabel and sqliteLegacyMAC are the seal of the legacy audit
// rows as the SQLite store writes it (sqlite/audit.go).
const sqliteLegacyLabel = "agentotp/audit-legacy/v1\x00"

func sqliteLegacyMAC(key []byte, maxSeq int64, heads string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sqliteLegacyLabel + strconv.FormatInt(maxSeq, 10) + "\x00" + heads))
	return hex.EncodeToString(m.Sum(nil))
}

// sqliteText reads a TEXT value.
func sqliteText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("want text, have a %T", v)
}

// sqliteInt reads an INTEGER value.
func sqliteInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("want an integer, have a %T", v)
}
