package webhook_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/webhook"
)

// TestOrderPerRequestNotPerURL: many requests' webhooks go to one URL
// whose receiver fails a fraction of deliveries. One request's failing
// delivery used to hold back every later delivery to the URL (1,119 still
// pending 12 minutes after a load); now order is kept per request: the
// receiver refuses the first request's first event until ten deliveries
// of other requests have arrived, which can happen only if they pass it.
// Everything is delivered, each request's events in order. (Bounded by a
// deadline only as a guard; nothing is timed.)
func TestOrderPerRequestNotPerURL(t *testing.T) {
	const requests, failShare = 30, 0.3
	e := newEnv(t, webhook.Config{AllowPrivate: true, RetryBase: 20 * time.Millisecond, RetryMax: 300 * time.Millisecond})
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(13, 4))
	first := ""                         // the request whose head is held back
	othersOK := 0                       // deliveries of other requests answered 2xx
	got := map[string][]client.Status{} // request → statuses answered 2xx, in arrival order
	seen := map[string]bool{}           // webhook-ids answered 2xx
	refusedFirst, failed := 0, 0
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev client.WebhookEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case ev.RequestID == first && len(got[first]) == 0 && othersOK < 10:
			refusedFirst++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case rng.Float64() < failShare:
			failed++
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		id := r.Header.Get("webhook-id")
		if !seen[id] {
			seen[id] = true
			got[ev.RequestID] = append(got[ev.RequestID], ev.Status)
			if ev.RequestID != first {
				othersOK++
			}
			if len(seen) == requests*3 {
				close(done)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	p, _ := e.agent(true) // a test key: pending, approved and otp_received at once
	for i := range requests {
		r, _ := e.request(p, srv.URL+"/hooks")
		if i == 0 {
			mu.Lock()
			first = r.ID
			mu.Unlock()
		}
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("delivered %d of %d (the first request's head refused %d times, others delivered %d)", len(seen), requests*3, refusedFirst, othersOK)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []client.Status{client.StatusPendingApproval, client.StatusApproved, client.StatusOTPReceived}
	for id, statuses := range got {
		if !slices.Equal(statuses, want) {
			t.Errorf("request %s: delivered %v; want %v in order", id, statuses, want)
		}
	}
	if len(got) != requests || refusedFirst == 0 || failed == 0 {
		t.Fatalf("%d requests delivered, first head refused %d times, %d random failures", len(got), refusedFirst, failed)
	}
	t.Logf("%d deliveries, %d random failures (%.0f%%), the held-back head refused %d times", len(seen), failed, 100*float64(failed)/float64(len(seen)+failed), refusedFirst)
}
