package agentotp

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Policy actions.
const (
	PolicyAutoApprove = "auto_approve"
	PolicyDeny        = "deny"
	PolicyAsk         = "ask"
)

// Audit actions of policies and settings (besides AuditPolicyChanged).
const (
	// AuditPolicyCapReached records that an auto-approving policy matched
	// a request past its max_per_hour, so the owner is asked instead.
	AuditPolicyCapReached = "policy.cap_reached"
	// AuditSettingsChanged records a change of the owner's settings.
	AuditSettingsChanged = "owner.settings_changed"
)

// Limits on policies.
const (
	MaxPolicyNameLen    = 100
	MaxReasonPatternLen = 500
	MaxPoliciesPerOwner = 100
	MaxPolicyPerHour    = 1000
	maxAgentIDLen       = 64
)

// Policy is one of an owner's standing rules for new requests. An owner's
// policies are ordered by Position (1 first). The first enabled policy
// whose conditions all hold decides a new request; no match means ask.
type Policy struct {
	ID         string           `json:"id"`
	OwnerID    string           `json:"-"`
	Name       string           `json:"name"`
	Position   int              `json:"position"`
	Conditions PolicyConditions `json:"conditions"`
	// Action is PolicyAutoApprove, PolicyDeny or PolicyAsk.
	Action string `json:"action"`
	// MaxPerHour, when set on an auto_approve policy, caps its approvals
	// per agent in any sliding hour; past the cap the request is asked.
	MaxPerHour *int      `json:"max_per_hour"`
	Enabled    bool      `json:"enabled"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// PolicyConditions are the conditions of a policy. Each one that is set
// must hold; an empty one holds for every request.
type PolicyConditions struct {
	// AgentID limits the policy to one agent.
	AgentID string `json:"agent_id,omitempty"`
	// Sources lists the message kinds ("sms", "email") the policy trusts:
	// every source a request's filter allows must be listed (a filter
	// without sources allows both).
	Sources []Channel `json:"sources,omitempty"`
	// SenderPattern is a glob that must cover the request's own
	// filter.sender_pattern, read as a string, and its expected_sender
	// when it has one. A request without a sender pattern never matches.
	SenderPattern string `json:"sender_pattern,omitempty"`
	// ReasonPattern is an RE2 expression searched in the reason.
	ReasonPattern string `json:"reason_pattern,omitempty"`
	// Hours is a daily window "HH:MM-HH:MM" in the owner's time zone; the
	// end is exclusive and a window may cross midnight ("22:00-06:00").
	Hours string `json:"hours,omitempty"`
}

// ErrCapReached is returned by Store.CreateRequestCapped when the cap
// would be exceeded; nothing is stored.
var ErrCapReached = errors.New("policy cap reached")

// RequestCap bounds how many requests of one agent a decider may have
// decided after a time: the cap of an auto-approving policy.
type RequestCap struct {
	AgentID   string
	DecidedBy string // "policy:pol_…"
	Since     time.Time
	Max       int
}

// OwnerSettings are an owner's preferences.
type OwnerSettings struct {
	OwnerID string
	// TimeZone is an IANA zone name ("Europe/Berlin") in which policy
	// hours are read; empty means UTC.
	TimeZone  string
	UpdatedAt time.Time
}

// Location returns the owner's time zone, UTC when unset or unknown.
func (s *OwnerSettings) Location() *time.Location {
	if s == nil || s.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// ValidateTimeZone checks an IANA time zone name.
func ValidateTimeZone(tz string) error {
	if tz == "" {
		return nil
	}
	if len(tz) > 64 || strings.ContainsAny(tz, " \\") || strings.Contains(tz, "..") || strings.HasPrefix(tz, "/") {
		return FieldErr("time_zone", "not an IANA time zone name")
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return FieldErr("time_zone", "unknown time zone %q", tz)
	}
	return nil
}

// PolicyStore keeps policies and owner settings. It is part of Store.
type PolicyStore interface {
	// CreatePolicy stores a new policy at p.Position among the owner's
	// policies (0, or beyond the end, appends), moving later ones down,
	// and sets p.Position to where it went.
	CreatePolicy(ctx context.Context, p *Policy, audit ...AuditEntry) error
	// GetPolicy returns one policy of the owner.
	GetPolicy(ctx context.Context, ownerID, id string) (*Policy, error)
	// ListPolicies returns the owner's policies by Position, 1 first.
	ListPolicies(ctx context.Context, ownerID string) ([]*Policy, error)
	// UpdatePolicy writes p over the stored policy of the same owner and
	// id, moving it to p.Position (0 keeps its place; beyond the end is
	// the end), and sets p.Position and p.CreatedAt to what is stored.
	UpdatePolicy(ctx context.Context, p *Policy, audit ...AuditEntry) error
	// DeletePolicy removes a policy and closes the gap in the positions.
	DeletePolicy(ctx context.Context, ownerID, id string, audit ...AuditEntry) error
	// CreateRequestCapped stores r like CreateRequest, but only if fewer
	// than c.Max requests of c.AgentID were decided by c.DecidedBy after
	// c.Since; otherwise it stores nothing and returns ErrCapReached.
	// The count and the insert are atomic.
	CreateRequestCapped(ctx context.Context, r *Request, c RequestCap, audit ...AuditEntry) error
	// GetOwnerSettings returns the owner's settings; an owner that never
	// saved any gets the defaults (no error).
	GetOwnerSettings(ctx context.Context, ownerID string) (*OwnerSettings, error)
	// SaveOwnerSettings stores the owner's settings.
	SaveOwnerSettings(ctx context.Context, s *OwnerSettings, audit ...AuditEntry) error
}

// ValidAction reports whether a is a policy action.
func ValidAction(a string) bool {
	return a == PolicyAutoApprove || a == PolicyDeny || a == PolicyAsk
}

// Validate checks the policy's fields and returns a VALIDATION_ERROR
// naming each bad field (conditions as "conditions.<name>").
func (p *Policy) Validate() error {
	var v ValidationErrors
	if n := utf8.RuneCountInString(p.Name); !utf8.ValidString(p.Name) || strings.TrimSpace(p.Name) == "" || n > MaxPolicyNameLen || HasControl(p.Name) {
		v.Add("name", "must be 1–%d printable characters", MaxPolicyNameLen)
	}
	if p.Position < 0 || p.Position > MaxPoliciesPerOwner+1 {
		v.Add("position", "must be between 1 and %d (0 or absent: at the end)", MaxPoliciesPerOwner)
	}
	if !ValidAction(p.Action) {
		v.Add("action", "must be %q, %q or %q", PolicyAutoApprove, PolicyDeny, PolicyAsk)
	}
	if p.MaxPerHour != nil {
		switch {
		case p.Action != PolicyAutoApprove:
			v.Add("max_per_hour", "applies only to auto_approve policies")
		case *p.MaxPerHour < 1 || *p.MaxPerHour > MaxPolicyPerHour:
			v.Add("max_per_hour", "must be between 1 and %d", MaxPolicyPerHour)
		}
	}
	c := p.Conditions
	if c.AgentID != "" && (!strings.HasPrefix(c.AgentID, "agt_") || len(c.AgentID) > maxAgentIDLen || !isIDChars(c.AgentID)) {
		v.Add("conditions.agent_id", "must be an agent id (agt_…)")
	}
	seen := map[Channel]bool{}
	for i, s := range c.Sources {
		if s != ChannelSMS && s != ChannelEmail {
			v.Add(fmt.Sprintf("conditions.sources[%d]", i), "must be %q or %q", ChannelSMS, ChannelEmail)
		} else if seen[s] {
			v.Add(fmt.Sprintf("conditions.sources[%d]", i), "%q is listed twice", s)
		}
		seen[s] = true
	}
	if len(c.Sources) > 2 {
		v.Add("conditions.sources", "at most 2 entries")
	}
	if c.SenderPattern != "" {
		if _, err := CompileGlob(c.SenderPattern); err != nil {
			v.Add("conditions.sender_pattern", "%v", err)
		}
	}
	if c.ReasonPattern != "" {
		if _, err := compileReasonPattern(c.ReasonPattern); err != nil {
			v.Add("conditions.reason_pattern", "%v", err)
		}
	}
	if c.Hours != "" {
		if _, _, err := ParseHours(c.Hours); err != nil {
			v.Add("conditions.hours", "%v", err)
		}
	}
	return v.Err()
}

func isIDChars(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// compileReasonPattern compiles a policy's reason pattern within the
// limits of CompilePattern.
func compileReasonPattern(pat string) (*regexp.Regexp, error) {
	return CompilePattern(pat, MaxReasonPatternLen)
}

// ParseHours parses a daily window "HH:MM-HH:MM" into minutes after
// midnight. A window whose start is after its end crosses midnight; an
// empty window (start equal to end) is an error.
func ParseHours(s string) (start, end int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, errors.New(`must be "HH:MM-HH:MM", e.g. "09:00-18:00"`)
	}
	if start, err = parseClock(strings.TrimSpace(a)); err != nil {
		return 0, 0, err
	}
	if end, err = parseClock(strings.TrimSpace(b)); err != nil {
		return 0, 0, err
	}
	if start == end {
		return 0, 0, errors.New("the window is empty (start equals end); omit hours to match at any time")
	}
	return start, end, nil
}

func parseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not a time HH:MM", s)
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a time HH:MM", s)
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h == 24 && m == 0 {
		return 24 * 60, nil // "24:00" ends a window at midnight
	}
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return h*60 + m, nil
}

// inWindow reports whether minute-of-day m lies in [start, end), which
// wraps past midnight when start > end.
func inWindow(m, start, end int) bool {
	if start < end {
		return m >= start && m < end
	}
	return m >= start || m < end
}

// CoversPattern reports whether the policy glob pattern covers s read as
// a string, case-insensitively: `*` in the pattern matches any run of
// characters (wildcards of s included) and `?` any one character except a
// `*` of s, since a `*` of a request's pattern stands for any number of
// characters. So when s is itself a glob, every address s matches is
// matched by pattern too: a request cannot widen its filter past what the
// policy trusts. Linear in len(s)·len(pattern); no backtracking.
func CoversPattern(pattern, s string) bool {
	type tok struct {
		kind byte // '*', '?' or 'l'
		r    rune
	}
	var toks []tok
	for _, r := range strings.ToLower(pattern) {
		switch r {
		case '*':
			if len(toks) > 0 && toks[len(toks)-1].kind == '*' {
				continue
			}
			toks = append(toks, tok{kind: '*'})
		case '?':
			toks = append(toks, tok{kind: '?'})
		default:
			toks = append(toks, tok{kind: 'l', r: r})
		}
	}
	n := len(toks)
	cur := make([]bool, n+1)
	next := make([]bool, n+1)
	closure := func(set []bool) {
		for i := 0; i < n; i++ {
			if set[i] && toks[i].kind == '*' {
				set[i+1] = true
			}
		}
	}
	cur[0] = true
	closure(cur)
	for _, c := range strings.ToLower(s) {
		clear(next)
		any := false
		for i := 0; i < n; i++ {
			if !cur[i] {
				continue
			}
			switch t := toks[i]; t.kind {
			case '*':
				next[i] = true
			case '?':
				if c != '*' {
					next[i+1] = true
				}
			default:
				if c == t.r {
					next[i+1] = true
				}
			}
		}
		closure(next)
		for _, b := range next {
			any = any || b
		}
		if !any {
			return false
		}
		cur, next = next, cur
	}
	return cur[n]
}

func minuteOfDay(at time.Time, loc *time.Location) int {
	if loc == nil {
		loc = time.UTC
	}
	t := at.In(loc)
	return t.Hour()*60 + t.Minute()
}

// plainConditionsHold checks the conditions that need no compiling: agent,
// sources and sender.
func plainConditionsHold(c *PolicyConditions, r *Request) bool {
	if c.AgentID != "" && c.AgentID != r.AgentID {
		return false
	}
	if len(c.Sources) > 0 {
		wants := r.Filter.Sources
		if len(wants) == 0 {
			wants = []Channel{ChannelSMS, ChannelEmail}
		}
		for _, s := range wants {
			if !slices.Contains(c.Sources, s) {
				return false
			}
		}
	}
	if c.SenderPattern != "" {
		if r.Filter.SenderPattern == "" || !CoversPattern(c.SenderPattern, r.Filter.SenderPattern) {
			return false
		}
		if r.ExpectedSender != "" && !CoversPattern(c.SenderPattern, SenderAddress(r.ExpectedSender)) {
			return false
		}
	}
	return true
}

// matches reports whether every condition of the stored policy p holds for
// the new request r at time at, read in the owner's location loc, checking
// the cheapest conditions first: the reason pattern is compiled only when
// every other condition holds. It ignores Enabled. An error means the
// stored policy is broken where it matters.
func (p *Policy) matches(r *Request, at time.Time, loc *time.Location) (bool, error) {
	c := &p.Conditions
	if !ValidAction(p.Action) {
		return false, fmt.Errorf("unknown action %q", p.Action)
	}
	if len(c.SenderPattern) > MaxGlobLen {
		return false, errors.New("sender pattern too long")
	}
	if !plainConditionsHold(c, r) {
		return false, nil
	}
	if c.Hours != "" {
		start, end, err := ParseHours(c.Hours)
		if err != nil {
			return false, err
		}
		if !inWindow(minuteOfDay(at, loc), start, end) {
			return false, nil
		}
	}
	if c.ReasonPattern != "" {
		re, err := compileReasonPattern(c.ReasonPattern)
		if err != nil {
			return false, err
		}
		return re.MatchString(r.Reason), nil
	}
	return true, nil
}

// PolicyDecision is the outcome of evaluating an owner's policies for a
// new request.
type PolicyDecision struct {
	// Action is PolicyAutoApprove, PolicyDeny or PolicyAsk.
	Action string
	// Policy is the policy that decided, nil when none matched.
	Policy *Policy
}

// EvaluatePolicies returns the decision of the first enabled policy, by
// Position, whose conditions all hold for r at time at in the owner's
// location loc; no match means ask. A stored policy that turns out broken
// where it is checked (a pattern that no longer compiles) stops the
// evaluation with ask, so a broken deny rule can never let a later
// auto_approve rule through. The cap of an auto_approve
// policy is the caller's to apply (see Store.CreateRequestCapped).
//
// A request that asks for the full message text (IncludeMessage) is never
// auto-approved: a policy trusts a sender with codes, not with whole
// messages (a password-reset link is worth more than a code), so a
// matching auto_approve policy asks the owner instead. Deny still denies.
func EvaluatePolicies(policies []*Policy, r *Request, at time.Time, loc *time.Location) PolicyDecision {
	sorted := slices.Clone(policies)
	slices.SortStableFunc(sorted, func(a, b *Policy) int { return a.Position - b.Position })
	for _, p := range sorted {
		if !p.Enabled {
			continue
		}
		ok, err := p.matches(r, at, loc)
		if err != nil {
			return PolicyDecision{Action: PolicyAsk, Policy: p}
		}
		if ok {
			if p.Action == PolicyAutoApprove && r.IncludeMessage {
				return PolicyDecision{Action: PolicyAsk, Policy: p}
			}
			return PolicyDecision{Action: p.Action, Policy: p}
		}
	}
	return PolicyDecision{Action: PolicyAsk}
}
