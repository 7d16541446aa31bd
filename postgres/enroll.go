package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// CreateEnrollment stores a new enrollment and appends audit. An id, a
// device code hash, or a user code hash of a live enrollment that exists
// already is an agentotp.ErrConflict.
func (db *Store) CreateEnrollment(ctx context.Context, e *agentotp.Enrollment, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO enrollments (`+storerow.EnrollmentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`, storerow.EnrollmentArgs(e)...); err != nil {
			return conflictOnDuplicate(err)
		}
		if err := db.appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		return db.notifyChange(ctx, tx, agentotp.ChangeEnrollment, e.OwnerID, e.ID, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: create enrollment %s: %w", e.ID, err)
	}
	return nil
}

// GetEnrollment returns one enrollment by id.
func (db *Store) GetEnrollment(ctx context.Context, id string) (*agentotp.Enrollment, error) {
	e, err := storerow.ScanEnrollment(db.pool.QueryRow(ctx, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: get enrollment %s: %w", id, notFound(err))
	}
	return e, nil
}

// FindEnrollmentByDeviceCode returns the enrollment of a device code hash.
func (db *Store) FindEnrollmentByDeviceCode(ctx context.Context, hash []byte) (*agentotp.Enrollment, error) {
	e, err := storerow.ScanEnrollment(db.pool.QueryRow(ctx, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments WHERE device_code_hash = $1`, hash))
	if err != nil {
		return nil, fmt.Errorf("postgres: find enrollment by device code: %w", notFound(err))
	}
	return e, nil
}

// FindEnrollmentByUserCode returns the owner's live enrollment of a user
// code hash.
func (db *Store) FindEnrollmentByUserCode(ctx context.Context, ownerID string, hash []byte) (*agentotp.Enrollment, error) {
	e, err := storerow.ScanEnrollment(db.pool.QueryRow(ctx, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments
		WHERE user_code_hash = $1 AND owner_id = $2 AND status IN ('pending', 'approved')`, hash, ownerID))
	if err != nil {
		return nil, fmt.Errorf("postgres: find enrollment by user code: %w", notFound(err))
	}
	return e, nil
}

// ListEnrollments returns the owner's enrollments, newest first.
func (db *Store) ListEnrollments(ctx context.Context, q agentotp.EnrollmentQuery) ([]*agentotp.Enrollment, error) {
	limit := q.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	if q.Status != "" {
		return list(ctx, db, "list enrollments", storerow.ScanEnrollment, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments
			WHERE owner_id = $1 AND status = $2 ORDER BY created_at DESC, id DESC LIMIT $3`, q.OwnerID, string(q.Status), limit)
	}
	return list(ctx, db, "list enrollments", storerow.ScanEnrollment, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments
		WHERE owner_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, q.OwnerID, limit)
}

// ListDueEnrollments returns live enrollments whose TTL has passed.
func (db *Store) ListDueEnrollments(ctx context.Context, now time.Time, limit int) ([]*agentotp.Enrollment, error) {
	return list(ctx, db, "list due enrollments", storerow.ScanEnrollment, `SELECT `+storerow.EnrollmentColumns+` FROM enrollments
		WHERE status IN ('pending', 'approved') AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2`, storerow.Micros(now), limit)
}

// updateEnrollment writes e's changeable columns if the row still has
// prevVersion.
func updateEnrollment(ctx context.Context, tx pgx.Tx, e *agentotp.Enrollment, prevVersion int64) error {
	res, err := tx.Exec(ctx, `UPDATE enrollments SET status = $1, decided_at = $2, decided_by = $3, issued_at = $4, agent_id = $5,
		version = version + 1 WHERE id = $6 AND version = $7`,
		string(e.Status), storerow.Micros(e.DecidedAt), e.DecidedBy, storerow.Micros(e.IssuedAt), storerow.NullString(e.AgentID), e.ID, prevVersion)
	if err != nil {
		return err
	}
	if res.RowsAffected() == 0 {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM enrollments WHERE id = $1`, e.ID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
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
func (db *Store) UpdateEnrollment(ctx context.Context, e *agentotp.Enrollment, prevVersion int64, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := updateEnrollment(ctx, tx, e, prevVersion); err != nil {
			return err
		}
		if err := db.appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		return db.notifyChange(ctx, tx, agentotp.ChangeEnrollment, e.OwnerID, e.ID, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: update enrollment %s: %w", e.ID, err)
	}
	e.Version = prevVersion + 1
	return nil
}

// IssueEnrollment writes the issued enrollment and stores its agent and
// credential, all or nothing.
func (db *Store) IssueEnrollment(ctx context.Context, e *agentotp.Enrollment, prevVersion int64, a *agentotp.Agent, cred *agentotp.Credential, audit ...agentotp.AuditEntry) error {
	if a == nil || cred == nil {
		return errors.New("postgres: issue enrollment: an agent and its credential are required")
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		// The agent first: the enrollment's row refers to it.
		if _, err := tx.Exec(ctx, `INSERT INTO agents (`+storerow.AgentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
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
		if err := db.appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		return db.notifyChange(ctx, tx, agentotp.ChangeEnrollment, e.OwnerID, e.ID, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: issue enrollment %s: %w", e.ID, err)
	}
	e.Version = prevVersion + 1
	return nil
}

const enrollmentPromptColumns = `token_hash, enrollment_id, owner_id, chat_id, message_id, created_at, closed_at`

// CreateEnrollmentPrompt stores a Telegram prompt about an enrollment.
func (db *Store) CreateEnrollmentPrompt(ctx context.Context, p *agentotp.TelegramPrompt) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO enrollment_prompts (`+enrollmentPromptColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			p.TokenHash, p.RequestID, p.OwnerID, p.ChatID, p.MessageID, storerow.Micros(p.CreatedAt), storerow.Micros(p.ClosedAt))
		return conflictOnDuplicate(err)
	})
	if err != nil {
		return fmt.Errorf("postgres: create enrollment prompt for %s: %w", p.RequestID, err)
	}
	return nil
}

// SetEnrollmentPromptMessage records the prompt's message id.
func (db *Store) SetEnrollmentPromptMessage(ctx context.Context, tokenHash []byte, messageID int64) error {
	return db.updatePrompt(ctx, "set enrollment prompt message", `UPDATE enrollment_prompts SET message_id = $1 WHERE token_hash = $2`, messageID, tokenHash)
}

// CloseEnrollmentPrompt marks a prompt closed.
func (db *Store) CloseEnrollmentPrompt(ctx context.Context, tokenHash []byte, at time.Time) error {
	return db.updatePrompt(ctx, "close enrollment prompt", `UPDATE enrollment_prompts SET closed_at = $1 WHERE token_hash = $2`, storerow.Micros(at), tokenHash)
}

// GetEnrollmentPrompt returns a prompt by its token's hash.
func (db *Store) GetEnrollmentPrompt(ctx context.Context, tokenHash []byte) (*agentotp.TelegramPrompt, error) {
	p, err := storerow.ScanTelegramPrompt(db.pool.QueryRow(ctx, `SELECT `+enrollmentPromptColumns+` FROM enrollment_prompts WHERE token_hash = $1`, tokenHash))
	if err != nil {
		return nil, fmt.Errorf("postgres: get enrollment prompt: %w", notFound(err))
	}
	return p, nil
}

// ListEnrollmentPrompts returns the prompts of an enrollment, oldest first.
func (db *Store) ListEnrollmentPrompts(ctx context.Context, enrollmentID string) ([]*agentotp.TelegramPrompt, error) {
	return list(ctx, db, "list enrollment prompts", storerow.ScanTelegramPrompt,
		`SELECT `+enrollmentPromptColumns+` FROM enrollment_prompts WHERE enrollment_id = $1 ORDER BY created_at, token_hash`, enrollmentID)
}
