package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// CreatePolicy stores a new policy at p.Position (0 or beyond the end:
// last), moving the policies at and after it down one place.
func (db *DB) CreatePolicy(ctx context.Context, p *agentotp.Policy, audit ...agentotp.AuditEntry) error {
	conds, maxPerHour, err := storerow.PolicyArgs(p)
	if err != nil {
		return fmt.Errorf("sqlite: create policy %s: %w", p.ID, err)
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM policies WHERE owner_id = ?`, p.OwnerID).Scan(&n); err != nil {
			return err
		}
		pos := storerow.ClampPosition(p.Position, n+1)
		if _, err := tx.ExecContext(ctx, `UPDATE policies SET position = position + 1 WHERE owner_id = ? AND position >= ?`,
			p.OwnerID, pos); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policies (`+storerow.PolicyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.OwnerID, p.Name, pos, conds, p.Action, maxPerHour, storerow.BoolInt(p.Enabled),
			storerow.Micros(p.CreatedAt), storerow.Micros(p.UpdatedAt)); err != nil {
			return conflictOnDuplicate(err)
		}
		p.Position = pos
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create policy %s: %w", p.ID, err)
	}
	return nil
}

// GetPolicy returns one policy of the owner; another owner's is
// agentotp.ErrNotFound.
func (db *DB) GetPolicy(ctx context.Context, ownerID, id string) (*agentotp.Policy, error) {
	p, err := storerow.ScanPolicy(db.read.QueryRowContext(ctx, `SELECT `+storerow.PolicyColumns+` FROM policies WHERE id = ? AND owner_id = ?`, id, ownerID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get policy %s: %w", id, notFound(err))
	}
	return p, nil
}

// ListPolicies returns the owner's policies by position.
func (db *DB) ListPolicies(ctx context.Context, ownerID string) ([]*agentotp.Policy, error) {
	return list(ctx, db, "list policies", storerow.ScanPolicy,
		`SELECT `+storerow.PolicyColumns+` FROM policies WHERE owner_id = ? ORDER BY position, created_at, id`, ownerID)
}

// UpdatePolicy writes p over the stored policy and moves it to p.Position
// (0 keeps its place), shifting the policies in between.
func (db *DB) UpdatePolicy(ctx context.Context, p *agentotp.Policy, audit ...agentotp.AuditEntry) error {
	conds, maxPerHour, err := storerow.PolicyArgs(p)
	if err != nil {
		return fmt.Errorf("sqlite: update policy %s: %w", p.ID, err)
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var old int
		var created int64
		err := tx.QueryRowContext(ctx, `SELECT position, created_at FROM policies WHERE id = ? AND owner_id = ?`, p.ID, p.OwnerID).Scan(&old, &created)
		if err != nil {
			return notFound(err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM policies WHERE owner_id = ?`, p.OwnerID).Scan(&n); err != nil {
			return err
		}
		pos := old
		if p.Position != 0 {
			pos = storerow.ClampPosition(p.Position, n)
		}
		switch {
		case pos < old:
			_, err = tx.ExecContext(ctx, `UPDATE policies SET position = position + 1 WHERE owner_id = ? AND position >= ? AND position < ?`, p.OwnerID, pos, old)
		case pos > old:
			_, err = tx.ExecContext(ctx, `UPDATE policies SET position = position - 1 WHERE owner_id = ? AND position > ? AND position <= ?`, p.OwnerID, old, pos)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policies SET name = ?, position = ?, conditions = ?, action = ?, max_per_hour = ?,
			enabled = ?, updated_at = ? WHERE id = ? AND owner_id = ?`,
			p.Name, pos, conds, p.Action, maxPerHour, storerow.BoolInt(p.Enabled), storerow.Micros(p.UpdatedAt), p.ID, p.OwnerID); err != nil {
			return err
		}
		p.Position, p.CreatedAt = pos, storerow.FromMicros(created)
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: update policy %s: %w", p.ID, err)
	}
	return nil
}

// DeletePolicy removes a policy of the owner and closes the gap.
func (db *DB) DeletePolicy(ctx context.Context, ownerID, id string, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var pos int
		err := tx.QueryRowContext(ctx, `DELETE FROM policies WHERE id = ? AND owner_id = ? RETURNING position`, id, ownerID).Scan(&pos)
		if err != nil {
			return notFound(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policies SET position = position - 1 WHERE owner_id = ? AND position > ?`, ownerID, pos); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete policy %s: %w", id, err)
	}
	return nil
}

// CreateRequestCapped stores r unless c.Max requests of c.AgentID were
// decided by c.DecidedBy after c.Since; then it returns
// agentotp.ErrCapReached. Writes are serialized, so the count and the
// insert cannot interleave with another capped create.
func (db *DB) CreateRequestCapped(ctx context.Context, r *agentotp.Request, c agentotp.RequestCap, audit ...agentotp.AuditEntry) error {
	row, err := storerow.EncodeRequest(r)
	if err != nil {
		return fmt.Errorf("sqlite: create request %s: %w", r.ID, err)
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM requests WHERE agent_id = ? AND decided_by = ? AND decided_at > ?`,
			c.AgentID, c.DecidedBy, storerow.Micros(c.Since)).Scan(&n); err != nil {
			return err
		}
		if n >= c.Max {
			return agentotp.ErrCapReached
		}
		if err := db.insertRequest(ctx, tx, r, row); err != nil {
			return err
		}
		if err := enqueueWebhooks(ctx, tx, "", r, audit); err != nil { // webhook.go
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create request %s: %w", r.ID, err)
	}
	return nil
}

// GetOwnerSettings returns the owner's settings, or the defaults.
func (db *DB) GetOwnerSettings(ctx context.Context, ownerID string) (*agentotp.OwnerSettings, error) {
	s := &agentotp.OwnerSettings{OwnerID: ownerID}
	var updated int64
	err := db.read.QueryRowContext(ctx, `SELECT time_zone, updated_at FROM owner_settings WHERE owner_id = ?`, ownerID).Scan(&s.TimeZone, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get settings of owner %s: %w", ownerID, err)
	}
	s.UpdatedAt = storerow.FromMicros(updated)
	return s, nil
}

// SaveOwnerSettings stores the owner's settings.
func (db *DB) SaveOwnerSettings(ctx context.Context, s *agentotp.OwnerSettings, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO owner_settings (owner_id, time_zone, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (owner_id) DO UPDATE SET time_zone = excluded.time_zone, updated_at = excluded.updated_at`,
			s.OwnerID, s.TimeZone, storerow.Micros(s.UpdatedAt)); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: save settings of owner %s: %w", s.OwnerID, err)
	}
	return nil
}
