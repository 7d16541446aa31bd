package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// appendAudit appends entries inside tx. Each gets the next Seq, the Hash of
// its owner's latest entry as PrevHash ("" for the owner's first) and its
// own Hash, keyed with the store's audit key (AuditEntry.Seal). At is kept
// to the microsecond and empty Details are stored as none, before hashing,
// so that the entry read back verifies.
//
// The owners' rows in audit_heads are locked first (FOR UPDATE, in id
// order, so that two transactions never wait on each other): until tx
// ends no other writer, on any relay, appends to those chains, so the
// latest entry read here stays the latest one and each chain stays linear.
// Seqs come from the table's sequence, taken under that lock, so that an
// owner's entries are in Seq order; one rolled back leaves a gap in Seq,
// never in a chain.
func (db *Store) appendAudit(ctx context.Context, tx pgx.Tx, entries []agentotp.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	var owners []string
	for _, e := range entries {
		owners = append(owners, e.OwnerID)
	}
	slices.Sort(owners)
	for _, o := range slices.Compact(owners) {
		// One round trip makes the owner's chain head if need be and locks
		// it until the transaction ends: ON CONFLICT DO UPDATE waits for a
		// concurrent writer of the head and then locks the row, whichever
		// of them inserted it. The lock is held through the commit, so it
		// is taken after the rest of the change is written.
		if _, err := tx.Exec(ctx, `INSERT INTO audit_heads (owner_id) VALUES ($1)
			ON CONFLICT (owner_id) DO UPDATE SET owner_id = excluded.owner_id`, o); err != nil {
			return fmt.Errorf("audit: lock the chain of %s: %w", o, err)
		}
	}
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
		// The next seq and the owner's last hash in one round trip, read
		// after the lock (a statement of its own, so it sees the entry of
		// the writer the lock waited for).
		var prev *string
		if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('audit', 'seq')),
			(SELECT hash FROM audit WHERE owner_id = $1 ORDER BY seq DESC LIMIT 1)`, e.OwnerID).Scan(&e.Seq, &prev); err != nil {
			return fmt.Errorf("audit %s: next seq and previous hash: %w", e.Action, err)
		}
		e.PrevHash = ""
		if prev != nil {
			e.PrevHash = *prev
		}
		e.Seal(db.auditKey, e.PrevHash)
		if _, err := tx.Exec(ctx, `INSERT INTO audit
			(seq, id, owner_id, at, actor, action, request_id, agent_id, source_id, details, prev_hash, hash, chain)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			e.Seq, e.ID, e.OwnerID, storerow.Micros(e.At), e.Actor, e.Action, e.RequestID, e.AgentID, e.SourceID,
			details, e.PrevHash, e.Hash, e.Chain); err != nil {
			return fmt.Errorf("audit %s: %w", e.Action, err)
		}
	}
	return nil
}

// AppendAudit appends entries that record no other change, chained to
// their owners' previous entries.
func (db *Store) AppendAudit(ctx context.Context, audit ...agentotp.AuditEntry) error {
	if len(audit) == 0 {
		return nil
	}
	if err := db.tx(ctx, func(tx pgx.Tx) error { return db.appendAudit(ctx, tx, audit) }); err != nil {
		return fmt.Errorf("postgres: append audit: %w", err)
	}
	return nil
}

// ListAudit returns the owner's audit entries in Seq order, narrowed by
// the other fields of q. An empty q.OwnerID lists the entries of every
// owner, whose chains interleave: verify each owner's separately.
func (db *Store) ListAudit(ctx context.Context, q agentotp.AuditQuery) ([]agentotp.AuditEntry, error) {
	var p params
	where := []string{"seq > " + p.add(q.AfterSeq)}
	if q.OwnerID != "" {
		where = append(where, "owner_id = "+p.add(q.OwnerID))
	}
	if q.RequestID != "" {
		where = append(where, "request_id = "+p.add(q.RequestID))
	}
	if q.Action != "" {
		where = append(where, "action = "+p.add(q.Action))
	}
	query := `SELECT seq, id, owner_id, at, actor, action, request_id, agent_id, source_id, details, prev_hash, hash, chain
		FROM audit WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if q.Limit > 0 {
		query += ` LIMIT ` + p.add(q.Limit)
	}
	return list(ctx, db, "list audit", storerow.ScanAuditEntry, query, p...)
}

// errLegacySeal breaks every chain when the seal of the legacy rows does
// not verify: no unkeyed row can then be trusted, and the boundary between
// them and keyed ones is unknown.
var errLegacySeal = &agentotp.ChainBreak{Reason: "the seal of the rows older than the keyed chain is wrong (audit_legacy was edited, or the audit key changed)"}

// verifier returns the audit verifier of the store: its key and the
// sealed legacy rows, or a break when their seal does not verify. Unlike
// an SQLite store, a PostgreSQL one starts with a keyed chain: it has an
// audit_legacy row only when one was copied from an SQLite store whose
// chain had unkeyed rows. Without the row no unkeyed row verifies, so that
// deleting it can only break chains, never mend one.
func (db *Store) verifier(ctx context.Context) (agentotp.AuditVerifier, *agentotp.ChainBreak, error) {
	v := agentotp.AuditVerifier{Key: db.auditKey}
	var heads, mac string
	err := db.pool.QueryRow(ctx, `SELECT max_seq, heads, mac FROM audit_legacy WHERE id = 1`).Scan(&v.LegacyMaxSeq, &heads, &mac)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, nil, nil
	}
	if err != nil {
		return v, nil, fmt.Errorf("postgres: audit verifier: %w", err)
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
func (db *Store) VerifyAuditChain(ctx context.Context, ownerID, prev string, entries []agentotp.AuditEntry) (*agentotp.ChainBreak, error) {
	v, b, err := db.verifier(ctx)
	if err != nil || b != nil {
		return b, err
	}
	if prev == "" {
		return v.VerifyOwner(ownerID, entries), nil
	}
	return v.Verify(prev, entries), nil
}
