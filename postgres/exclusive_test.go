package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentotp/agentotp/internal/pgtest"
)

// thisDB limits a query of pg_locks to the test's own database: the
// server is shared with other tests, whose locks are not ours to count or
// end.
const thisDB = `database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// advisoryLocks counts the advisory locks held (granted) in s's database.
func advisoryLocks(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND `+thisDB).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExclusiveNeverOverlaps: calls of one name on two handles, from
// several goroutines each, run one at a time; all of them run.
func TestExclusiveNeverOverlaps(t *testing.T) {
	a, b := pair(t)
	var inside, most, runs atomic.Int32
	var wg sync.WaitGroup
	const perWorker = 5
	for w := range 6 {
		s := []*Store{a, b}[w%2]
		wg.Go(func() {
			for range perWorker {
				err := s.Exclusive(context.Background(), "sweeper", func(ctx context.Context) error {
					n := inside.Add(1)
					for {
						m := most.Load()
						if n <= m || most.CompareAndSwap(m, n) {
							break
						}
					}
					time.Sleep(3 * time.Millisecond)
					runs.Add(1)
					inside.Add(-1)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if m, r := most.Load(), runs.Load(); m != 1 || r != 6*perWorker {
		t.Fatalf("at most %d inside at once over %d runs; want 1 over %d", m, r, 6*perWorker)
	}
	if n := advisoryLocks(t, a); n != 0 {
		t.Fatalf("%d advisory locks left held", n)
	}
}

// TestExclusiveNamesAreIndependent: a call of another name runs while
// one holds its lock.
func TestExclusiveNamesAreIndependent(t *testing.T) {
	a, b := pair(t)
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.Exclusive(context.Background(), "imap", func(context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	ran := false
	if err := b.Exclusive(context.Background(), "telegram", func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("other name: ran %v, %v", ran, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestExclusiveUnlocksOnErrorAndPanic: fn's error is returned as it is,
// and after an error or a panic the lock is free at once.
func TestExclusiveUnlocksOnErrorAndPanic(t *testing.T) {
	a, b := pair(t)
	ctx := context.Background()
	boom := errors.New("boom")
	if err := a.Exclusive(ctx, "job", func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Exclusive returned %v; want fn's error", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "fn panicked" {
				t.Fatalf("recovered %v; want fn's panic", r)
			}
		}()
		_ = a.Exclusive(ctx, "job", func(context.Context) error { panic("fn panicked") })
	}()
	if n := advisoryLocks(t, a); n != 0 {
		t.Fatalf("%d advisory locks held after the error and the panic", n)
	}
	// Taken at once: a try-lock on another session gets it.
	var got bool
	if err := b.pool.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, advisoryKey("job")).Scan(&got); err != nil || !got {
		t.Fatalf("lock after the panic not free: %v, %v", got, err)
	}
	if _, err := b.pool.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
		t.Fatal(err)
	}
}

// TestExclusiveWaitCanceled: a call waiting for the lock returns ctx's
// error when ctx ends, without running fn and without leaving a lock
// behind; the holder's fn is unaffected.
func TestExclusiveWaitCanceled(t *testing.T) {
	a, b := pair(t)
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.Exclusive(context.Background(), "job", func(context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once b's call is waiting for the lock.
		for {
			var waiting int
			_ = a.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND `+thisDB).Scan(&waiting)
			if waiting > 0 {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	ran := false
	err := b.Exclusive(ctx, "job", func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("canceled wait: %v (fn ran: %v); want context.Canceled without running fn", err, ran)
	}
	// The server stops waiting for b at once, not when a releases the
	// lock (a backend that waits for a lock does not notice that its
	// client went away).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND `+thisDB).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server still waits for the lock for the canceled call")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := advisoryLocks(t, a); n != 0 {
		t.Fatalf("%d advisory locks held after the holder returned", n)
	}
	if err := b.Exclusive(context.Background(), "job", func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("after the canceled wait: ran %v, %v", ran, err)
	}
}

// TestExclusiveLostConnection: when the session holding the lock ends,
// fn's context is canceled with ErrLostLock, the error says so, and the
// other handle can take the lock.
func TestExclusiveLostConnection(t *testing.T) {
	a, b := pair(t)
	ctx := context.Background()
	held := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.Exclusive(ctx, "job", func(ctx context.Context) error {
			close(held)
			<-ctx.Done()
			if !errors.Is(context.Cause(ctx), ErrLostLock) {
				return errors.New("fn's context ended with " + context.Cause(ctx).Error())
			}
			return ctx.Err()
		})
	}()
	<-held
	var pid int
	if err := b.pool.QueryRow(ctx, `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.`+thisDB+` AND a.application_name = $1`,
		lockApplicationName+a.Instance()).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if !errors.Is(err, ErrLostLock) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `"job"`) {
		t.Fatalf("Exclusive after losing its session = %v; want ErrLostLock and fn's context.Canceled", err)
	}
	ran := false
	if err := b.Exclusive(ctx, "job", func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("other handle after the loss: ran %v, %v", ran, err)
	}
}

// TestExclusiveBadName: an empty or oversized name is an error and fn
// does not run.
func TestExclusiveBadName(t *testing.T) {
	a, _ := pair(t)
	for _, name := range []string{"", strings.Repeat("n", maxLeaseName+1)} {
		ran := false
		if err := a.Exclusive(context.Background(), name, func(context.Context) error { ran = true; return nil }); err == nil || ran {
			t.Errorf("Exclusive(%.10q): %v (ran %v); want an error", name, err, ran)
		}
	}
}

// TestExclusiveLeavesThePoolToFn: calls waiting for the lock hold none of
// the pool's connections, so that the holder's fn can still query
// through a small pool.
func TestExclusiveLeavesThePoolToFn(t *testing.T) {
	url := pgtest.URL(t)
	s, err := Open(context.Background(), url, nil, WithSecretBox(testBox(t)), WithMaxConns(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var runs atomic.Int32
	for range 4 {
		wg.Go(func() {
			err := s.Exclusive(ctx, "job", func(ctx context.Context) error {
				time.Sleep(20 * time.Millisecond) // let the others queue up
				var one int
				if err := s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
					return err
				}
				runs.Add(1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := runs.Load(); n != 4 {
		t.Fatalf("%d of 4 fns ran", n)
	}
}

// BenchmarkExclusive measures an uncontended Exclusive call with an fn
// that does nothing: a connection of its own, lock, unlock, close.
func BenchmarkExclusive(b *testing.B) {
	s := openStore(b, pgtest.URL(b), testBox(b))
	ctx := context.Background()
	for b.Loop() {
		if err := s.Exclusive(ctx, "bench", func(context.Context) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
