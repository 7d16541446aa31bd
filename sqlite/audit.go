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
	"github.com/agentotp/agentotp/internal/storerow"
)

// appendAudit appends entries inside tx. Each gets the next Seq, the Hash of
// its owner's latest entry as PrevHash ("" for the owner's first) and its
// own Hash, keyed with the store's audit key (AuditEntry.Seal). At is kept
// to the microsecond and empty Details are stored as none, before hashing,
// so that the entry read back verifies.
func (db *DB) appendAudit(ctx context.Context, tx *sql.Tx, entries []agentotp.AuditEntry) error {
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
		e.Seal(db.auditKey, e.PrevHash)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit
			(seq, id, owner_id, at, actor, action, request_id, agent_id, source_id, details, prev_hash, hash, chain)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.ID, e.OwnerID, storerow.Micros(e.At), e.Actor, e.Action, e.RequestID, e.AgentID, e.SourceID,
			details, e.PrevHash, e.Hash, e.Chain); err != nil {
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
	if err := db.tx(ctx, func(tx *sql.Tx) error { return db.appendAudit(ctx, tx, audit) }); err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	return nil
}

// ListAudit returns the owner's audit entries in Seq order, narrowed by
// the other fields of q. An empty q.OwnerID lists the entries of every
// owner, whose chains interleave: verify each owner's separately.
func (db *DB) ListAudit(ctx context.Context, q agentotp.AuditQuery) ([]agentotp.AuditEntry, error) {
	query, args := auditListQuery(q)
	return list(ctx, db, "list audit", storerow.ScanAuditEntry, query, args...)
}

// auditListQuery is the query of ListAudit and its arguments.
func auditListQuery(q agentotp.AuditQuery) (string, []any) {
	where := []string{"seq > ?"}
	args := []any{q.AfterSeq}
	if q.OwnerID != "" {
		where = append(where, "owner_id = ?")
		args = append(args, q.OwnerID)
	}
	if q.RequestID != "" {
		// The second term lets SQLite use the partial index
		// audit_request (WHERE request_id <> ''), which a bound
		// parameter alone does not: without it a request's few entries
		// are found by walking the owner's whole chain.
		where = append(where, "request_id = ?", "request_id <> ''")
		args = append(args, q.RequestID)
	}
	if q.Action != "" {
		where = append(where, "action = ?")
		args = append(args, q.Action)
	}
	query := `SELECT seq, id, owner_id, at, actor, action, request_id, agent_id, source_id, details, prev_hash, hash, chain
		FROM audit WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if q.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, q.Limit)
	}
	return query, args
}

// migrationKeyedAudit is the migration that keys the audit chain.
const migrationKeyedAudit = "0008_audit_keyed"

// afterMigration runs, in the transaction of the migration version, the
// steps SQL cannot: sealing the legacy audit rows with the audit key.
func (db *DB) afterMigration(ctx context.Context, tx *sql.Tx, version string) error {
	if version == migrationKeyedAudit {
		return db.sealLegacyAudit(ctx, tx)
	}
	return nil
}

// sealLegacyAudit records, with a MAC under the audit key, the rows that
// exist before the chain is keyed: the highest seq and each owner's last
// row. Only these rows may carry an unkeyed hash, and only as they are now.
func (db *DB) sealLegacyAudit(ctx context.Context, tx *sql.Tx) error {
	var maxSeq int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit`).Scan(&maxSeq); err != nil {
		return fmt.Errorf("seal legacy audit: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT owner_id, seq, hash FROM audit a
		WHERE seq = (SELECT max(seq) FROM audit b WHERE b.owner_id = a.owner_id)`)
	if err != nil {
		return fmt.Errorf("seal legacy audit: %w", err)
	}
	heads := map[string]agentotp.AuditHead{}
	for rows.Next() {
		var owner string
		var h agentotp.AuditHead
		if err := rows.Scan(&owner, &h.Seq, &h.Hash); err != nil {
			rows.Close()
			return fmt.Errorf("seal legacy audit: %w", err)
		}
		heads[owner] = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("seal legacy audit: %w", err)
	}
	b, err := json.Marshal(heads) // map keys sorted: canonical
	if err != nil {
		return fmt.Errorf("seal legacy audit: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_legacy (id, max_seq, heads, mac) VALUES (1, ?, ?, ?)`,
		maxSeq, string(b), storerow.LegacyMAC(db.auditKey, maxSeq, string(b))); err != nil {
		return fmt.Errorf("seal legacy audit: %w", err)
	}
	return nil
}

// errLegacySeal breaks every chain when the seal of the legacy rows is
// missing or does not verify: without it, no unkeyed row can be trusted
// and the boundary between them and keyed ones is unknown.
var errLegacySeal = &agentotp.ChainBreak{Reason: "the seal of the rows older than the keyed chain is missing or wrong (audit_legacy was edited, or the audit key changed)"}

// verifier returns the audit verifier of the store: its key and the
// sealed legacy rows, or a break when their seal does not verify.
func (db *DB) verifier(ctx context.Context) (agentotp.AuditVerifier, *agentotp.ChainBreak, error) {
	v := agentotp.AuditVerifier{Key: db.auditKey}
	var heads, mac string
	err := db.read.QueryRowContext(ctx, `SELECT max_seq, heads, mac FROM audit_legacy WHERE id = 1`).Scan(&v.LegacyMaxSeq, &heads, &mac)
	if errors.Is(err, sql.ErrNoRows) {
		b := *errLegacySeal
		return v, &b, nil
	}
	if err != nil {
		return v, nil, fmt.Errorf("sqlite: audit verifier: %w", err)
	}
	legacy, ok := storerow.OpenLegacySeal(db.auditKey, v.LegacyMaxSeq, heads, mac)
	if !ok {
		b := *errLegacySeal
		return agentotp.AuditVerifier{Key: db.auditKey}, &b, nil
	}
	v.LegacyHeads = legacy
	return v, nil, nil
}

// VerifyAuditChain checks a run of ownerID's entries in Seq order after
// prev ("" for the whole chain, from the owner's first entry) with the
// store's audit key and its sealed legacy rows; nil when it holds.
func (db *DB) VerifyAuditChain(ctx context.Context, ownerID, prev string, entries []agentotp.AuditEntry) (*agentotp.ChainBreak, error) {
	v, b, err := db.verifier(ctx)
	if err != nil || b != nil {
		return b, err
	}
	if prev == "" {
		return v.VerifyOwner(ownerID, entries), nil
	}
	return v.Verify(prev, entries), nil
}
