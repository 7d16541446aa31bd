package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
)

// ImportReport says what ImportSQLite copied, left out and checked.
type ImportReport struct {
	// Source is the SQLite database file read.
	Source string `json:"source"`
	// SchemaVersion is the last SQLite migration the source had applied.
	SchemaVersion string `json:"schema_version"`
	// Tables are the tables copied, in the order they were.
	Tables []ImportedTable `json:"tables"`
	// NotCopied are the SQLite tables left out whole.
	NotCopied []NotCopiedTable `json:"not_copied"`
	// Owners is the number of owners whose audit chain verified on the
	// target, AuditEntries the entries of those chains.
	Owners       int   `json:"owners"`
	AuditEntries int64 `json:"audit_entries"`
}

// ImportedTable is one table ImportSQLite copied.
type ImportedTable struct {
	Table string `json:"table"`
	// Note says what the rows hold, where the name does not.
	Note string `json:"note,omitempty"`
	// Copied is the rows copied; the target holds exactly these.
	Copied int64 `json:"copied"`
	// Skipped is the rows left behind, for SkipReason.
	Skipped    int64  `json:"skipped,omitempty"`
	SkipReason string `json:"skip_reason,omitempty"`
}

// NotCopiedTable is a SQLite table ImportSQLite leaves out.
type NotCopiedTable struct {
	Table  string `json:"table"`
	Rows   int64  `json:"rows"`
	Reason string `json:"reason"`
}

// importLockKey is the advisory lock an import holds for its transaction,
// so that two imports into one database run one after the other (and the
// second finds the target not empty).
const importLockKey = 0x61676f74_696d7074 // "agot" "impt"

// ImportSQLite copies the data of a relay's SQLite database (the file at
// path, which no relay may be using) into this store, which must be empty.
//
// It opens the file read-only and refuses it unless its schema is exactly
// SQLiteSchema and its audit chain verifies under this store's secret box
// (the key the SQLite relay ran with: the sealed secrets are copied as
// they are, and the PostgreSQL relays must use that key too). It then
// copies every table of importPlan in ONE transaction, row for row (audit
// seqs and hashes unchanged), refusing with nothing written when the
// target holds any row of them. After the commit it checks, through the
// store's own methods, that every owner's audit chain verifies here.
//
// Neither the report nor an error holds a row's values: SQLite holds no
// code or token in plaintext, and none of its hashes or sealed secrets is
// printed either.
func (s *Store) ImportSQLite(ctx context.Context, path string) (*ImportReport, error) {
	src, err := openSQLiteSource(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("postgres: import: %w", err)
	}
	defer src.Close()
	log, err := src.audit(ctx, s.auditKey)
	if err != nil {
		return nil, fmt.Errorf("postgres: import: %w", err)
	}
	owners, err := log.verify()
	if err != nil {
		return nil, fmt.Errorf("postgres: import: refused: the source's audit chain does not verify with this secret key (%w); give migrate the secret key the relay ran with", err)
	}
	rep := &ImportReport{Source: path, SchemaVersion: SQLiteSchema[len(SQLiteSchema)-1]}
	for name, why := range importNotCopied {
		n, err := src.count(ctx, name, "")
		if err != nil {
			return nil, fmt.Errorf("postgres: import: %w", err)
		}
		rep.NotCopied = append(rep.NotCopied, NotCopiedTable{Table: name, Rows: n, Reason: why})
	}
	slices.SortFunc(rep.NotCopied, func(a, b NotCopiedTable) int { return strings.Compare(a.Table, b.Table) })

	now := time.Now().UnixMicro()
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return nil, fmt.Errorf("postgres: import: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(importLockKey)); err != nil {
		return nil, fmt.Errorf("postgres: import: lock: %w", err)
	}
	if err := importCheckEmpty(ctx, tx); err != nil {
		return nil, fmt.Errorf("postgres: import: %w", err)
	}
	for _, it := range importPlan {
		t, err := importTableRows(ctx, src, tx, it, now)
		if err != nil {
			return nil, fmt.Errorf("postgres: import %s: %w", it.name, err)
		}
		rep.Tables = append(rep.Tables, t)
	}
	if err := importSequences(ctx, tx); err != nil {
		return nil, fmt.Errorf("postgres: import: %w", err)
	}
	if err := importCheckCounts(ctx, tx, rep.Tables); err != nil {
		return nil, fmt.Errorf("postgres: import: %w", err)
	}
	// The chains as the target now holds them, read back in the same
	// transaction: a break rolls everything back.
	copied, err := importReadAudit(ctx, tx, s.auditKey)
	if err != nil {
		return nil, fmt.Errorf("postgres: import: %w", err)
	}
	n, err := copied.verify()
	if err != nil {
		return nil, fmt.Errorf("postgres: import: refused, nothing written: after the copy, %w", err)
	}
	if n != owners || len(copied.entries) != len(log.entries) {
		return nil, fmt.Errorf("postgres: import: refused, nothing written: the target shows %d owners' chains of %d entries where the source had %d of %d",
			n, len(copied.entries), owners, len(log.entries))
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("postgres: import: commit: %w", err)
	}
	// And once more through the store, as the relays will read it.
	n2, entries, err := s.verifyImportedAudit(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: import: the data was copied, but %w; drop this database before you use it", err)
	}
	if n2 != n || entries != int64(len(copied.entries)) {
		return nil, fmt.Errorf("postgres: import: the data was copied, but the store reads %d owners' chains of %d entries where %d of %d were copied; drop this database before you use it",
			n2, entries, n, len(copied.entries))
	}
	rep.Owners, rep.AuditEntries = n, entries
	return rep, nil
}

// verifyImportedAudit verifies every owner's whole audit chain through
// the store's own methods (ListAudit, VerifyAuditChain); it returns the
// owners with a chain and their entries.
func (s *Store) verifyImportedAudit(ctx context.Context) (int, int64, error) {
	owners, err := s.ListOwners(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("the owners do not read back: %w", err)
	}
	var total int64
	n := 0
	for _, o := range owners {
		entries, err := s.ListAudit(ctx, agentotp.AuditQuery{OwnerID: o.ID})
		if err != nil {
			return 0, 0, fmt.Errorf("the audit of owner %s does not read back: %w", o.ID, err)
		}
		if len(entries) == 0 {
			continue
		}
		b, err := s.VerifyAuditChain(ctx, o.ID, "", entries)
		if err != nil {
			return 0, 0, fmt.Errorf("the audit chain of owner %s cannot be verified: %w", o.ID, err)
		}
		if b != nil {
			return 0, 0, fmt.Errorf("the audit chain of owner %s does not verify on the target: at seq %d (%s): %s", o.ID, b.Seq, b.ID, b.Reason)
		}
		n++
		total += int64(len(entries))
	}
	return n, total, nil
}

// importReadAudit reads the audit log and its legacy seal from the
// target, inside tx, as the SQLite side reads them from the source.
func importReadAudit(ctx context.Context, tx pgx.Tx, key []byte) (*importAuditLog, error) {
	a := &importAuditLog{verifier: agentotp.AuditVerifier{Key: key}}
	var heads, mac string
	err := tx.QueryRow(ctx, `SELECT max_seq, heads, mac FROM audit_legacy WHERE id = 1`).Scan(&a.verifier.LegacyMaxSeq, &heads, &mac)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read back audit_legacy: %w", err)
	default:
		a.sealed = a.openSeal(key, heads, mac)
	}
	rows, err := tx.Query(ctx, `SELECT seq, id, owner_id, at, actor, action, request_id, agent_id, source_id, details, prev_hash, hash, chain
		FROM audit ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("read back the audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("read back the audit: %w", err)
		}
		e, err := auditEntryFromRow(v)
		if err != nil {
			return nil, fmt.Errorf("read back the audit: %w", err)
		}
		a.entries = append(a.entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read back the audit: %w", err)
	}
	return a, nil
}

// CheckSQLite checks, without writing to it, that the file at path is a
// relay's SQLite database that ImportSQLite can copy: a SQLite database
// at exactly the schema SQLiteSchema names. The error says what it is
// instead.
func CheckSQLite(ctx context.Context, path string) error {
	src, err := openSQLiteSource(ctx, path)
	if err != nil {
		return err
	}
	return src.Close()
}

// importCheckEmpty refuses a target that holds any row of a table the
// import fills, naming what is there.
func importCheckEmpty(ctx context.Context, tx pgx.Tx) error {
	var there []string
	for _, it := range importPlan {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{it.name}.Sanitize()).Scan(&n); err != nil {
			return fmt.Errorf("check that the target is empty: %s: %w", it.name, err)
		}
		if n > 0 {
			there = append(there, fmt.Sprintf("%d %s", n, it.name))
		}
	}
	if len(there) > 0 {
		return fmt.Errorf("refused: the target database is not empty (it holds %s); migrate only into a new, empty database", strings.Join(there, ", "))
	}
	return nil
}

// pgColumn is a column of the target's schema.
type pgColumn struct {
	name, udt string // udt: the type's name (int8, bool, bytea, text, jsonb, timestamptz…)
	nullable  bool
}

// importTargetColumns returns the columns of the target's table.
func importTargetColumns(ctx context.Context, tx pgx.Tx, table string) (map[string]pgColumn, error) {
	rows, err := tx.Query(ctx, `SELECT column_name, udt_name, is_nullable = 'YES' FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, table)
	if err != nil {
		return nil, fmt.Errorf("read the target's columns: %w", err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgColumn, error) {
		var c pgColumn
		err := r.Scan(&c.name, &c.udt, &c.nullable)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the target's columns: %w", err)
	}
	out := make(map[string]pgColumn, len(cols))
	for _, c := range cols {
		out[c.name] = c
	}
	return out, nil
}

// importTableRows copies the rows of one table that it.keep keeps, with
// COPY, streaming them from SQLite.
func importTableRows(ctx context.Context, src *sqliteSource, tx pgx.Tx, it importTable, now int64) (ImportedTable, error) {
	t := ImportedTable{Table: it.name, Note: it.note}
	target, err := importTargetColumns(ctx, tx, it.name)
	if err != nil {
		return t, err
	}
	if len(target) == 0 {
		return t, errors.New("the target's schema has no such table")
	}
	cols, err := src.columns(ctx, it.name)
	if err != nil {
		return t, err
	}
	conv := make([]func(any) (any, error), len(cols))
	for i, c := range cols {
		tc, ok := target[c]
		if !ok {
			return t, fmt.Errorf("the target's schema has no column %s", c)
		}
		if conv[i], err = importConverter(tc); err != nil {
			return t, err
		}
	}
	var args []any
	if it.keep != "" {
		args = []any{now}
	}
	total, err := src.count(ctx, it.name, "")
	if err != nil {
		return t, err
	}
	rows, err := src.query(ctx, it.name, cols, it.keep, it.order, args)
	if err != nil {
		return t, err
	}
	defer rows.Close()
	in := &importRows{rows: rows, conv: conv, cols: cols, vals: make([]any, len(cols)), out: make([]any, len(cols))}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{it.name}, cols, in)
	if in.err != nil {
		return t, in.err
	}
	if err != nil {
		return t, fmt.Errorf("copy: %w", err)
	}
	if n != in.n {
		return t, fmt.Errorf("copy: %d rows written of %d read", n, in.n)
	}
	t.Copied = n
	if t.Skipped = total - n; t.Skipped > 0 {
		t.SkipReason = it.skip
	}
	return t, nil
}

// importRows streams SQLite rows into COPY, each value converted to its
// target column's type (pgx.CopyFromSource).
type importRows struct {
	rows      *sql.Rows
	cols      []string
	conv      []func(any) (any, error)
	vals, out []any
	n         int64 // rows read
	err       error
}

func (r *importRows) Next() bool {
	if r.err != nil || !r.rows.Next() {
		if r.err == nil {
			if err := r.rows.Err(); err != nil {
				r.err = fmt.Errorf("read: %w", err)
			}
		}
		return false
	}
	ptrs := make([]any, len(r.vals))
	for i := range r.vals {
		r.vals[i] = nil
		ptrs[i] = &r.vals[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		r.err = fmt.Errorf("read row %d: %w", r.n+1, err)
		return false
	}
	for i, v := range r.vals {
		o, err := r.conv[i](v)
		if err != nil {
			// The error names the column and what kind of value it held,
			// never the value.
			r.err = fmt.Errorf("row %d, column %s: %w", r.n+1, r.cols[i], err)
			return false
		}
		r.out[i] = o
	}
	r.n++
	return true
}

func (r *importRows) Values() ([]any, error) { return r.out, nil }
func (r *importRows) Err() error             { return r.err }

// importConverter returns the conversion of a SQLite value (int64,
// float64, string, []byte or nil) to the value of the target column c.
func importConverter(c pgColumn) (func(any) (any, error), error) {
	notNull := func(f func(any) (any, error)) func(any) (any, error) {
		return func(v any) (any, error) {
			if v == nil {
				if !c.nullable {
					return nil, errors.New("NULL where the target wants a value")
				}
				return nil, nil
			}
			return f(v)
		}
	}
	switch c.udt {
	case "int2", "int4", "int8":
		return notNull(func(v any) (any, error) {
			n, err := sqliteInt(v)
			return n, err
		}), nil
	case "bool":
		return notNull(func(v any) (any, error) {
			n, err := sqliteInt(v)
			if err != nil || (n != 0 && n != 1) {
				return nil, fmt.Errorf("want 0 or 1 for a boolean, have a %T", v)
			}
			return n == 1, nil
		}), nil
	case "timestamptz", "timestamp":
		return notNull(func(v any) (any, error) {
			n, err := sqliteInt(v)
			if err != nil {
				return nil, err
			}
			if n == 0 {
				if c.nullable {
					return nil, nil
				}
				return time.Unix(0, 0).UTC(), nil
			}
			return time.UnixMicro(n).UTC(), nil
		}), nil
	case "bytea":
		return notNull(func(v any) (any, error) {
			switch x := v.(type) {
			case []byte:
				return x, nil
			case string:
				return []byte(x), nil
			}
			return nil, fmt.Errorf("want bytes, have a %T", v)
		}), nil
	case "text", "varchar", "bpchar", "json", "jsonb":
		return notNull(func(v any) (any, error) {
			s, err := sqliteText(v)
			return s, err
		}), nil
	}
	return nil, fmt.Errorf("column %s: the target's type %s is not one the import converts to", c.name, c.udt)
}

// importSequences moves every sequence that owns a column of an imported
// table (audit and outbox seqs) past the highest value copied, so that
// the rows the relays write next follow them.
func importSequences(ctx context.Context, tx pgx.Tx) error {
	for _, it := range importPlan {
		rows, err := tx.Query(ctx, `SELECT column_name, pg_get_serial_sequence(quote_ident($1), column_name)
			FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1
			AND pg_get_serial_sequence(quote_ident($1), column_name) IS NOT NULL`, it.name)
		if err != nil {
			return fmt.Errorf("find the sequences of %s: %w", it.name, err)
		}
		type seqCol struct{ col, seq string }
		seqs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (seqCol, error) {
			var s seqCol
			err := r.Scan(&s.col, &s.seq)
			return s, err
		})
		if err != nil {
			return fmt.Errorf("find the sequences of %s: %w", it.name, err)
		}
		for _, sc := range seqs {
			q := `SELECT setval($1::regclass, coalesce((SELECT max(` + pgx.Identifier{sc.col}.Sanitize() + `) FROM ` +
				pgx.Identifier{it.name}.Sanitize() + `), 0) + 1, false)`
			if _, err := tx.Exec(ctx, q, sc.seq); err != nil {
				return fmt.Errorf("move the sequence of %s.%s: %w", it.name, sc.col, err)
			}
		}
	}
	return nil
}

// importCheckCounts checks, in the import's transaction, that the target
// holds exactly the rows copied.
func importCheckCounts(ctx context.Context, tx pgx.Tx, tables []ImportedTable) error {
	for _, t := range tables {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{t.Table}.Sanitize()).Scan(&n); err != nil {
			return fmt.Errorf("count %s: %w", t.Table, err)
		}
		if n != t.Copied {
			return fmt.Errorf("the target holds %d rows of %s where %d were copied", n, t.Table, t.Copied)
		}
	}
	return nil
}
