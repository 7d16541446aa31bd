package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// The listening connection: how it backs off after a drop and how it
// notices a connection that died without a word.
const (
	// listenBackoffMin is the wait before the first reconnect after a
	// drop; each failed attempt doubles it, up to listenBackoffMax. A
	// connection that got as far as LISTEN starts over from the minimum.
	listenBackoffMin = 50 * time.Millisecond
	listenBackoffMax = 2 * time.Second
	// listenIdleCheck is how long the listener waits for a note before it
	// pings the server, so that a connection lost without a close (a
	// network cut) is found and replaced; listenPingTimeout bounds that
	// ping and the connect.
	listenIdleCheck   = 15 * time.Second
	listenPingTimeout = 5 * time.Second
	// listenApplicationName starts the application_name of the listening
	// connection, which names it in pg_stat_activity: it is followed by
	// the Instance.
	listenApplicationName = "agentotp-listen "
)

// Listen implements [agentotp.Cluster]. It holds one connection of its
// own, outside the pool, that LISTENs on the changes channel. After each
// (re)connect it calls resync once LISTEN is in effect, so a change is
// either heard or committed before resync starts to read. It then calls
// fn, one call at a time, for each change that another instance
// committed; notes of its own instance and malformed notes are skipped
// (the latter logged). When the connection drops it reconnects, waiting
// listenBackoffMin after the drop and doubling the wait on each failed
// attempt up to listenBackoffMax, until ctx ends; it then returns ctx's
// error. A nil resync is taken as one that does nothing; fn must not be
// nil.
func (s *Store) Listen(ctx context.Context, resync func(context.Context), fn func(context.Context, agentotp.Change)) error {
	if fn == nil {
		return errors.New("postgres: listen: no fn to call")
	}
	if resync == nil {
		resync = func(context.Context) {}
	}
	wait := listenBackoffMin
	for {
		listened, err := s.listenOnce(ctx, resync, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if listened {
			wait = listenBackoffMin
		}
		s.logger.Warn("postgres: the change listener lost its connection; reconnecting", "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, listenBackoffMax)
	}
}

// listenOnce connects, LISTENs, calls resync and delivers notes until the
// connection fails or ctx ends. listened reports whether LISTEN took
// effect.
func (s *Store) listenOnce(ctx context.Context, resync func(context.Context), fn func(context.Context, agentotp.Change)) (listened bool, err error) {
	conn, err := s.listenConn(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), listenPingTimeout)
		defer cancel()
		conn.Close(cctx) //nolint:errcheck // the connection is being thrown away
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ChangesChannel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	resync(ctx)
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdleCheck)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
			if !errors.Is(err, context.DeadlineExceeded) || conn.IsClosed() {
				return true, fmt.Errorf("wait for notification: %w", err)
			}
			pctx, cancel := context.WithTimeout(ctx, listenPingTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("ping: %w", err)
			}
			continue
		}
		if n.Channel != ChangesChannel {
			continue
		}
		c, err := decodeChange(n.Payload)
		if err != nil {
			s.logger.Warn("postgres: skipped a malformed change note", "err", err, "sender_pid", n.PID, "bytes", len(n.Payload))
			continue
		}
		if c.Origin == s.Instance() {
			continue
		}
		fn(ctx, c)
	}
}

// listenConn opens the listening connection with the pool's settings,
// named listenApplicationName and the Instance in pg_stat_activity. Its canceled waits set
// a deadline on the socket rather than send the server a cancel request,
// so that the periodic idle check leaves the connection as it was.
func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = listenApplicationName + s.instance
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > listenPingTimeout {
		cfg.ConnectTimeout = listenPingTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect the listener: %w", err)
	}
	return conn, nil
}
