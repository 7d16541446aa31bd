package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// claimWebhooksLockKey is the key of the transaction-level advisory lock
// that serializes ClaimWebhooks across processes ("agentotp" + 1).
const claimWebhooksLockKey = migrateLockKey + 1

// Bounds of ListWebhooks.
const (
	defaultWebhookPage = 100
	maxWebhookPage     = 500
)

// enqueueWebhooks adds to the outbox, inside the transaction of the
// change, one delivery per status change of r since prev (see
// agentotp.WebhookEvents), addressed to r's webhook URL or else its
// agent's default one. A request with neither queues nothing.
func enqueueWebhooks(ctx context.Context, tx pgx.Tx, prev agentotp.Status, r *agentotp.Request, audit []agentotp.AuditEntry) error {
	if prev == r.Status {
		return nil
	}
	url := r.WebhookURL
	if url == "" {
		err := tx.QueryRow(ctx, `SELECT webhook_url FROM agents WHERE id = $1`, r.AgentID).Scan(&url)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
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
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_outbox
			(id, owner_id, agent_id, request_id, url, status, occurred_at, created_at, state, next_attempt_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)`,
			d.ID, d.OwnerID, d.AgentID, d.RequestID, url, string(d.Status), storerow.Micros(d.OccurredAt), now, now, now); err != nil {
			return fmt.Errorf("queue webhook: %w", conflictOnDuplicate(err))
		}
	}
	return failGone(ctx, tx, r.AgentID, url, now)
}

// failGone marks failed, never sent, the pending deliveries of the agent
// to url when url answered 410 Gone to the agent (see WebhookGone). The
// rows stay listed, so that the owner sees why nothing arrived.
func failGone(ctx context.Context, tx pgx.Tx, agentID, url string, now int64) error {
	_, err := tx.Exec(ctx, `UPDATE webhook_outbox SET state = 'failed', updated_at = $1,
		last_error = (SELECT 'not sent: ' || reason || ' (set the agent''s webhook URL again to resume)'
			FROM webhook_gone WHERE agent_id = $2 AND url = $3)
		WHERE agent_id = $4 AND url = $5 AND state = 'pending'
		AND EXISTS (SELECT 1 FROM webhook_gone WHERE agent_id = $6 AND url = $7)`,
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
//
// Claims take turns across every relay on the database: each holds the
// advisory lock claimWebhooksLockKey for its transaction, and its query,
// which runs once the lock is held, sees every earlier claim's lease. So
// no claim returns a delivery that another holds, and none returns a later
// delivery of a request whose earlier one is held (it is still pending).
func (db *Store) ClaimWebhooks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*agentotp.WebhookDelivery, error) {
	if limit <= 0 {
		limit = 16
	}
	var out []*agentotp.WebhookDelivery
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, claimWebhooksLockKey); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+storerow.WebhookColumns+` FROM webhook_outbox AS o
			WHERE o.state = 'pending' AND o.next_attempt_at <= $1
			AND NOT EXISTS (SELECT 1 FROM webhook_outbox AS p
				WHERE p.state = 'pending' AND p.request_id = o.request_id AND p.seq < o.seq)
			ORDER BY o.seq LIMIT $2`, storerow.Micros(now), limit)
		if err != nil {
			return err
		}
		if out, err = collect(rows, storerow.ScanWebhook); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		seqs := make([]int64, len(out))
		for i, d := range out {
			seqs[i] = d.Seq
			d.NextAttemptAt = leaseUntil.UTC().Truncate(time.Microsecond)
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_outbox SET next_attempt_at = $1 WHERE seq = ANY($2)`, storerow.Micros(leaseUntil), seqs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim webhooks: %w", err)
	}
	return out, nil
}

// SaveWebhookAttempt stores the outcome of an attempt on d. An unknown
// delivery is agentotp.ErrNotFound.
func (db *Store) SaveWebhookAttempt(ctx context.Context, d *agentotp.WebhookDelivery) error {
	if !d.State.Valid() {
		return fmt.Errorf("postgres: save webhook attempt %s: unknown state %q", d.ID, d.State)
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		return changed(tx.Exec(ctx, `UPDATE webhook_outbox SET state = $1, attempts = $2, next_attempt_at = $3,
			last_attempt_at = $4, last_status = $5, last_error = $6, delivered_at = $7, updated_at = $8 WHERE id = $9`,
			string(d.State), d.Attempts, storerow.Micros(d.NextAttemptAt), storerow.Micros(d.LastAttemptAt), d.LastStatusCode,
			storerow.Truncate(d.LastError, 500), storerow.Micros(d.DeliveredAt), storerow.Micros(time.Now()), d.ID))
	})
	if err != nil {
		return fmt.Errorf("postgres: save webhook attempt %s: %w", d.ID, err)
	}
	return nil
}

// WebhookGone stops url for the agent after a 410 Gone: its pending
// deliveries there fail, and later ones are recorded failed (failGone)
// until SetAgentWebhookURL.
func (db *Store) WebhookGone(ctx context.Context, agentID, url, reason string, at time.Time) (int, error) {
	var n int64
	reason = storerow.Truncate(reason, 500)
	err := db.tx(ctx, func(tx pgx.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE webhook_outbox SET state = 'failed', last_error = $1, updated_at = $2
			WHERE state = 'pending' AND agent_id = $3 AND url = $4`, reason, storerow.Micros(at), agentID, url)
		if err != nil {
			return err
		}
		n = res.RowsAffected()
		_, err = tx.Exec(ctx, `INSERT INTO webhook_gone (agent_id, url, reason, gone_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (agent_id, url) DO UPDATE SET reason = excluded.reason, gone_at = excluded.gone_at`,
			agentID, url, reason, storerow.Micros(at))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: stop webhook URL of agent %s: %w", agentID, err)
	}
	return int(n), nil
}

// GetWebhook returns one delivery of the owner.
func (db *Store) GetWebhook(ctx context.Context, ownerID, id string) (*agentotp.WebhookDelivery, error) {
	d, err := storerow.ScanWebhook(db.pool.QueryRow(ctx, `SELECT `+storerow.WebhookColumns+` FROM webhook_outbox WHERE id = $1 AND owner_id = $2`, id, ownerID))
	if err != nil {
		return nil, fmt.Errorf("postgres: get webhook %s: %w", id, notFound(err))
	}
	return d, nil
}

// ListWebhooks returns the owner's deliveries, newest first. q.Limit is
// clamped to 1..500; 0 or less means 100.
func (db *Store) ListWebhooks(ctx context.Context, q agentotp.WebhookQuery) ([]*agentotp.WebhookDelivery, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultWebhookPage
	case limit > maxWebhookPage:
		limit = maxWebhookPage
	}
	var p params
	where := []string{"owner_id = " + p.add(q.OwnerID)}
	if q.RequestID != "" {
		where = append(where, "request_id = "+p.add(q.RequestID))
	}
	if q.AgentID != "" {
		where = append(where, "agent_id = "+p.add(q.AgentID))
	}
	if q.State != "" {
		where = append(where, "state = "+p.add(string(q.State)))
	}
	return list(ctx, db, "list webhooks", storerow.ScanWebhook, `SELECT `+storerow.WebhookColumns+` FROM webhook_outbox
		WHERE `+strings.Join(where, " AND ")+` ORDER BY seq DESC LIMIT `+p.add(limit), p...)
}

// RetryWebhook puts a failed delivery of the owner back in the queue.
func (db *Store) RetryWebhook(ctx context.Context, ownerID, id string, at time.Time) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM webhook_outbox WHERE id = $1 AND owner_id = $2`, id, ownerID).Scan(&state)
		if err != nil {
			return notFound(err)
		}
		if agentotp.DeliveryState(state) != agentotp.DeliveryFailed {
			return fmt.Errorf("the delivery is %s, not failed: %w", state, agentotp.ErrConflict)
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_outbox SET state = 'pending', next_attempt_at = $1, created_at = $2, updated_at = $3
			WHERE id = $4`, storerow.Micros(at), storerow.Micros(at), storerow.Micros(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: retry webhook %s: %w", id, err)
	}
	return nil
}

// PruneWebhooks deletes finished deliveries last changed before before.
func (db *Store) PruneWebhooks(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM webhook_outbox WHERE state <> 'pending' AND updated_at < $1`, storerow.Micros(before))
		if err != nil {
			return err
		}
		n = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: prune webhooks: %w", err)
	}
	return int(n), nil
}

// SetAgentWebhookURL sets the agent's default webhook URL and lifts the
// agent's 410 stops. An unknown agent, or another owner's, is
// agentotp.ErrNotFound.
func (db *Store) SetAgentWebhookURL(ctx context.Context, ownerID, agentID, url string, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := changed(tx.Exec(ctx, `UPDATE agents SET webhook_url = $1 WHERE id = $2 AND owner_id = $3`, url, agentID, ownerID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_gone WHERE agent_id = $1`, agentID); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: set webhook url of agent %s: %w", agentID, err)
	}
	return nil
}

// RotateWebhookSecret stores the agent's new webhook secret, sealed. An
// unknown agent, or another owner's, is agentotp.ErrNotFound.
// A secret kept from a key rotation's grace period is dropped: the owner
// asked for this one alone.
func (db *Store) RotateWebhookSecret(ctx context.Context, ownerID, agentID, secret string, audit ...agentotp.AuditEntry) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := changed(tx.Exec(ctx, `UPDATE agents SET webhook_secret = $1 WHERE id = $2 AND owner_id = $3`,
			db.sealSecret(agentID, secret), agentID, ownerID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM agent_prev_webhook_secrets WHERE agent_id = $1`, agentID); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("postgres: rotate webhook secret of agent %s: %w", agentID, err)
	}
	return nil
}
