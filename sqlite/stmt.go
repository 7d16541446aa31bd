package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// The statements of the hot paths (a request's creation, its updates, a
// message's record, a request's read), prepared once instead of parsed
// and planned by SQLite on every call.
const (
	sqlInsertRequest = `INSERT INTO requests (` + requestColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlUpdateRequest = `UPDATE requests SET
		test = ?, status = ?, reason = ?, expected_sender = ?, filter = ?,
		encryption = ?, public_key = ?, key_fingerprint = ?, webhook_url = ?, include_message = ?,
		expires_at = ?, decided_at = ?, decided_by = ?, deny_reason = ?, consumed_at = ?, updated_at = ?,
		metadata = ?, payload = ?, content = ?, version = version + 1
		WHERE id = ? AND version = ?`
	sqlRecordMessage = `INSERT INTO messages_seen (source_id, external_id, seen_at) VALUES (?, ?, ?)
		ON CONFLICT (source_id, external_id) DO NOTHING`
	sqlGetRequest = `SELECT ` + requestColumns + ` FROM requests WHERE id = ?`
)

// writeStatements are prepared on the write connection by Open, while no
// transaction holds it (the pool has that one connection only).
var writeStatements = []string{sqlInsertRequest, sqlUpdateRequest, sqlRecordMessage}

// statements holds the prepared statements of both pools.
type statements struct {
	mu    sync.Mutex
	write map[string]*sql.Stmt
	read  map[string]*sql.Stmt
}

// prepareWrites prepares writeStatements.
func (db *DB) prepareWrites(ctx context.Context) error {
	db.stmts.write = map[string]*sql.Stmt{}
	for _, q := range writeStatements {
		st, err := db.write.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		db.stmts.write[q] = st
	}
	return nil
}

// execTx runs the write statement q in tx, prepared when Open prepared it.
func (db *DB) execTx(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := db.stmts.write[q]; st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// readRow runs the query q on the read pool, prepared on first use.
func (db *DB) readRow(ctx context.Context, q string, args ...any) *sql.Row {
	db.stmts.mu.Lock()
	st := db.stmts.read[q]
	if st == nil {
		var err error
		if st, err = db.read.PrepareContext(ctx, q); err != nil {
			db.stmts.mu.Unlock()
			return db.read.QueryRowContext(ctx, q, args...)
		}
		if db.stmts.read == nil {
			db.stmts.read = map[string]*sql.Stmt{}
		}
		db.stmts.read[q] = st
	}
	db.stmts.mu.Unlock()
	return st.QueryRowContext(ctx, args...)
}

// closeStatements closes the prepared statements.
func (db *DB) closeStatements() {
	db.stmts.mu.Lock()
	defer db.stmts.mu.Unlock()
	for _, m := range []map[string]*sql.Stmt{db.stmts.write, db.stmts.read} {
		for _, st := range m {
			st.Close()
		}
	}
}
