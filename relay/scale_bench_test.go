package relay_test

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

// liveLevels are the numbers of live requests the scale benchmarks run
// at: a cost that grows with them is a regression to linear work.
var liveLevels = []int{0, 100, 1000, 10000}

// scaleFixture is a relay over a real SQLite file holding n approved live
// requests of one owner (spread over agents as the live cap demands), an
// SMS source and one more agent for the benchmark's own requests.
type scaleFixture struct {
	svc     *relay.Service
	store   *sqlite.DB
	owner   string
	agent   *relay.Principal
	source  *relay.Principal
	key     string
	senders []string // the sender each live request waits for
	ids     []string
}

// newScaleFixture stores n live requests straight into the store and then
// makes the service, as a restart would find them.
func newScaleFixture(tb testing.TB, n int) *scaleFixture {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	boot := relay.New(store, nil, relay.Config{PublicURL: "http://relay.test"})
	o, _, err := boot.EnsureOwner(ctx, "me", false)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		tb.Fatal(err)
	}
	pub := k.Public()
	f := &scaleFixture{store: store, owner: o.ID, key: pub.String()}
	var agentID string
	now := boot.Now()
	for i := range n {
		if i%relay.MaxLiveRequestsPerAgent == 0 {
			na, err := boot.CreateAgent(ctx, o.ID, fmt.Sprintf("seed-%d", i), false)
			if err != nil {
				tb.Fatal(err)
			}
			agentID = na.Agent.ID
		}
		sender := fmt.Sprintf("SEED%06d", i)
		r := &agentotp.Request{
			ID: agentotp.NewID("otp_"), OwnerID: o.ID, AgentID: agentID, Status: agentotp.StatusPending,
			Reason: "seed", Encryption: string(pub.Algorithm()), PublicKey: pub.String(), KeyFingerprint: pub.Fingerprint(),
			Filter:    agentotp.Filter{Sources: []agentotp.Channel{agentotp.ChannelSMS}, SenderPattern: sender},
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), UpdatedAt: now,
		}
		if err := r.Approve(agentotp.DecidedByOwner, now); err != nil {
			tb.Fatal(err)
		}
		if err := store.CreateRequest(ctx, r); err != nil {
			tb.Fatal(err)
		}
		f.senders = append(f.senders, sender)
		f.ids = append(f.ids, r.ID)
	}
	na, err := boot.CreateAgent(ctx, o.ID, "bench", false)
	if err != nil {
		tb.Fatal(err)
	}
	ns, err := boot.CreateSource(ctx, o.ID, "sms", string(agentotp.ChannelSMS))
	if err != nil {
		tb.Fatal(err)
	}
	f.svc = relay.New(store, nil, relay.Config{PublicURL: "http://relay.test"})
	if f.agent, err = f.svc.Authenticate(ctx, na.APIKey); err != nil {
		tb.Fatal(err)
	}
	if f.source, err = f.svc.Authenticate(ctx, ns.Token); err != nil {
		tb.Fatal(err)
	}
	// The service reads the live requests once, on the first message or
	// create; the benchmarks measure what follows.
	if _, err := f.svc.EmailDemand(ctx, o.ID); err != nil {
		tb.Fatal(err)
	}
	return f
}

// BenchmarkIngestNoMatch is the cost of ingesting an SMS that holds a code
// but matches none of the live requests, at 0 to 10,000 of them:
//
//	go test ./relay -run '^$' -bench 'IngestNoMatch|CreateCancel' -benchtime 200x
func BenchmarkIngestNoMatch(b *testing.B) {
	for _, n := range liveLevels {
		b.Run(fmt.Sprintf("live=%d", n), func(b *testing.B) {
			f := newScaleFixture(b, n)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				res, err := f.svc.Ingest(ctx, f.source, relay.IncomingMessage{Source: agentotp.ChannelSMS, Sender: "NOMATCH",
					Text: "Your verification code is 424242", ExternalID: fmt.Sprintf("nm-%d", i)})
				if err != nil || res.Matched {
					b.Fatalf("ingest: %+v %v", res, err)
				}
			}
		})
	}
}

// BenchmarkCreateCancel is the cost of creating a request and cancelling
// it, at 0 to 10,000 live requests of the same owner.
func BenchmarkCreateCancel(b *testing.B) {
	for _, n := range liveLevels {
		b.Run(fmt.Sprintf("live=%d", n), func(b *testing.B) {
			f := newScaleFixture(b, n)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				r, err := f.svc.CreateRequest(ctx, f.agent, relay.CreateRequestInput{Reason: "bench", PublicKey: f.key,
					Filter: &agentotp.Filter{Sources: []agentotp.Channel{agentotp.ChannelSMS}, SenderPattern: "PROBE"}})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.svc.Cancel(ctx, f.agent, r.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHeavyContentPatterns is the worst a message costs through
// content patterns: 20 live requests of one agent, each with the largest
// pattern allowed that never matches, and an unrelated 60 KiB message
// that keeps every one of its threads alive. MaxContentWork bounds it.
//
//	go test ./relay -run '^$' -bench HeavyContentPatterns -benchtime 5x
func BenchmarkHeavyContentPatterns(b *testing.B) {
	f := newScaleFixture(b, 0)
	ctx := context.Background()
	for range relay.MaxLiveRequestsPerAgent {
		if _, err := f.svc.CreateRequest(ctx, f.agent, relay.CreateRequestInput{Reason: "bench", PublicKey: f.key,
			Filter: &agentotp.Filter{ContentPattern: `[^Z]{0,240}Z`}}); err != nil {
			b.Fatal(err)
		}
	}
	text := strings.Repeat("lorem ipsum dolor sit amet 12345 ", 2000)[:60<<10]
	b.ResetTimer()
	for i := range b.N {
		res, err := f.svc.Ingest(ctx, f.source, relay.IncomingMessage{Source: agentotp.ChannelSMS, Sender: "ANY",
			Text: text, ExternalID: fmt.Sprintf("heavy-%d", i)})
		if err != nil || res.Matched {
			b.Fatalf("ingest: %+v %v", res, err)
		}
	}
}
