package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

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

// CreateRequest stores a new request, with the Version it carries, and
// appends audit. A request whose id exists already is an
// agentotp.ErrConflict.
func (db *DB) CreateRequest(ctx context.Context, r *agentotp.Request, audit ...agentotp.AuditEntry) error {
	row, err := storerow.EncodeRequest(r)
	if err != nil {
		return fmt.Errorf("sqlite: create request %s: %w", r.ID, err)
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.insertRequest(ctx, tx, r, row); err != nil {
			return err
		}
		if err := enqueueWebhooks(ctx, tx, "", r, audit); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create request %s: %w", r.ID, err)
	}
	return nil
}

// insertRequest inserts the row of a new request.
func (db *DB) insertRequest(ctx context.Context, tx *sql.Tx, r *agentotp.Request, row storerow.Request) error {
	if _, err := db.execTx(ctx, tx, sqlInsertRequest, storerow.RequestInsertArgs(r, row)...); err != nil {
		return conflictOnDuplicate(err)
	}
	return nil
}

// GetRequest returns one request by id, whoever owns it.
func (db *DB) GetRequest(ctx context.Context, id string) (*agentotp.Request, error) {
	r, err := storerow.ScanRequest(db.readRow(ctx, sqlGetRequest, id))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get request %s: %w", id, notFound(err))
	}
	return r, nil
}

// UpdateRequest writes every mutable field of r (all but the id, owner,
// agent and creation time) if the stored row still has version
// prevVersion, appends audit in the same transaction, and sets r.Version
// to prevVersion+1. A lost race is agentotp.ErrConflict and a missing row
// agentotp.ErrNotFound; either way nothing is written. A request in a
// final status is stored without its ciphertext.
func (db *DB) UpdateRequest(ctx context.Context, r *agentotp.Request, prevVersion int64, audit ...agentotp.AuditEntry) error {
	return db.updateRequest(ctx, r, prevVersion, nil, audit)
}

// DeliverMessage is UpdateRequest that also records m, in the same
// transaction; a message recorded already is agentotp.ErrDuplicateMessage
// and nothing is written. An empty m.ExternalID records nothing.
func (db *DB) DeliverMessage(ctx context.Context, r *agentotp.Request, prevVersion int64, m agentotp.MessageRecord, audit ...agentotp.AuditEntry) error {
	if m.ExternalID == "" {
		return db.updateRequest(ctx, r, prevVersion, nil, audit)
	}
	return db.updateRequest(ctx, r, prevVersion, &m, audit)
}

func (db *DB) updateRequest(ctx context.Context, r *agentotp.Request, prevVersion int64, seen *agentotp.MessageRecord, audit []agentotp.AuditEntry) error {
	row, err := storerow.EncodeRequest(r)
	if err != nil {
		return fmt.Errorf("sqlite: update request %s: %w", r.ID, err)
	}
	erased := false
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if seen != nil {
			fresh, err := db.recordMessage(ctx, tx, seen.SourceID, seen.ExternalID, seen.At)
			if err != nil {
				return err
			}
			if !fresh {
				return agentotp.ErrDuplicateMessage
			}
		}
		// The stored status (for the webhook outbox) and whether the row
		// holds ciphertext, which a final status erases: then the log is
		// to be checkpointed after the commit. No row: the version is
		// stale, which the update finds.
		var prevStatus agentotp.Status
		var held bool
		err := tx.QueryRowContext(ctx, `SELECT status, payload IS NOT NULL OR content IS NOT NULL FROM requests
			WHERE id = ? AND version = ?`, r.ID, prevVersion).Scan(&prevStatus, &held)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		erased = held && r.Status.Final()
		res, err := db.execTx(ctx, tx, sqlUpdateRequest, storerow.RequestUpdateArgs(r, row, r.ID, prevVersion)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM requests WHERE id = ?`, r.ID).Scan(&one)
			if err != nil {
				return notFound(err)
			}
			return fmt.Errorf("version %d is stale: %w", prevVersion, agentotp.ErrConflict)
		}
		if err := enqueueWebhooks(ctx, tx, prevStatus, r, audit); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: update request %s: %w", r.ID, err)
	}
	r.Version = prevVersion + 1
	if erased {
		db.erasedCiphertext()
	}
	return nil
}

// ListRequests returns a page of the owner's requests, newest first
// (equal creation times in descending id order), optionally only those of
// q.AgentID or in q.Status, and the cursor of the next page ("" at the
// end). q.Limit is clamped to 1..100; 0 or less means 50. A cursor that
// this store did not issue is an *agentotp.Error with code
// VALIDATION_ERROR.
func (db *DB) ListRequests(ctx context.Context, q agentotp.RequestQuery) ([]*agentotp.Request, string, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultPageSize
	case limit > maxPageSize:
		limit = maxPageSize
	}
	where := []string{"owner_id = ?"}
	args := []any{q.OwnerID}
	if q.AgentID != "" {
		where = append(where, "agent_id = ?")
		args = append(args, q.AgentID)
	}
	if q.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(q.Status))
	}
	if q.Cursor != "" {
		at, id, err := storerow.DecodeCursor(q.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: list requests: %w", err)
		}
		where = append(where, "(created_at, id) < (?, ?)")
		args = append(args, at, id)
	}
	args = append(args, limit+1)
	out, err := list(ctx, db, "list requests", storerow.ScanRequest, `SELECT `+storerow.RequestColumns+` FROM requests
		WHERE `+strings.Join(where, " AND ")+`
		ORDER BY created_at DESC, id DESC LIMIT ?`, args...)
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
func (db *DB) ListLiveRequests(ctx context.Context, ownerID string) ([]*agentotp.Request, error) {
	// The status condition is that of the partial index requests_live,
	// which holds the few live rows of the owner in order; without
	// statistics the planner would rather walk all of the owner's requests.
	return list(ctx, db, "list live requests", storerow.ScanRequest, `SELECT `+storerow.RequestColumns+` FROM requests INDEXED BY requests_live
		WHERE owner_id = ? AND status IN ('pending_approval', 'approved')
		ORDER BY created_at, id`, ownerID)
}

// ListDueRequests returns up to limit requests (100 when limit is not
// positive), of any owner, that are not final and whose ExpiresAt is not
// after now, the earliest expiry first.
func (db *DB) ListDueRequests(ctx context.Context, now time.Time, limit int) ([]*agentotp.Request, error) {
	if limit <= 0 {
		limit = defaultDueLimit
	}
	// The status condition repeats the one of the partial index requests_due
	// word for word, so that the planner can use it.
	return list(ctx, db, "list due requests", storerow.ScanRequest, `SELECT `+storerow.RequestColumns+` FROM requests
		WHERE status IN ('pending_approval', 'approved', 'otp_received') AND expires_at <= ?
		ORDER BY expires_at, id LIMIT ?`, now.UnixMicro(), limit)
}

// PruneMessages forgets the message ids recorded before before.
func (db *DB) PruneMessages(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM messages_seen WHERE seen_at < ?`, storerow.Micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune messages: %w", err)
	}
	return n, nil
}

// ForgetMessage undoes RecordMessage.
func (db *DB) ForgetMessage(ctx context.Context, sourceID, externalID string) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM messages_seen WHERE source_id = ? AND external_id = ?`, sourceID, externalID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: forget message of source %s: %w", sourceID, err)
	}
	return nil
}

// RecordMessage remembers that the source delivered the message with
// externalID, and reports false if it had already done so. An empty
// externalID cannot be told apart from another one: it is not recorded
// and always reports true.
func (db *DB) RecordMessage(ctx context.Context, sourceID, externalID string, at time.Time) (bool, error) {
	if externalID == "" {
		return true, nil
	}
	var fresh bool
	err := db.tx(ctx, func(tx *sql.Tx) (err error) {
		fresh, err = db.recordMessage(ctx, tx, sourceID, externalID, at)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: record message of source %s: %w", sourceID, err)
	}
	return fresh, nil
}

// recordMessage inserts the message's row in tx and reports whether it is
// new.
func (db *DB) recordMessage(ctx context.Context, tx *sql.Tx, sourceID, externalID string, at time.Time) (bool, error) {
	res, err := db.execTx(ctx, tx, sqlRecordMessage, sourceID, externalID, storerow.Micros(at))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
