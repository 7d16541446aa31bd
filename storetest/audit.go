package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// checkChain lists the owner's audit log, checks that it is one valid
// chain from the start with increasing Seq, and returns it.
func checkChain(t *testing.T, e *env, ownerID string) []agentotp.AuditEntry {
	t.Helper()
	entries, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: ownerID})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if len(entries) == 0 {
		t.Fatalf("owner %s has no audit entries", ownerID)
	}
	if entries[0].PrevHash != "" {
		t.Errorf("first entry of owner %s has PrevHash %q; want \"\"", ownerID, entries[0].PrevHash)
	}
	b, err := e.s.VerifyAuditChain(e.ctx, ownerID, "", entries)
	if err != nil {
		t.Fatalf("VerifyAuditChain: %v", err)
	}
	if b != nil {
		t.Errorf("chain of owner %s breaks at seq %d (%s): %s", ownerID, b.Seq, b.ID, b.Reason)
	}
	for i, en := range entries {
		if en.OwnerID != ownerID {
			t.Errorf("ListAudit of owner %s returned an entry of %s", ownerID, en.OwnerID)
		}
		if i > 0 && en.Seq <= entries[i-1].Seq {
			t.Errorf("Seq %d follows %d", en.Seq, entries[i-1].Seq)
		}
	}
	return entries
}

// actions returns the actions of entries.
func actions(entries []agentotp.AuditEntry) []string {
	out := make([]string, len(entries))
	for i, en := range entries {
		out[i] = en.Action
	}
	return out
}

// checkEntry compares a stored entry with the one appended.
func checkEntry(t *testing.T, got, want agentotp.AuditEntry) {
	t.Helper()
	if len(got.Details) == 0 {
		got.Details = nil
	}
	if len(want.Details) == 0 {
		want.Details = nil
	}
	if !got.At.Equal(want.At.Truncate(time.Microsecond)) {
		t.Errorf("entry %s: At %v; want %v", want.ID, got.At, want.At.Truncate(time.Microsecond))
	}
	if got.ID != want.ID || got.OwnerID != want.OwnerID || got.Actor != want.Actor || got.Action != want.Action ||
		got.RequestID != want.RequestID || got.AgentID != want.AgentID || got.SourceID != want.SourceID ||
		!maps.Equal(got.Details, want.Details) {
		t.Errorf("entry differs:\n  got  %+v\n  want %+v", got, want)
	}
	if got.Seq == 0 || got.Hash == "" {
		t.Errorf("entry %s: store set no Seq or Hash: %+v", want.ID, got)
	}
}

func testAuditChain(t *testing.T, e *env) {
	oa, _ := e.owner("Ada", at(0))
	ob, _ := e.owner("Bob", at(0))
	aa, _ := e.agent(oa.ID, false, at(time.Second))
	ab, _ := e.agent(ob.ID, false, at(time.Second))
	sa, _ := e.source(oa.ID, agentotp.SourceKindSMS, at(2*time.Second))
	ra := newRequest(aa, at(3*time.Second))
	e.createRequest(ra)
	rb := newRequest(ab, at(3*time.Second))
	e.createRequest(rb)

	// A time with nanoseconds in another zone: the store keeps what it can
	// and the entry must still verify.
	odd := time.Date(2031, time.March, 4, 7, 0, 0, 123456789, time.FixedZone("CET", 3600))
	approved := entry(oa.ID, agentotp.AuditRequestApproved, odd)
	approved.RequestID = ra.ID
	approved.Details = map[string]string{"decided_by": agentotp.DecidedByOwner, "note": "quotes \" and ünïcode"}
	prev := ra.Version
	e.must(ra.Approve(agentotp.DecidedByOwner, at(4*time.Second)), "Approve")
	e.update(ra, prev, approved)

	// One call, entries of both owners, one with empty Details.
	policyA := entry(oa.ID, agentotp.AuditPolicyChanged, at(5*time.Second))
	policyA.Actor = agentotp.ActorSystem
	policyA.Details = map[string]string{"policy": "pol_1", "change": "created"}
	policyB := entry(ob.ID, agentotp.AuditPolicyChanged, at(5*time.Second))
	policyB.Details = map[string]string{}
	policyA2 := entry(oa.ID, agentotp.AuditPolicyChanged, at(5*time.Second))
	e.must(e.s.AppendAudit(e.ctx, policyA, policyB, policyA2), "AppendAudit")

	rotated := *aa
	rotated.KeyPrefix = "ak_live_NEW1"
	key := newToken(agentotp.PrefixLiveKey)
	rot := entry(oa.ID, agentotp.AuditAgentRotated, at(6*time.Second))
	rot.AgentID = aa.ID
	e.must(e.s.RotateAgentKey(e.ctx, &rotated, &agentotp.Credential{Hash: agentotp.HashToken(key), Kind: agentotp.CredentialAgent,
		OwnerID: oa.ID, AgentID: aa.ID, Prefix: agentotp.TokenPrefix(key), CreatedAt: at(6 * time.Second)},
		at(time.Hour), rot), "RotateAgentKey")
	e.must(e.s.RevokeSource(e.ctx, oa.ID, sa.ID, at(7*time.Second), entry(oa.ID, agentotp.AuditSourceRevoked, at(7*time.Second))), "RevokeSource")
	e.must(e.s.RevokeAgent(e.ctx, ob.ID, ab.ID, at(8*time.Second), entry(ob.ID, agentotp.AuditAgentRevoked, at(8*time.Second))), "RevokeAgent")
	e.must(e.s.AppendAudit(e.ctx), "AppendAudit of nothing")

	gotA := checkChain(t, e, oa.ID)
	wantA := []string{agentotp.AuditOwnerCreated, agentotp.AuditAgentCreated, agentotp.AuditSourceCreated,
		agentotp.AuditRequestCreated, agentotp.AuditRequestApproved, agentotp.AuditPolicyChanged, agentotp.AuditPolicyChanged,
		agentotp.AuditAgentRotated, agentotp.AuditSourceRevoked}
	if !slices.Equal(actions(gotA), wantA) {
		t.Errorf("owner A's log: %v; want %v", actions(gotA), wantA)
	}
	gotB := checkChain(t, e, ob.ID)
	wantB := []string{agentotp.AuditOwnerCreated, agentotp.AuditAgentCreated, agentotp.AuditRequestCreated,
		agentotp.AuditPolicyChanged, agentotp.AuditAgentRevoked}
	if !slices.Equal(actions(gotB), wantB) {
		t.Errorf("owner B's log: %v; want %v", actions(gotB), wantB)
	}

	byID := map[string]agentotp.AuditEntry{}
	for _, en := range append(slices.Clone(gotA), gotB...) {
		byID[en.ID] = en
	}
	for _, want := range []agentotp.AuditEntry{approved, policyA, policyB, policyA2, rot} {
		got, ok := byID[want.ID]
		if !ok {
			t.Errorf("entry %s (%s) is missing", want.ID, want.Action)
			continue
		}
		checkEntry(t, got, want)
	}
	if a, b := byID[policyA.ID], byID[policyA2.ID]; b.PrevHash != a.Hash {
		t.Errorf("second entry of one call does not chain to the first: prev %q, want %q", b.PrevHash, a.Hash)
	}
	// Global Seq order follows the order of the calls across owners.
	if byID[policyA.ID].Seq >= byID[policyB.ID].Seq || byID[policyB.ID].Seq >= byID[policyA2.ID].Seq {
		t.Errorf("entries of one call are not in call order: %d, %d, %d",
			byID[policyA.ID].Seq, byID[policyB.ID].Seq, byID[policyA2.ID].Seq)
	}
}

func testAuditQuery(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	b, _ := e.agent(other.ID, false, at(0))
	r1 := newRequest(a, at(time.Second))
	e.createRequest(r1)
	r2 := newRequest(a, at(time.Second))
	e.createRequest(r2)
	rb := newRequest(b, at(time.Second))
	e.createRequest(rb)
	for i, r := range []*agentotp.Request{r1, r2, rb, r1} {
		ae := entry(r.OwnerID, agentotp.AuditMessageHeld, at(time.Duration(10+i)*time.Second))
		ae.RequestID = r.ID
		ae.Actor = agentotp.ActorSystem
		e.must(e.s.AppendAudit(e.ctx, ae), "AppendAudit")
	}
	all := checkChain(t, e, o.ID)
	if len(all) != 7 { // owner, agent, 2 requests created, 3 held; nothing of the other owner
		t.Fatalf("owner has %d entries; want 7: %v", len(all), actions(all))
	}

	tests := []struct {
		name string
		q    agentotp.AuditQuery
		want func(en agentotp.AuditEntry, i int) bool
	}{
		{"request", agentotp.AuditQuery{RequestID: r1.ID}, func(en agentotp.AuditEntry, _ int) bool { return en.RequestID == r1.ID }},
		{"action", agentotp.AuditQuery{Action: agentotp.AuditMessageHeld}, func(en agentotp.AuditEntry, _ int) bool {
			return en.Action == agentotp.AuditMessageHeld
		}},
		{"request and action", agentotp.AuditQuery{RequestID: r1.ID, Action: agentotp.AuditRequestCreated},
			func(en agentotp.AuditEntry, _ int) bool {
				return en.RequestID == r1.ID && en.Action == agentotp.AuditRequestCreated
			}},
		{"after seq", agentotp.AuditQuery{AfterSeq: all[3].Seq}, func(_ agentotp.AuditEntry, i int) bool { return i > 3 }},
		{"limit", agentotp.AuditQuery{Limit: 3}, func(_ agentotp.AuditEntry, i int) bool { return i < 3 }},
		{"after seq and limit", agentotp.AuditQuery{AfterSeq: all[1].Seq, Limit: 2}, func(_ agentotp.AuditEntry, i int) bool {
			return i == 2 || i == 3
		}},
		{"after the last", agentotp.AuditQuery{AfterSeq: all[len(all)-1].Seq}, func(agentotp.AuditEntry, int) bool { return false }},
		{"other owner's request", agentotp.AuditQuery{RequestID: rb.ID}, func(agentotp.AuditEntry, int) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.OwnerID = o.ID
			got, err := e.s.ListAudit(e.ctx, q)
			if err != nil {
				t.Fatalf("ListAudit: %v", err)
			}
			var want []agentotp.AuditEntry
			for i, en := range all {
				if tt.want(en, i) {
					want = append(want, en)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %d entries %v; want %d %v", len(got), actions(got), len(want), actions(want))
			}
			for i := range want {
				if got[i].Seq != want[i].Seq || got[i].Hash != want[i].Hash {
					t.Errorf("entry %d: seq %d; want %d", i, got[i].Seq, want[i].Seq)
				}
			}
		})
	}

	// A run continued after a known entry verifies from that entry's hash.
	tail, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: o.ID, AfterSeq: all[4].Seq})
	e.must(err, "ListAudit")
	tailBreak, err := e.s.VerifyAuditChain(e.ctx, o.ID, all[4].Hash, tail)
	e.must(err, "VerifyAuditChain")
	if b := tailBreak; b != nil {
		t.Errorf("tail after seq %d does not verify: %+v", all[4].Seq, b)
	}
}

func testAuditConcurrent(t *testing.T, e *env) {
	oa, _ := e.owner("Ada", at(0))
	ob, _ := e.owner("Bob", at(0))
	aa, _ := e.agent(oa.ID, false, at(0))
	ab, _ := e.agent(ob.ID, false, at(0))

	const workers, rounds = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			o, ag := oa, aa
			if w%2 == 1 {
				o, ag = ob, ab
			}
			for i := range rounds {
				when := at(time.Duration(w*rounds+i) * time.Millisecond)
				var err error
				switch i % 3 {
				case 0:
					err = e.s.AppendAudit(e.ctx, entry(o.ID, agentotp.AuditPolicyChanged, when), entry(o.ID, agentotp.AuditPolicyChanged, when))
				case 1:
					r := newRequest(ag, when)
					ae := entry(o.ID, agentotp.AuditRequestCreated, when)
					ae.RequestID = r.ID
					err = e.s.CreateRequest(e.ctx, r, ae)
				case 2:
					// Both owners in one call.
					err = e.s.AppendAudit(e.ctx, entry(oa.ID, agentotp.AuditPolicyChanged, when), entry(ob.ID, agentotp.AuditPolicyChanged, when))
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Per owner: owner.created + agent.created, and from each half of the
	// workers 4 rounds of two entries and 3 of one, plus one entry from
	// every worker's 3 rounds of both owners.
	perOwner := 2 + (workers/2)*(4*2+3) + workers*3
	for _, o := range []*agentotp.Owner{oa, ob} {
		got := checkChain(t, e, o.ID)
		if len(got) != perOwner {
			t.Errorf("owner %s has %d entries; want %d", o.Name, len(got), perOwner)
		}
	}
}

func testContext(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()

	r := newRequest(a, at(0))
	checks := []struct {
		name string
		err  error
	}{
		{"CreateRequest", e.s.CreateRequest(ctx, r, entry(o.ID, agentotp.AuditRequestCreated, at(0)))},
		{"AppendAudit", e.s.AppendAudit(ctx, entry(o.ID, agentotp.AuditPolicyChanged, at(0)))},
	}
	_, err := e.s.GetOwner(ctx, o.ID)
	checks = append(checks, struct {
		name string
		err  error
	}{"GetOwner", err})
	_, _, err = e.s.ListRequests(ctx, agentotp.RequestQuery{OwnerID: o.ID})
	checks = append(checks, struct {
		name string
		err  error
	}{"ListRequests", err})
	for _, c := range checks {
		if !errors.Is(c.err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v; want context.Canceled", c.name, c.err)
		}
	}
	_, err = e.s.GetRequest(e.ctx, r.ID)
	wantErr(t, err, agentotp.ErrNotFound, "GetRequest of a request created with a cancelled context")
	if n := countAudit(e, o.ID, agentotp.AuditPolicyChanged); n != 0 {
		t.Errorf("AppendAudit with a cancelled context appended %d entries", n)
	}
}
