package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// CreateEnrollment stores a new enrollment and appends audit. An id, a
// device code hash, or a user code hash of a live enrollment that exists
// already is an agentotp.ErrConflict.
func (db *DB) CreateEnrollment(ctx context.Context, e *agentotp.Enrollment, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO enrollments (`+storerow.EnrollmentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, storerow.EnrollmentArgs(e)...); err != nil {
			return conflictOnDuplicate(err)
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create enrollment %s: %w", e.ID, err)
	}
	return nil
}

// GetEnrollment returns one enrollment by id.
func (db *DB) GetEnrollment(ctx context.Context, id string) (*agentotp.Enrollment, error) {
	e, err := storerow.ScanEnrollment(db.read.QueryRowContext(ctx, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get enrollment %s: %w", id, notFound(err))
	}
	return e, nil
}

// FindEnrollmentByDeviceCode returns the enrollment of a device code hash.
func (db *DB) FindEnrollmentByDeviceCode(ctx context.Context, hash []byte) (*agentotp.Enrollment, error) {
	e, err := storerow.ScanEnrollment(db.read.QueryRowContext(ctx, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments WHERE device_code_hash = ?`, hash))
	if err != nil {
		return nil, fmt.Errorf("sqlite: find enrollment by device code: %w", notFound(err))
	}
	return e, nil
}

// FindEnrollmentByUserCode returns the owner's live enrollment of a user
// code hash.
func (db *DB) FindEnrollmentByUserCode(ctx context.Context, ownerID string, hash []byte) (*agentotp.Enrollment, error) {
	e, err := storerow.ScanEnrollment(db.read.QueryRowContext(ctx, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments
		WHERE user_code_hash = ? AND owner_id = ? AND status IN ('pending', 'approved')`, hash, ownerID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: find enrollment by user code: %w", notFound(err))
	}
	return e, nil
}

// ListEnrollments returns the owner's enrollments, newest first.
func (db *DB) ListEnrollments(ctx context.Context, q agentotp.EnrollmentQuery) ([]*agentotp.Enrollment, error) {
	limit := q.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	if q.Status != "" {
		return list(ctx, db, "list enrollments", storerow.ScanEnrollment, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments
			WHERE owner_id = ? AND status = ? ORDER BY created_at DESC, id DESC LIMIT ?`, q.OwnerID, string(q.Status), limit)
	}
	return list(ctx, db, "list enrollments", storerow.ScanEnrollment, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments
		WHERE owner_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, q.OwnerID, limit)
}

// ListDueEnrollments returns live enrollments whose TTL has passed.
func (db *DB) ListDueEnrollments(ctx context.Context, now time.Time, limit int) ([]*agentotp.Enrollment, error) {
	return list(ctx, db, "list due enrollments", storerow.ScanEnrollment, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments
		WHERE status IN ('pending', 'approved') AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, storerow.Micros(now), limit)
}

// updateEnrollment writes e's changeable columns if the row still has
// prevVersion.
func updateEnrollment(ctx context.Context, tx *sql.Tx, e *agentotp.Enrollment, prevVersion int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE enrollments SET status = ?, decided_at = ?, decided_by = ?, issued_at = ?, agent_id = ?,
		version = version + 1 WHERE id = ? AND version = ?`,
		string(e.Status), storerow.Micros(e.DecidedAt), e.DecidedBy, storerow.Micros(e.IssuedAt), storerow.NullString(e.AgentID), e.ID, prevVersion)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM enrollments WHERE id = ?`, e.ID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return agentotp.ErrNotFound
		}
		if err != nil {
			return err
		}
		return agentotp.ErrConflict
	}
	return nil
}

// UpdateEnrollment writes e if the stored row still has prevVersion.
func (db *DB) UpdateEnrollment(ctx context.Context, e *agentotp.Enrollment, prevVersion int64, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := updateEnrollment(ctx, tx, e, prevVersion); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: update enrollment %s: %w", e.ID, err)
	}
	e.Version = prevVersion + 1
	return nil
}

// IssueEnrollment writes the issued enrollment and stores its agent and
// credential, all or nothing.
func (db *DB) IssueEnrollment(ctx context.Context, e *agentotp.Enrollment, prevVersion int64, a *agentotp.Agent, cred *agentotp.Credential, audit ...agentotp.AuditEntry) error {
	if a == nil || cred == nil {
		return errors.New("sqlite: issue enrollment: an agent and its credential are required")
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// The agent first: the enrollment's row refers to it.
		if _, err := tx.ExecContext(ctx, `INSERT INTO agents (`+storerow.AgentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.OwnerID, a.Name, storerow.BoolInt(a.Test), a.KeyPrefix, db.sealSecret(a.ID, a.WebhookSecret),
			storerow.Micros(a.CreatedAt), storerow.Micros(a.RevokedAt), a.WebhookURL); err != nil {
			return fmt.Errorf("insert agent: %w", conflictOnDuplicate(err))
		}
		if err := insertCredential(ctx, tx, cred); err != nil {
			return err
		}
		if err := updateEnrollment(ctx, tx, e, prevVersion); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: issue enrollment %s: %w", e.ID, err)
	}
	e.Version = prevVersion + 1
	return nil
}

const enrollmentPromptColumns = `token_hash, enrollment_id, owner_id, chat_id, message_id, created_at, closed_at`

// CreateEnrollmentPrompt stores a Telegram prompt about an enrollment.
func (db *DB) CreateEnrollmentPrompt(ctx context.Context, p *agentotp.TelegramPrompt) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO enrollment_prompts (`+enrollmentPromptColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			p.TokenHash, p.RequestID, p.OwnerID, p.ChatID, p.MessageID, storerow.Micros(p.CreatedAt), storerow.Micros(p.ClosedAt))
		return conflictOnDuplicate(err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create enrollment prompt for %s: %w", p.RequestID, err)
	}
	return nil
}

// SetEnrollmentPromptMessage records the prompt's message id.
func (db *DB) SetEnrollmentPromptMessage(ctx context.Context, tokenHash []byte, messageID int64) error {
	return db.updatePrompt(ctx, "set enrollment prompt message", `UPDATE enrollment_prompts SET message_id = ? WHERE token_hash = ?`, messageID, tokenHash)
}

// CloseEnrollmentPrompt marks a prompt closed.
func (db *DB) CloseEnrollmentPrompt(ctx context.Context, tokenHash []byte, at time.Time) error {
	return db.updatePrompt(ctx, "close enrollment prompt", `UPDATE enrollment_prompts SET closed_at = ? WHERE token_hash = ?`, storerow.Micros(at), tokenHash)
}

// GetEnrollmentPrompt returns a prompt by its token's hash.
func (db *DB) GetEnrollmentPrompt(ctx context.Context, tokenHash []byte) (*agentotp.TelegramPrompt, error) {
	p, err := storerow.ScanTelegramPrompt(db.read.QueryRowContext(ctx, `SELECT `+enrollmentPromptColumns+` FROM enrollment_prompts WHERE token_hash = ?`, tokenHash))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get enrollment prompt: %w", notFound(err))
	}
	return p, nil
}

// ListEnrollmentPrompts returns the prompts of an enrollment, oldest first.
func (db *DB) ListEnrollmentPrompts(ctx context.Context, enrollmentID string) ([]*agentotp.TelegramPrompt, error) {
	return list(ctx, db, "list enrollment prompts", storerow.ScanTelegramPrompt,
		`SELECT `+enrollmentPromptColumns+` FROM enrollment_prompts WHERE enrollment_id = ? ORDER BY created_at, token_hash`, enrollmentID)
}
