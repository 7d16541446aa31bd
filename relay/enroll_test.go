package relay_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/sqlite"
)

// enrollEnv is a service over a real SQLite file with a clock the test
// moves, and polls that may follow each other at once.
type enrollEnv struct {
	svc   *relay.Service
	owner string
	path  string
	store *sqlite.DB
	now   atomic.Int64 // unix microseconds
}

func newEnrollEnv(t *testing.T, interval time.Duration) *enrollEnv {
	t.Helper()
	ctx := context.Background()
	env := &enrollEnv{path: filepath.Join(t.TempDir(), "db")}
	env.now.Store(time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC).UnixMicro())
	store, err := sqlite.Open(ctx, env.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	env.store = store
	env.svc = relay.New(store, nil, relay.Config{PublicURL: "http://relay.test", Now: func() time.Time { return time.UnixMicro(env.now.Load()) }})
	env.svc.ConfigureEnrollment(relay.EnrollConfig{Interval: interval})
	o, _, err := env.svc.EnsureOwner(ctx, "me", false)
	if err != nil {
		t.Fatal(err)
	}
	env.owner = o.ID
	return env
}

func (env *enrollEnv) advance(d time.Duration) { env.now.Add(d.Microseconds()) }

func (env *enrollEnv) start(t *testing.T) *relay.NewEnrollment {
	t.Helper()
	ne, err := env.svc.StartEnrollment(t.Context(), relay.EnrollInput{Name: "laptop", Description: "Claude Desktop", ClientAddr: "192.0.2.1", UserAgent: "curl/8\x00evil"})
	if err != nil {
		t.Fatalf("StartEnrollment: %v", err)
	}
	return ne
}

func TestEnrollmentFlow(t *testing.T) {
	env := newEnrollEnv(t, time.Nanosecond)
	ctx := t.Context()
	ne := env.start(t)
	if ne.VerificationURI != "http://relay.test/enroll" || ne.VerificationURIComplete != "http://relay.test/enroll?code="+ne.UserCode {
		t.Errorf("verification URIs %q, %q", ne.VerificationURI, ne.VerificationURIComplete)
	}
	if ne.ExpiresIn != agentotp.DefaultEnrollmentTTL || !strings.HasPrefix(ne.DeviceCode, "dc_") {
		t.Errorf("expires_in %v, device code %q…", ne.ExpiresIn, ne.DeviceCode[:3])
	}
	if ne.Enrollment.UserAgent != "curl/8 evil" {
		t.Errorf("user agent stored as %q: control characters must not reach the owner's screens", ne.Enrollment.UserAgent)
	}
	if _, err := env.svc.PollEnrollment(ctx, ne.DeviceCode, 0); agentotp.ErrorCode(err) != agentotp.EAuthorizationPending {
		t.Fatalf("poll before a decision: %v, want authorization_pending", err)
	}
	list, err := env.svc.ListEnrollments(ctx, env.owner, agentotp.EnrollmentPending, 0)
	if err != nil || len(list) != 1 || list[0].UserCode != ne.UserCode || list[0].Name != "laptop" {
		t.Fatalf("owner's list: %v, %v", list, err)
	}
	found, err := env.svc.FindEnrollment(ctx, env.owner, strings.ToLower(ne.UserCode))
	if err != nil || found.ID != ne.Enrollment.ID {
		t.Fatalf("FindEnrollment by the typed code: %v, %v", found, err)
	}
	if _, err := env.svc.DecideEnrollment(ctx, "own_other", ne.Enrollment.ID, relay.EnrollDecision{Approve: true}); agentotp.ErrorCode(err) != agentotp.ENotFound {
		t.Errorf("another owner's decision: %v, want NOT_FOUND", err)
	}
	if _, err := env.svc.DecideEnrollment(ctx, env.owner, ne.Enrollment.ID, relay.EnrollDecision{Approve: true, Via: "test"}); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if _, err := env.svc.DecideEnrollment(ctx, env.owner, ne.Enrollment.ID, relay.EnrollDecision{Approve: false}); agentotp.ErrorCode(err) != agentotp.EConflict {
		t.Errorf("deny after approve: %v, want CONFLICT", err)
	}
	key, err := env.svc.PollEnrollment(ctx, ne.DeviceCode, 0)
	if err != nil {
		t.Fatalf("poll after approval: %v", err)
	}
	p, err := env.svc.Authenticate(ctx, key.APIKey)
	if err != nil || p.AgentID != key.Agent.ID || !strings.HasPrefix(key.APIKey, agentotp.PrefixLiveKey) || !strings.HasPrefix(key.WebhookSecret, "whsec_") {
		t.Fatalf("the issued key does not authenticate as its agent: %v, %v", p, err)
	}
	if _, err := env.svc.PollEnrollment(ctx, ne.DeviceCode, 0); agentotp.ErrorCode(err) != agentotp.EInvalidGrant {
		t.Errorf("second poll after issue: %v, want invalid_grant", err)
	}
	// created, approved, agent.created, issued, in the owner's chain.
	es, err := env.svc.ListAudit(ctx, agentotp.AuditQuery{OwnerID: env.owner})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
	}
	want := "owner.created enrollment.created enrollment.approved agent.created enrollment.issued"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit: %s, want %s", got, want)
	}
	if rep, err := env.svc.VerifyAudit(ctx, env.owner); err != nil || !rep.OK {
		t.Errorf("audit chain: %+v, %v", rep, err)
	}
	env.store.Close()
	assertNotInFiles(t, env.path, ne.DeviceCode, ne.UserCode, strings.ReplaceAll(ne.UserCode, "-", ""), key.APIKey)
}

// assertNotInFiles fails if any secret is in the database file or its
// write-ahead log.
func assertNotInFiles(t *testing.T, path string, secrets ...string) {
	t.Helper()
	matches, _ := filepath.Glob(path + "*")
	if len(matches) == 0 {
		t.Fatal("no database file")
	}
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a plaintext secret (%.6s…)", filepath.Base(m), s)
			}
		}
	}
}

func TestEnrollmentDeniedAndExpired(t *testing.T) {
	env := newEnrollEnv(t, time.Nanosecond)
	ctx := t.Context()
	denied := env.start(t)
	if _, err := env.svc.DecideEnrollment(ctx, env.owner, denied.Enrollment.ID, relay.EnrollDecision{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.PollEnrollment(ctx, denied.DeviceCode, 0); agentotp.ErrorCode(err) != agentotp.EAccessDenied {
		t.Errorf("poll of a denied enrollment: %v, want access_denied", err)
	}
	late := env.start(t)
	approvedLate := env.start(t)
	if _, err := env.svc.DecideEnrollment(ctx, env.owner, approvedLate.Enrollment.ID, relay.EnrollDecision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	env.advance(agentotp.DefaultEnrollmentTTL)
	if n, err := env.svc.SweepEnrollments(ctx); err != nil || n != 2 {
		t.Errorf("sweep: %d, %v; want the pending and the uncollected one", n, err)
	}
	for _, ne := range []*relay.NewEnrollment{late, approvedLate} {
		if _, err := env.svc.PollEnrollment(ctx, ne.DeviceCode, 0); agentotp.ErrorCode(err) != agentotp.EExpiredToken {
			t.Errorf("poll after the TTL: %v, want expired_token", err)
		}
	}
	if _, err := env.svc.DecideEnrollment(ctx, env.owner, late.Enrollment.ID, relay.EnrollDecision{Approve: true}); agentotp.ErrorCode(err) != agentotp.EConflict {
		t.Errorf("approving an expired enrollment: %v, want CONFLICT", err)
	}
	if as, _ := env.svc.ListAgents(ctx, env.owner); len(as) != 0 {
		t.Errorf("%d agents exist; no enrollment was collected", len(as))
	}
	es, _ := env.svc.ListAudit(ctx, agentotp.AuditQuery{OwnerID: env.owner, Action: agentotp.AuditEnrollmentExpired})
	if len(es) != 2 {
		t.Errorf("%d expired entries, want 2", len(es))
	}
}

func TestEnrollmentBadInput(t *testing.T) {
	env := newEnrollEnv(t, time.Nanosecond)
	ctx := t.Context()
	tests := []struct {
		name  string
		in    relay.EnrollInput
		field string
	}{
		{"no name", relay.EnrollInput{}, "name"},
		{"blank name", relay.EnrollInput{Name: "   "}, "name"},
		{"long name", relay.EnrollInput{Name: strings.Repeat("n", 101)}, "name"},
		{"control in name", relay.EnrollInput{Name: "a\nb"}, "name"},
		{"bidi override in description", relay.EnrollInput{Name: "a", Description: "safe \u202etxt.exe"}, "description"},
		{"long description", relay.EnrollInput{Name: "a", Description: strings.Repeat("d", 501)}, "description"},
		{"invalid UTF-8", relay.EnrollInput{Name: "a", Description: "\xff"}, "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.svc.StartEnrollment(ctx, tt.in)
			var e *agentotp.Error
			if agentotp.ErrorCode(err) != agentotp.EValidation || !asError(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != tt.field {
				t.Errorf("StartEnrollment: %v, want VALIDATION_ERROR on %s", err, tt.field)
			}
		})
	}
	for _, dc := range []string{"dc_unknown", "ak_live_x", strings.Repeat("x", 500), "dc_" + strings.Repeat("A", 40)} {
		if _, err := env.svc.PollEnrollment(ctx, dc, 0); agentotp.ErrorCode(err) != agentotp.EInvalidGrant {
			t.Errorf("poll with %.10q: %v, want invalid_grant", dc, err)
		}
	}
	if _, err := env.svc.PollEnrollment(ctx, "", 0); agentotp.ErrorCode(err) != agentotp.EValidation {
		t.Errorf("poll without a device code: %v", err)
	}
	if _, err := env.svc.FindEnrollment(ctx, env.owner, "AEIOU"); agentotp.ErrorCode(err) != agentotp.EValidation {
		t.Errorf("FindEnrollment with a malformed code: %v", err)
	}
	if es, _ := env.svc.ListEnrollments(ctx, env.owner, "", 0); len(es) != 0 {
		t.Errorf("bad input stored %d enrollments", len(es))
	}
}

func TestEnrollmentLiveCap(t *testing.T) {
	env := newEnrollEnv(t, time.Nanosecond)
	env.svc.ConfigureEnrollment(relay.EnrollConfig{MaxLive: 2, Interval: time.Nanosecond})
	env.start(t)
	env.start(t)
	if _, err := env.svc.StartEnrollment(t.Context(), relay.EnrollInput{Name: "third"}); agentotp.ErrorCode(err) != agentotp.ERateLimit {
		t.Errorf("a third live enrollment: %v, want RATE_LIMIT_ERROR", err)
	}
}

func TestEnrollmentSlowDown(t *testing.T) {
	env := newEnrollEnv(t, time.Hour)
	ne := env.start(t)
	ctx := t.Context()
	if _, err := env.svc.PollEnrollment(ctx, ne.DeviceCode, 0); agentotp.ErrorCode(err) != agentotp.EAuthorizationPending {
		t.Fatalf("first poll: %v", err)
	}
	_, err := env.svc.PollEnrollment(ctx, ne.DeviceCode, 0)
	var e *agentotp.Error
	if agentotp.ErrorCode(err) != agentotp.ESlowDown || !asError(err, &e) || e.RetryAfter != 60 {
		t.Errorf("second poll at once: %v, want slow_down with the interval widened to its cap (60 s)", err)
	}
}

// TestEnrollmentLongPoll: a waiting poll returns the key as soon as the
// owner approves.
func TestEnrollmentLongPoll(t *testing.T) {
	env := newEnrollEnv(t, time.Nanosecond)
	ne := env.start(t)
	ctx := t.Context()
	type result struct {
		key *relay.IssuedKey
		err error
	}
	done := make(chan result, 1)
	go func() {
		k, err := env.svc.PollEnrollment(ctx, ne.DeviceCode, time.Minute)
		done <- result{k, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("the poll returned before a decision: %v", r.err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := env.svc.DecideEnrollment(ctx, env.owner, ne.Enrollment.ID, relay.EnrollDecision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.key == nil || r.key.APIKey == "" {
		t.Fatalf("long-poll after approval: %v", r.err)
	}
}

// TestEnrollmentConcurrentPolls: of many simultaneous polls of an approved
// enrollment exactly one gets a key; one agent exists.
func TestEnrollmentConcurrentPolls(t *testing.T) {
	env := newEnrollEnv(t, time.Nanosecond)
	ne := env.start(t)
	ctx := t.Context()
	if _, err := env.svc.DecideEnrollment(ctx, env.owner, ne.Enrollment.ID, relay.EnrollDecision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var keys []string
	codes := map[string]int{}
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			k, err := env.svc.PollEnrollment(ctx, ne.DeviceCode, 0)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				keys = append(keys, k.APIKey)
				return
			}
			codes[agentotp.ErrorCode(err)]++
		})
	}
	close(start)
	wg.Wait()
	if len(keys) != 1 {
		t.Fatalf("%d polls got a key (others: %v), want exactly 1", len(keys), codes)
	}
	for c := range codes {
		if c != agentotp.EInvalidGrant && c != agentotp.ESlowDown {
			t.Errorf("a losing poll got %s", c)
		}
	}
	if as, _ := env.svc.ListAgents(ctx, env.owner); len(as) != 1 {
		t.Errorf("%d agents, want 1", len(as))
	}
}

func asError(err error, target **agentotp.Error) bool {
	e, ok := err.(*agentotp.Error)
	if ok {
		*target = e
	}
	return ok
}
