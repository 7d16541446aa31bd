package relay

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/seal"
	"github.com/agentotp/agentotp/sqlite"
)

// TestRequestCacheKeepsTheLatestVersion: whatever order commits put their
// versions in, the cache keeps the latest, a final one included.
func TestRequestCacheKeepsTheLatestVersion(t *testing.T) {
	v := func(version int64, st agentotp.Status) *agentotp.Request {
		return &agentotp.Request{ID: "otp_1", Version: version, Status: st}
	}
	cases := []struct {
		name string
		puts []*agentotp.Request
		want int64
	}{
		{"in order", []*agentotp.Request{v(1, agentotp.StatusPending), v(2, agentotp.StatusApproved), v(3, agentotp.StatusReceived)}, 3},
		{"a late put of an older version", []*agentotp.Request{v(1, agentotp.StatusPending), v(3, agentotp.StatusReceived), v(2, agentotp.StatusApproved)}, 3},
		{"an older version after the final one", []*agentotp.Request{v(4, agentotp.StatusConsumed), v(3, agentotp.StatusReceived)}, 4},
		{"the same version twice", []*agentotp.Request{v(2, agentotp.StatusApproved), v(2, agentotp.StatusApproved)}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c requestCache
			now := time.Now()
			for _, r := range tc.puts {
				c.put(r, now)
			}
			if got := c.get("otp_1"); got == nil || got.Version != tc.want {
				t.Fatalf("got %+v, want version %d", got, tc.want)
			}
		})
	}
}

// TestRequestCacheFull: a full cache takes no new request until its
// entries are past their age, and then sweeps them.
func TestRequestCacheFull(t *testing.T) {
	var c requestCache
	start := time.Now()
	for i := range maxCached {
		c.put(&agentotp.Request{ID: fmt.Sprintf("otp_%d", i), Version: 1, Status: agentotp.StatusConsumed}, start)
	}
	c.put(&agentotp.Request{ID: "otp_new", Version: 1, Status: agentotp.StatusPending}, start.Add(time.Second))
	if c.get("otp_new") != nil {
		t.Fatal("a full cache took a new request while every entry was fresh")
	}
	if c.get("otp_0") == nil {
		t.Fatal("a fresh entry was dropped")
	}
	c.put(&agentotp.Request{ID: "otp_new", Version: 1, Status: agentotp.StatusPending}, start.Add(finalKeep+2*time.Second))
	if c.get("otp_new") == nil || c.get("otp_0") != nil {
		t.Fatal("entries past their age were not swept for the new one")
	}
}

// TestStaleCopyCannotStallAnUpdate: should the service's copy of a
// request ever be older than the store's, an update made from it loses
// its versioned write, reads the store, and answers; the copy is then
// the store's version.
func TestStaleCopyCannotStallAnUpdate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := New(store, nil, Config{PublicURL: "http://relay.test"})
	o, _, err := s.EnsureOwner(ctx, "me", false)
	if err != nil {
		t.Fatal(err)
	}
	na, err := s.CreateAgent(ctx, o.ID, "a", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, na.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateRequest(ctx, p, CreateRequestInput{Reason: "Sign in", PublicKey: k.Public().String()})
	if err != nil {
		t.Fatal(err)
	}
	stale := s.requests.get(r.ID) // pending
	if _, err := s.Decide(ctx, o.ID, r.ID, Decision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	s.requests.mu.Lock()
	s.requests.byID[r.ID] = cachedRequest{r: stale, at: time.Now()} // as if a put were lost
	s.requests.mu.Unlock()

	if _, err := s.Decide(ctx, o.ID, r.ID, Decision{Approve: false}); agentotp.ErrorCode(err) == "" || ctx.Err() != nil {
		t.Fatalf("deny after approval, from a stale copy: %v (ctx %v)", err, ctx.Err())
	}
	got, err := s.GetRequest(ctx, p, r.ID)
	if err != nil || got.Status != agentotp.StatusApproved {
		t.Fatalf("after the lost write: %v %v", got, err)
	}
	if _, err := s.Cancel(ctx, p, r.ID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if got, _ := store.GetRequest(ctx, r.ID); got.Status != agentotp.StatusCancelled {
		t.Fatalf("stored status %s", got.Status)
	}
}
