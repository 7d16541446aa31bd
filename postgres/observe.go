package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/agentotp/agentotp/internal/storerow"
)

// WebhookOutboxStats returns how many webhook deliveries are pending and
// when the oldest of them was queued (zero when none), for the relay's
// metrics.
func (db *Store) WebhookOutboxStats(ctx context.Context) (pending int, oldest time.Time, err error) {
	var first *int64
	if err := db.pool.QueryRow(ctx,
		`SELECT COUNT(*), MIN(created_at) FROM webhook_outbox WHERE state = 'pending'`).Scan(&pending, &first); err != nil {
		return 0, time.Time{}, fmt.Errorf("postgres: webhook outbox stats: %w", err)
	}
	if first != nil {
		oldest = storerow.FromMicros(*first)
	}
	return pending, oldest, nil
}

// IMAPConnectorStates counts the email sources with IMAP settings by the
// state their connector last recorded ("" until it first ran), for the
// relay's metrics.
func (db *Store) IMAPConnectorStates(ctx context.Context) (map[string]int, error) {
	rows, err := db.pool.Query(ctx, `SELECT state, COUNT(*) FROM imap_sources GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("postgres: imap connector states: %w", err)
	}
	defer rows.Close()
	out, err := storerow.CountStates(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: imap connector states: %w", err)
	}
	return out, nil
}
