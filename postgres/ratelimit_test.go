package postgres

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentotp/agentotp/internal/pgtest"
)

func bucketRows(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM rate_buckets`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAllowBurstAcrossHandles: two handles draw on one bucket; after the
// burst the next call on either is refused with the seconds to wait,
// while another key keeps a full bucket of its own.
func TestAllowBurstAcrossHandles(t *testing.T) {
	a, b := pair(t)
	ctx := context.Background()
	const key, perMinute, burst = "api:3f2a9c", 1, 5
	for i := range burst {
		s := []*Store{a, b}[i%2]
		ok, retry, err := s.Allow(ctx, key, perMinute, burst)
		if err != nil || !ok || retry != 0 {
			t.Fatalf("call %d on %s = %v, %d, %v; want allowed", i+1, s.Instance(), ok, retry, err)
		}
	}
	for _, s := range []*Store{a, b} {
		ok, retry, err := s.Allow(ctx, key, perMinute, burst)
		if err != nil || ok {
			t.Fatalf("call past the burst on %s = %v, %d, %v; want refused", s.Instance(), ok, retry, err)
		}
		// One token a minute: the next is at most a minute away.
		if retry < 1 || retry > 60 {
			t.Errorf("retryAfter %d; want 1..60", retry)
		}
	}
	// Another key is not touched.
	for i := range burst {
		if ok, _, err := b.Allow(ctx, "api:77d0e1", perMinute, burst); err != nil || !ok {
			t.Fatalf("call %d of an independent key refused: %v", i+1, err)
		}
	}
	if ok, _, _ := a.Allow(ctx, "api:77d0e1", perMinute, burst); ok {
		t.Fatal("independent key allowed past its burst")
	}
}

// TestAllowConcurrent: concurrent calls over two handles get exactly
// burst tokens between them.
func TestAllowConcurrent(t *testing.T) {
	a, b := pair(t)
	const burst = 7
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		s := []*Store{a, b}[i%2]
		wg.Go(func() {
			ok, _, err := s.Allow(context.Background(), "ip:192.0.2.1", 1, burst)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != burst {
		t.Fatalf("%d calls allowed; want exactly %d", n, burst)
	}
}

// TestAllowRefill: a bucket refills at its rate; one token is back once
// retryAfter has passed.
func TestAllowRefill(t *testing.T) {
	a, b := pair(t)
	ctx := context.Background()
	const key = "api:refill"
	// One token a second: the second call, unless a whole second went by
	// between the two, finds less than one.
	if ok, _, err := a.Allow(ctx, key, 60, 1); err != nil || !ok {
		t.Fatalf("first call: %v, %v", ok, err)
	}
	ok, retry, err := b.Allow(ctx, key, 60, 1)
	if err != nil || ok || retry != 1 {
		t.Fatalf("second call = %v, %d, %v; want refused with retryAfter 1", ok, retry, err)
	}
	time.Sleep(time.Duration(retry) * time.Second)
	if ok, _, err := b.Allow(ctx, key, 60, 1); err != nil || !ok {
		t.Fatalf("call after retryAfter = %v, %v; want allowed", ok, err)
	}
}

// TestAllowUnlimitedAndNoBurst: perMinute of 0 or less allows all and
// stores nothing; a burst under 1 allows nothing.
func TestAllowUnlimitedAndNoBurst(t *testing.T) {
	a, _ := pair(t)
	ctx := context.Background()
	for _, perMinute := range []int{0, -5} {
		for range 50 {
			if ok, retry, err := a.Allow(ctx, "k", perMinute, 1); err != nil || !ok || retry != 0 {
				t.Fatalf("perMinute %d: %v, %d, %v; want allowed", perMinute, ok, retry, err)
			}
		}
	}
	// Unlimited needs no key and no database.
	if ok, _, err := a.Allow(ctx, "", 0, 0); err != nil || !ok {
		t.Fatalf("perMinute 0 with empty key: %v, %v", ok, err)
	}
	if n := bucketRows(t, a); n != 0 {
		t.Fatalf("unlimited calls stored %d buckets", n)
	}
	for _, burst := range []int{0, -1} {
		ok, retry, err := a.Allow(ctx, "noburst", 60, burst)
		if err != nil || ok || retry != 1 {
			t.Fatalf("burst %d: %v, %d, %v; want refused with retryAfter 1", burst, ok, retry, err)
		}
	}
}

// TestAllowStoresHashedKey: the bucket is stored under a SHA-256 of the
// key, never the key.
func TestAllowStoresHashedKey(t *testing.T) {
	a, _ := pair(t)
	ctx := context.Background()
	const key = "api:secret-looking-key"
	if _, _, err := a.Allow(ctx, key, 60, 3); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(key))
	var raw, hashed int
	if err := a.pool.QueryRow(ctx,
		`SELECT count(*) FILTER (WHERE position(convert_to($1, 'UTF8') IN key) > 0),
		        count(*) FILTER (WHERE key = $2) FROM rate_buckets`, key, h[:]).Scan(&raw, &hashed); err != nil {
		t.Fatal(err)
	}
	if raw != 0 || hashed != 1 {
		t.Fatalf("buckets holding the raw key: %d, under its hash: %d; want 0 and 1", raw, hashed)
	}
}

// TestPruneRateBuckets: buckets that are full again are deleted; those
// still refilling stay.
func TestPruneRateBuckets(t *testing.T) {
	a, _ := pair(t)
	ctx := context.Background()
	// Full again 10 ms after its one call.
	if _, _, err := a.Allow(ctx, "fast", 6000, 1); err != nil {
		t.Fatal(err)
	}
	// Full again only after an hour.
	if _, _, err := a.Allow(ctx, "slow", 1, 61); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := a.PruneRateBuckets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if n > 1 || time.Now().After(deadline) {
			t.Fatalf("PruneRateBuckets deleted %d; want the one full bucket", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := bucketRows(t, a); n != 1 {
		t.Fatalf("%d buckets left; want the refilling one", n)
	}
	// A pruned key starts again from a full bucket.
	if ok, _, err := a.Allow(ctx, "fast", 6000, 1); err != nil || !ok {
		t.Fatalf("pruned key: %v, %v; want allowed", ok, err)
	}
}

// TestAllowBadKey: an empty or oversized key is an error and stores
// nothing.
func TestAllowBadKey(t *testing.T) {
	a, _ := pair(t)
	for _, key := range []string{"", strings.Repeat("k", maxRateKey+1)} {
		if ok, _, err := a.Allow(context.Background(), key, 60, 5); err == nil || ok {
			t.Errorf("Allow(%.10q) = %v, %v; want an error", key, ok, err)
		}
	}
	if n := bucketRows(t, a); n != 0 {
		t.Fatalf("bad keys stored %d buckets", n)
	}
}

// BenchmarkAllow measures one Allow call (one upsert) on a hot key.
func BenchmarkAllow(b *testing.B) {
	s := openStore(b, pgtest.URL(b), testBox(b))
	ctx := context.Background()
	for b.Loop() {
		if _, _, err := s.Allow(ctx, "bench", 1<<30, 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}
