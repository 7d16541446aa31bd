package relay_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/relay"
)

// TestWaitRequestCosts: waiting callers cost the relay no goroutine of
// its own (each caller parks on its own goroutine), each wakes when its
// request changes or its wait ends, and a closed stop channel ends every
// wait with ErrWaitStopped.
func TestWaitRequestCosts(t *testing.T) {
	svc, p, _ := newService(t)
	ctx := context.Background()
	const n = 200
	ids := make([]string, n)
	principals := map[string]*relay.Principal{}
	pa := p
	for i := range ids {
		// Spread over agents: each has a cap on live requests.
		if i > 0 && i%relay.MaxLiveRequestsPerAgent == 0 {
			na, err := svc.CreateAgent(ctx, p.OwnerID, fmt.Sprintf("a%d", i), false)
			if err != nil {
				t.Fatal(err)
			}
			if pa, err = svc.Authenticate(ctx, na.APIKey); err != nil {
				t.Fatal(err)
			}
		}
		r, err := svc.CreateRequest(ctx, pa, relay.CreateRequestInput{Reason: "wait", PublicKey: publicKey(t)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = r.ID
		principals[r.ID] = pa
	}
	base := runtime.NumGoroutine()
	stop := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { _, errs[i] = svc.WaitRequest(ctx, principals[id], id, time.Minute, stop) })
	}
	for svc.Waiters() < n {
		time.Sleep(5 * time.Millisecond)
	}
	if extra := runtime.NumGoroutine() - base - n; extra > 2 {
		t.Errorf("%d waiters run %d goroutines besides their own", n, extra)
	}
	close(stop)
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, relay.ErrWaitStopped) {
			t.Fatalf("wait %d: %v; want ErrWaitStopped", i, err)
		}
	}
	if w := svc.Waiters(); w != 0 {
		t.Errorf("%d subscriptions left after the waits", w)
	}
	// A short wait runs out and answers the request as it stands.
	r, err := svc.WaitRequest(ctx, principals[ids[0]], ids[0], 50*time.Millisecond, nil)
	if err != nil || !r.Status.Live() {
		t.Fatalf("short wait: %v %v", r, err)
	}
}
