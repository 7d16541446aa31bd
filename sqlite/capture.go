package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

// PutSourceKey stores (or replaces) the sealed token of a source. The
// source must exist.
func (db *DB) PutSourceKey(ctx context.Context, k *agentotp.SourceKey) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO source_keys (source_id, owner_id, sealed, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (source_id) DO UPDATE SET owner_id = excluded.owner_id, sealed = excluded.sealed, created_at = excluded.created_at`,
			k.SourceID, k.OwnerID, k.Sealed, storerow.Micros(k.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put key of source %s: %w", k.SourceID, err)
	}
	return nil
}

// ListSourceKeys returns the sealed tokens of active sources (of one
// source when sourceID is set), oldest first, at most limit (0: all).
func (db *DB) ListSourceKeys(ctx context.Context, sourceID string, limit int) ([]*agentotp.SourceKey, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	return list(ctx, db, "list source keys", scanSourceKey, `SELECT k.source_id, k.owner_id, s.kind, k.sealed, k.created_at
		FROM source_keys k JOIN sources s ON s.id = k.source_id AND s.owner_id = k.owner_id
		WHERE s.revoked_at = 0 AND (? = '' OR k.source_id = ?)
		ORDER BY k.created_at, k.source_id LIMIT ?`, sourceID, sourceID, limit)
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
func (db *DB) MessageSeen(ctx context.Context, sourceID, externalID string) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM messages_seen WHERE source_id = ? AND external_id = ?`, sourceID, externalID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlite: message seen of source %s: %w", sourceID, err)
	}
	return n > 0, nil
}
