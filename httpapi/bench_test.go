package httpapi_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
)

// BenchmarkLifecycle drives whole lifecycles (request, approve, ingest,
// wait, consume, decrypt) against a real relay on loopback and reports
// lifecycles per second and the latency from ingestion to the waiting
// agent holding the ciphertext, for the relay's long-poll and for the
// seed's 2-second polling loop, side by side:
//
//	go test ./httpapi -run '^$' -bench Lifecycle -benchtime 40x
func BenchmarkLifecycle(b *testing.B) {
	for _, mode := range []string{"longpoll", "poll2s"} {
		b.Run(mode, func(b *testing.B) {
			h := newHarness(b, generous)
			ctx := context.Background()
			agent, _ := h.agent("bench", false)
			src, _ := h.source("sms")
			pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
			if err != nil {
				b.Fatal(err)
			}
			var lat []time.Duration
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "bench", PublicKey: client.ExportPublicKey(pub)})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := h.owner.Approve(ctx, req.ID); err != nil {
					b.Fatal(err)
				}
				ready := make(chan struct{})
				got := make(chan time.Time, 1)
				go func() {
					defer close(got)
					if mode == "longpoll" {
						close(ready)
						if _, err := agent.WaitForOTP(ctx, req.ID, 30*time.Second); err != nil {
							b.Error(err)
							return
						}
					} else {
						// The seed's pollForOTP: GET every 2 s. Its phase
						// against the message's arrival is random.
						phase := time.Duration(rand.Int64N(int64(2 * time.Second)))
						close(ready)
						time.Sleep(phase)
						for {
							r, err := agent.GetOTPStatus(ctx, req.ID)
							if err != nil {
								b.Error(err)
								return
							}
							if r.Status == client.StatusOTPReceived {
								break
							}
							time.Sleep(2 * time.Second)
						}
					}
					res, err := agent.ConsumeOTP(ctx, req.ID, priv)
					if err != nil || res.Code != "246801" {
						b.Errorf("consume: %v", err)
						return
					}
					got <- time.Now()
				}()
				<-ready
				for mode == "longpoll" && h.svc.Waiters() == 0 {
					time.Sleep(50 * time.Microsecond)
				}
				t0 := time.Now()
				if _, err := src.Send(ctx, client.Message{Source: "sms", Sender: "ACME", Text: "Your code is 246801"}); err != nil {
					b.Fatal(err)
				}
				t1, ok := <-got
				if !ok {
					b.FailNow()
				}
				lat = append(lat, t1.Sub(t0))
			}
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "lifecycles/s")
			b.ReportMetric(pct(0.50), "p50-ingest-to-ciphertext-ms")
			b.ReportMetric(pct(0.99), "p99-ingest-to-ciphertext-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
