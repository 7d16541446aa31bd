-- What the relays of one database share to share out work and limits
-- (postgres/lease.go, postgres/ratelimit.go).

-- A lease: the named work runs on holder (a store handle's Instance)
-- until expires_at, on the database's clock.
CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);

-- A token bucket of a rate limit for the whole cluster, under a SHA-256 of
-- its key. allowed records whether the last call got a token; full_at is
-- when the bucket is full again, from which on it counts as no bucket and
-- is pruned. The table is unlogged: a crash of the database empties it,
-- which gives every key a full bucket, and it spares the write-ahead log
-- one record per API call. A fill factor under 100 leaves room for the
-- updates to stay on their page (no index names an updated column).
CREATE UNLOGGED TABLE rate_buckets (
    key        bytea PRIMARY KEY,
    tokens     double precision NOT NULL,
    allowed    boolean NOT NULL,
    updated_at timestamptz NOT NULL,
    full_at    timestamptz NOT NULL
) WITH (fillfactor = 70);
