package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agentotp/agentotp/internal/storerow"
)

// keepPrevWebhookSecret keeps the agent's current webhook secret (still
// sealed) until until, in the transaction that is about to replace it.
func keepPrevWebhookSecret(ctx context.Context, tx *sql.Tx, agentID, ownerID string, until time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO agent_prev_webhook_secrets (agent_id, webhook_secret, until)
		SELECT id, webhook_secret, ? FROM agents WHERE id = ? AND owner_id = ?
		ON CONFLICT (agent_id) DO UPDATE SET webhook_secret = excluded.webhook_secret, until = excluded.until`,
		storerow.Micros(until), agentID, ownerID)
	return err
}

// PreviousWebhookSecret returns the webhook secret the agent had before
// its key was last rotated, while that rotation's grace period lasts at
// now; "" when there is none.
func (db *DB) PreviousWebhookSecret(ctx context.Context, ownerID, agentID string, now time.Time) (string, error) {
	var sealed string
	err := db.read.QueryRowContext(ctx, `SELECT p.webhook_secret FROM agent_prev_webhook_secrets AS p
		JOIN agents AS a ON a.id = p.agent_id
		WHERE p.agent_id = ? AND a.owner_id = ? AND p.until > ?`, agentID, ownerID, storerow.Micros(now)).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: previous webhook secret of agent %s: %w", agentID, err)
	}
	return db.openSecret(agentID, sealed), nil
}
