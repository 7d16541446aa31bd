package httpapi_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/seal"
	"github.com/agentotp/agentotp/sqlite"
)

// liveSeed is how many live requests a harness of the test holds before
// the test begins: 10,000 under TestAt10000Live, none otherwise.
func liveSeed(t testing.TB) int {
	if strings.HasPrefix(t.Name(), "TestAt10000Live/") {
		return 10000
	}
	return 0
}

// TestAt10000Live runs the invariant tests (consume once, one message
// feeds one request, no plaintext at rest, audit verify, expiry, the full
// lifecycle) with 10,000 live requests of the same owner present, each
// approved and waiting for a sender of its own: the relay's in-memory
// index of live requests must give the same answers at that size.
func TestAt10000Live(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 live requests per subtest; -short skips it")
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"ConcurrentConsume", TestConcurrentConsume},
		{"MatchingRules", TestMatchingRules},
		{"NoPlaintextAtRest", TestNoPlaintextAtRest},
		{"AuditTrail", TestAuditTrail},
		{"Expiry", TestExpiry},
		{"Lifecycle", TestLifecycle},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// seedLive stores n approved live requests of the harness's owner
// straight into its store, spread over agents as the live cap demands,
// before the service first looks at the owner's live requests. After the
// test, none of them may have been fed.
func (h *harness) seedLive(ctx context.Context, ownerID string, n int) {
	h.t.Helper()
	k, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		h.t.Fatal(err)
	}
	pub := k.Public()
	now := h.svc.Now()
	var agentID string
	for i := range n {
		if i%relay.MaxLiveRequestsPerAgent == 0 {
			na, err := h.svc.CreateAgent(ctx, ownerID, fmt.Sprintf("seed-%d", i), false)
			if err != nil {
				h.t.Fatal(err)
			}
			agentID = na.Agent.ID
		}
		r := &agentotp.Request{
			ID: agentotp.NewID("otp_"), OwnerID: ownerID, AgentID: agentID, Status: agentotp.StatusPending,
			Reason: "seed", Encryption: string(pub.Algorithm()), PublicKey: pub.String(), KeyFingerprint: pub.Fingerprint(),
			Filter:    agentotp.Filter{SenderPattern: fmt.Sprintf("seed-%06d@seed.example", i)},
			CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), UpdatedAt: now,
		}
		if err := r.Approve(agentotp.DecidedByOwner, now); err != nil {
			h.t.Fatal(err)
		}
		if err := h.store.CreateRequest(ctx, r); err != nil {
			h.t.Fatal(err)
		}
	}
	h.t.Cleanup(func() {
		// The test may have closed the store: read the file afresh.
		db, err := sqlite.Open(context.Background(), filepath.Join(h.dir, "agentotp.db"), nil)
		if err != nil {
			h.t.Error(err)
			return
		}
		defer db.Close()
		rs, err := db.ListLiveRequests(context.Background(), ownerID)
		if err != nil {
			h.t.Error(err)
			return
		}
		seeds := 0
		for _, r := range rs {
			if r.Reason == "seed" {
				seeds++
			}
		}
		if seeds != n {
			h.t.Errorf("%d of the %d seeded live requests are still live; a message fed one", seeds, n)
		}
	})
}
