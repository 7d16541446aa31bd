package imap_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/imap/imaptest"
)

// BenchmarkIMAPDelivery measures, against a real Dovecot, the time from a
// message's APPEND to the agent's long-poll seeing otp_received.
//
//   - idle: another request keeps the connector running in IDLE, so the
//     time is the IDLE wake-up, search, fetch and ingestion;
//   - cold: no other request, so each request starts a connector, which
//     connects, logs in and selects before the mail arrives; the time to
//     reach idle is reported as connect-ms.
func BenchmarkIMAPDelivery(b *testing.B) {
	for _, mode := range []string{"idle", "cold"} {
		b.Run(mode, func(b *testing.B) {
			d := imaptest.Start(b, imaptest.Options{})
			p := newRelay(b, testIMAPConfig())
			agent := p.agent("bench")
			src := p.imapSource(d, client.IMAPSettings{})
			if mode == "idle" {
				keep(b, p, agent) // never matched: keeps the connector up
				p.waitIMAP(src.ID, "idle", stateIs("idle"))
			}
			var lat, connect []time.Duration
			for i := 0; b.Loop(); i++ {
				t0 := time.Now()
				req, priv := waitingRequest(b, p, agent)
				searchedAfter(b, p, src.ID, req)
				connect = append(connect, time.Since(t0))
				code := fmt.Sprintf("%06d", 100000+i)
				d.Deliver("INBOX", imaptest.Email("noreply@acme.test", "Acme", "Your Acme code is "+code+".", fmt.Sprintf("bench-%s-%d@acme.test", mode, i)))
				t1 := time.Now()
				r, err := agent.WaitForOTP(context.Background(), req.ID, 30*time.Second)
				if err != nil || r.Status != client.StatusOTPReceived {
					b.Fatalf("wait: %+v %v", r, err)
				}
				lat = append(lat, time.Since(t1))
				if res, err := agent.ConsumeOTP(context.Background(), req.ID, priv); err != nil || res.Code != code {
					b.Fatalf("consume: %+v %v", res, err)
				}
				if mode == "cold" {
					p.waitIMAP(src.ID, "stopped", stateIs("stopped"))
				}
			}
			report(b, "append→received", lat)
			if mode == "cold" {
				report(b, "request→idle", connect)
			}
		})
	}
}

// BenchmarkIMAPFirstSync measures how long a connector takes from a new
// request to IDLE when the mailbox already holds n messages of the same
// day that arrived before the request: all are looked at (dates and sizes,
// 50 per FETCH) and skipped, none is fetched.
func BenchmarkIMAPFirstSync(b *testing.B) {
	for _, n := range []int{100, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			d := imaptest.Start(b, imaptest.Options{})
			raws := make([][]byte, n)
			for i := range raws {
				raws[i] = imaptest.Email("news@shop.test", "Offer", "Nothing to see here.", fmt.Sprintf("old-%d@shop.test", i))
			}
			d.DeliverMany("INBOX", raws)
			time.Sleep(1100 * time.Millisecond)
			var took []time.Duration
			for b.Loop() {
				b.StopTimer()
				p := newRelay(b, testIMAPConfig()) // a fresh store: no cursor
				agent := p.agent("bench")
				src := p.imapSource(d, client.IMAPSettings{})
				b.StartTimer()
				t0 := time.Now()
				waitingRequest(b, p, agent)
				p.waitIMAP(src.ID, "idle", stateIs("idle"))
				took = append(took, time.Since(t0))
				b.StopTimer()
				p.Stop()
				b.StartTimer()
			}
			report(b, "request→idle", took)
		})
	}
}

// keep creates a waiting request that no benchmark mail matches.
func keep(b *testing.B, p *relayProc, agent *client.Client) {
	pub, _, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		b.Fatal(err)
	}
	r, err := agent.RequestOTP(context.Background(), client.RequestOptions{
		Reason: "keep the connector up", PublicKey: client.ExportPublicKey(pub), TTL: time.Hour,
		Filter: &client.Filter{Sources: []string{"email"}, SenderPattern: "*@never.test"},
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.owner.Approve(context.Background(), r.ID); err != nil {
		b.Fatal(err)
	}
}

// report adds p50 and p99 of ds, in milliseconds, to the benchmark.
func report(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	q := func(f float64) float64 {
		return float64(ds[min(len(ds)-1, int(f*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), name+"-p50-ms")
	b.ReportMetric(q(0.99), name+"-p99-ms")
}
