package postgres

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentotp/agentotp/internal/pgtest"
)

// leaseHeld returns the holder of the lease name and whether its expiry
// is still ahead on the database's clock ("" when there is no row).
func leaseHeld(t *testing.T, s *Store, name string) (holder string, live bool) {
	t.Helper()
	err := s.pool.QueryRow(context.Background(),
		`SELECT holder, expires_at > now() FROM leases WHERE name = $1`, name).Scan(&holder, &live)
	if err != nil && !strings.Contains(err.Error(), "no rows") {
		t.Fatalf("read lease %q: %v", name, err)
	}
	return holder, live
}

func mustLease(t *testing.T, s *Store, name string, ttl time.Duration, want bool) {
	t.Helper()
	got, err := s.Lease(context.Background(), name, ttl)
	if err != nil {
		t.Fatalf("%s.Lease(%q): %v", s.Instance(), name, err)
	}
	if got != want {
		t.Fatalf("%s.Lease(%q) = %v; want %v", s.Instance(), name, got, want)
	}
}

// TestLeaseHoldRenewExpire: one handle holds a lease and renews it, the
// other is refused while it is live and takes it once the holder stopped
// renewing and the ttl ran out on the database's clock.
func TestLeaseHoldRenewExpire(t *testing.T) {
	a, b := pair(t)
	const name = "imap:source-1"
	mustLease(t, a, name, 3*time.Second, true)
	mustLease(t, b, name, 3*time.Second, false)
	mustLease(t, a, name, 3*time.Second, true) // renewed
	if h, live := leaseHeld(t, a, name); h != a.Instance() || !live {
		t.Fatalf("lease row: holder %q live %v; want %q live", h, live, a.Instance())
	}
	// b's release of a lease it does not hold changes nothing.
	if err := b.ReleaseLease(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	mustLease(t, b, name, 3*time.Second, false)

	// a stops renewing: b takes the lease once it has run out, and not
	// while the row says it is live.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, liveBefore := leaseHeld(t, a, name)
		ok, err := b.Lease(context.Background(), name, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if !liveBefore {
			// Expired before the call, so the call must have taken it.
			t.Fatal("b was refused a lease that had run out")
		}
		if time.Now().After(deadline) {
			t.Fatal("b never took the lease that a stopped renewing")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if h, _ := leaseHeld(t, a, name); h != b.Instance() {
		t.Fatalf("holder after takeover %q; want %q", h, b.Instance())
	}
	mustLease(t, a, name, 3*time.Second, false)
}

// TestLeaseRelease: a released lease passes to the next caller at once.
func TestLeaseRelease(t *testing.T) {
	a, b := pair(t)
	const name = "telegram"
	mustLease(t, a, name, time.Hour, true)
	mustLease(t, b, name, time.Hour, false)
	if err := a.ReleaseLease(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	if h, _ := leaseHeld(t, a, name); h != "" {
		t.Fatalf("released lease still held by %q", h)
	}
	mustLease(t, b, name, time.Hour, true)
	mustLease(t, a, name, time.Hour, false)
	// Releasing twice, or a lease that never was, is no error.
	if err := a.ReleaseLease(context.Background(), "never"); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseRace: many callers on two handles race for a free lease;
// exactly one instance wins, and only its own calls say so.
func TestLeaseRace(t *testing.T) {
	a, b := pair(t)
	var wins [2]atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		s, w := a, &wins[0]
		if i%2 == 1 {
			s, w = b, &wins[1]
		}
		wg.Go(func() {
			ok, err := s.Lease(context.Background(), "sweeper", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				w.Add(1)
			}
		})
	}
	wg.Wait()
	// The winner renews on each of its later calls: all ten of its calls
	// report the lease or none do.
	na, nb := wins[0].Load(), wins[1].Load()
	if (na == 0) == (nb == 0) || na+nb != 10 {
		t.Fatalf("lease won by a %d times, by b %d times; want one instance 10 times", na, nb)
	}
	h, _ := leaseHeld(t, a, "sweeper")
	if (na > 0 && h != a.Instance()) || (nb > 0 && h != b.Instance()) {
		t.Fatalf("holder %q disagrees with the winners (a %d, b %d)", h, na, nb)
	}
}

// TestLeaseBadInput: a bad name or ttl is an error and writes nothing.
func TestLeaseBadInput(t *testing.T) {
	a, _ := pair(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ttl  time.Duration
	}{
		{"", time.Minute},
		{strings.Repeat("n", maxLeaseName+1), time.Minute},
		{"ok", 0},
		{"ok", -time.Second},
		{"ok", maxLeaseTTL + time.Second},
	} {
		if ok, err := a.Lease(ctx, tc.name, tc.ttl); err == nil || ok {
			t.Errorf("Lease(%.10q, %v) = %v, %v; want an error", tc.name, tc.ttl, ok, err)
		}
	}
	if err := a.ReleaseLease(ctx, ""); err == nil {
		t.Error("ReleaseLease(\"\") is no error")
	}
	var n int
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM leases`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("leases after bad input: %d rows, %v", n, err)
	}
}

// BenchmarkLease measures one renewal of a held lease.
func BenchmarkLease(b *testing.B) {
	s := openStore(b, pgtest.URL(b), testBox(b))
	ctx := context.Background()
	for b.Loop() {
		if ok, err := s.Lease(ctx, "bench", time.Minute); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
