package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// PutSourceKey stores (or replaces) the sealed token of a source. The
// source must exist.
func (db *Store) PutSourceKey(ctx context.Context, k *agentotp.SourceKey) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO source_keys (source_id, owner_id, sealed, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (source_id) DO UPDATE SET owner_id = excluded.owner_id, sealed = excluded.sealed, created_at = excluded.created_at`,
			k.SourceID, k.OwnerID, k.Sealed, storerow.Micros(k.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: put key of source %s: %w", k.SourceID, err)
	}
	return nil
}

// ListSourceKeys returns the sealed tokens of active sources (of one
// source when sourceID is set), oldest first, at most limit (0: all).
func (db *Store) ListSourceKeys(ctx context.Context, sourceID string, limit int) ([]*agentotp.SourceKey, error) {
	var lim any = limit
	if limit <= 0 {
		lim = nil // LIMIT NULL: no limit
	}
	return list(ctx, db, "list source keys", scanSourceKey, `SELECT k.source_id, k.owner_id, s.kind, k.sealed, k.created_at
		FROM source_keys k JOIN sources s ON s.id = k.source_id AND s.owner_id = k.owner_id
		WHERE s.revoked_at = 0 AND ($1 = '' OR k.source_id = $2)
		ORDER BY k.created_at, k.source_id LIMIT $3`, sourceID, sourceID, lim)
}

func scanSourceKey(s storerow.Scanner) (*agentotp.SourceKey, error) {
	var k agentotp.SourceKey
	var created int64
	if err := s.Scan(&k.SourceID, &k.OwnerID, &k.Kind, &k.Sealed, &created); err != nil {
		return nil, err
	}
	k.CreatedAt = storerow.FromMicros(created)
	return &k, nil
}

// MessageSeen reports whether the source's message with externalID was
// recorded by RecordMessage.
func (db *Store) MessageSeen(ctx context.Context, sourceID, externalID string) (bool, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM messages_seen WHERE source_id = $1 AND external_id = $2`, sourceID, externalID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("postgres: message seen of source %s: %w", sourceID, err)
	}
	return n > 0, nil
}
