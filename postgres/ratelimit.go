package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// maxRateKey bounds the key of a rate bucket, in bytes.
const maxRateKey = 1024

// pruneEvery is how many Allow calls, on average, go by between two
// prunes of the buckets that are full again: one call in pruneEvery,
// drawn at random, prunes them after counting itself.
const pruneEvery = 1024

// level is the tokens in the bucket b when refilled up to now(), at rate
// $2 a second and at most $3, in SQL.
const level = `least($3::float8, b.tokens + greatest(0, extract(epoch FROM now() - b.updated_at)::float8) * $2::float8)`

// allowSQL takes a token from the bucket of key $1 (rate $2 tokens a
// second, burst $3), making it full when it is new, in one statement.
// The bucket records whether this call got a token (allowed), as the
// level alone cannot tell, and when it will be full again (full_at),
// from which on it is the same as no bucket and may be pruned.
const allowSQL = `
INSERT INTO rate_buckets AS b (key, tokens, allowed, updated_at, full_at)
VALUES ($1::bytea,
	CASE WHEN $3::float8 >= 1 THEN $3::float8 - 1 ELSE $3::float8 END,
	$3::float8 >= 1,
	now(),
	now() + (CASE WHEN $3::float8 >= 1 THEN 1 ELSE 0 END) / $2::float8 * interval '1 second')
ON CONFLICT (key) DO UPDATE SET
	allowed = ` + level + ` >= 1,
	tokens = CASE WHEN ` + level + ` >= 1 THEN ` + level + ` - 1 ELSE ` + level + ` END,
	updated_at = now(),
	full_at = now() + ($3::float8 - CASE WHEN ` + level + ` >= 1 THEN ` + level + ` - 1 ELSE ` + level + ` END) / $2::float8 * interval '1 second'
RETURNING allowed, tokens`

// Allow implements [agentotp.Cluster] with a token bucket per key, kept
// in the rate_buckets table and shared by every relay: perMinute tokens a
// minute, at most burst saved up, as [ratelimit.Limiter] keeps one in
// memory (a burst under 1 allows nothing; perMinute of 0 or less allows
// everything without a query). One statement refills, takes and stores
// on the database's clock, so concurrent calls from any relay count
// exactly. The bucket is stored under a SHA-256 of key, never key
// itself. When the call is refused, retryAfter is the whole seconds until
// a token is back.
func (s *Store) Allow(ctx context.Context, key string, perMinute, burst int) (ok bool, retryAfter int, err error) {
	if perMinute <= 0 {
		return true, 0, nil
	}
	if key == "" {
		return false, 0, errors.New("rate limit: empty key")
	}
	if len(key) > maxRateKey {
		return false, 0, fmt.Errorf("rate limit: key of %d bytes is over %d", len(key), maxRateKey)
	}
	rate := float64(perMinute) / 60
	h := sha256.Sum256([]byte(key))
	var tokens float64
	if err := s.pool.QueryRow(ctx, allowSQL, h[:], rate, float64(max(burst, 0))).Scan(&ok, &tokens); err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	if rand.N(pruneEvery) == 0 {
		if _, err := s.PruneRateBuckets(ctx); err != nil {
			s.logger.Warn("postgres: could not prune rate buckets", "err", err)
		}
	}
	if ok {
		return true, 0, nil
	}
	return false, int(math.Ceil((1 - tokens) / rate)), nil
}

// PruneRateBuckets deletes the rate buckets that are full again, which
// count the same as no bucket, and returns how many it deleted. Allow
// calls it now and then; it keeps the table to the keys used lately.
func (s *Store) PruneRateBuckets(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM rate_buckets WHERE full_at < now()`)
	if err != nil {
		return 0, fmt.Errorf("prune rate buckets: %w", err)
	}
	return tag.RowsAffected(), nil
}
