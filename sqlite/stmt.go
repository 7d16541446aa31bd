package sqlite

import (
	"context"
	"database/sql"

	"github.com/agentotp/agentotp/internal/storerow"
)

// The statements of the hot paths (a request's creation, its updates, a
// message's record, a request's read).
const (
	sqlInsertRequest = `INSERT INTO requests (` + storerow.RequestColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlUpdateRequest = `UPDATE requests SET
		test = ?, status = ?, reason = ?, expected_sender = ?, filter = ?,
		encryption = ?, public_key = ?, key_fingerprint = ?, webhook_url = ?, include_message = ?,
		expires_at = ?, decided_at = ?, decided_by = ?, deny_reason = ?, consumed_at = ?, updated_at = ?,
		metadata = ?, payload = ?, content = ?, version = version + 1
		WHERE id = ? AND version = ?`
	sqlRecordMessage = `INSERT INTO messages_seen (source_id, external_id, seen_at) VALUES (?, ?, ?)
		ON CONFLICT (source_id, external_id) DO NOTHING`
	sqlGetRequest = `SELECT ` + storerow.RequestColumns + ` FROM requests WHERE id = ?`
)

// execTx runs the write statement q in tx (prepared once per connection,
// see stmtcache.go).
func (db *DB) execTx(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	return tx.ExecContext(ctx, q, args...)
}

// readRow runs the query q on the read pool.
func (db *DB) readRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.read.QueryRowContext(ctx, q, args...)
}
