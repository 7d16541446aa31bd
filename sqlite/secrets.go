package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
	"github.com/agentotp/agentotp/secretbox"
)

// Option configures Open.
type Option func(*DB)

// WithSecretBox makes the store seal the secrets it must read back (the
// agents' webhook signing secrets) with box. Without it, Open loads the
// box key the way serve does: from $AGENTOTP_SECRET_KEY, else from the
// file secret.key beside the database, which it creates on first use. A
// secret is never stored in the clear.
func WithSecretBox(box *secretbox.Box) Option { return func(db *DB) { db.box = box } }

// SecretBox returns the box the store seals secrets with.
func (db *DB) SecretBox() *secretbox.Box { return db.box }

// ensureBox loads the box key the way serve does, when no option gave a
// box.
func (db *DB) ensureBox(dbPath string) error {
	if db.box != nil {
		return nil
	}
	key, err := secretbox.LoadKey(filepath.Dir(dbPath))
	if err != nil {
		return err
	}
	db.box, err = secretbox.New(key)
	return err
}

// initSecrets sets up the box (when no option gave one) and seals any
// webhook secret that an older version of the store kept in the clear.
func (db *DB) initSecrets(ctx context.Context, dbPath string) error {
	if err := db.ensureBox(dbPath); err != nil {
		return err
	}
	var ids, secrets []string
	rows, err := db.write.QueryContext(ctx, `SELECT id, webhook_secret FROM agents WHERE webhook_secret <> '' AND webhook_secret NOT LIKE 'box1:%'`)
	if err != nil {
		return fmt.Errorf("find unsealed secrets: %w", err)
	}
	for rows.Next() {
		var id, s string
		if err := rows.Scan(&id, &s); err != nil {
			rows.Close()
			return fmt.Errorf("find unsealed secrets: %w", err)
		}
		ids, secrets = append(ids, id), append(secrets, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find unsealed secrets: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		for i, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE agents SET webhook_secret = ? WHERE id = ?`, db.sealSecret(id, secrets[i]), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seal webhook secrets: %w", err)
	}
	db.logger.InfoContext(ctx, "sqlite: sealed webhook secrets stored in the clear by an older version", "agents", len(ids))
	db.erasedCiphertext() // the log still holds the old pages
	return nil
}

// sealSecret returns the stored form of an agent's webhook secret.
func (db *DB) sealSecret(agentID, secret string) string {
	return storerow.SealWebhookSecret(db.box, agentID, secret)
}

// openSecret inverts sealSecret. A secret that does not open (the box key
// changed) reads as "" and is logged: the agent's webhooks then fail until
// the owner rotates its webhook secret.
func (db *DB) openSecret(agentID, stored string) string {
	pt, err := storerow.OpenWebhookSecret(db.box, agentID, stored)
	if err != nil {
		db.logger.Warn("sqlite: webhook secret does not open; rotate it", "agent_id", agentID, "err", err)
		return ""
	}
	return pt
}

// openAgentSecret replaces the stored form of a's webhook secret with the
// secret.
func (db *DB) openAgentSecret(a *agentotp.Agent) *agentotp.Agent {
	a.WebhookSecret = db.openSecret(a.ID, a.WebhookSecret)
	return a
}
