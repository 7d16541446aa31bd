package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// lockPolicies locks the owner's row (FOR NO KEY UPDATE, which leaves the
// foreign-key checks of other rows alone) so that the policy writes of one
// owner, on any relay, take turns: each renumbers positions from a count
// that must not change under it.
func lockPolicies(ctx context.Context, tx pgx.Tx, ownerID string) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM owners WHERE id = $1 FOR NO KEY UPDATE`, ownerID); err != nil {
		return fmt.Errorf("lock policies of %s: %w", ownerID, err)
	}
	return nil
}

// CreatePolicy stores a new policy at p.Position (0 or beyond the end:
// last), moving the policies at and after it down one place.
func (db *Store) CreatePolicy(ctx context.Context, p *agentotp.Policy, audit ...agentotp.AuditEntry) error {
	conds, maxPerHour, err := storerow.PolicyArgs(p)
	if err != nil {
		return fmt.Errorf("postgres: create policy %s: %w", p.ID, err)
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockPolicies(ctx, tx, p.OwnerID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM policies WHERE owner_id = $1`, p.OwnerID).Scan(&n); err != nil {
			return err
		}
		pos := storerow.ClampPosition(p.Position, n+1)
		if _, err := tx.Exec(ctx, `UPDATE policies SET position = position + 1 WHERE owner_id = $1 AND position >= $2`,
			p.OwnerID, pos); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO policies (`+storerow.PolicyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			p.ID, p.OwnerID, p.Name, pos, conds, p.Action, maxPerHour, storerow.BoolInt(p.Enabled),
			storerow.Micros(p.CreatedAt), storerow.Micros(p.UpdatedAt)); err != nil {
			return conflictOnDuplicate(err)
		}
		p.Position = pos
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: create policy %s: %w", p.ID, err)
	}
	return nil
}

// GetPolicy returns one policy of the owner; another owner's is
// agentotp.ErrNotFound.
func (db *Store) GetPolicy(ctx context.Context, ownerID, id string) (*agentotp.Policy, error) {
	p, err := storerow.ScanPolicy(db.pool.QueryRow(ctx, `SELECT `+storerow.PolicyColumns+` FROM policies WHERE id = $1 AND owner_id = $2`, id, ownerID))
	if err != nil {
		return nil, fmt.Errorf("postgres: get policy %s: %w", id, notFound(err))
	}
	return p, nil
}

// ListPolicies returns the owner's policies by position.
func (db *Store) ListPolicies(ctx context.Context, ownerID string) ([]*agentotp.Policy, error) {
	return list(ctx, db, "list policies", storerow.ScanPolicy,
		`SELECT `+storerow.PolicyColumns+` FROM policies WHERE owner_id = $1 ORDER BY position, created_at, id`, ownerID)
}

// UpdatePolicy writes p over the stored policy and moves it to p.Position
// (0 keeps its place), shifting the policies in between.
func (db *Store) UpdatePolicy(ctx context.Context, p *agentotp.Policy, audit ...agentotp.AuditEntry) error {
	conds, maxPerHour, err := storerow.PolicyArgs(p)
	if err != nil {
		return fmt.Errorf("postgres: update policy %s: %w", p.ID, err)
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockPolicies(ctx, tx, p.OwnerID); err != nil {
			return err
		}
		var old int
		var created int64
		err := tx.QueryRow(ctx, `SELECT position, created_at FROM policies WHERE id = $1 AND owner_id = $2`, p.ID, p.OwnerID).Scan(&old, &created)
		if err != nil {
			return notFound(err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM policies WHERE owner_id = $1`, p.OwnerID).Scan(&n); err != nil {
			return err
		}
		pos := old
		if p.Position != 0 {
			pos = storerow.ClampPosition(p.Position, n)
		}
		switch {
		case pos < old:
			_, err = tx.Exec(ctx, `UPDATE policies SET position = position + 1 WHERE owner_id = $1 AND position >= $2 AND position < $3`, p.OwnerID, pos, old)
		case pos > old:
			_, err = tx.Exec(ctx, `UPDATE policies SET position = position - 1 WHERE owner_id = $1 AND position > $2 AND position <= $3`, p.OwnerID, old, pos)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE policies SET name = $1, position = $2, conditions = $3, action = $4, max_per_hour = $5,
			enabled = $6, updated_at = $7 WHERE id = $8 AND owner_id = $9`,
			p.Name, pos, conds, p.Action, maxPerHour, storerow.BoolInt(p.Enabled), storerow.Micros(p.UpdatedAt), p.ID, p.OwnerID); err != nil {
			return err
		}
		p.Position, p.CreatedAt = pos, storerow.FromMicros(created)
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: update policy %s: %w", p.ID, err)
	}
	return nil
}

// DeletePolicy removes a policy of the owner and closes the gap.
func (db *Store) DeletePolicy(ctx context.Context, ownerID, id string, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockPolicies(ctx, tx, ownerID); err != nil {
			return err
		}
		var pos int
		err := tx.QueryRow(ctx, `DELETE FROM policies WHERE id = $1 AND owner_id = $2 RETURNING position`, id, ownerID).Scan(&pos)
		if err != nil {
			return notFound(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE policies SET position = position - 1 WHERE owner_id = $1 AND position > $2`, ownerID, pos); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete policy %s: %w", id, err)
	}
	return nil
}

// CreateRequestCapped stores r unless c.Max requests of c.AgentID were
// decided by c.DecidedBy after c.Since; then it returns
// agentotp.ErrCapReached. The count and the insert run with the agent's
// row locked, so that they cannot interleave with another create of the
// agent's, on any relay. The live cap of CreateRequest holds as well.
func (db *Store) CreateRequestCapped(ctx context.Context, r *agentotp.Request, c agentotp.RequestCap, audit ...agentotp.AuditEntry) error {
	if err := db.createRequest(ctx, r, &c, audit); err != nil { // request.go
		return fmt.Errorf("postgres: create request %s: %w", r.ID, err)
	}
	return nil
}

// GetOwnerSettings returns the owner's settings, or the defaults.
func (db *Store) GetOwnerSettings(ctx context.Context, ownerID string) (*agentotp.OwnerSettings, error) {
	s := &agentotp.OwnerSettings{OwnerID: ownerID}
	var updated int64
	err := db.pool.QueryRow(ctx, `SELECT time_zone, updated_at FROM owner_settings WHERE owner_id = $1`, ownerID).Scan(&s.TimeZone, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get settings of owner %s: %w", ownerID, err)
	}
	s.UpdatedAt = storerow.FromMicros(updated)
	return s, nil
}

// SaveOwnerSettings stores the owner's settings.
func (db *Store) SaveOwnerSettings(ctx context.Context, s *agentotp.OwnerSettings, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO owner_settings (owner_id, time_zone, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (owner_id) DO UPDATE SET time_zone = excluded.time_zone, updated_at = excluded.updated_at`,
			s.OwnerID, s.TimeZone, storerow.Micros(s.UpdatedAt)); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: save settings of owner %s: %w", s.OwnerID, err)
	}
	return nil
}
