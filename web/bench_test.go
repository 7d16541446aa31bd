package web_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkPendingPage renders the pending page of an owner with 50
// requests waiting, over HTTP with a session (store reads, template).
func BenchmarkPendingPage(b *testing.B) {
	h := newHarness(b)
	for i := range 5 { // an agent may have 20 requests waiting
		agent, _ := h.agent("bench-" + string(rune('a'+i)))
		for range 10 {
			h.request(agent, "a request that waits for the owner")
		}
	}
	br := h.browser()
	br.mustLogin()
	b.ResetTimer()
	for b.Loop() {
		if r := br.get("/"); r.status != http.StatusOK || strings.Count(r.body, `class="card pending"`) != 50 {
			b.Fatalf("GET /: %d", r.status)
		}
	}
}

// BenchmarkLiveUpdate measures how long a new request takes to reach an
// open dashboard: from the agent's POST to the "pending" event that
// shows it on the owner's SSE stream.
func BenchmarkLiveUpdate(b *testing.B) {
	h := newHarness(b)
	agent, _ := h.agent("bench")
	br := h.browser()
	br.mustLogin()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/events", nil)
	req.AddCookie(&http.Cookie{Name: "agentotp_session", Value: br.sessionCookie()})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var total time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		r := h.request(agent, "live")
		want := `id="req-` + r.ID + `"`
		for line := range lines {
			if strings.Contains(line, want) {
				break
			}
		}
		total += time.Since(start)
		// Keep the list short: decide it (outside the measured part).
		b.StopTimer()
		if _, err := h.owner.Deny(context.Background(), r.ID, ""); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/update")
}
