package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// CreateSigningKey stores a signing key and appends audit; a key the owner
// holds already (same key id) is agentotp.ErrConflict.
func (db *DB) CreateSigningKey(ctx context.Context, k *agentotp.SigningKey, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+storerow.SigningKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, storerow.SigningKeyArgs(k)...); err != nil {
			return conflictOnDuplicate(err)
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create signing key %s: %w", k.ID, err)
	}
	return nil
}

// ListSigningKeys returns the owner's signing keys, oldest first.
func (db *DB) ListSigningKeys(ctx context.Context, ownerID string) ([]*agentotp.SigningKey, error) {
	return list(ctx, db, "list signing keys", storerow.ScanSigningKey,
		`SELECT `+storerow.SigningKeyColumns+` FROM signing_keys WHERE owner_id = ? ORDER BY created_at, id`, ownerID)
}

// RevokeSigningKey marks a key of the owner revoked at at (a key revoked
// already keeps its earlier time) and appends audit. An unknown key, or
// another owner's, is agentotp.ErrNotFound.
func (db *DB) RevokeSigningKey(ctx context.Context, ownerID, id string, at time.Time, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END
			WHERE id = ? AND owner_id = ?`, storerow.Micros(at), id, ownerID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return agentotp.ErrNotFound
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke signing key %s: %w", id, err)
	}
	return nil
}
