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

// Bounds of ListWebhooks.
const (
	defaultWebhookPage = 100
	maxWebhookPage     = 500
)

// enqueueWebhooks adds to the outbox, inside the transaction of the
// change, one delivery per status change of r since prev (see
// agentotp.WebhookEvents), addressed to r's webhook URL or else its
// agent's default one. A request with neither queues nothing.
func enqueueWebhooks(ctx context.Context, tx *sql.Tx, prev agentotp.Status, r *agentotp.Request, audit []agentotp.AuditEntry) error {
	if prev == r.Status {
		return nil
	}
	url := r.WebhookURL
	if url == "" {
		err := tx.QueryRowContext(ctx, `SELECT webhook_url FROM agents WHERE id = ?`, r.AgentID).Scan(&url)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("webhook url of agent %s: %w", r.AgentID, err)
		}
	}
	if url == "" {
		return nil
	}
	now := storerow.Micros(time.Now())
	for _, d := range agentotp.WebhookEvents(prev, r, audit) {
		if d.ID == "" {
			d.ID = agentotp.NewID("whk_")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_outbox
			(id, owner_id, agent_id, request_id, url, status, occurred_at, created_at, state, next_attempt_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
			d.ID, d.OwnerID, d.AgentID, d.RequestID, url, string(d.Status), storerow.Micros(d.OccurredAt), now, now, now); err != nil {
			return fmt.Errorf("queue webhook: %w", conflictOnDuplicate(err))
		}
	}
	return failGone(ctx, tx, r.AgentID, url, now)
}

// failGone marks failed, never sent, the pending deliveries of the agent
// to url when url answered 410 Gone to the agent (see WebhookGone). The
// rows stay listed, so that the owner sees why nothing arrived.
func failGone(ctx context.Context, tx *sql.Tx, agentID, url string, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE webhook_outbox SET state = 'failed', updated_at = ?,
		last_error = (SELECT 'not sent: ' || reason || ' (set the agent''s webhook URL again to resume)'
			FROM webhook_gone WHERE agent_id = ? AND url = ?)
		WHERE agent_id = ? AND url = ? AND state = 'pending'
		AND EXISTS (SELECT 1 FROM webhook_gone WHERE agent_id = ? AND url = ?)`,
		now, agentID, url, agentID, url, agentID, url)
	if err != nil {
		return fmt.Errorf("queue webhook: stopped URL: %w", err)
	}
	return nil
}

// ClaimWebhooks returns up to limit due deliveries, each the oldest pending
// delivery of its request, oldest first, and leases them until leaseUntil.
// Order is kept per request, not per URL: one failing delivery holds back
// only the later events of its own request.
func (db *DB) ClaimWebhooks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*agentotp.WebhookDelivery, error) {
	if limit <= 0 {
		limit = 16
	}
	var out []*agentotp.WebhookDelivery
	err := db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+storerow.WebhookColumns+` FROM webhook_outbox AS o
			WHERE o.state = 'pending' AND o.next_attempt_at <= ?
			AND NOT EXISTS (SELECT 1 FROM webhook_outbox AS p
				WHERE p.state = 'pending' AND p.request_id = o.request_id AND p.seq < o.seq)
			ORDER BY o.seq LIMIT ?`, storerow.Micros(now), limit)
		if err != nil {
			return err
		}
		if out, err = collect(rows, storerow.ScanWebhook); err != nil {
			return err
		}
		for _, d := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_outbox SET next_attempt_at = ? WHERE seq = ?`,
				storerow.Micros(leaseUntil), d.Seq); err != nil {
				return err
			}
			d.NextAttemptAt = leaseUntil.UTC().Truncate(time.Microsecond)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim webhooks: %w", err)
	}
	return out, nil
}

// SaveWebhookAttempt stores the outcome of an attempt on d. An unknown
// delivery is agentotp.ErrNotFound.
func (db *DB) SaveWebhookAttempt(ctx context.Context, d *agentotp.WebhookDelivery) error {
	if !d.State.Valid() {
		return fmt.Errorf("sqlite: save webhook attempt %s: unknown state %q", d.ID, d.State)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		return changed(tx.ExecContext(ctx, `UPDATE webhook_outbox SET state = ?, attempts = ?, next_attempt_at = ?,
			last_attempt_at = ?, last_status = ?, last_error = ?, delivered_at = ?, updated_at = ? WHERE id = ?`,
			string(d.State), d.Attempts, storerow.Micros(d.NextAttemptAt), storerow.Micros(d.LastAttemptAt), d.LastStatusCode,
			storerow.Truncate(d.LastError, 500), storerow.Micros(d.DeliveredAt), storerow.Micros(time.Now()), d.ID))
	})
	if err != nil {
		return fmt.Errorf("sqlite: save webhook attempt %s: %w", d.ID, err)
	}
	return nil
}

// WebhookGone stops url for the agent after a 410 Gone: its pending
// deliveries there fail, and later ones are recorded failed (failGone)
// until SetAgentWebhookURL.
func (db *DB) WebhookGone(ctx context.Context, agentID, url, reason string, at time.Time) (int, error) {
	var n int64
	reason = storerow.Truncate(reason, 500)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_outbox SET state = 'failed', last_error = ?, updated_at = ?
			WHERE state = 'pending' AND agent_id = ? AND url = ?`, reason, storerow.Micros(at), agentID, url)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_gone (agent_id, url, reason, gone_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (agent_id, url) DO UPDATE SET reason = excluded.reason, gone_at = excluded.gone_at`,
			agentID, url, reason, storerow.Micros(at))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: stop webhook URL of agent %s: %w", agentID, err)
	}
	return int(n), nil
}

// GetWebhook returns one delivery of the owner.
func (db *DB) GetWebhook(ctx context.Context, ownerID, id string) (*agentotp.WebhookDelivery, error) {
	d, err := storerow.ScanWebhook(db.read.QueryRowContext(ctx, `SELECT `+storerow.WebhookColumns+` FROM webhook_outbox WHERE id = ? AND owner_id = ?`, id, ownerID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get webhook %s: %w", id, notFound(err))
	}
	return d, nil
}

// ListWebhooks returns the owner's deliveries, newest first. q.Limit is
// clamped to 1..500; 0 or less means 100.
func (db *DB) ListWebhooks(ctx context.Context, q agentotp.WebhookQuery) ([]*agentotp.WebhookDelivery, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultWebhookPage
	case limit > maxWebhookPage:
		limit = maxWebhookPage
	}
	where := []string{"owner_id = ?"}
	args := []any{q.OwnerID}
	if q.RequestID != "" {
		where, args = append(where, "request_id = ?"), append(args, q.RequestID)
	}
	if q.AgentID != "" {
		where, args = append(where, "agent_id = ?"), append(args, q.AgentID)
	}
	if q.State != "" {
		where, args = append(where, "state = ?"), append(args, string(q.State))
	}
	return list(ctx, db, "list webhooks", storerow.ScanWebhook, `SELECT `+storerow.WebhookColumns+` FROM webhook_outbox
		WHERE `+strings.Join(where, " AND ")+` ORDER BY seq DESC LIMIT ?`, append(args, limit)...)
}

// RetryWebhook puts a failed delivery of the owner back in the queue.
func (db *DB) RetryWebhook(ctx context.Context, ownerID, id string, at time.Time) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM webhook_outbox WHERE id = ? AND owner_id = ?`, id, ownerID).Scan(&state)
		if err != nil {
			return notFound(err)
		}
		if agentotp.DeliveryState(state) != agentotp.DeliveryFailed {
			return fmt.Errorf("the delivery is %s, not failed: %w", state, agentotp.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_outbox SET state = 'pending', next_attempt_at = ?, created_at = ?, updated_at = ?
			WHERE id = ?`, storerow.Micros(at), storerow.Micros(at), storerow.Micros(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: retry webhook %s: %w", id, err)
	}
	return nil
}

// PruneWebhooks deletes finished deliveries last changed before before.
func (db *DB) PruneWebhooks(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE state <> 'pending' AND updated_at < ?`, storerow.Micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune webhooks: %w", err)
	}
	return int(n), nil
}

// SetAgentWebhookURL sets the agent's default webhook URL and lifts the
// agent's 410 stops. An unknown agent, or another owner's, is
// agentotp.ErrNotFound.
func (db *DB) SetAgentWebhookURL(ctx context.Context, ownerID, agentID, url string, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := changed(tx.ExecContext(ctx, `UPDATE agents SET webhook_url = ? WHERE id = ? AND owner_id = ?`, url, agentID, ownerID)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_gone WHERE agent_id = ?`, agentID); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: set webhook url of agent %s: %w", agentID, err)
	}
	return nil
}

// RotateWebhookSecret stores the agent's new webhook secret, sealed. An
// unknown agent, or another owner's, is agentotp.ErrNotFound.
// A secret kept from a key rotation's grace period is dropped: the owner
// asked for this one alone.
func (db *DB) RotateWebhookSecret(ctx context.Context, ownerID, agentID, secret string, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := changed(tx.ExecContext(ctx, `UPDATE agents SET webhook_secret = ? WHERE id = ? AND owner_id = ?`,
			db.sealSecret(agentID, secret), agentID, ownerID)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM agent_prev_webhook_secrets WHERE agent_id = ?`, agentID); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("sqlite: rotate webhook secret of agent %s: %w", agentID, err)
	}
	return nil
}
