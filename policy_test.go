package agentotp

import (
	"strings"
	"testing"
	"time"
)

func intp(n int) *int { return &n }

func TestPolicyValidate(t *testing.T) {
	ok := Policy{Name: "p", Action: PolicyAsk}
	tests := []struct {
		name  string
		edit  func(p *Policy)
		field string // "" means valid
	}{
		{"minimal", func(p *Policy) {}, ""},
		{"everything", func(p *Policy) {
			p.Action, p.MaxPerHour, p.Position = PolicyAutoApprove, intp(10), 3
			p.Conditions = PolicyConditions{AgentID: "agt_abc123", Sources: []Channel{"sms"}, SenderPattern: "*@acme.com",
				ReasonPattern: `(?i)^sign up`, Hours: "22:00-06:00"}
		}, ""},
		{"hours until midnight", func(p *Policy) { p.Conditions.Hours = "18:00-24:00" }, ""},
		{"no name", func(p *Policy) { p.Name = "  " }, "name"},
		{"long name", func(p *Policy) { p.Name = strings.Repeat("n", 101) }, "name"},
		{"control in name", func(p *Policy) { p.Name = "a\nb" }, "name"},
		{"format character in name", func(p *Policy) { p.Name = "acme \u202eevil" }, "name"},
		{"zero-width in name", func(p *Policy) { p.Name = "ac\u200bme" }, "name"},
		{"bad action", func(p *Policy) { p.Action = "approve" }, "action"},
		{"negative position", func(p *Policy) { p.Position = -1 }, "position"},
		{"cap on deny", func(p *Policy) { p.Action, p.MaxPerHour = PolicyDeny, intp(3) }, "max_per_hour"},
		{"zero cap", func(p *Policy) { p.Action, p.MaxPerHour = PolicyAutoApprove, intp(0) }, "max_per_hour"},
		{"huge cap", func(p *Policy) { p.Action, p.MaxPerHour = PolicyAutoApprove, intp(1001) }, "max_per_hour"},
		{"agent id", func(p *Policy) { p.Conditions.AgentID = "otp_x" }, "conditions.agent_id"},
		{"agent id chars", func(p *Policy) { p.Conditions.AgentID = "agt_x'--" }, "conditions.agent_id"},
		{"source", func(p *Policy) { p.Conditions.Sources = []Channel{"fax"} }, "conditions.sources[0]"},
		{"source twice", func(p *Policy) { p.Conditions.Sources = []Channel{"sms", "sms"} }, "conditions.sources[1]"},
		{"sender pattern too long", func(p *Policy) { p.Conditions.SenderPattern = strings.Repeat("a", 256) }, "conditions.sender_pattern"},
		{"sender pattern control", func(p *Policy) { p.Conditions.SenderPattern = "a\x00b" }, "conditions.sender_pattern"},
		{"sender pattern format character", func(p *Policy) { p.Conditions.SenderPattern = "*@\u202emoc.emca" }, "conditions.sender_pattern"},
		{"reason pattern syntax", func(p *Policy) { p.Conditions.ReasonPattern = "(" }, "conditions.reason_pattern"},
		{"reason pattern backreference", func(p *Policy) { p.Conditions.ReasonPattern = `(a)\1` }, "conditions.reason_pattern"},
		{"reason pattern too long", func(p *Policy) { p.Conditions.ReasonPattern = strings.Repeat("a", 501) }, "conditions.reason_pattern"},
		{"reason pattern too complex", func(p *Policy) { p.Conditions.ReasonPattern = `((a{100}){100}){100}` }, "conditions.reason_pattern"},
		{"hours empty window", func(p *Policy) { p.Conditions.Hours = "09:00-09:00" }, "conditions.hours"},
		{"hours form", func(p *Policy) { p.Conditions.Hours = "9-17" }, "conditions.hours"},
		{"hours range", func(p *Policy) { p.Conditions.Hours = "09:00-25:00" }, "conditions.hours"},
		{"hours minutes", func(p *Policy) { p.Conditions.Hours = "09:60-10:00" }, "conditions.hours"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.edit(&p)
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			e, isErr := err.(*Error)
			if !isErr || e.Code != EValidation || len(e.Fields) == 0 || e.Fields[0].Field != tt.field {
				t.Fatalf("Validate = %v; want a validation error on %s", err, tt.field)
			}
		})
	}
}

func TestCoversPattern(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*@acme.com", "*@acme.com", true},
		{"*@acme.com", "noreply@acme.com", true},
		{"*@acme.com", "NoReply@ACME.com", true},
		{"*@acme.com", "*", false}, // a wider filter is not covered
		{"*@acme.com", "*@acme.com.evil.io", false},
		{"*@acme.com", "*acme.com", false}, // would match evilacme.com
		{"*@acme.com", "*@*acme.com", false},
		{"*@acme.com", "?@acme.com", true},
		{"*@acme.com", "x*@acme.com", true},
		{"noreply@acme.co?", "noreply@acme.co*", false}, // ? is one character; * is any number
		{"noreply@acme.co?", "noreply@acme.co?", true},
		{"noreply@acme.co?", "noreply@acme.com", true},
		{"ACME", "acme", true},
		{"ACME", "ACME*", false},
		{"*", "*", true},
		{"*", "", true},
		{"?", "", false},
		{"a*b*c", "a*b*c", true},
		{"a*b*c", "a**c", false},
		{"**a**", "ba", true},
		{"+1555*", "+15550100", true},
	}
	for _, tt := range tests {
		if got := CoversPattern(tt.pattern, tt.s); got != tt.want {
			t.Errorf("CoversPattern(%q, %q) = %v; want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// TestCoversPatternIsSound: whenever the policy pattern covers a request
// pattern, every concrete sender the request pattern matches also matches
// the policy pattern.
func TestCoversPatternIsSound(t *testing.T) {
	policies := []string{"*@acme.com", "noreply@acme.co?", "a*b", "?*", "*x?", "a?c", "*", "ab"}
	requests := []string{"*@acme.com", "x@acme.com", "noreply@acme.co?", "noreply@acme.co*", "a*b", "a?b", "ab", "*", "?", "a?c", "abc", "*x?", "*xy"}
	senders := []string{"", "a", "ab", "abc", "axb", "acb", "x@acme.com", "@acme.com", "noreply@acme.com", "noreply@acme.co", "noreply@acme.comx", "xy", "zxy", "axc"}
	for _, p := range policies {
		pg, _ := CompileGlob(p)
		for _, r := range requests {
			if !CoversPattern(p, r) {
				continue
			}
			rg, _ := CompileGlob(r)
			for _, s := range senders {
				if rg.Match(s) && !pg.Match(s) {
					t.Errorf("policy %q covers request %q, but %q matches the request and not the policy", p, r, s)
				}
			}
		}
	}
}

func FuzzCoversPattern(f *testing.F) {
	f.Add("*@acme.com", "*@acme.com", "x@acme.com")
	f.Add("a?c", "a*c", "abbc")
	f.Add("**", "?", "")
	f.Fuzz(func(t *testing.T, pattern, req, sender string) {
		pg, err1 := CompileGlob(pattern)
		rg, err2 := CompileGlob(req)
		if err1 != nil || err2 != nil {
			return
		}
		if CoversPattern(pattern, req) && rg.Match(sender) && !pg.Match(sender) {
			t.Fatalf("policy %q covers %q, yet %q matches only the request", pattern, req, sender)
		}
	})
}

func FuzzParseHours(f *testing.F) {
	for _, s := range []string{"09:00-18:00", "22:00-06:00", "00:00-24:00", "9-5", "", "-", "aa:bb-cc:dd", "23:59-00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := ParseHours(s)
		if err != nil {
			return
		}
		if start < 0 || start > 24*60 || end < 0 || end > 24*60 || start == end {
			t.Fatalf("ParseHours(%q) = %d, %d", s, start, end)
		}
	})
}

func TestHoursWindow(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int) time.Time { return time.Date(2031, 3, 4, h, m, 0, 0, time.UTC) }
	tests := []struct {
		hours string
		at    time.Time
		loc   *time.Location
		want  bool
	}{
		{"09:00-18:00", at(9, 0), time.UTC, true},
		{"09:00-18:00", at(8, 59), time.UTC, false},
		{"09:00-18:00", at(17, 59), time.UTC, true},
		{"09:00-18:00", at(18, 0), time.UTC, false}, // the end is exclusive
		{"09:00-18:00", at(8, 30), berlin, true},    // 09:30 in Berlin (CET, UTC+1)
		{"09:00-18:00", at(17, 30), berlin, false},  // 18:30 in Berlin
		{"22:00-06:00", at(23, 0), time.UTC, true},  // across midnight
		{"22:00-06:00", at(2, 0), time.UTC, true},
		{"22:00-06:00", at(6, 0), time.UTC, false},
		{"22:00-06:00", at(12, 0), time.UTC, false},
		{"22:00-06:00", at(21, 30), berlin, true}, // 22:30 in Berlin
		{"18:00-24:00", at(23, 59), time.UTC, true},
		{"18:00-24:00", at(0, 0), time.UTC, false},
	}
	for _, tt := range tests {
		p := &Policy{Name: "h", Action: PolicyAsk, Conditions: PolicyConditions{Hours: tt.hours}}
		if got := mustMatch(t, p, &Request{}, tt.at, tt.loc); got != tt.want {
			t.Errorf("hours %s at %s in %s: %v; want %v", tt.hours, tt.at.Format("15:04"), tt.loc, got, tt.want)
		}
	}
}

func TestPolicyConditions(t *testing.T) {
	req := func(edit func(r *Request)) *Request {
		r := &Request{AgentID: "agt_a", Reason: "Sign up for Acme", ExpectedSender: "Acme <noreply@acme.com>",
			Filter: Filter{Sources: []Channel{"email"}, SenderPattern: "*@acme.com"}}
		if edit != nil {
			edit(r)
		}
		return r
	}
	tests := []struct {
		name string
		c    PolicyConditions
		r    *Request
		want bool
	}{
		{"no conditions", PolicyConditions{}, req(nil), true},
		{"agent", PolicyConditions{AgentID: "agt_a"}, req(nil), true},
		{"other agent", PolicyConditions{AgentID: "agt_b"}, req(nil), false},
		{"sources cover", PolicyConditions{Sources: []Channel{"email"}}, req(nil), true},
		{"sources both", PolicyConditions{Sources: []Channel{"sms", "email"}}, req(nil), true},
		{"sources miss", PolicyConditions{Sources: []Channel{"sms"}}, req(nil), false},
		{"request wants any source", PolicyConditions{Sources: []Channel{"email"}}, req(func(r *Request) { r.Filter.Sources = nil }), false},
		{"request wants any source, policy both", PolicyConditions{Sources: []Channel{"email", "sms"}}, req(func(r *Request) { r.Filter.Sources = nil }), true},
		{"request wants sms and email", PolicyConditions{Sources: []Channel{"email"}}, req(func(r *Request) { r.Filter.Sources = []Channel{"email", "sms"} }), false},
		{"sender", PolicyConditions{SenderPattern: "*@acme.com"}, req(nil), true},
		{"sender narrower request", PolicyConditions{SenderPattern: "*@acme.com"}, req(func(r *Request) { r.Filter.SenderPattern = "noreply@acme.com" }), true},
		{"sender wider request", PolicyConditions{SenderPattern: "*@acme.com"}, req(func(r *Request) { r.Filter.SenderPattern = "*" }), false},
		{"no sender pattern in request", PolicyConditions{SenderPattern: "*"}, req(func(r *Request) { r.Filter.SenderPattern = "" }), false},
		{"expected sender outside", PolicyConditions{SenderPattern: "*@acme.com"}, req(func(r *Request) { r.ExpectedSender = "bank@evil.io" }), false},
		{"expected sender as a name only", PolicyConditions{SenderPattern: "*@acme.com"}, req(func(r *Request) { r.ExpectedSender = "Acme Inc" }), false},
		{"no expected sender", PolicyConditions{SenderPattern: "*@acme.com"}, req(func(r *Request) { r.ExpectedSender = "" }), true},
		{"reason", PolicyConditions{ReasonPattern: `(?i)\bacme\b`}, req(nil), true},
		{"reason miss", PolicyConditions{ReasonPattern: `^Log in`}, req(nil), false},
		{"all", PolicyConditions{AgentID: "agt_a", Sources: []Channel{"email"}, SenderPattern: "*@acme.com", ReasonPattern: "Acme", Hours: "00:00-24:00"}, req(nil), true},
		{"all but one", PolicyConditions{AgentID: "agt_a", Sources: []Channel{"email"}, SenderPattern: "*@acme.com", ReasonPattern: "Bank", Hours: "00:00-24:00"}, req(nil), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Policy{Name: "c", Action: PolicyAutoApprove, Conditions: tt.c}
			if got := mustMatch(t, p, tt.r, time.Date(2031, 3, 4, 12, 0, 0, 0, time.UTC), time.UTC); got != tt.want {
				t.Errorf("Matches = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestEvaluatePolicies(t *testing.T) {
	r := &Request{AgentID: "agt_a", Reason: "Sign up for Acme", Filter: Filter{SenderPattern: "*@acme.com"}}
	now := time.Date(2031, 3, 4, 12, 0, 0, 0, time.UTC)
	pol := func(id string, pos int, action string, enabled bool, c PolicyConditions) *Policy {
		return &Policy{ID: id, Name: id, Position: pos, Action: action, Enabled: enabled, Conditions: c}
	}
	tests := []struct {
		name     string
		ps       []*Policy
		action   string
		policyID string
	}{
		{"none", nil, PolicyAsk, ""},
		{"no match is ask", []*Policy{pol("p1", 1, PolicyDeny, true, PolicyConditions{AgentID: "agt_b"})}, PolicyAsk, ""},
		{"first match wins by position", []*Policy{
			pol("p2", 2, PolicyAutoApprove, true, PolicyConditions{}),
			pol("p1", 1, PolicyDeny, true, PolicyConditions{ReasonPattern: "Acme"}),
		}, PolicyDeny, "p1"},
		{"disabled is skipped", []*Policy{
			pol("p1", 1, PolicyDeny, false, PolicyConditions{}),
			pol("p2", 2, PolicyAutoApprove, true, PolicyConditions{}),
		}, PolicyAutoApprove, "p2"},
		{"ask stops the evaluation", []*Policy{
			pol("p1", 1, PolicyAsk, true, PolicyConditions{AgentID: "agt_a"}),
			pol("p2", 2, PolicyAutoApprove, true, PolicyConditions{}),
		}, PolicyAsk, "p1"},
		{"a broken policy stops with ask", []*Policy{
			pol("p1", 1, PolicyDeny, true, PolicyConditions{ReasonPattern: "("}),
			pol("p2", 2, PolicyAutoApprove, true, PolicyConditions{}),
		}, PolicyAsk, "p1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := EvaluatePolicies(tt.ps, r, now, time.UTC)
			id := ""
			if d.Policy != nil {
				id = d.Policy.ID
			}
			if d.Action != tt.action || id != tt.policyID {
				t.Errorf("decision %s by %q; want %s by %q", d.Action, id, tt.action, tt.policyID)
			}
		})
	}
}

// TestPolicyNeverReleasesFullMessage: a request for the whole message text
// is asked of the owner even where an auto_approve policy matches; a deny
// policy still denies it.
func TestPolicyNeverReleasesFullMessage(t *testing.T) {
	r := &Request{AgentID: "agt_a", Reason: "Sign up", IncludeMessage: true, Filter: Filter{SenderPattern: "*@acme.com"}}
	now := time.Now()
	approve := &Policy{ID: "p1", Position: 1, Action: PolicyAutoApprove, Enabled: true, Conditions: PolicyConditions{SenderPattern: "*@acme.com"}}
	if d := EvaluatePolicies([]*Policy{approve}, r, now, time.UTC); d.Action != PolicyAsk {
		t.Errorf("auto_approve released a full message: %s", d.Action)
	}
	deny := &Policy{ID: "p0", Position: 0, Action: PolicyDeny, Enabled: true}
	if d := EvaluatePolicies([]*Policy{deny, approve}, r, now, time.UTC); d.Action != PolicyDeny {
		t.Errorf("deny policy: %s", d.Action)
	}
	r.IncludeMessage = false
	if d := EvaluatePolicies([]*Policy{approve}, r, now, time.UTC); d.Action != PolicyAutoApprove {
		t.Errorf("code-only request: %s", d.Action)
	}
}

func TestTimeZones(t *testing.T) {
	for _, tz := range []string{"", "UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"} {
		if err := ValidateTimeZone(tz); err != nil {
			t.Errorf("ValidateTimeZone(%q): %v", tz, err)
		}
	}
	for _, tz := range []string{"Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/ Berlin", strings.Repeat("A", 65)} {
		if err := ValidateTimeZone(tz); err == nil {
			t.Errorf("ValidateTimeZone(%q) accepted", tz)
		}
	}
	if loc := (&OwnerSettings{TimeZone: "Europe/Berlin"}).Location(); loc.String() != "Europe/Berlin" {
		t.Errorf("Location = %s", loc)
	}
	if loc := (*OwnerSettings)(nil).Location(); loc != time.UTC {
		t.Errorf("nil settings Location = %s", loc)
	}
}

// BenchmarkEvaluatePolicies measures the pure evaluation of 20 policies
// that do not match (each compiled and checked), the cost a new request
// pays before it is stored.
func BenchmarkEvaluatePolicies(b *testing.B) {
	var ps []*Policy
	for i := range 20 {
		ps = append(ps, &Policy{ID: "pol_x", Name: "p", Position: i + 1, Action: PolicyDeny, Enabled: true, Conditions: PolicyConditions{
			SenderPattern: "*@bank" + strings.Repeat("x", i) + ".example", ReasonPattern: `(?i)^wire \d+`, Hours: "09:00-18:00"}})
	}
	r := &Request{AgentID: "agt_a", Reason: "Sign up for Acme", Filter: Filter{SenderPattern: "*@acme.com"}}
	now := time.Date(2031, 3, 4, 12, 0, 0, 0, time.UTC)
	for b.Loop() {
		if d := EvaluatePolicies(ps, r, now, time.UTC); d.Action != PolicyAsk {
			b.Fatal(d.Action)
		}
	}
}

// mustMatch validates p as the API does before storing it, then runs the
// matcher EvaluatePolicies uses in production.
func mustMatch(t *testing.T, p *Policy, r *Request, at time.Time, loc *time.Location) bool {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	ok, err := p.matches(r, at, loc)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
