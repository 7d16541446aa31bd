package storetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// allBytes is a payload with every byte value, NUL included.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func testRequestRoundTrip(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	live, _ := e.agent(o.ID, false, at(0))
	test, _ := e.agent(o.ID, true, at(0))

	// The store keeps the Version it is given at creation.
	tests := []struct {
		name  string
		agent *agentotp.Agent
		make  func(r *agentotp.Request) error
		want  func(r *agentotp.Request) // the expected stored form, when it differs
	}{
		{"minimal with zero times", live, func(r *agentotp.Request) error {
			r.Reason, r.ExpectedSender, r.Filter, r.UpdatedAt = "", "", agentotp.Filter{}, time.Time{}
			return nil
		}, nil},
		{"every field", test, func(r *agentotp.Request) error {
			r.Reason = "Anmeldung bei Ącme — 登録 ✓"
			r.Filter = agentotp.Filter{
				Sources:        []agentotp.Channel{agentotp.ChannelSMS, agentotp.ChannelEmail},
				SenderPattern:  "*@*.acme.com",
				ContentPattern: `(?i)code[:\s]+\d{6}`,
				ReceivedAfter:  at(-time.Minute),
			}
			r.WebhookURL = "https://agent.example/hooks/otp?x=1"
			r.IncludeMessage = true
			r.Version = 7
			if err := r.Approve(agentotp.DecidedByTestKey, at(time.Second)); err != nil {
				return err
			}
			return r.Match(allBytes(), []byte("sealed content\x00\xff"), metadata(at(2*time.Second)), at(3*time.Second))
		}, nil},
		{"held while pending", live, func(r *agentotp.Request) error {
			return r.Match([]byte("sealed"), nil, metadata(at(time.Second)), at(time.Second))
		}, nil},
		{"denied by policy", live, func(r *agentotp.Request) error {
			return r.Deny(agentotp.DecidedByPolicy("pol_1"), "not during the night", at(time.Second))
		}, nil},
		{"consumed", live, func(r *agentotp.Request) error {
			if err := r.Approve(agentotp.DecidedByOwner, at(time.Second)); err != nil {
				return err
			}
			if err := r.Match([]byte("sealed"), []byte("content"), metadata(at(2*time.Second)), at(2*time.Second)); err != nil {
				return err
			}
			_, _, err := r.Consume(at(3 * time.Second))
			return err
		}, nil},
		// A final request holds no ciphertext (docs/design.md). The store drops
		// any that a caller left behind.
		{"final with leftover ciphertext", live, func(r *agentotp.Request) error {
			if err := r.Cancel(at(time.Second)); err != nil {
				return err
			}
			r.Payload, r.Content = []byte("leftover"), []byte("leftover")
			return nil
		}, func(r *agentotp.Request) { r.Payload, r.Content = nil, nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(tt.agent, at(0))
			if err := tt.make(r); err != nil {
				t.Fatalf("preparing the request: %v", err)
			}
			e.createRequest(r)
			want := *r
			if tt.want != nil {
				tt.want(&want)
			}
			e.checkRequest(&want)
		})
	}

	_, err := e.s.GetRequest(e.ctx, newID("otp"))
	wantErr(t, err, agentotp.ErrNotFound, "GetRequest of an unknown id")

	r := newRequest(live, at(0))
	e.createRequest(r)
	dup := *r
	dup.Reason = "duplicate"
	err = e.s.CreateRequest(e.ctx, &dup)
	wantErr(t, err, agentotp.ErrConflict, "CreateRequest with an existing id")
	e.checkRequest(r)
}

func testRequestLifecycle(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))

	type step struct {
		action string
		do     func(r *agentotp.Request) error
	}
	approve := step{agentotp.AuditRequestApproved, func(r *agentotp.Request) error {
		return r.Approve(agentotp.DecidedByOwner, at(10*time.Second))
	}}
	match := step{agentotp.AuditOTPReceived, func(r *agentotp.Request) error {
		return r.Match([]byte("sealed code "+r.ID), []byte("sealed text"), metadata(at(20*time.Second)), at(21*time.Second))
	}}
	consume := step{agentotp.AuditRequestConsumed, func(r *agentotp.Request) error {
		p, _, err := r.Consume(at(30 * time.Second))
		if err == nil && !strings.HasPrefix(string(p), "sealed code ") {
			err = errors.New("consume returned no payload")
		}
		return err
	}}
	deny := step{agentotp.AuditRequestDenied, func(r *agentotp.Request) error {
		return r.Deny(agentotp.DecidedByOwner, "no", at(10*time.Second))
	}}
	cancel := step{agentotp.AuditRequestCancelled, func(r *agentotp.Request) error { return r.Cancel(at(40 * time.Second)) }}
	expire := step{agentotp.AuditRequestExpired, func(r *agentotp.Request) error { return r.Expire(r.ExpiresAt) }}

	tests := []struct {
		name  string
		steps []step
		final agentotp.Status
	}{
		{"approve, match, consume", []step{approve, match, consume}, agentotp.StatusConsumed},
		{"match while pending, approve, consume", []step{match, approve, consume}, agentotp.StatusConsumed},
		{"match while pending, deny", []step{match, deny}, agentotp.StatusDenied},
		{"approve, cancel", []step{approve, cancel}, agentotp.StatusCancelled},
		{"approve, match, expire", []step{approve, match, expire}, agentotp.StatusExpired},
		{"match while pending, cancel", []step{match, cancel}, agentotp.StatusCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(a, at(0))
			e.createRequest(r)
			for _, st := range tt.steps {
				prev := r.Version
				if err := st.do(r); err != nil {
					t.Fatalf("%s: %v", st.action, err)
				}
				ae := entry(o.ID, st.action, r.UpdatedAt)
				ae.RequestID = r.ID
				e.update(r, prev, ae)
				e.checkRequest(r)
			}
			got, err := e.s.GetRequest(e.ctx, r.ID)
			e.must(err, "GetRequest")
			if got.Status != tt.final || got.Payload != nil || got.Content != nil {
				t.Errorf("final request: status %s, payload %q, content %q; want %s without ciphertext",
					got.Status, got.Payload, got.Content, tt.final)
			}
			if got.Version != int64(len(tt.steps)) {
				t.Errorf("Version = %d after %d updates", got.Version, len(tt.steps))
			}
			entries, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: o.ID, RequestID: r.ID})
			e.must(err, "ListAudit")
			if len(entries) != 1+len(tt.steps) {
				t.Errorf("%d audit entries for the request; want %d", len(entries), 1+len(tt.steps))
			}
		})
	}
}

func testUpdateRequestConflict(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	r := newRequest(a, at(0))
	e.createRequest(r)
	approved := *r
	e.must(approved.Approve(agentotp.DecidedByOwner, at(time.Second)), "Approve")
	e.update(&approved, 0)

	auditBefore, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: o.ID})
	e.must(err, "ListAudit")

	// A second decision made on the stale copy loses.
	stale := *r
	e.must(stale.Deny(agentotp.DecidedByOwner, "too late", at(2*time.Second)), "Deny")
	for _, prev := range []int64{0, 2, -1} {
		ae := entry(o.ID, agentotp.AuditRequestDenied, at(2*time.Second))
		ae.RequestID = r.ID
		err := e.s.UpdateRequest(e.ctx, &stale, prev, ae)
		wantErr(t, err, agentotp.ErrConflict, "UpdateRequest from a stale version")
		if errors.Is(err, agentotp.ErrNotFound) {
			t.Errorf("a conflict also reads as not found: %v", err)
		}
		if stale.Version != 0 {
			t.Errorf("a failed UpdateRequest set Version to %d", stale.Version)
		}
	}
	e.checkRequest(&approved)

	missing := newRequest(a, at(0))
	err = e.s.UpdateRequest(e.ctx, missing, 0, entry(o.ID, agentotp.AuditRequestApproved, at(0)))
	wantErr(t, err, agentotp.ErrNotFound, "UpdateRequest of an unknown request")
	if errors.Is(err, agentotp.ErrConflict) {
		t.Errorf("a missing row also reads as a conflict: %v", err)
	}

	auditAfter, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: o.ID})
	e.must(err, "ListAudit")
	if len(auditAfter) != len(auditBefore) {
		t.Errorf("failed updates appended %d audit entries", len(auditAfter)-len(auditBefore))
	}
}

func testUpdateRequestRace(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	r := newRequest(a, at(0))
	e.createRequest(r)

	const n = 50
	errs := make([]error, n)
	deciders := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			c := *r
			deciders[i] = agentotp.DecidedByPolicy(newID("pol"))
			var err error
			if i%2 == 0 {
				err = c.Approve(deciders[i], at(time.Second))
			} else {
				err = c.Deny(deciders[i], "race", at(time.Second))
			}
			if err != nil {
				errs[i] = err
				return
			}
			ae := entry(o.ID, agentotp.AuditRequestApproved, at(time.Second))
			ae.RequestID = r.ID
			<-start
			errs[i] = e.s.UpdateRequest(e.ctx, &c, r.Version, ae)
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("goroutines %d and %d both won", winner, i)
			}
			winner = i
		case !errors.Is(err, agentotp.ErrConflict):
			t.Errorf("goroutine %d: %v; want a conflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine won")
	}
	got, err := e.s.GetRequest(e.ctx, r.ID)
	e.must(err, "GetRequest")
	if got.DecidedBy != deciders[winner] || got.Version != r.Version+1 {
		t.Errorf("stored DecidedBy %q version %d; want the winner's %q version %d",
			got.DecidedBy, got.Version, deciders[winner], r.Version+1)
	}
	entries, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: o.ID, RequestID: r.ID})
	e.must(err, "ListAudit")
	if len(entries) != 2 { // created + the winner's
		t.Errorf("%d audit entries for the request; want 2", len(entries))
	}
}

// listFixture is a set of requests of two agents of one owner, with
// creation times in threes (ties broken by id), and requests of another
// owner that must never show.
type listFixture struct {
	owner, other *agentotp.Owner
	a1, a2       *agentotp.Agent
	all          []*agentotp.Request // the owner's, newest first
}

func newListFixture(e *env, n int) *listFixture {
	e.t.Helper()
	f := &listFixture{}
	f.owner, _ = e.owner("Ada", at(0))
	f.other, _ = e.owner("Mallory", at(0))
	f.a1, _ = e.agent(f.owner.ID, false, at(0))
	f.a2, _ = e.agent(f.owner.ID, true, at(0))
	b, _ := e.agent(f.other.ID, false, at(0))
	for i := range n {
		created := at(time.Duration(i/3) * time.Second)
		ag := f.a1
		if i%2 == 1 {
			ag = f.a2
		}
		r := newRequest(ag, created)
		switch i % 3 {
		case 1:
			e.must(r.Approve(agentotp.DecidedByOwner, created.Add(time.Millisecond)), "Approve")
		case 2:
			e.must(r.Deny(agentotp.DecidedByOwner, "", created.Add(time.Millisecond)), "Deny")
		}
		e.createRequest(r)
		f.all = append(f.all, r)
		if i%4 == 0 {
			e.createRequest(newRequest(b, created))
		}
	}
	slices.SortFunc(f.all, func(x, y *agentotp.Request) int {
		if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(y.ID, x.ID)
	})
	return f
}

// listAll pages through ListRequests and returns the pages.
func listAll(e *env, q agentotp.RequestQuery) [][]*agentotp.Request {
	e.t.Helper()
	var pages [][]*agentotp.Request
	for {
		page, next, err := e.s.ListRequests(e.ctx, q)
		if err != nil {
			e.t.Fatalf("ListRequests %+v: %v", q, err)
		}
		pages = append(pages, page)
		if next == "" {
			return pages
		}
		if len(pages) > 1000 {
			e.t.Fatal("ListRequests never ends")
		}
		q.Cursor = next
	}
}

func testListRequests(t *testing.T, e *env) {
	f := newListFixture(e, 30)
	filter := func(keep func(r *agentotp.Request) bool) []*agentotp.Request {
		var out []*agentotp.Request
		for _, r := range f.all {
			if keep(r) {
				out = append(out, r)
			}
		}
		return out
	}
	tests := []struct {
		name      string
		q         agentotp.RequestQuery
		want      []*agentotp.Request
		wantPages []int
	}{
		{"all", agentotp.RequestQuery{Limit: 10}, f.all, []int{10, 10, 10}},
		{"one agent", agentotp.RequestQuery{AgentID: f.a1.ID, Limit: 6},
			filter(func(r *agentotp.Request) bool { return r.AgentID == f.a1.ID }), []int{6, 6, 3}},
		{"one status", agentotp.RequestQuery{Status: agentotp.StatusPending, Limit: 4},
			filter(func(r *agentotp.Request) bool { return r.Status == agentotp.StatusPending }), []int{4, 4, 2}},
		{"agent and status", agentotp.RequestQuery{AgentID: f.a2.ID, Status: agentotp.StatusApproved, Limit: 2},
			filter(func(r *agentotp.Request) bool {
				return r.AgentID == f.a2.ID && r.Status == agentotp.StatusApproved
			}), []int{2, 2, 1}},
		{"default limit", agentotp.RequestQuery{}, f.all, []int{30}},
		{"limit one", agentotp.RequestQuery{Status: agentotp.StatusDenied, AgentID: f.a1.ID, Limit: 1},
			filter(func(r *agentotp.Request) bool {
				return r.AgentID == f.a1.ID && r.Status == agentotp.StatusDenied
			}), []int{1, 1, 1, 1, 1}},
		{"status without requests", agentotp.RequestQuery{Status: agentotp.StatusConsumed, Limit: 5}, nil, []int{0}},
		{"agent of another owner", agentotp.RequestQuery{AgentID: newID("agt")}, nil, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.OwnerID = f.owner.ID
			pages := listAll(e, q)
			var got []*agentotp.Request
			var sizes []int
			for _, p := range pages {
				got = append(got, p...)
				sizes = append(sizes, len(p))
			}
			if !slices.Equal(ids(got), ids(tt.want)) {
				t.Errorf("listed\n  %v\nwant\n  %v", ids(got), ids(tt.want))
			}
			if !slices.Equal(sizes, tt.wantPages) {
				t.Errorf("page sizes %v; want %v", sizes, tt.wantPages)
			}
			for i := range min(len(got), len(tt.want)) {
				if d := diffRequest(got[i], tt.want[i]); d != "" {
					t.Errorf("listed request %s differs:\n%s", got[i].ID, d)
					break
				}
			}
		})
	}

	// A request created between pages does not disturb the listing.
	q := agentotp.RequestQuery{OwnerID: f.owner.ID, Limit: 10}
	page1, next, err := e.s.ListRequests(e.ctx, q)
	e.must(err, "ListRequests")
	e.createRequest(newRequest(f.a1, at(time.Hour)))
	q.Cursor = next
	page2, _, err := e.s.ListRequests(e.ctx, q)
	e.must(err, "ListRequests")
	if got := append(ids(page1), ids(page2)...); !slices.Equal(got, ids(f.all[:20])) {
		t.Errorf("pages around an insert:\n  %v\nwant\n  %v", got, ids(f.all[:20]))
	}
}

func testListRequestsLimit(t *testing.T, e *env) {
	f := newListFixture(e, 120)
	q := agentotp.RequestQuery{OwnerID: f.owner.ID}
	page, next, err := e.s.ListRequests(e.ctx, q)
	e.must(err, "ListRequests")
	if len(page) != 50 || next == "" {
		t.Errorf("Limit 0: %d requests, cursor %q; want 50 and a cursor", len(page), next)
	}
	q.Limit = 1000
	page, next, err = e.s.ListRequests(e.ctx, q)
	e.must(err, "ListRequests")
	if len(page) != 100 || next == "" {
		t.Fatalf("Limit 1000: %d requests, cursor %q; want 100 and a cursor", len(page), next)
	}
	q.Cursor = next
	rest, next, err := e.s.ListRequests(e.ctx, q)
	e.must(err, "ListRequests")
	if got := append(ids(page), ids(rest)...); !slices.Equal(got, ids(f.all)) || next != "" {
		t.Errorf("Limit 1000, two pages: %d requests in order %v, cursor %q; want all %d and no cursor",
			len(got), slices.Equal(got, ids(f.all)), next, len(f.all))
	}
}

func testListRequestsBadCursor(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	for _, c := range []string{"%%% not a cursor %%%", "\x00", strings.Repeat("!", 40)} {
		_, _, err := e.s.ListRequests(e.ctx, agentotp.RequestQuery{OwnerID: o.ID, Cursor: c})
		var ae *agentotp.Error
		if !errors.As(err, &ae) || ae.Code != agentotp.EValidation {
			t.Errorf("cursor %q: error %v; want an *agentotp.Error with code %s", c, err, agentotp.EValidation)
		}
	}
}

func testListLiveRequests(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	b, _ := e.agent(other.ID, false, at(0))

	var want []*agentotp.Request
	states := []struct {
		status agentotp.Status
		make   func(r *agentotp.Request) error
	}{
		{agentotp.StatusPending, func(r *agentotp.Request) error { return nil }},
		{agentotp.StatusPending, func(r *agentotp.Request) error { // holds a code
			return r.Match([]byte("sealed"), nil, metadata(r.CreatedAt), r.CreatedAt)
		}},
		{agentotp.StatusApproved, func(r *agentotp.Request) error { return r.Approve(agentotp.DecidedByOwner, r.CreatedAt) }},
		{agentotp.StatusReceived, func(r *agentotp.Request) error {
			if err := r.Approve(agentotp.DecidedByOwner, r.CreatedAt); err != nil {
				return err
			}
			return r.Match([]byte("sealed"), nil, metadata(r.CreatedAt), r.CreatedAt)
		}},
		{agentotp.StatusDenied, func(r *agentotp.Request) error { return r.Deny(agentotp.DecidedByOwner, "", r.CreatedAt) }},
		{agentotp.StatusCancelled, func(r *agentotp.Request) error { return r.Cancel(r.CreatedAt) }},
		{agentotp.StatusExpired, func(r *agentotp.Request) error { return r.Expire(r.ExpiresAt) }},
	}
	for i := range 21 {
		st := states[i%len(states)]
		// Newest first in creation order, in pairs of equal times.
		r := newRequest(a, at(time.Duration(20-i)/2*time.Second))
		e.must(st.make(r), "preparing a request")
		if r.Status != st.status {
			t.Fatalf("prepared status %s; want %s", r.Status, st.status)
		}
		e.createRequest(r)
		if r.Status.Live() {
			want = append(want, r)
		}
		e.createRequest(newRequest(b, r.CreatedAt)) // another owner's
	}
	slices.SortFunc(want, func(x, y *agentotp.Request) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})

	got, err := e.s.ListLiveRequests(e.ctx, o.ID)
	e.must(err, "ListLiveRequests")
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("ListLiveRequests:\n  %v\nwant\n  %v", ids(got), ids(want))
	}
	for i := range want {
		if d := diffRequest(got[i], want[i]); d != "" {
			t.Errorf("live request %s differs:\n%s", want[i].ID, d)
		}
	}

	none, err := e.s.ListLiveRequests(e.ctx, newID("own"))
	e.must(err, "ListLiveRequests")
	if len(none) != 0 {
		t.Errorf("ListLiveRequests of an unknown owner returned %d requests", len(none))
	}
}

func testListDueRequests(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	b, _ := e.agent(other.ID, false, at(0))
	now := at(time.Hour)

	tests := []struct {
		name    string
		agent   *agentotp.Agent
		expires time.Time
		make    func(r *agentotp.Request) error
		due     bool
	}{
		{"pending, past", a, now.Add(-time.Minute), func(r *agentotp.Request) error { return nil }, true},
		{"pending, exactly now", a, now, func(r *agentotp.Request) error { return nil }, true},
		{"pending, a microsecond later", a, now.Add(time.Microsecond), func(r *agentotp.Request) error { return nil }, false},
		{"approved, past, other owner", b, now.Add(-time.Hour), func(r *agentotp.Request) error {
			return r.Approve(agentotp.DecidedByOwner, at(0))
		}, true},
		{"received, past", a, now.Add(-time.Second), func(r *agentotp.Request) error {
			if err := r.Approve(agentotp.DecidedByOwner, at(0)); err != nil {
				return err
			}
			return r.Match([]byte("sealed"), nil, metadata(at(0)), at(0))
		}, true},
		{"consumed, past", a, now.Add(-time.Minute), func(r *agentotp.Request) error {
			if err := r.Approve(agentotp.DecidedByOwner, at(0)); err != nil {
				return err
			}
			if err := r.Match([]byte("sealed"), nil, metadata(at(0)), at(0)); err != nil {
				return err
			}
			_, _, err := r.Consume(at(0))
			return err
		}, false},
		{"expired already", a, now.Add(-time.Minute), func(r *agentotp.Request) error { return r.Expire(r.ExpiresAt) }, false},
		{"denied, past", b, now.Add(-time.Minute), func(r *agentotp.Request) error {
			return r.Deny(agentotp.DecidedByOwner, "", at(0))
		}, false},
		{"approved, future", b, now.Add(time.Hour), func(r *agentotp.Request) error {
			return r.Approve(agentotp.DecidedByOwner, at(0))
		}, false},
	}
	var want []string
	for _, tt := range tests {
		r := newRequest(tt.agent, at(0))
		r.ExpiresAt = tt.expires
		e.must(tt.make(r), tt.name)
		e.createRequest(r)
		if tt.due {
			want = append(want, r.ID)
		}
	}
	slices.Sort(want)

	got, err := e.s.ListDueRequests(e.ctx, now, 100)
	e.must(err, "ListDueRequests")
	gotIDs := ids(got)
	slices.Sort(gotIDs)
	if !slices.Equal(gotIDs, want) {
		t.Errorf("ListDueRequests returned %d requests %v; want %d %v", len(gotIDs), gotIDs, len(want), want)
	}

	got, err = e.s.ListDueRequests(e.ctx, now, 2)
	e.must(err, "ListDueRequests")
	if len(got) != 2 {
		t.Errorf("ListDueRequests with limit 2 returned %d requests", len(got))
	}
	for _, r := range got {
		if !slices.Contains(want, r.ID) {
			t.Errorf("ListDueRequests with limit 2 returned %s, which is not due", r.ID)
		}
	}

	got, err = e.s.ListDueRequests(e.ctx, at(-time.Microsecond), 100)
	e.must(err, "ListDueRequests")
	if len(got) != 0 {
		t.Errorf("ListDueRequests before any expiry returned %v", ids(got))
	}
}

func testRecordMessage(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	s1, _ := e.source(o.ID, agentotp.SourceKindSMS, at(0))
	s2, _ := e.source(o.ID, agentotp.SourceKindEmail, at(0))
	steps := []struct {
		source, external string
		want             bool
	}{
		{s1.ID, "msg-1", true},
		{s1.ID, "msg-1", false},
		{s2.ID, "msg-1", true},
		{s1.ID, "msg-2", true},
		{s2.ID, "msg-1", false},
		{s1.ID, "MSG-1", true}, // ids are compared exactly
		{s1.ID, "msg-2", false},
		// Not spelled out by the interface: a message without an external
		// id cannot be recognized again, so it is always new.
		{s1.ID, "", true},
		{s1.ID, "", true},
	}
	for i, st := range steps {
		got, err := e.s.RecordMessage(e.ctx, st.source, st.external, at(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatalf("step %d: RecordMessage: %v", i, err)
		}
		if got != st.want {
			t.Errorf("step %d: RecordMessage(%s, %q) = %v; want %v", i, st.source, st.external, got, st.want)
		}
	}

	// Pruning forgets ids recorded before the cut, and only those.
	if _, err := e.s.RecordMessage(e.ctx, s1.ID, "old-1", at(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := e.s.PruneMessages(e.ctx, at(-24*time.Hour)); err != nil || n != 1 {
		t.Errorf("PruneMessages = %d, %v; want 1", n, err)
	}
	if got, _ := e.s.RecordMessage(e.ctx, s1.ID, "old-1", at(0)); !got {
		t.Error("a pruned id is still remembered")
	}
	if got, _ := e.s.RecordMessage(e.ctx, s1.ID, "msg-2", at(0)); got {
		t.Error("pruning forgot an id recorded after the cut")
	}

	// A forgotten message is new again; forgetting an unknown one is no error.
	e.must(e.s.ForgetMessage(e.ctx, s1.ID, "msg-1"), "ForgetMessage")
	e.must(e.s.ForgetMessage(e.ctx, s1.ID, "never-seen"), "ForgetMessage unknown")
	if got, err := e.s.RecordMessage(e.ctx, s1.ID, "msg-1", at(time.Hour)); err != nil || !got {
		t.Errorf("RecordMessage after ForgetMessage = %v, %v; want true", got, err)
	}
	if got, _ := e.s.RecordMessage(e.ctx, s2.ID, "msg-1", at(time.Hour)); got {
		t.Error("ForgetMessage of one source forgot another's")
	}

	// Concurrent deliveries of one message: exactly one is new.
	var wg sync.WaitGroup
	results := make([]bool, 20)
	for i := range results {
		wg.Go(func() {
			ok, err := e.s.RecordMessage(e.ctx, s2.ID, "msg-race", at(0))
			if err != nil {
				t.Errorf("RecordMessage: %v", err)
			}
			results[i] = ok
		})
	}
	wg.Wait()
	fresh := 0
	for _, ok := range results {
		if ok {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d of %d concurrent deliveries were new; want 1", fresh, len(results))
	}
}

// testDeliverMessage checks that DeliverMessage records the message in the
// delivery's own transaction: the first delivery writes both, a second
// delivery of the same message (to another request) writes neither.
func testDeliverMessage(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	s1, _ := e.source(o.ID, agentotp.SourceKindSMS, at(0))
	r1, r2 := newRequest(a, at(0)), newRequest(a, at(0))
	for _, r := range []*agentotp.Request{r1, r2} {
		e.createRequest(r)
		prev := r.Version
		e.must(r.Approve(agentotp.DecidedByOwner, at(time.Second)), "Approve")
		e.update(r, prev)
	}
	m := agentotp.MessageRecord{SourceID: s1.ID, ExternalID: "gw-7", At: at(2 * time.Second)}
	deliver := func(r *agentotp.Request) error {
		prev := r.Version
		e.must(r.Match([]byte("sealed"), nil, metadata(at(2*time.Second)), at(2*time.Second)), "Match")
		err := e.s.DeliverMessage(e.ctx, r, prev, m)
		if err != nil {
			r.Version = prev
		}
		return err
	}
	if err := deliver(r1); err != nil {
		t.Fatalf("DeliverMessage: %v", err)
	}
	e.checkRequest(r1)
	if seen, err := e.s.MessageSeen(e.ctx, s1.ID, "gw-7"); err != nil || !seen {
		t.Fatalf("MessageSeen after DeliverMessage = %v, %v; want true", seen, err)
	}
	stored, err := e.s.GetRequest(e.ctx, r2.ID)
	e.must(err, "GetRequest")
	if err := deliver(r2); !errors.Is(err, agentotp.ErrDuplicateMessage) {
		t.Fatalf("second DeliverMessage of the message = %v; want ErrDuplicateMessage", err)
	}
	e.checkRequest(stored) // unchanged
	if fresh, _ := e.s.RecordMessage(e.ctx, s1.ID, "gw-7", at(3*time.Second)); fresh {
		t.Error("RecordMessage after DeliverMessage: new; want recorded")
	}
	// A failed delivery (a lost race) records nothing.
	r3 := newRequest(a, at(0))
	e.createRequest(r3)
	r3.Status = agentotp.StatusApproved
	lost := agentotp.MessageRecord{SourceID: s1.ID, ExternalID: "gw-8", At: at(3 * time.Second)}
	if err := e.s.DeliverMessage(e.ctx, r3, r3.Version+5, lost); !errors.Is(err, agentotp.ErrConflict) {
		t.Fatalf("DeliverMessage at a stale version = %v; want ErrConflict", err)
	}
	if seen, _ := e.s.MessageSeen(e.ctx, s1.ID, "gw-8"); seen {
		t.Error("a delivery that lost its race recorded the message")
	}
}
