package postgres

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/pgtest"
)

// BenchmarkLifecycle runs whole request lifecycles (create, approve,
// deliver a message, consume: four transactions, each with its audit
// entry, webhooks and change note) in parallel over 1 and 3 store handles
// on one database, each lifecycle by an agent of its own goroutine.
//
//	go test -run '^$' -bench Lifecycle -benchtime 2000x ./postgres
func BenchmarkLifecycle(b *testing.B) {
	for _, handles := range []int{1, 3} {
		b.Run(fmt.Sprintf("handles=%d", handles), func(b *testing.B) {
			f := newBenchFixture(b, handles)
			var next atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				a := f.agents[int(next.Add(1)-1)%len(f.agents)]
				i := 0
				for pb.Next() {
					i++
					s := f.handles[i%len(f.handles)]
					if err := lifecycle(b, s, a, i); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchFixture is a database with a few agents and its handles.
type benchFixture struct {
	handles []*Store
	agents  []*agentotp.Agent
}

func newBenchFixture(b *testing.B, n int) *benchFixture {
	url := pgtest.URL(b)
	box := testBox(b)
	bf := &benchFixture{}
	for range n {
		bf.handles = append(bf.handles, openStore(b, url, box))
	}
	ctx := b.Context()
	now := time.Now().UTC()
	o := &agentotp.Owner{ID: agentotp.NewID("own_"), Name: "bench", CreatedAt: now}
	if err := bf.handles[0].CreateOwner(ctx, o, nil); err != nil {
		b.Fatal(err)
	}
	for range 64 {
		a := &agentotp.Agent{ID: agentotp.NewID("agt_"), OwnerID: o.ID, Name: "bot", CreatedAt: now}
		if err := bf.handles[0].CreateAgent(ctx, a, nil); err != nil {
			b.Fatal(err)
		}
		bf.agents = append(bf.agents, a)
	}
	return bf
}

// lifecycle runs one request of agent a from creation to consumption.
func lifecycle(b *testing.B, s *Store, a *agentotp.Agent, i int) error {
	ctx := b.Context()
	now := time.Now().UTC()
	entry := func(action string, r *agentotp.Request) agentotp.AuditEntry {
		return agentotp.AuditEntry{ID: agentotp.NewID("aud_"), OwnerID: a.OwnerID, At: now, Actor: agentotp.ActorAgent(a.ID),
			Action: action, RequestID: r.ID, AgentID: a.ID}
	}
	r := &agentotp.Request{ID: agentotp.NewID("otp_"), OwnerID: a.OwnerID, AgentID: a.ID, Status: agentotp.StatusPending,
		Encryption: "RSA-OAEP-256", CreatedAt: now, ExpiresAt: now.Add(time.Hour), UpdatedAt: now}
	if err := s.CreateRequest(ctx, r, entry(agentotp.AuditRequestCreated, r)); err != nil {
		return err
	}
	if err := r.Approve(agentotp.DecidedByOwner, now); err != nil {
		return err
	}
	if err := s.UpdateRequest(ctx, r, r.Version, entry(agentotp.AuditRequestApproved, r)); err != nil {
		return err
	}
	if err := r.Match([]byte("sealed"), nil, agentotp.MessageMetadata{Source: agentotp.ChannelEmail}, now); err != nil {
		return err
	}
	m := agentotp.MessageRecord{SourceID: "src_bench", ExternalID: r.ID, At: now}
	if err := s.DeliverMessage(ctx, r, r.Version, m, entry("request.otp_received", r)); err != nil {
		return err
	}
	if _, _, err := r.Consume(now); err != nil {
		return err
	}
	return s.UpdateRequest(ctx, r, r.Version, entry(agentotp.AuditRequestConsumed, r))
}
