package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/relay"
)

// TestLoadWaiters: 200 requests wait at once on one relay — by long-poll
// and by Server-Sent Events — and are then all fed concurrently; every one
// gets its own code, none another's. BenchmarkWaiters is the same with
// 1,000 waiters, and reports the figures.
func TestLoadWaiters(t *testing.T) {
	if testing.Short() {
		t.Skip("load test; -short skips it")
	}
	for _, mode := range []string{"longpoll", "sse"} {
		t.Run(mode, func(t *testing.T) {
			r := runLoad(t, mode, 200)
			t.Log(r)
		})
	}
}

// BenchmarkWaiters: 1,000 requests wait at once on one relay, by long-poll
// and by SSE, then all are fed; every one gets its code. It reports the
// memory each waiter costs (heap and stacks of the whole process after GC,
// divided by the waiters; the waiting side is a bare connection with no
// goroutine, so the figure is the relay's) and the latency from the start
// of ingestion to the agent's connection receiving otp_received, p50/p99:
//
//	go test ./httpapi -run '^$' -bench Waiters -benchtime 1x
func BenchmarkWaiters(b *testing.B) {
	for _, mode := range []string{"longpoll", "sse"} {
		b.Run(mode, func(b *testing.B) {
			var r loadResult
			for range b.N {
				r = runLoad(b, mode, 1000)
			}
			b.ReportMetric(r.perWaiter/1024, "KiB/waiter")
			b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(r.rate, "msg/s")
			b.Log(r)
		})
	}
}

// loadResult holds one load run's figures.
type loadResult struct {
	mode            string
	n, goroutines   int
	perWaiter, rate float64
	p50, p99, max   time.Duration
	total           time.Duration
}

func (r loadResult) String() string {
	return fmt.Sprintf("%s: %d waiters; memory %.1f KiB per waiter (heap+stacks, %d goroutines while waiting); "+
		"ingestion→agent p50 %v p99 %v max %v; all fed in %v (%.0f msg/s)",
		r.mode, r.n, r.perWaiter/1024, r.goroutines, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond),
		r.max.Round(10*time.Microsecond), r.total.Round(time.Millisecond), r.rate)
}

// waiter is one agent connection waiting for its request.
type waiter struct {
	id, code, sender string
	agent            int // index of its agent
	conn             net.Conn
	fed              time.Time // when ingestion of its message began
	got              time.Time // when the connection delivered the code's status
	err              error
}

func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

func runLoad(t testing.TB, mode string, n int) loadResult {
	h := newHarness(t, func(c *httpapi.Config) {
		c.AgentRate, c.AgentBurst = 0, 0                      // no rate limit for the keys' thousand requests
		c.SSEHeartbeat = httpapi.DefaultConfig().SSEHeartbeat // production's, not the harness's 200 ms
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Test keys: approved at once, fed by /v1/test/messages from the same
	// key. An agent may have MaxLiveRequestsPerAgent waiting, so the
	// waiters are spread over as many agents as that takes.
	per := relay.MaxLiveRequestsPerAgent
	agents := make([]*client.Client, (n+per-1)/per)
	keys := make([]string, len(agents))
	for i := range agents {
		var na *client.NewAgent
		agents[i], na = h.agent(fmt.Sprintf("load-%d", i), true)
		keys[i] = na.APIKey
	}
	pub, priv, _ := client.GenerateKeyPair(client.HPKEX25519)
	addr := strings.TrimPrefix(h.srv.URL, "http://")

	ws := make([]*waiter, n)
	for i := range ws {
		w := &waiter{sender: fmt.Sprintf("LOAD%04d", i), code: fmt.Sprintf("%06d", 100000+i*7), agent: i / per}
		req, err := agents[w.agent].RequestOTP(ctx, client.RequestOptions{Reason: "load", PublicKey: client.ExportPublicKey(pub),
			Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: w.sender}, TTL: 30 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		w.id = req.ID
		ws[i] = w
	}
	base := heapAndStacks()
	baseWaiters := h.svc.Waiters()

	// Each waiter is a bare TCP connection with the request written and no
	// goroutine of its own until the feeding starts.
	for _, w := range ws {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		w.conn = c
		path := "/v1/otp/" + w.id + "?wait=55"
		if mode == "sse" {
			path = "/v1/otp/" + w.id + "/events"
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", path, addr, keys[w.agent])
	}
	t.Cleanup(func() {
		for _, w := range ws {
			w.conn.Close()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for h.svc.Waiters()-baseWaiters < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d waiters subscribed", h.svc.Waiters()-baseWaiters, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	perWaiter := float64(int64(heapAndStacks())-int64(base)) / float64(n)
	goroutines := runtime.NumGoroutine()

	// Read every connection; feed every request.
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.read(mode) })
	}
	start := time.Now()
	feed := make(chan *waiter)
	var fg sync.WaitGroup
	for range 8 {
		fg.Go(func() {
			for w := range feed {
				w.fed = time.Now()
				res, err := agents[w.agent].SendTestMessage(ctx, client.TestMessage{Source: "sms", Sender: w.sender, Text: "Your code is " + w.code})
				if err != nil || !res.Matched {
					w.err = fmt.Errorf("feed %s: %v %+v", w.sender, err, res)
				}
			}
		})
	}
	for _, w := range ws {
		feed <- w
	}
	close(feed)
	fg.Wait()
	wg.Wait()
	total := time.Since(start)

	var lat []time.Duration
	for _, w := range ws {
		if w.err != nil {
			t.Fatal(w.err)
		}
		lat = append(lat, w.got.Sub(w.fed))
	}
	// Every agent gets its own code.
	for _, w := range ws {
		res, err := agents[w.agent].ConsumeOTP(ctx, w.id, priv)
		if err != nil || res.Code != w.code {
			t.Fatalf("request %s: code %v, %v; want %s", w.id, res, err, w.code)
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	return loadResult{mode: mode, n: n, goroutines: goroutines, perWaiter: perWaiter, rate: float64(n) / total.Seconds(),
		p50: pct(0.50), p99: pct(0.99), max: lat[len(lat)-1], total: total}
}

// read waits on the connection for the answer that carries otp_received.
func (w *waiter) read(mode string) {
	w.conn.SetReadDeadline(time.Now().Add(3 * time.Minute))
	br := bufio.NewReader(w.conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		w.err = fmt.Errorf("%s: %w", w.id, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.err = fmt.Errorf("%s: HTTP %d", w.id, resp.StatusCode)
		return
	}
	if mode == "longpoll" {
		b, err := io.ReadAll(resp.Body)
		w.got = time.Now()
		if err != nil || !strings.Contains(string(b), `"otp_received"`) {
			w.err = fmt.Errorf("%s: %v %s", w.id, err, b)
		}
		return
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), `"otp_received"`) {
			w.got = time.Now()
			return
		}
	}
	w.err = fmt.Errorf("%s: stream ended without otp_received: %v", w.id, sc.Err())
}
