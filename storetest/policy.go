package storetest

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// testPolicy runs the subtests of the PolicyStore part of the interface.
func testPolicy(t *testing.T, e *env) {
	t.Run("RoundTrip", func(t *testing.T) { testPolicyRoundTrip(t, e.sub(t)) })
	t.Run("Positions", func(t *testing.T) { testPolicyPositions(t, e.sub(t)) })
	t.Run("Owners", func(t *testing.T) { testPolicyOwners(t, e.sub(t)) })
	t.Run("Cap", func(t *testing.T) { testPolicyCap(t, e.sub(t)) })
	t.Run("CapConcurrent", func(t *testing.T) { testPolicyCapConcurrent(t, e.sub(t)) })
	t.Run("OwnerSettings", func(t *testing.T) { testOwnerSettings(t, e.sub(t)) })
}

// sub returns the env for a subtest of e's test, on the same store.
func (e *env) sub(t *testing.T) *env { return &env{t: t, s: e.s, ctx: t.Context()} }

func newPolicy(ownerID, name string, pos int, when time.Time) *agentotp.Policy {
	return &agentotp.Policy{ID: newID("pol"), OwnerID: ownerID, Name: name, Position: pos,
		Action: agentotp.PolicyAsk, Enabled: true, CreatedAt: when, UpdatedAt: when}
}

func normPolicy(p *agentotp.Policy) agentotp.Policy {
	c := *p
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	if len(c.Conditions.Sources) == 0 {
		c.Conditions.Sources = nil
	}
	return c
}

// policyNames returns the owner's policies' names in order, checking that
// positions run 1..n.
func (e *env) policyNames(ownerID string) []string {
	e.t.Helper()
	ps, err := e.s.ListPolicies(e.ctx, ownerID)
	e.must(err, "ListPolicies")
	var names []string
	for i, p := range ps {
		if p.Position != i+1 {
			e.t.Errorf("policy %q at index %d has position %d; want %d", p.Name, i, p.Position, i+1)
		}
		names = append(names, p.Name)
	}
	return names
}

func testPolicyRoundTrip(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	n := 5
	p := newPolicy(o.ID, "Acme sign-ups ✓", 0, at(0))
	p.Action = agentotp.PolicyAutoApprove
	p.MaxPerHour = &n
	p.Conditions = agentotp.PolicyConditions{AgentID: a.ID, Sources: []agentotp.Channel{"email", "sms"}, SenderPattern: "*@acme.com",
		ReasonPattern: `(?i)^sign (up|in)\b`, Hours: "22:00-06:00"}
	audit := entry(o.ID, agentotp.AuditPolicyChanged, at(0))
	e.must(e.s.CreatePolicy(e.ctx, p, audit), "CreatePolicy")
	if p.Position != 1 {
		t.Errorf("first policy got position %d; want 1", p.Position)
	}
	got, err := e.s.GetPolicy(e.ctx, o.ID, p.ID)
	e.must(err, "GetPolicy")
	if !reflect.DeepEqual(normPolicy(got), normPolicy(p)) {
		t.Errorf("GetPolicy = %+v\nwant %+v", normPolicy(got), normPolicy(p))
	}

	// A plain policy: no cap, disabled, no conditions.
	q := newPolicy(o.ID, "off", 0, at(time.Second))
	q.Enabled = false
	e.must(e.s.CreatePolicy(e.ctx, q), "CreatePolicy")
	got, err = e.s.GetPolicy(e.ctx, o.ID, q.ID)
	e.must(err, "GetPolicy")
	if !reflect.DeepEqual(normPolicy(got), normPolicy(q)) {
		t.Errorf("GetPolicy = %+v\nwant %+v", normPolicy(got), normPolicy(q))
	}

	// Update replaces every field but the creation time.
	upd := *p
	upd.Name, upd.Action, upd.MaxPerHour, upd.Enabled = "renamed", agentotp.PolicyDeny, nil, false
	upd.Conditions = agentotp.PolicyConditions{Hours: "09:00-18:00"}
	upd.CreatedAt, upd.UpdatedAt, upd.Position = at(time.Hour), at(time.Hour), 0
	e.must(e.s.UpdatePolicy(e.ctx, &upd, entry(o.ID, agentotp.AuditPolicyChanged, at(time.Hour))), "UpdatePolicy")
	if upd.Position != 1 || !utc(upd.CreatedAt).Equal(utc(p.CreatedAt)) {
		t.Errorf("UpdatePolicy set position %d, created %v; want 1, %v", upd.Position, upd.CreatedAt, p.CreatedAt)
	}
	got, err = e.s.GetPolicy(e.ctx, o.ID, p.ID)
	e.must(err, "GetPolicy")
	if !reflect.DeepEqual(normPolicy(got), normPolicy(&upd)) {
		t.Errorf("after update GetPolicy = %+v\nwant %+v", normPolicy(got), normPolicy(&upd))
	}

	// Audit entries were appended with the changes.
	es, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: o.ID, Action: agentotp.AuditPolicyChanged})
	e.must(err, "ListAudit")
	if len(es) != 2 {
		t.Errorf("%d policy.changed entries; want 2", len(es))
	}

	// A duplicate id conflicts; missing ones are not found.
	wantErr(t, e.s.CreatePolicy(e.ctx, newPolicyWithID(p.ID, o.ID)), agentotp.ErrConflict, "CreatePolicy with an existing id")
	_, err = e.s.GetPolicy(e.ctx, o.ID, "pol_missing")
	wantErr(t, err, agentotp.ErrNotFound, "GetPolicy of a missing id")
	missing := newPolicy(o.ID, "missing", 0, at(0))
	wantErr(t, e.s.UpdatePolicy(e.ctx, missing), agentotp.ErrNotFound, "UpdatePolicy of a missing id")
	wantErr(t, e.s.DeletePolicy(e.ctx, o.ID, "pol_missing"), agentotp.ErrNotFound, "DeletePolicy of a missing id")

	e.must(e.s.DeletePolicy(e.ctx, o.ID, p.ID, entry(o.ID, agentotp.AuditPolicyChanged, at(2*time.Hour))), "DeletePolicy")
	_, err = e.s.GetPolicy(e.ctx, o.ID, p.ID)
	wantErr(t, err, agentotp.ErrNotFound, "GetPolicy after delete")
	if names := e.policyNames(o.ID); !reflect.DeepEqual(names, []string{"off"}) {
		t.Errorf("after delete: %q", names)
	}
}

func newPolicyWithID(id, ownerID string) *agentotp.Policy {
	p := newPolicy(ownerID, "dup", 0, at(0))
	p.ID = id
	return p
}

func testPolicyPositions(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	ids := map[string]string{}
	create := func(name string, pos int) {
		t.Helper()
		p := newPolicy(o.ID, name, pos, at(0))
		e.must(e.s.CreatePolicy(e.ctx, p), "CreatePolicy "+name)
		ids[name] = p.ID
	}
	move := func(name string, pos int) {
		t.Helper()
		p, err := e.s.GetPolicy(e.ctx, o.ID, ids[name])
		e.must(err, "GetPolicy")
		p.Position = pos
		e.must(e.s.UpdatePolicy(e.ctx, p), "UpdatePolicy "+name)
	}
	steps := []struct {
		do   func()
		want []string
	}{
		{func() { create("a", 0) }, []string{"a"}},
		{func() { create("b", 0) }, []string{"a", "b"}},
		{func() { create("c", 1) }, []string{"c", "a", "b"}},
		{func() { create("d", 3) }, []string{"c", "a", "d", "b"}},
		{func() { create("e", 99) }, []string{"c", "a", "d", "b", "e"}},
		{func() { move("e", 1) }, []string{"e", "c", "a", "d", "b"}},
		{func() { move("e", 4) }, []string{"c", "a", "d", "e", "b"}},
		{func() { move("c", 99) }, []string{"a", "d", "e", "b", "c"}},
		{func() { move("d", 0) }, []string{"a", "d", "e", "b", "c"}},
		{func() { e.must(e.s.DeletePolicy(e.ctx, o.ID, ids["d"]), "DeletePolicy") }, []string{"a", "e", "b", "c"}},
		{func() { e.must(e.s.DeletePolicy(e.ctx, o.ID, ids["a"]), "DeletePolicy") }, []string{"e", "b", "c"}},
		{func() { create("f", 2) }, []string{"e", "f", "b", "c"}},
	}
	for i, st := range steps {
		st.do()
		if got := e.policyNames(o.ID); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("step %d: order %q; want %q", i, got, st.want)
		}
	}
}

func testPolicyOwners(t *testing.T, e *env) {
	ada, _ := e.owner("Ada", at(0))
	bob, _ := e.owner("Bob", at(0))
	p := newPolicy(ada.ID, "ada's", 0, at(0))
	e.must(e.s.CreatePolicy(e.ctx, p), "CreatePolicy")
	q := newPolicy(bob.ID, "bob's", 0, at(0))
	e.must(e.s.CreatePolicy(e.ctx, q), "CreatePolicy")
	if q.Position != 1 {
		t.Errorf("bob's first policy at position %d; want 1 (positions are per owner)", q.Position)
	}
	_, err := e.s.GetPolicy(e.ctx, bob.ID, p.ID)
	wantErr(t, err, agentotp.ErrNotFound, "GetPolicy of another owner's policy")
	other := *p
	other.OwnerID, other.Name = bob.ID, "hijacked"
	wantErr(t, e.s.UpdatePolicy(e.ctx, &other), agentotp.ErrNotFound, "UpdatePolicy of another owner's policy")
	wantErr(t, e.s.DeletePolicy(e.ctx, bob.ID, p.ID), agentotp.ErrNotFound, "DeletePolicy of another owner's policy")
	if names := e.policyNames(bob.ID); !reflect.DeepEqual(names, []string{"bob's"}) {
		t.Errorf("bob's policies: %q", names)
	}
	if names := e.policyNames(ada.ID); !reflect.DeepEqual(names, []string{"ada's"}) {
		t.Errorf("ada's policies: %q", names)
	}
}

// approvedBy returns a new request of a approved by decidedBy at when.
func approvedBy(t *testing.T, a *agentotp.Agent, decidedBy string, when time.Time) *agentotp.Request {
	t.Helper()
	r := newRequest(a, when)
	if err := r.Approve(decidedBy, when); err != nil {
		t.Fatal(err)
	}
	return r
}

func testPolicyCap(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	b, _ := e.agent(o.ID, false, at(0))
	by := agentotp.DecidedByPolicy("pol_cap")
	capOf := func(ag *agentotp.Agent, now time.Time) agentotp.RequestCap {
		return agentotp.RequestCap{AgentID: ag.ID, DecidedBy: by, Since: now.Add(-time.Hour), Max: 2}
	}
	// Two approvals fit; the third within the hour does not.
	for i := range 2 {
		now := at(time.Duration(i) * time.Minute)
		e.must(e.s.CreateRequestCapped(e.ctx, approvedBy(t, a, by, now), capOf(a, now)), "CreateRequestCapped")
	}
	now := at(10 * time.Minute)
	r := approvedBy(t, a, by, now)
	wantErr(t, e.s.CreateRequestCapped(e.ctx, r, capOf(a, now)), agentotp.ErrCapReached, "third approval within the hour")
	_, err := e.s.GetRequest(e.ctx, r.ID)
	wantErr(t, err, agentotp.ErrNotFound, "the refused request")
	// Other agents, other deciders and plain creates are not counted.
	e.must(e.s.CreateRequestCapped(e.ctx, approvedBy(t, b, by, now), capOf(b, now)), "another agent")
	e.createRequest(approvedBy(t, a, agentotp.DecidedByOwner, now))
	e.createRequest(approvedBy(t, a, agentotp.DecidedByPolicy("pol_other"), now))
	// An hour after the first approval one slot is free again.
	now = at(time.Hour)
	e.must(e.s.CreateRequestCapped(e.ctx, approvedBy(t, a, by, now), capOf(a, now)), "after the first left the hour")
	wantErr(t, e.s.CreateRequestCapped(e.ctx, approvedBy(t, a, by, now), capOf(a, now)), agentotp.ErrCapReached, "cap again")
}

func testPolicyCapConcurrent(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	by := agentotp.DecidedByPolicy("pol_cap")
	const workers, max = 12, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			errs <- e.s.CreateRequestCapped(e.ctx, approvedBy(t, a, by, at(0)),
				agentotp.RequestCap{AgentID: a.ID, DecidedBy: by, Since: at(-time.Hour), Max: max})
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, agentotp.ErrCapReached):
			t.Errorf("CreateRequestCapped: %v", err)
		}
	}
	if ok != max {
		t.Errorf("%d concurrent capped creates succeeded; want exactly %d", ok, max)
	}
}

func testOwnerSettings(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	s, err := e.s.GetOwnerSettings(e.ctx, o.ID)
	e.must(err, "GetOwnerSettings")
	if s.OwnerID != o.ID || s.TimeZone != "" {
		t.Errorf("default settings = %+v", s)
	}
	for _, tz := range []string{"Europe/Berlin", "America/New_York", ""} {
		e.must(e.s.SaveOwnerSettings(e.ctx, &agentotp.OwnerSettings{OwnerID: o.ID, TimeZone: tz, UpdatedAt: at(time.Minute)},
			entry(o.ID, agentotp.AuditSettingsChanged, at(time.Minute))), "SaveOwnerSettings")
		s, err = e.s.GetOwnerSettings(e.ctx, o.ID)
		e.must(err, "GetOwnerSettings")
		if s.TimeZone != tz || !utc(s.UpdatedAt).Equal(at(time.Minute)) {
			t.Errorf("settings = %+v; want time zone %q", s, tz)
		}
	}
}
