package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// CreateSigningKey stores a signing key and appends audit; a key the owner
// holds already (same key id) is agentotp.ErrConflict.
func (db *Store) CreateSigningKey(ctx context.Context, k *agentotp.SigningKey, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+storerow.SigningKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, storerow.SigningKeyArgs(k)...); err != nil {
			return conflictOnDuplicate(err)
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: create signing key %s: %w", k.ID, err)
	}
	return nil
}

// ListSigningKeys returns the owner's signing keys, oldest first.
func (db *Store) ListSigningKeys(ctx context.Context, ownerID string) ([]*agentotp.SigningKey, error) {
	return list(ctx, db, "list signing keys", storerow.ScanSigningKey,
		`SELECT `+storerow.SigningKeyColumns+` FROM signing_keys WHERE owner_id = $1 ORDER BY created_at, id`, ownerID)
}

// RevokeSigningKey marks a key of the owner revoked at at (a key revoked
// already keeps its earlier time) and appends audit. An unknown key, or
// another owner's, is agentotp.ErrNotFound.
func (db *Store) RevokeSigningKey(ctx context.Context, ownerID, id string, at time.Time, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE signing_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN $1::bigint ELSE revoked_at END
			WHERE id = $2 AND owner_id = $3`, storerow.Micros(at), id, ownerID)
		if err != nil {
			return err
		}
		if res.RowsAffected() == 0 {
			return agentotp.ErrNotFound
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: revoke signing key %s: %w", id, err)
	}
	return nil
}
