package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// While fn runs, Exclusive pings the connection that holds the lock every
// exclusiveCheck, each ping bounded by exclusivePingTimeout; unlocking is
// bounded by exclusivePingTimeout too.
const (
	exclusiveCheck       = 2 * time.Second
	exclusivePingTimeout = 2 * time.Second
	// lockApplicationName starts the application_name of the connection
	// that holds an Exclusive lock; the Instance follows.
	lockApplicationName = "agentotp-lock "
)

// ErrLostLock is the cause of the cancellation of an Exclusive fn's
// context when the connection that held the lock failed: from then on
// another relay may take the lock.
var ErrLostLock = errors.New("postgres: lost the connection that held the exclusive lock")

// advisoryKey is the advisory lock key of the Exclusive lock name: the
// first 8 bytes of a SHA-256 of name, under a prefix of its own so that
// it stays clear of other advisory locks of the store.
func advisoryKey(name string) int64 {
	h := sha256.Sum256([]byte("agentotp exclusive\x00" + name))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// Exclusive implements [agentotp.Cluster] with a session advisory lock
// (pg_advisory_lock) held for the whole of fn on a connection of its own,
// outside the pool (see lockConn). It waits for the lock until ctx ends.
// The lock is released when fn returns or panics, and the connection is
// closed, which ends its session and with it the lock even when the
// unlock failed. While fn runs the connection is pinged every
// exclusiveCheck; if it fails, fn's context is canceled with the cause
// [ErrLostLock], since the lock may then pass to another relay. A second
// call of the same name waits for the first to return, even within one
// process, so one made from inside fn waits until its ctx ends. Each call
// sets up a connection (about 10 ms on loopback with SCRAM): Exclusive is
// for work done now and then, not on each request.
func (s *Store) Exclusive(ctx context.Context, name string, fn func(context.Context) error) (err error) {
	if err := checkName("exclusive lock", name); err != nil {
		return err
	}
	key := advisoryKey(name)
	conn, err := s.lockConn(ctx)
	if err != nil {
		return fmt.Errorf("exclusive %q: %w", name, err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		// The lock may have been granted as the wait was canceled: only
		// ending the session is sure to release it.
		discard(ctx, conn)
		return fmt.Errorf("exclusive %q: take the lock: %w", name, err)
	}

	fctx, cancel := context.WithCancelCause(ctx)
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		t := time.NewTicker(exclusiveCheck)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), exclusivePingTimeout)
			perr := conn.Ping(pctx)
			pcancel()
			if perr != nil {
				s.logger.Warn("postgres: lost the connection of an exclusive lock", "name", name, "err", perr)
				cancel(ErrLostLock)
				return
			}
		}
	}()
	defer func() {
		close(stop)
		<-watched
		lost := errors.Is(context.Cause(fctx), ErrLostLock)
		cancel(nil)
		if lost && err != nil {
			err = fmt.Errorf("exclusive %q: %w: %w", name, ErrLostLock, err)
		}
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), exclusivePingTimeout)
		defer ucancel()
		var unlocked bool
		if uerr := conn.QueryRow(uctx, `SELECT pg_advisory_unlock($1)`, key).Scan(&unlocked); uerr != nil || !unlocked {
			s.logger.Warn("postgres: could not unlock an exclusive lock; closing its connection", "name", name, "err", uerr, "unlocked", unlocked)
		}
		discard(ctx, conn)
	}()
	return fn(fctx)
}

// lockConn opens a connection of its own, outside the pool, to hold an
// Exclusive lock: a call that waits for the lock, or holds it, then takes
// none of the pool's connections, which fn itself may need. It is named
// lockApplicationName and the Instance in pg_stat_activity.
func (s *Store) lockConn(ctx context.Context) (*pgx.Conn, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = lockApplicationName + s.instance
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// discard closes conn, ending its session and every session lock it
// held. A statement it was interrupted in is canceled on the server
// (pgconn sends the cancel request as it closes), so that a backend
// waiting for a lock does not go on waiting; discard waits for that,
// within exclusivePingTimeout.
func discard(ctx context.Context, c *pgx.Conn) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exclusivePingTimeout)
	defer cancel()
	c.Close(cctx) //nolint:errcheck // the connection is being thrown away
	select {
	case <-c.PgConn().CleanupDone():
	case <-cctx.Done():
	}
}
