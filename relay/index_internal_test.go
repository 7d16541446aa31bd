package relay

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// TestIndexMeetsEveryMatch: for random sender patterns and senders, the
// requests the index lets a message meet include every request whose
// pattern matches the sender, and removal leaves nothing behind.
func TestIndexMeetsEveryMatch(t *testing.T) {
	pieces := []string{"a", "b", "@", ".", "x.com", "*", "?", "Ü", "ü", "1", "+1555", "noreply"}
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		s := ""
		for range n {
			s += pieces[rng.IntN(len(pieces))]
		}
		return s
	}
	now := time.Now().UTC()
	var reqs []*agentotp.Request
	for i := range 400 {
		f := agentotp.Filter{SenderPattern: word(rng.IntN(4))}
		switch i % 3 {
		case 1:
			f.Sources = []agentotp.Channel{agentotp.ChannelSMS}
		case 2:
			f.Sources = []agentotp.Channel{agentotp.ChannelEmail}
		}
		reqs = append(reqs, &agentotp.Request{ID: fmt.Sprintf("otp_%04d", i), OwnerID: "o", AgentID: "a",
			Status: agentotp.StatusApproved, Filter: f, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	}
	x := &liveIndex{load: func(context.Context, string) ([]*agentotp.Request, error) { return reqs[:200], nil }}
	ctx := context.Background()
	if _, err := x.all(ctx, "o", func(*indexEntry) bool { return true }); err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs[200:] {
		x.apply(r, now)
	}
	for range 3000 {
		msg := &agentotp.Message{OwnerID: "o", Sender: word(1 + rng.IntN(4)), Channel: []agentotp.Channel{agentotp.ChannelSMS, agentotp.ChannelEmail}[rng.IntN(2)]}
		met := map[string]bool{}
		if _, err := x.candidates(ctx, msg, func(e *indexEntry) bool { met[e.req.ID] = true; return true }); err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			if !r.Filter.WantsChannel(msg.Channel) {
				if met[r.ID] {
					t.Fatalf("%s (sources %v) met a %s message", r.ID, r.Filter.Sources, msg.Channel)
				}
				continue
			}
			g, err := agentotp.CompileGlob(r.Filter.SenderPattern)
			if err != nil {
				t.Fatal(err)
			}
			if (r.Filter.SenderPattern == "" || g.Match(agentotp.SenderAddress(msg.Sender))) && !met[r.ID] {
				t.Fatalf("pattern %q matches sender %q but the index did not offer it", r.Filter.SenderPattern, msg.Sender)
			}
		}
	}
	// Ending every request empties the index; a stale version cannot come back.
	for _, r := range reqs {
		done := *r
		done.Status, done.Version = agentotp.StatusCancelled, r.Version+1
		x.apply(&done, now)
		x.apply(r, now) // the older, live version, applied late
	}
	oi, _ := x.owner(ctx, "o")
	defer oi.mu.RUnlock()
	if len(oi.byID) != 0 || len(oi.agents) != 0 {
		t.Fatalf("%d entries and %d agents left", len(oi.byID), len(oi.agents))
	}
	for _, g := range oi.groups {
		for _, c := range g.ch {
			if len(c.any)+len(c.exact)+len(c.suffix)+len(c.prefix) != 0 {
				t.Fatalf("buckets left: %+v", c)
			}
		}
	}
}
