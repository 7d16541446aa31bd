package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// maxLeaseName bounds the name of a lease (and of an Exclusive lock), in
// bytes.
const maxLeaseName = 200

// maxLeaseTTL bounds the ttl of a lease: a holder that died keeps others
// from the work for at most this long.
const maxLeaseTTL = 24 * time.Hour

// checkName refuses an empty name or one over maxLeaseName bytes.
func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%s without a name", what)
	}
	if len(name) > maxLeaseName {
		return fmt.Errorf("%s name of %d bytes is over %d", what, len(name), maxLeaseName)
	}
	return nil
}

// Lease implements [agentotp.Cluster]. The lease is a row of the leases
// table; one statement takes it when no one holds it or its holder let
// it run out, renews it when this instance holds it, and otherwise
// leaves it as it is. Its expiry is reckoned on the database's clock, so
// the relays' clocks do not matter.
func (s *Store) Lease(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	if err := checkName("lease", name); err != nil {
		return false, err
	}
	if ttl < time.Microsecond || ttl > maxLeaseTTL {
		return false, fmt.Errorf("lease %q: ttl %v is not within 1µs and %v", name, ttl, maxLeaseTTL)
	}
	var holder string
	err := s.pool.QueryRow(ctx, `
INSERT INTO leases AS l (name, holder, expires_at)
VALUES ($1, $2, now() + $3 * interval '1 microsecond')
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE l.holder = excluded.holder OR l.expires_at <= now()
RETURNING holder`, name, s.Instance(), ttl.Microseconds()).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lease %q: %w", name, err)
	}
	return true, nil
}

// ReleaseLease implements [agentotp.Cluster]: it deletes the lease's row
// if this instance holds it, so that the next caller takes it at once.
func (s *Store) ReleaseLease(ctx context.Context, name string) error {
	if err := checkName("lease", name); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, s.Instance()); err != nil {
		return fmt.Errorf("release lease %q: %w", name, err)
	}
	return nil
}
