package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
)

// appendAudit appends entries inside tx. Each gets the next Seq, the Hash of
// its owner's latest entry as PrevHash ("" for the owner's first) and its
// own Hash. At is kept to the microsecond and empty Details are stored as
// none, before hashing, so that the entry read back verifies.
func appendAudit(ctx context.Context, tx *sql.Tx, entries []agentotp.AuditEntry) error {
	for _, e := range entries {
		e.At = e.At.Truncate(time.Microsecond)
		if len(e.Details) == 0 {
			e.Details = nil
		}
		var details any
		if e.Details != nil {
			b, err := json.Marshal(e.Details)
			if err != nil {
				return fmt.Errorf("audit %s: encode details: %w", e.Action, err)
			}
			details = string(b)
		}
		// Writes are serialized, so nobody else can take this seq before the
		// insert. It follows AUTOINCREMENT's rule: never reuse a seq, even
		// one whose row is gone.
		if err := tx.QueryRowContext(ctx, `SELECT max(
				coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0),
				coalesce((SELECT max(seq) FROM audit), 0)) + 1`).Scan(&e.Seq); err != nil {
			return fmt.Errorf("audit %s: next seq: %w", e.Action, err)
		}
		err := tx.QueryRowContext(ctx, `SELECT hash FROM audit WHERE owner_id = ? ORDER BY seq DESC LIMIT 1`, e.OwnerID).
			Scan(&e.PrevHash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			e.PrevHash = ""
		case err != nil:
			return fmt.Errorf("audit %s: previous hash: %w", e.Action, err)
		}
		e.Hash = e.ComputeHash(e.PrevHash)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit
			(seq, id, owner_id, at, actor, action, request_id, agent_id, source_id, details, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.ID, e.OwnerID, micros(e.At), e.Actor, e.Action, e.RequestID, e.AgentID, e.SourceID,
			details, e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("audit %s: %w", e.Action, err)
		}
	}
	return nil
}

// AppendAudit appends entries that record no other change, chained to
// their owners' previous entries.
func (db *DB) AppendAudit(ctx context.Context, audit ...agentotp.AuditEntry) error {
	if len(audit) == 0 {
		return nil
	}
	if err := db.tx(ctx, func(tx *sql.Tx) error { return appendAudit(ctx, tx, audit) }); err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	return nil
}

// ListAudit returns the owner's audit entries in Seq order, narrowed by
// the other fields of q. An empty q.OwnerID lists the entries of every
// owner, whose chains interleave: verify each owner's separately.
func (db *DB) ListAudit(ctx context.Context, q agentotp.AuditQuery) ([]agentotp.AuditEntry, error) {
	where := []string{"seq > ?"}
	args := []any{q.AfterSeq}
	if q.OwnerID != "" {
		where = append(where, "owner_id = ?")
		args = append(args, q.OwnerID)
	}
	if q.RequestID != "" {
		where = append(where, "request_id = ?")
		args = append(args, q.RequestID)
	}
	if q.Action != "" {
		where = append(where, "action = ?")
		args = append(args, q.Action)
	}
	query := `SELECT seq, id, owner_id, at, actor, action, request_id, agent_id, source_id, details, prev_hash, hash
		FROM audit WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if q.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, q.Limit)
	}
	return list(ctx, db, "list audit", scanAuditEntry, query, args...)
}

func scanAuditEntry(s rowScanner) (agentotp.AuditEntry, error) {
	var e agentotp.AuditEntry
	var at int64
	var details sql.NullString
	if err := s.Scan(&e.Seq, &e.ID, &e.OwnerID, &at, &e.Actor, &e.Action, &e.RequestID, &e.AgentID, &e.SourceID,
		&details, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	e.At = fromMicros(at)
	if details.Valid {
		if err := json.Unmarshal([]byte(details.String), &e.Details); err != nil {
			// Only an edit of the row can garble its details: hand the
			// raw text on, and VerifyChain reports the broken link.
			e.Details = map[string]string{"invalid_details": details.String}
		}
	}
	return e, nil
}
