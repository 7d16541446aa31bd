package webhook_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/webhook"
)

// TestGoneStopsTheURLForTheAgent: after a receiver answers 410 Gone to
// an agent's delivery, nothing more is sent to that URL for that agent —
// not the later events of the same request, not a new request naming the
// URL — until the owner sets the agent's webhook URL again. Other agents
// sending to the same URL are not affected.
func TestGoneStopsTheURLForTheAgent(t *testing.T) {
	e := newEnv(t, webhook.Config{AllowPrivate: true})
	var gone atomic.Bool
	gone.Store(true)
	rc := newReceiver(t, func(n int, w http.ResponseWriter) {
		if gone.Load() {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	p, _ := e.agent(true) // a test key: a code at once, three statuses
	failedUnsent := func(ds []*agentotp.WebhookDelivery) bool {
		for _, d := range ds {
			if d.State != agentotp.DeliveryFailed || d.Attempts > 1 {
				return false
			}
		}
		return true
	}

	r1, _ := e.request(p, rc.srv.URL)
	e.deliveries(r1.ID, func(ds []*agentotp.WebhookDelivery) bool { return len(ds) == 3 && failedUnsent(ds) })
	if n := len(rc.all()); n != 1 {
		t.Fatalf("receiver got %d requests before the consume; want the one answered 410", n)
	}
	gone.Store(false) // the receiver would now accept: the relay must not ask it

	// A later event of the same request: recorded, failed, not sent.
	if _, err := e.svc.Consume(t.Context(), p, r1.ID); err != nil {
		t.Fatal(err)
	}
	ds := e.deliveries(r1.ID, func(ds []*agentotp.WebhookDelivery) bool { return len(ds) == 4 && failedUnsent(ds) })
	if d := ds[0]; d.Status != agentotp.StatusConsumed || d.Attempts != 0 || !strings.Contains(d.LastError, "410") {
		t.Errorf("delivery after the 410: %s, %d attempts, %q; want consumed, never attempted, naming the 410", d.Status, d.Attempts, d.LastError)
	}
	// A new request of the same agent naming the URL: the same.
	r2, _ := e.request(p, rc.srv.URL)
	for _, d := range e.deliveries(r2.ID, func(ds []*agentotp.WebhookDelivery) bool { return len(ds) == 3 && failedUnsent(ds) }) {
		if d.Attempts != 0 {
			t.Errorf("new request's delivery %s was attempted after the 410", d.Status)
		}
	}
	time.Sleep(200 * time.Millisecond) // room for a wrong attempt
	if n := len(rc.all()); n != 1 {
		t.Fatalf("receiver got %d requests; want only the one answered 410", n)
	}

	// Another agent of the owner is not affected by this agent's 410.
	p2, _ := e.agent(true)
	r3, _ := e.request(p2, rc.srv.URL)
	e.deliveries(r3.ID, func(ds []*agentotp.WebhookDelivery) bool {
		return len(ds) == 3 && allIn(agentotp.DeliveryDelivered)(ds)
	})

	// The owner sets the agent's webhook URL again: deliveries resume,
	// here to the agent's default URL.
	if _, err := e.svc.SetAgentWebhookURL(t.Context(), e.owner, p.AgentID, rc.srv.URL); err != nil {
		t.Fatal(err)
	}
	r4, _ := e.request(p, "")
	e.deliveries(r4.ID, func(ds []*agentotp.WebhookDelivery) bool {
		return len(ds) == 3 && allIn(agentotp.DeliveryDelivered)(ds)
	})
	if n := len(rc.all()); n != 7 {
		t.Errorf("receiver got %d requests; want 1 + 3 + 3", n)
	}
}
