package relay_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/seal"
	"github.com/agentotp/agentotp/sqlite"
)

// policyEnv is a service with a settable clock, one owner and two agents
// (a live one and a test one).
type policyEnv struct {
	t       testing.TB
	ctx     context.Context
	svc     *relay.Service
	mu      sync.Mutex
	now     time.Time
	owner   string
	live    *relay.Principal
	other   *relay.Principal
	test    *relay.Principal
	liveID  string
	otherID string
	key     string
}

func newPolicyEnv(t testing.TB) *policyEnv {
	t.Helper()
	e := &policyEnv{t: t, ctx: context.Background(), now: time.Date(2031, 3, 4, 12, 0, 0, 0, time.UTC)}
	store, err := sqlite.Open(e.ctx, filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.svc = relay.New(store, nil, relay.Config{PublicURL: "http://relay.test", Now: e.clock})
	o, _, err := e.svc.EnsureOwner(e.ctx, "me", false)
	if err != nil {
		t.Fatal(err)
	}
	e.owner = o.ID
	agent := func(name string, test bool) (*relay.Principal, string) {
		na, err := e.svc.CreateAgent(e.ctx, o.ID, name, test)
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.Authenticate(e.ctx, na.APIKey)
		if err != nil {
			t.Fatal(err)
		}
		return p, na.Agent.ID
	}
	e.live, e.liveID = agent("live", false)
	e.other, e.otherID = agent("other", false)
	e.test, _ = agent("ci", true)
	k, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	e.key = k.Public().String()
	return e
}

func (e *policyEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *policyEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *policyEnv) policy(p agentotp.Policy) *agentotp.Policy {
	e.t.Helper()
	p.Enabled = true
	if p.Name == "" {
		p.Name = "policy"
	}
	got, err := e.svc.CreatePolicy(e.ctx, e.owner, p)
	if err != nil {
		e.t.Fatalf("CreatePolicy: %v", err)
	}
	return got
}

type req struct {
	agent    *relay.Principal
	reason   string
	expected string
	sources  []string
	sender   string
}

func (e *policyEnv) request(r req) *agentotp.Request {
	e.t.Helper()
	if r.agent == nil {
		r.agent = e.live
	}
	if r.reason == "" {
		r.reason = "Sign up for Acme"
	}
	var f *agentotp.Filter
	if r.sources != nil || r.sender != "" {
		f = &agentotp.Filter{Sources: agentotp.Channels(r.sources), SenderPattern: r.sender}
	}
	got, err := e.svc.CreateRequest(e.ctx, r.agent, relay.CreateRequestInput{Reason: r.reason, ExpectedSender: r.expected, Filter: f, PublicKey: e.key})
	if err != nil {
		e.t.Fatalf("CreateRequest: %v", err)
	}
	return got
}

// audit returns "action by actor" of the request's audit entries.
func (e *policyEnv) audit(id string) []string {
	e.t.Helper()
	es, err := e.svc.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: e.owner, RequestID: id})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, a := range es {
		out = append(out, a.Action+" by "+a.Actor)
	}
	return out
}

// TestPolicyConditionsDecide creates one policy per case and checks the
// decision of a request that meets or misses its condition.
func TestPolicyConditionsDecide(t *testing.T) {
	tests := []struct {
		name   string
		policy agentotp.PolicyConditions
		req    func(e *policyEnv) req
		hit    bool
	}{
		{"agent hit", agentotp.PolicyConditions{}, func(e *policyEnv) req { return req{} }, true},
		{"agent miss", agentotp.PolicyConditions{AgentID: "OTHER"}, func(e *policyEnv) req { return req{} }, false},
		{"sources hit", agentotp.PolicyConditions{Sources: []agentotp.Channel{"sms"}}, func(e *policyEnv) req { return req{sources: []string{"sms"}} }, true},
		{"sources miss (request allows both)", agentotp.PolicyConditions{Sources: []agentotp.Channel{"sms"}}, func(e *policyEnv) req { return req{} }, false},
		{"sender hit", agentotp.PolicyConditions{SenderPattern: "*@acme.com"}, func(e *policyEnv) req {
			return req{sender: "noreply@acme.com", expected: "noreply@acme.com"}
		}, true},
		{"sender widened", agentotp.PolicyConditions{SenderPattern: "*@acme.com"}, func(e *policyEnv) req { return req{sender: "*"} }, false},
		{"sender absent", agentotp.PolicyConditions{SenderPattern: "*@acme.com"}, func(e *policyEnv) req { return req{} }, false},
		{"expected sender outside", agentotp.PolicyConditions{SenderPattern: "*@acme.com"}, func(e *policyEnv) req {
			return req{sender: "*@acme.com", expected: "security@bank.example"}
		}, false},
		{"reason hit", agentotp.PolicyConditions{ReasonPattern: `(?i)^sign up\b`}, func(e *policyEnv) req { return req{} }, true},
		{"reason miss", agentotp.PolicyConditions{ReasonPattern: `(?i)^wire money`}, func(e *policyEnv) req { return req{} }, false},
		{"hours hit", agentotp.PolicyConditions{Hours: "11:00-13:00"}, func(e *policyEnv) req { return req{} }, true},
		{"hours miss", agentotp.PolicyConditions{Hours: "13:00-11:00"}, func(e *policyEnv) req { return req{} }, false},
	}
	for _, action := range []string{agentotp.PolicyAutoApprove, agentotp.PolicyDeny} {
		for _, tt := range tests {
			t.Run(action+"/"+tt.name, func(t *testing.T) {
				e := newPolicyEnv(t)
				c := tt.policy
				switch c.AgentID {
				case "":
					c.AgentID = e.liveID
				case "OTHER":
					c.AgentID = e.otherID
				}
				p := e.policy(agentotp.Policy{Action: action, Conditions: c})
				r := e.request(tt.req(e))
				by := "policy:" + p.ID
				switch {
				case !tt.hit:
					if r.Status != agentotp.StatusPending || r.DecidedBy != "" {
						t.Fatalf("status %s by %q; want pending (no match means ask)", r.Status, r.DecidedBy)
					}
				case action == agentotp.PolicyAutoApprove:
					if r.Status != agentotp.StatusApproved || r.DecidedBy != by {
						t.Fatalf("status %s by %q; want approved by %s", r.Status, r.DecidedBy, by)
					}
					if got := e.audit(r.ID); !slices.Equal(got, []string{"request.created by agent:" + e.liveID, "request.approved by " + by}) {
						t.Errorf("audit %q", got)
					}
				default:
					if r.Status != agentotp.StatusDenied || r.DecidedBy != by || r.DenyReason == "" {
						t.Fatalf("status %s by %q (%q); want denied by %s", r.Status, r.DecidedBy, r.DenyReason, by)
					}
					if got := e.audit(r.ID); !slices.Equal(got, []string{"request.created by agent:" + e.liveID, "request.denied by " + by}) {
						t.Errorf("audit %q", got)
					}
					// The agent sees the denial as OTP_APPROVAL_DENIED.
					_, err := e.svc.Consume(e.ctx, e.live, r.ID)
					if agentotp.ErrorCode(err) != agentotp.EOTPApprovalDenied {
						t.Errorf("Consume after a policy denial: %v", err)
					}
				}
				// The stored request agrees with the returned one.
				got, err := e.svc.OwnerRequest(e.ctx, e.owner, r.ID)
				if err != nil || got.Status != r.Status || got.DecidedBy != r.DecidedBy {
					t.Errorf("stored %v by %q, %v", got.Status, got.DecidedBy, err)
				}
			})
		}
	}
}

func TestPolicyHoursUseOwnerTimeZone(t *testing.T) {
	e := newPolicyEnv(t) // 12:00 UTC = 21:00 in Tokyo
	p := e.policy(agentotp.Policy{Action: agentotp.PolicyAutoApprove, Conditions: agentotp.PolicyConditions{Hours: "20:00-22:00"}})
	if r := e.request(req{}); r.Status != agentotp.StatusPending {
		t.Fatalf("in UTC the window is closed; got %s", r.Status)
	}
	if _, err := e.svc.SetTimeZone(e.ctx, e.owner, "Asia/Tokyo"); err != nil {
		t.Fatal(err)
	}
	if r := e.request(req{}); r.Status != agentotp.StatusApproved || r.DecidedBy != "policy:"+p.ID {
		t.Fatalf("in Tokyo the window is open; got %s by %q", r.Status, r.DecidedBy)
	}
	if _, err := e.svc.SetTimeZone(e.ctx, e.owner, "Nowhere/Special"); agentotp.ErrorCode(err) != agentotp.EValidation {
		t.Errorf("unknown zone: %v", err)
	}
	es, _ := e.svc.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: e.owner, Action: agentotp.AuditSettingsChanged})
	if len(es) != 1 || es[0].Details["time_zone"] != "Asia/Tokyo" {
		t.Errorf("settings audit: %+v", es)
	}
}

func TestPolicyCap(t *testing.T) {
	e := newPolicyEnv(t)
	two := 2
	pol := e.policy(agentotp.Policy{Name: "capped", Action: agentotp.PolicyAutoApprove, MaxPerHour: &two})
	by := "policy:" + pol.ID
	for i := range 2 {
		if r := e.request(req{}); r.Status != agentotp.StatusApproved || r.DecidedBy != by {
			t.Fatalf("approval %d: %s by %q", i+1, r.Status, r.DecidedBy)
		}
		e.advance(10 * time.Minute)
	}
	// Third within the hour: asked, with the cap noted in the audit log.
	r := e.request(req{})
	if r.Status != agentotp.StatusPending || r.DecidedBy != "" {
		t.Fatalf("over the cap: %s by %q; want pending", r.Status, r.DecidedBy)
	}
	if got := e.audit(r.ID); !slices.Equal(got, []string{"request.created by agent:" + e.liveID, "policy.cap_reached by " + by}) {
		t.Errorf("audit %q", got)
	}
	// The cap is per agent: another agent is still approved.
	if r := e.request(req{agent: e.other}); r.Status != agentotp.StatusApproved {
		t.Fatalf("other agent: %s", r.Status)
	}
	// Owner approvals do not count toward the cap.
	if _, err := e.svc.Decide(e.ctx, e.owner, r.ID, relay.Decision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	// Once the first approval is an hour old, one more is approved.
	e.advance(41 * time.Minute)
	if r := e.request(req{}); r.Status != agentotp.StatusApproved {
		t.Fatalf("after an hour: %s", r.Status)
	}
	if r := e.request(req{}); r.Status != agentotp.StatusPending {
		t.Fatalf("cap again: %s", r.Status)
	}
}

func TestPolicyCapConcurrent(t *testing.T) {
	e := newPolicyEnv(t)
	three := 3
	e.policy(agentotp.Policy{Action: agentotp.PolicyAutoApprove, MaxPerHour: &three})
	var wg sync.WaitGroup
	var mu sync.Mutex
	approved := 0
	for range 10 {
		wg.Go(func() {
			r, err := e.svc.CreateRequest(e.ctx, e.live, relay.CreateRequestInput{Reason: "x", PublicKey: e.key})
			if err != nil {
				t.Error(err)
				return
			}
			if r.Status == agentotp.StatusApproved {
				mu.Lock()
				approved++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if approved != 3 {
		t.Errorf("%d concurrent requests auto-approved; want exactly the cap, 3", approved)
	}
}

// TestTestKeysBeforePolicies: a test key's request is approved as
// test_key even when a policy would deny it.
func TestTestKeysBeforePolicies(t *testing.T) {
	e := newPolicyEnv(t)
	e.policy(agentotp.Policy{Action: agentotp.PolicyDeny})
	r := e.request(req{agent: e.test})
	if r.DecidedBy != agentotp.DecidedByTestKey || r.Status == agentotp.StatusDenied {
		t.Fatalf("test key request: %s by %q", r.Status, r.DecidedBy)
	}
	if r := e.request(req{}); r.Status != agentotp.StatusDenied {
		t.Fatalf("live request: %s", r.Status)
	}
}

func TestPolicyCRUDIsAuditedAndOwned(t *testing.T) {
	e := newPolicyEnv(t)
	a := e.policy(agentotp.Policy{Name: "a", Action: agentotp.PolicyAsk})
	b := e.policy(agentotp.Policy{Name: "b", Action: agentotp.PolicyDeny, Position: 1})
	if b.Position != 1 {
		t.Errorf("b at %d", b.Position)
	}
	ps, err := e.svc.ListPolicies(e.ctx, e.owner)
	if err != nil || len(ps) != 2 || ps[0].ID != b.ID || ps[1].ID != a.ID {
		t.Fatalf("list: %v %v", ps, err)
	}
	a.Position = 1
	if _, err := e.svc.UpdatePolicy(e.ctx, e.owner, a.ID, *a); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeletePolicy(e.ctx, e.owner, b.ID); err != nil {
		t.Fatal(err)
	}
	// Another owner's view: nothing.
	if _, err := e.svc.GetPolicy(e.ctx, "own_someoneelse", a.ID); agentotp.ErrorCode(err) != agentotp.ENotFound {
		t.Errorf("other owner GetPolicy: %v", err)
	}
	if err := e.svc.DeletePolicy(e.ctx, "own_someoneelse", a.ID); agentotp.ErrorCode(err) != agentotp.ENotFound {
		t.Errorf("other owner DeletePolicy: %v", err)
	}
	if _, err := e.svc.UpdatePolicy(e.ctx, "own_someoneelse", a.ID, *a); agentotp.ErrorCode(err) != agentotp.ENotFound {
		t.Errorf("other owner UpdatePolicy: %v", err)
	}
	// Validation and unknown agents.
	if _, err := e.svc.CreatePolicy(e.ctx, e.owner, agentotp.Policy{Name: "x", Action: "yes"}); agentotp.ErrorCode(err) != agentotp.EValidation {
		t.Errorf("bad action: %v", err)
	}
	_, err = e.svc.CreatePolicy(e.ctx, e.owner, agentotp.Policy{Name: "x", Action: agentotp.PolicyAsk, Conditions: agentotp.PolicyConditions{AgentID: "agt_nope"}})
	var ae *agentotp.Error
	if !errors.As(err, &ae) || ae.Code != agentotp.EValidation || ae.Fields[0].Field != "conditions.agent_id" {
		t.Errorf("unknown agent: %v", err)
	}
	es, err := e.svc.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: e.owner, Action: agentotp.AuditPolicyChanged})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, x := range es {
		if x.Actor != agentotp.ActorOwner {
			t.Errorf("policy change by %q", x.Actor)
		}
		ops = append(ops, x.Details["op"]+" "+x.Details["name"]+" @"+x.Details["position"])
	}
	if want := []string{"created a @1", "created b @1", "updated a @1", "deleted b @2"}; !slices.Equal(ops, want) {
		t.Errorf("policy audit %q; want %q", ops, want)
	}
	if rep, err := e.svc.VerifyAudit(e.ctx, e.owner); err != nil || !rep.OK {
		t.Errorf("audit chain: %+v %v", rep, err)
	}
	// At most MaxPoliciesPerOwner.
	for i := len(es); i < agentotp.MaxPoliciesPerOwner+5; i++ {
		_, err := e.svc.CreatePolicy(e.ctx, e.owner, agentotp.Policy{Name: "n", Action: agentotp.PolicyAsk})
		if err != nil {
			if agentotp.ErrorCode(err) != agentotp.EConflict || !strings.Contains(err.Error(), "at most") {
				t.Fatalf("policy %d: %v", i, err)
			}
			break
		}
	}
	ps, _ = e.svc.ListPolicies(e.ctx, e.owner)
	if len(ps) != agentotp.MaxPoliciesPerOwner {
		t.Errorf("%d policies; want the limit %d", len(ps), agentotp.MaxPoliciesPerOwner)
	}
}

// BenchmarkCreateRequestPolicies measures what policies add to creating
// (and cancelling) a request: none, 20 that do not match (each compiled and checked), and
// 20 of which the last auto-approves under a cap (the capped insert).
func BenchmarkCreateRequestPolicies(b *testing.B) {
	for _, tc := range []struct {
		name  string
		setup func(e *policyEnv)
	}{
		{"none", func(e *policyEnv) {}},
		{"20-no-match", func(e *policyEnv) {
			for i := range 20 {
				e.policy(agentotp.Policy{Name: "p", Action: agentotp.PolicyDeny, Conditions: agentotp.PolicyConditions{
					SenderPattern: "*@bank" + strings.Repeat("x", i) + ".example", ReasonPattern: `(?i)^wire \d+`, Hours: "09:00-18:00"}})
			}
		}},
		{"20-last-approves-capped", func(e *policyEnv) {
			for range 19 {
				e.policy(agentotp.Policy{Name: "p", Action: agentotp.PolicyDeny, Conditions: agentotp.PolicyConditions{ReasonPattern: `^never`}})
			}
			n := 1000
			e.policy(agentotp.Policy{Name: "last", Action: agentotp.PolicyAutoApprove, MaxPerHour: &n})
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newPolicyEnv(b)
			tc.setup(e)
			in := relay.CreateRequestInput{Reason: "Sign up for Acme", Filter: &agentotp.Filter{SenderPattern: "*@acme.com"}, PublicKey: e.key}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if i%900 == 899 {
					e.advance(time.Hour) // stay under the cap
				}
				r, err := e.svc.CreateRequest(e.ctx, e.live, in)
				if err != nil {
					b.Fatal(err)
				}
				// An agent may have only so many live requests: end each one
				// (the same cost in every case).
				if _, err := e.svc.Cancel(e.ctx, e.live, r.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
