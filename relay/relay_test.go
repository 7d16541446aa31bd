package relay_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/seal"
	"github.com/agentotp/agentotp/sqlite"
)

func newService(t *testing.T) (*relay.Service, *relay.Principal, string) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := relay.New(store, nil, relay.Config{PublicURL: "http://relay.test"})
	o, _, err := svc.EnsureOwner(ctx, "me", false)
	if err != nil {
		t.Fatal(err)
	}
	na, err := svc.CreateAgent(ctx, o.ID, "a", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, na.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	return svc, p, o.ID
}

func publicKey(t *testing.T) string {
	k, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public().String()
}

type recorder struct {
	mu     sync.Mutex
	events []relay.Event
	got    chan struct{}
}

func (r *recorder) Notify(ctx context.Context, ev relay.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.got <- struct{}{}
}

// TestSlowNotifierNeverDelays: a notifier that blocks forever neither
// delays a request's changes nor keeps other notifiers from their events.
func TestSlowNotifierNeverDelays(t *testing.T) {
	svc, p, owner := newService(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	block := make(chan struct{})
	defer close(block)
	svc.AddNotifier(relay.NotifierFunc(func(ctx context.Context, ev relay.Event) {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}))
	svc.AddNotifier(relay.NotifierFunc(func(ctx context.Context, ev relay.Event) { panic("a broken notifier") }))
	rec := &recorder{got: make(chan struct{}, 4096)}
	svc.AddNotifier(rec)
	done := make(chan struct{})
	go func() { svc.Run(ctx, time.Hour); close(done) }()

	var ids []string
	for i := 0; i < 1500; i++ { // more than a notifier's queue
		r, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "r", PublicKey: publicKey(t)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if _, err := svc.Approve(ctx, owner, ids[0]); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.events)
		var last relay.Event
		if n > 0 {
			last = rec.events[n-1]
		}
		rec.mu.Unlock()
		if last.Action == agentotp.AuditRequestApproved {
			if last.Request.ID != ids[0] || last.Request.Status != agentotp.StatusApproved || last.Actor != "owner" || last.Request.Payload != nil {
				t.Fatalf("approval event %+v", last)
			}
			break
		}
		select {
		case <-rec.got:
		case <-deadline:
			t.Fatalf("approval never reached the recorder (%d events)", n)
		}
	}
	cancel()
	<-done
}
