package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/internal/relaytest"
)

// benchRelay runs the real lifecycle for a benchmark; stop cancels it and
// returns once Run has returned and the store is closed.
func benchRelay(b *testing.B, args ...string) (url, data string, stop func() time.Duration) {
	b.Helper()
	data = filepath.Join(b.TempDir(), "data")
	var o serveOptions
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.flags(fs)
	if err := fs.Parse(append([]string{"--addr", "127.0.0.1:0", "--data", data}, args...)); err != nil {
		b.Fatal(err)
	}
	buf := &relaytest.Buffer{}
	m := newRelayMain(buf, slog.New(slog.NewJSONHandler(io.Discard, nil)), o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(buf.String(), "listening on "); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("the relay did not start")
		}
	}
	out := buf.String()
	url = strings.Fields(out[strings.Index(out, "listening on ")+len("listening on "):])[0]
	return url, data, func() time.Duration {
		start := time.Now()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		m.Close()
		return took
	}
}

// BenchmarkShutdownWithWaits: 200 long-polls (5 agents × 40, the per-key
// bound) are open when the relay stops; every one must be answered with
// its request object. Reports the time from cancel to Run's return.
func BenchmarkShutdownWithWaits(b *testing.B) {
	const agents, perAgent = 5, 40
	var total time.Duration
	for range b.N {
		url, data, stop := benchRelay(b)
		tok, _ := os.ReadFile(filepath.Join(data, "owner.token"))
		ctx := context.Background()
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: agents * perAgent}}
		owner := client.NewOwnerClient(strings.TrimSpace(string(tok)), client.WithBaseURL(url), client.WithHTTPClient(hc))
		pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
		var wg sync.WaitGroup
		bad := make(chan string, agents*perAgent)
		for a := range agents {
			n, err := owner.CreateAgent(ctx, fmt.Sprint("bench", a), false)
			if err != nil {
				b.Fatal(err)
			}
			ag := client.New(n.APIKey, client.WithBaseURL(url), client.WithHTTPClient(hc))
			req, err := ag.RequestOTP(ctx, client.RequestOptions{Reason: "bench", PublicKey: client.ExportPublicKey(pub)})
			if err != nil {
				b.Fatal(err)
			}
			for range perAgent {
				wg.Go(func() {
					r, _ := http.NewRequest(http.MethodGet, url+"/v1/otp/"+req.ID+"?wait=55", nil)
					r.Header.Set("Authorization", "Bearer "+n.APIKey)
					resp, err := hc.Do(r)
					if err != nil {
						bad <- err.Error()
						return
					}
					defer resp.Body.Close()
					var obj struct{ ID string }
					if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&obj) != nil || obj.ID != req.ID {
						bad <- resp.Status
					}
				})
			}
		}
		for deadline := time.Now().Add(30 * time.Second); waitersOf(b, hc, url) != fmt.Sprint(agents*perAgent); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("the long-polls did not all start")
			}
		}
		total += stop()
		wg.Wait()
		close(bad)
		for s := range bad {
			b.Fatalf("a long-poll at shutdown: %s", s)
		}
	}
	b.ReportMetric(float64(agents*perAgent), "waits")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/shutdown")
}

func waitersOf(b *testing.B, hc *http.Client, url string) string {
	resp, err := hc.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "agentotp_waiters "); ok {
			return v
		}
	}
	return ""
}

// BenchmarkConnFlood: 3,000 connections, 200 dialling at a time, each
// sending one request and keeping its connection, at a relay with
// --max-conns 256. Reports how many were kept, answered 503, or closed
// unanswered (the 503s are written by at most 64 goroutines at once).
func BenchmarkConnFlood(b *testing.B) {
	const attempts = 3000
	for range b.N {
		url, _, stop := benchRelay(b, "--max-conns", "256")
		host := strings.TrimPrefix(url, "http://")
		var mu sync.Mutex
		var kept, refused, closed int
		var conns []net.Conn
		sem := make(chan struct{}, 200)
		var wg sync.WaitGroup
		for range attempts {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				c, err := net.DialTimeout("tcp", host, 5*time.Second)
				if err != nil {
					b.Error(err)
					return
				}
				c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && resp.StatusCode == http.StatusServiceUnavailable:
					refused++
					c.Close()
				case err == nil && resp.StatusCode == http.StatusOK:
					kept++
					conns = append(conns, c)
				default:
					closed++
					c.Close()
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(kept), "kept")
		b.ReportMetric(float64(refused), "refused_503")
		b.ReportMetric(float64(closed), "closed_unanswered")
		for _, c := range conns {
			c.Close()
		}
		stop()
	}
}
