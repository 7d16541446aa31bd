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

// SetOwnerPassword stores or replaces the owner's password hash, ends every
// session of the owner and appends audit, in one transaction. An unknown
// owner is agentotp.ErrNotFound.
func (db *Store) SetOwnerPassword(ctx context.Context, pw *agentotp.OwnerPassword, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM owners WHERE id = $1`, pw.OwnerID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return agentotp.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `INSERT INTO owner_passwords (owner_id, hash, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (owner_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at`,
			pw.OwnerID, pw.Hash, storerow.Micros(pw.UpdatedAt)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM dashboard_sessions WHERE owner_id = $1`, pw.OwnerID); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: set password of owner %s: %w", pw.OwnerID, err)
	}
	return nil
}

// GetOwnerPassword returns the owner's password hash; agentotp.ErrNotFound
// when none was set.
func (db *Store) GetOwnerPassword(ctx context.Context, ownerID string) (*agentotp.OwnerPassword, error) {
	pw := agentotp.OwnerPassword{OwnerID: ownerID}
	var updated int64
	err := db.pool.QueryRow(ctx, `SELECT hash, updated_at FROM owner_passwords WHERE owner_id = $1`, ownerID).
		Scan(&pw.Hash, &updated)
	if err != nil {
		return nil, fmt.Errorf("postgres: get password of owner %s: %w", ownerID, notFound(err))
	}
	pw.UpdatedAt = storerow.FromMicros(updated)
	return &pw, nil
}

const sessionColumns = `hash, id, owner_id, method, created_at, expires_at`

func insertSession(ctx context.Context, tx pgx.Tx, s *agentotp.Session) error {
	if len(s.Hash) == 0 {
		return errors.New("session has no hash")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO dashboard_sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		s.Hash, s.ID, s.OwnerID, s.Method, storerow.Micros(s.CreatedAt), storerow.Micros(s.ExpiresAt)); err != nil {
		return conflictOnDuplicate(err)
	}
	return nil
}

// CreateSession stores a new session and appends audit. A session whose
// hash or id exists already is an agentotp.ErrConflict.
func (db *Store) CreateSession(ctx context.Context, s *agentotp.Session, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := insertSession(ctx, tx, s); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: create session %s: %w", s.ID, err)
	}
	return nil
}

// GetSession returns the session whose token hashes to hash, expired or
// not.
func (db *Store) GetSession(ctx context.Context, hash []byte) (*agentotp.Session, error) {
	var s agentotp.Session
	var created, expires int64
	err := db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM dashboard_sessions WHERE hash = $1`, hash).
		Scan(&s.Hash, &s.ID, &s.OwnerID, &s.Method, &created, &expires)
	if err != nil {
		return nil, fmt.Errorf("postgres: get session: %w", notFound(err))
	}
	s.CreatedAt, s.ExpiresAt = storerow.FromMicros(created), storerow.FromMicros(expires)
	return &s, nil
}

// DeleteSession removes one session and appends audit; a missing session
// is agentotp.ErrNotFound and appends nothing.
func (db *Store) DeleteSession(ctx context.Context, hash []byte, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := changed(tx.Exec(ctx, `DELETE FROM dashboard_sessions WHERE hash = $1`, hash)); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return nil
}

// DeleteExpired removes sessions and log-in links that ended before now,
// and links already used.
func (db *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	total := 0
	err := db.tx(ctx, func(tx pgx.Tx) error {
		total = 0
		for _, q := range []string{
			`DELETE FROM dashboard_sessions WHERE expires_at <= $1`,
			`DELETE FROM login_links WHERE expires_at <= $1 OR used_at <> 0`,
		} {
			res, err := tx.Exec(ctx, q, storerow.Micros(now))
			if err != nil {
				return err
			}
			total += int(res.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired sessions: %w", err)
	}
	return total, nil
}

// CreateLoginLink stores a new log-in link and appends audit. A link whose
// hash exists already is an agentotp.ErrConflict.
func (db *Store) CreateLoginLink(ctx context.Context, l *agentotp.LoginLinkToken, audit ...agentotp.AuditEntry) error {
	if len(l.Hash) == 0 {
		return errors.New("postgres: create login link: no hash")
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO login_links (hash, owner_id, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5)`,
			l.Hash, l.OwnerID, storerow.Micros(l.CreatedAt), storerow.Micros(l.ExpiresAt), storerow.Micros(l.UsedAt)); err != nil {
			return conflictOnDuplicate(err)
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: create login link: %w", err)
	}
	return nil
}

// GetLoginLink returns the link whose token hashes to hash.
func (db *Store) GetLoginLink(ctx context.Context, hash []byte) (*agentotp.LoginLinkToken, error) {
	var l agentotp.LoginLinkToken
	var created, expires, used int64
	err := db.pool.QueryRow(ctx, `SELECT hash, owner_id, created_at, expires_at, used_at FROM login_links WHERE hash = $1`, hash).
		Scan(&l.Hash, &l.OwnerID, &created, &expires, &used)
	if err != nil {
		return nil, fmt.Errorf("postgres: get login link: %w", notFound(err))
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = storerow.FromMicros(created), storerow.FromMicros(expires), storerow.FromMicros(used)
	return &l, nil
}

// UseLoginLink marks the link used and stores session s, if the link
// belongs to s.OwnerID and is unused and unexpired at s.CreatedAt;
// otherwise agentotp.ErrNotFound, with nothing changed.
func (db *Store) UseLoginLink(ctx context.Context, hash []byte, s *agentotp.Session, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		now := storerow.Micros(s.CreatedAt)
		if err := changed(tx.Exec(ctx, `UPDATE login_links SET used_at = $1
			WHERE hash = $2 AND owner_id = $3 AND used_at = 0 AND expires_at > $4`, now, hash, s.OwnerID, now)); err != nil {
			return err
		}
		if err := insertSession(ctx, tx, s); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: use login link: %w", err)
	}
	return nil
}
