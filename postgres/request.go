package postgres

import (
	"context"

	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// Page sizes of ListRequests.
const (
	defaultPageSize = 50
	maxPageSize     = 100
	// defaultDueLimit is the batch of ListDueRequests when limit is not
	// positive.
	defaultDueLimit = 100
)

// The statements of the hot paths (a request's creation, its updates, a
// message's record, a request's read).
const (
	sqlInsertRequest = `INSERT INTO requests (` + storerow.RequestColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`
	sqlUpdateRequest = `UPDATE requests SET
		test = $1, status = $2, reason = $3, expected_sender = $4, filter = $5,
		encryption = $6, public_key = $7, key_fingerprint = $8, webhook_url = $9, include_message = $10,
		expires_at = $11, decided_at = $12, decided_by = $13, deny_reason = $14, consumed_at = $15, updated_at = $16,
		metadata = $17, payload = $18, content = $19, version = version + 1
		WHERE id = $20 AND version = $21`
	sqlRecordMessage = `INSERT INTO messages_seen (source_id, external_id, seen_at) VALUES ($1, $2, $3)
		ON CONFLICT (source_id, external_id) DO NOTHING`
	sqlGetRequest = `SELECT ` + storerow.RequestColumns + ` FROM requests WHERE id = $1`
)

// CreateRequest stores a new request, with the Version it carries, and
// appends audit. A request whose id exists already is an
// agentotp.ErrConflict. A waiting request beyond the agent's
// agentotp.MaxLiveRequestsPerAgent is agentotp.ErrLiveCap, and nothing is
// written (see createRequest and WithLiveCap).
func (db *Store) CreateRequest(ctx context.Context, r *agentotp.Request, audit ...agentotp.AuditEntry) error {
	if err := db.createRequest(ctx, r, nil, audit); err != nil {
		return fmt.Errorf("postgres: create request %s: %w", r.ID, err)
	}
	return nil
}

// createRequest stores r, with the webhooks its status calls for, the
// audit entries and the note of the change, in one transaction. The
// agent's row is locked first (FOR NO KEY UPDATE: it serializes the
// creates of the agent's requests on every relay, yet does not block the
// foreign-key checks of rows that refer to the agent), and then:
//   - when r is not final, the agent's waiting, unexpired requests (as of
//     r.CreatedAt, the relay's clock) are counted: the live cap
//     (agentotp.MaxLiveRequestsPerAgent, see WithLiveCap) of them already
//     is agentotp.ErrLiveCap;
//   - when c is set, c.Max requests of c.AgentID decided by c.DecidedBy
//     after c.Since is agentotp.ErrCapReached.
func (db *Store) createRequest(ctx context.Context, r *agentotp.Request, c *agentotp.RequestCap, audit []agentotp.AuditEntry) error {
	row, err := storerow.EncodeRequest(r)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM agents WHERE id = $1 FOR NO KEY UPDATE`, r.AgentID).Scan(&one)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) { // no agent: the insert's foreign key says so
			return err
		}
		if db.liveCap > 0 && !r.Status.Final() {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM requests
				WHERE agent_id = $1 AND status IN ('pending_approval', 'approved', 'otp_received') AND expires_at > $2`,
				r.AgentID, storerow.Micros(r.CreatedAt)).Scan(&n); err != nil {
				return err
			}
			if n >= db.liveCap {
				return fmt.Errorf("%w (%d waiting)", agentotp.ErrLiveCap, n)
			}
		}
		if c != nil {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM requests WHERE agent_id = $1 AND decided_by = $2 AND decided_at > $3`,
				c.AgentID, c.DecidedBy, storerow.Micros(c.Since)).Scan(&n); err != nil {
				return err
			}
			if n >= c.Max {
				return agentotp.ErrCapReached
			}
		}
		if err := db.insertRequest(ctx, tx, r, row); err != nil {
			return err
		}
		if err := enqueueWebhooks(ctx, tx, "", r, audit); err != nil {
			return err
		}
		if err := db.appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		return db.notifyChange(ctx, tx, agentotp.ChangeRequest, r.OwnerID, r.ID, audit)
	})
}

// insertRequest inserts the row of a new request.
func (db *Store) insertRequest(ctx context.Context, tx pgx.Tx, r *agentotp.Request, row storerow.Request) error {
	if _, err := tx.Exec(ctx, sqlInsertRequest, storerow.RequestInsertArgs(r, row)...); err != nil {
		return conflictOnDuplicate(err)
	}
	return nil
}

// GetRequest returns one request by id, whoever owns it.
func (db *Store) GetRequest(ctx context.Context, id string) (*agentotp.Request, error) {
	r, err := storerow.ScanRequest(db.pool.QueryRow(ctx, sqlGetRequest, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: get request %s: %w", id, notFound(err))
	}
	return r, nil
}

// UpdateRequest writes every mutable field of r (all but the id, owner,
// agent and creation time) if the stored row still has version
// prevVersion, appends audit in the same transaction, and sets r.Version
// to prevVersion+1. A lost race is agentotp.ErrConflict and a missing row
// agentotp.ErrNotFound; either way nothing is written. A request in a
// final status is stored without its ciphertext.
func (db *Store) UpdateRequest(ctx context.Context, r *agentotp.Request, prevVersion int64, audit ...agentotp.AuditEntry) error {
	return db.updateRequest(ctx, r, prevVersion, nil, audit)
}

// DeliverMessage is UpdateRequest that also records m, in the same
// transaction; a message recorded already is agentotp.ErrDuplicateMessage
// and nothing is written. An empty m.ExternalID records nothing.
func (db *Store) DeliverMessage(ctx context.Context, r *agentotp.Request, prevVersion int64, m agentotp.MessageRecord, audit ...agentotp.AuditEntry) error {
	if m.ExternalID == "" {
		return db.updateRequest(ctx, r, prevVersion, nil, audit)
	}
	return db.updateRequest(ctx, r, prevVersion, &m, audit)
}

func (db *Store) updateRequest(ctx context.Context, r *agentotp.Request, prevVersion int64, seen *agentotp.MessageRecord, audit []agentotp.AuditEntry) error {
	row, err := storerow.EncodeRequest(r)
	if err != nil {
		return fmt.Errorf("postgres: update request %s: %w", r.ID, err)
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if seen != nil {
			// A second delivery of the message, on any relay, waits here
			// for this transaction, and then finds the row.
			fresh, err := recordMessage(ctx, tx, seen.SourceID, seen.ExternalID, seen.At)
			if err != nil {
				return err
			}
			if !fresh {
				return agentotp.ErrDuplicateMessage
			}
		}
		// Lock the row at prevVersion: a writer that got there first, on
		// any relay, leaves no such row once it commits.
		var prev string
		err := tx.QueryRow(ctx, `SELECT status FROM requests WHERE id = $1 AND version = $2 FOR UPDATE`, r.ID, prevVersion).Scan(&prev)
		if errors.Is(err, pgx.ErrNoRows) {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM requests WHERE id = $1`, r.ID).Scan(&one); err != nil {
				return notFound(err)
			}
			return fmt.Errorf("version %d is stale: %w", prevVersion, agentotp.ErrConflict)
		}
		if err != nil {
			return err
		}
		if err := changed(tx.Exec(ctx, sqlUpdateRequest, storerow.RequestUpdateArgs(r, row, r.ID, prevVersion)...)); err != nil {
			return err
		}
		if err := enqueueWebhooks(ctx, tx, agentotp.Status(prev), r, audit); err != nil {
			return err
		}
		if err := db.appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		return db.notifyChange(ctx, tx, agentotp.ChangeRequest, r.OwnerID, r.ID, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: update request %s: %w", r.ID, err)
	}
	r.Version = prevVersion + 1
	return nil
}

// ListRequests returns a page of the owner's requests, newest first
// (equal creation times in descending id order), optionally only those of
// q.AgentID or in q.Status, and the cursor of the next page ("" at the
// end). q.Limit is clamped to 1..100; 0 or less means 50. A cursor that
// this store did not issue is an *agentotp.Error with code
// VALIDATION_ERROR.
func (db *Store) ListRequests(ctx context.Context, q agentotp.RequestQuery) ([]*agentotp.Request, string, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultPageSize
	case limit > maxPageSize:
		limit = maxPageSize
	}
	var p params
	where := []string{"owner_id = " + p.add(q.OwnerID)}
	if q.AgentID != "" {
		where = append(where, "agent_id = "+p.add(q.AgentID))
	}
	if q.Status != "" {
		where = append(where, "status = "+p.add(string(q.Status)))
	}
	if q.Cursor != "" {
		at, id, err := storerow.DecodeCursor(q.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("postgres: list requests: %w", err)
		}
		where = append(where, "(created_at, id) < ("+p.add(at)+", "+p.add(id)+")")
	}
	out, err := list(ctx, db, "list requests", storerow.ScanRequest, `SELECT `+storerow.RequestColumns+` FROM requests
		WHERE `+strings.Join(where, " AND ")+`
		ORDER BY created_at DESC, id DESC LIMIT `+p.add(limit+1), p...)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = storerow.EncodeCursor(storerow.Micros(last.CreatedAt), last.ID)
	}
	return out, next, nil
}

// ListLiveRequests returns the owner's requests in pending_approval or
// approved status, oldest first (equal creation times in id order).
func (db *Store) ListLiveRequests(ctx context.Context, ownerID string) ([]*agentotp.Request, error) {
	// The status condition is that of the partial index requests_live.
	return list(ctx, db, "list live requests", storerow.ScanRequest, `SELECT `+storerow.RequestColumns+` FROM requests
		WHERE owner_id = $1 AND status IN ('pending_approval', 'approved')
		ORDER BY created_at, id`, ownerID)
}

// ListDueRequests returns up to limit requests (100 when limit is not
// positive), of any owner, that are not final and whose ExpiresAt is not
// after now, the earliest expiry first.
func (db *Store) ListDueRequests(ctx context.Context, now time.Time, limit int) ([]*agentotp.Request, error) {
	if limit <= 0 {
		limit = defaultDueLimit
	}
	// The status condition repeats the one of the partial index requests_due
	// word for word, so that the planner can use it.
	return list(ctx, db, "list due requests", storerow.ScanRequest, `SELECT `+storerow.RequestColumns+` FROM requests
		WHERE status IN ('pending_approval', 'approved', 'otp_received') AND expires_at <= $1
		ORDER BY expires_at, id LIMIT $2`, now.UnixMicro(), limit)
}

// PruneMessages forgets the message ids recorded before before.
func (db *Store) PruneMessages(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM messages_seen WHERE seen_at < $1`, storerow.Micros(before))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: prune messages: %w", err)
	}
	return n, nil
}

// ForgetMessage undoes RecordMessage.
func (db *Store) ForgetMessage(ctx context.Context, sourceID, externalID string) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM messages_seen WHERE source_id = $1 AND external_id = $2`, sourceID, externalID)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: forget message of source %s: %w", sourceID, err)
	}
	return nil
}

// RecordMessage remembers that the source delivered the message with
// externalID, and reports false if it had already done so. An empty
// externalID cannot be told apart from another one: it is not recorded
// and always reports true.
func (db *Store) RecordMessage(ctx context.Context, sourceID, externalID string, at time.Time) (bool, error) {
	if externalID == "" {
		return true, nil
	}
	var fresh bool
	err := db.tx(ctx, func(tx pgx.Tx) (err error) {
		fresh, err = recordMessage(ctx, tx, sourceID, externalID, at)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: record message of source %s: %w", sourceID, err)
	}
	return fresh, nil
}

// recordMessage inserts the message's row in tx and reports whether it is
// new.
func recordMessage(ctx context.Context, tx pgx.Tx, sourceID, externalID string, at time.Time) (bool, error) {
	tag, err := tx.Exec(ctx, sqlRecordMessage, sourceID, externalID, storerow.Micros(at))
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
