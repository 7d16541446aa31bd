package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// newEnrollment returns (without storing it) a pending enrollment of the
// owner created at when, and its user and device codes.
func newEnrollment(ownerID string, when time.Time) (*agentotp.Enrollment, string, string) {
	user, device := agentotp.NewUserCode(), agentotp.NewDeviceCode()
	return &agentotp.Enrollment{
		ID: newID("enr"), OwnerID: ownerID, Name: "laptop agent", Description: "Claude Desktop on the laptop",
		UserCodeHash: agentotp.HashUserCode(user), DeviceCodeHash: agentotp.HashToken(device),
		ClientAddr: "192.0.2.7", UserAgent: "agentotp-go", Status: agentotp.EnrollmentPending,
		CreatedAt: when, ExpiresAt: when.Add(agentotp.DefaultEnrollmentTTL),
	}, user, device
}

func testEnrollments(t *testing.T, e *env) {
	t.Run("RoundTrip", func(t *testing.T) { testEnrollmentRoundTrip(t, e) })
	t.Run("Lifecycle", func(t *testing.T) { testEnrollmentLifecycle(t, e) })
	t.Run("IssueRace", func(t *testing.T) { testEnrollmentIssueRace(t, e) })
	t.Run("List", func(t *testing.T) { testEnrollmentList(t, e) })
	t.Run("Prompts", func(t *testing.T) { testEnrollmentPrompts(t, e) })
}

func testEnrollmentRoundTrip(t *testing.T, e *env) {
	o, _ := e.owner("enroll round trip", at(0))
	en, user, device := newEnrollment(o.ID, at(time.Second))
	en.Test = true
	ae := entry(o.ID, agentotp.AuditEnrollmentCreated, at(time.Second))
	if err := e.s.CreateEnrollment(e.ctx, en, ae); err != nil {
		t.Fatalf("CreateEnrollment: %v", err)
	}
	if err := e.s.CreateEnrollment(e.ctx, en); !errors.Is(err, agentotp.ErrConflict) {
		t.Errorf("CreateEnrollment of an existing id: %v, want ErrConflict", err)
	}
	// Another enrollment with the same live user code is refused.
	dup, _, _ := newEnrollment(o.ID, at(2*time.Second))
	dup.UserCodeHash = en.UserCodeHash
	if err := e.s.CreateEnrollment(e.ctx, dup); !errors.Is(err, agentotp.ErrConflict) {
		t.Errorf("CreateEnrollment with a live user code: %v, want ErrConflict", err)
	}
	got, err := e.s.GetEnrollment(e.ctx, en.ID)
	if err != nil {
		t.Fatalf("GetEnrollment: %v", err)
	}
	if got.Name != en.Name || got.Description != en.Description || !got.Test || got.ClientAddr != en.ClientAddr ||
		got.UserAgent != en.UserAgent || got.Status != agentotp.EnrollmentPending || !got.CreatedAt.Equal(en.CreatedAt) ||
		!got.ExpiresAt.Equal(en.ExpiresAt) || !bytes.Equal(got.UserCodeHash, en.UserCodeHash) || !bytes.Equal(got.DeviceCodeHash, en.DeviceCodeHash) {
		t.Errorf("GetEnrollment = %+v, want %+v", got, en)
	}
	byDevice, err := e.s.FindEnrollmentByDeviceCode(e.ctx, agentotp.HashToken(device))
	if err != nil || byDevice.ID != en.ID {
		t.Errorf("FindEnrollmentByDeviceCode = %v, %v", byDevice, err)
	}
	byUser, err := e.s.FindEnrollmentByUserCode(e.ctx, o.ID, agentotp.HashUserCode(user))
	if err != nil || byUser.ID != en.ID {
		t.Errorf("FindEnrollmentByUserCode = %v, %v", byUser, err)
	}
	other, _ := e.owner("someone else", at(0))
	if _, err := e.s.FindEnrollmentByUserCode(e.ctx, other.ID, agentotp.HashUserCode(user)); !errors.Is(err, agentotp.ErrNotFound) {
		t.Errorf("FindEnrollmentByUserCode of another owner: %v, want ErrNotFound", err)
	}
	for name, err := range map[string]error{
		"GetEnrollment":              func() error { _, err := e.s.GetEnrollment(e.ctx, "enr_missing"); return err }(),
		"FindEnrollmentByDeviceCode": func() error { _, err := e.s.FindEnrollmentByDeviceCode(e.ctx, agentotp.HashToken("dc_x")); return err }(),
	} {
		if !errors.Is(err, agentotp.ErrNotFound) {
			t.Errorf("%s of a missing row: %v, want ErrNotFound", name, err)
		}
	}
	es, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: o.ID, Action: agentotp.AuditEnrollmentCreated})
	if err != nil || len(es) != 1 {
		t.Errorf("audit of the creation: %v, %v", es, err)
	}
}

func testEnrollmentLifecycle(t *testing.T, e *env) {
	o, _ := e.owner("enroll lifecycle", at(0))
	en, user, _ := newEnrollment(o.ID, at(time.Second))
	if err := e.s.CreateEnrollment(e.ctx, en); err != nil {
		t.Fatal(err)
	}
	if err := en.Approve(agentotp.DecidedByOwner, at(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UpdateEnrollment(e.ctx, en, 0, entry(o.ID, agentotp.AuditEnrollmentApproved, at(2*time.Second))); err != nil {
		t.Fatalf("UpdateEnrollment: %v", err)
	}
	if en.Version != 1 {
		t.Errorf("Version after an update = %d, want 1", en.Version)
	}
	stale := *en
	if err := e.s.UpdateEnrollment(e.ctx, &stale, 0); !errors.Is(err, agentotp.ErrConflict) {
		t.Errorf("UpdateEnrollment at a stale version: %v, want ErrConflict", err)
	}
	missing := *en
	missing.ID = "enr_missing"
	if err := e.s.UpdateEnrollment(e.ctx, &missing, 1); !errors.Is(err, agentotp.ErrNotFound) {
		t.Errorf("UpdateEnrollment of a missing row: %v, want ErrNotFound", err)
	}
	a, cred := issuedAgent(en, at(3*time.Second))
	if err := en.Issue(a.ID, at(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.IssueEnrollment(e.ctx, en, 1, a, cred, entry(o.ID, agentotp.AuditEnrollmentIssued, at(3*time.Second))); err != nil {
		t.Fatalf("IssueEnrollment: %v", err)
	}
	got, err := e.s.GetEnrollment(e.ctx, en.ID)
	if err != nil || got.Status != agentotp.EnrollmentIssued || got.AgentID != a.ID || !got.IssuedAt.Equal(at(3*time.Second)) ||
		!got.DecidedAt.Equal(at(2*time.Second)) || got.DecidedBy != agentotp.DecidedByOwner || got.Version != 2 {
		t.Errorf("after issue: %+v, %v", got, err)
	}
	if _, err := e.s.GetAgent(e.ctx, o.ID, a.ID); err != nil {
		t.Errorf("the issued agent: %v", err)
	}
	if c, err := e.s.FindCredential(e.ctx, cred.Hash); err != nil || c.AgentID != a.ID {
		t.Errorf("the issued credential: %v, %v", c, err)
	}
	// An issued enrollment's user code is free again, and no longer found.
	if _, err := e.s.FindEnrollmentByUserCode(e.ctx, o.ID, agentotp.HashUserCode(user)); !errors.Is(err, agentotp.ErrNotFound) {
		t.Errorf("FindEnrollmentByUserCode of an issued enrollment: %v, want ErrNotFound", err)
	}
}

// issuedAgent returns the agent and credential an issue of en creates.
func issuedAgent(en *agentotp.Enrollment, when time.Time) (*agentotp.Agent, *agentotp.Credential) {
	key := newToken(agentotp.PrefixLiveKey)
	a := &agentotp.Agent{ID: newID("agt"), OwnerID: en.OwnerID, Name: en.Name, KeyPrefix: agentotp.TokenPrefix(key),
		WebhookSecret: newToken(agentotp.PrefixWebhook), CreatedAt: when}
	cred := &agentotp.Credential{Hash: agentotp.HashToken(key), Kind: agentotp.CredentialAgent, OwnerID: en.OwnerID,
		AgentID: a.ID, Prefix: a.KeyPrefix, CreatedAt: when}
	return a, cred
}

// testEnrollmentIssueRace: of concurrent issues of one approved
// enrollment, exactly one stores its agent.
func testEnrollmentIssueRace(t *testing.T, e *env) {
	o, _ := e.owner("enroll race", at(0))
	en, _, _ := newEnrollment(o.ID, at(time.Second))
	if err := e.s.CreateEnrollment(e.ctx, en); err != nil {
		t.Fatal(err)
	}
	if err := en.Approve(agentotp.DecidedByOwner, at(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UpdateEnrollment(e.ctx, en, 0); err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	for range n {
		wg.Go(func() {
			mine := *en
			a, cred := issuedAgent(&mine, at(3*time.Second))
			if err := mine.Issue(a.ID, at(3*time.Second)); err != nil {
				t.Error(err)
				return
			}
			err := e.s.IssueEnrollment(e.ctx, &mine, 1, a, cred, entry(o.ID, agentotp.AuditEnrollmentIssued, at(3*time.Second)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, agentotp.ErrConflict):
				lost++
			default:
				t.Errorf("IssueEnrollment: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != n-1 {
		t.Errorf("concurrent issues: %d won, %d lost; want 1 and %d", won, lost, n-1)
	}
	agents, err := e.s.ListAgents(e.ctx, o.ID)
	if err != nil || len(agents) != 1 {
		t.Errorf("agents after the race: %d, %v; want exactly 1", len(agents), err)
	}
	es, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: o.ID, Action: agentotp.AuditEnrollmentIssued})
	if err != nil || len(es) != 1 {
		t.Errorf("issued audit entries: %d, %v; want 1", len(es), err)
	}
}

func testEnrollmentList(t *testing.T, e *env) {
	o, _ := e.owner("enroll list", at(0))
	var ids []string
	for i := range 3 {
		en, _, _ := newEnrollment(o.ID, at(time.Duration(i+1)*time.Second))
		if err := e.s.CreateEnrollment(e.ctx, en); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, en.ID)
	}
	got, err := e.s.ListEnrollments(e.ctx, agentotp.EnrollmentQuery{OwnerID: o.ID, Limit: 10})
	if err != nil || len(got) != 3 || got[0].ID != ids[2] || got[2].ID != ids[0] {
		t.Fatalf("ListEnrollments = %v, %v; want the three newest first", got, err)
	}
	if got, _ := e.s.ListEnrollments(e.ctx, agentotp.EnrollmentQuery{OwnerID: o.ID, Limit: 2}); len(got) != 2 {
		t.Errorf("ListEnrollments with limit 2: %d", len(got))
	}
	first := got[2]
	if err := first.Deny(agentotp.DecidedByOwner, at(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UpdateEnrollment(e.ctx, first, first.Version); err != nil {
		t.Fatal(err)
	}
	pending, err := e.s.ListEnrollments(e.ctx, agentotp.EnrollmentQuery{OwnerID: o.ID, Status: agentotp.EnrollmentPending})
	if err != nil || len(pending) != 2 {
		t.Errorf("pending enrollments: %d, %v; want 2", len(pending), err)
	}
	// The subtests share the store: count this owner's rows only.
	mine := func(es []*agentotp.Enrollment) []*agentotp.Enrollment {
		var out []*agentotp.Enrollment
		for _, en := range es {
			if en.OwnerID == o.ID {
				out = append(out, en)
			}
		}
		return out
	}
	due, err := e.s.ListDueEnrollments(e.ctx, at(time.Second+agentotp.DefaultEnrollmentTTL), 100)
	if due = mine(due); err != nil || len(due) != 0 {
		t.Errorf("due before the second's TTL: %v, %v (the first is denied)", due, err)
	}
	due, err = e.s.ListDueEnrollments(e.ctx, at(3*time.Second+agentotp.DefaultEnrollmentTTL), 100)
	if due = mine(due); err != nil || len(due) != 2 {
		t.Errorf("due after every TTL: %d, %v; want the 2 live ones", len(due), err)
	}
	other, _ := e.owner("other", at(0))
	if got, err := e.s.ListEnrollments(e.ctx, agentotp.EnrollmentQuery{OwnerID: other.ID}); err != nil || len(got) != 0 {
		t.Errorf("another owner's list: %v, %v", got, err)
	}
}

func testEnrollmentPrompts(t *testing.T, e *env) {
	o, _ := e.owner("enroll prompts", at(0))
	en, _, _ := newEnrollment(o.ID, at(time.Second))
	if err := e.s.CreateEnrollment(e.ctx, en); err != nil {
		t.Fatal(err)
	}
	p := &agentotp.TelegramPrompt{TokenHash: agentotp.HashToken("t1"), RequestID: en.ID, OwnerID: o.ID, ChatID: 42, CreatedAt: at(time.Second)}
	if err := e.s.CreateEnrollmentPrompt(e.ctx, p); err != nil {
		t.Fatalf("CreateEnrollmentPrompt: %v", err)
	}
	if err := e.s.SetEnrollmentPromptMessage(e.ctx, p.TokenHash, 7); err != nil {
		t.Fatalf("SetEnrollmentPromptMessage: %v", err)
	}
	got, err := e.s.GetEnrollmentPrompt(e.ctx, p.TokenHash)
	if err != nil || got.MessageID != 7 || got.RequestID != en.ID || got.ChatID != 42 {
		t.Errorf("GetEnrollmentPrompt = %+v, %v", got, err)
	}
	if err := e.s.CloseEnrollmentPrompt(e.ctx, p.TokenHash, at(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	ps, err := e.s.ListEnrollmentPrompts(e.ctx, en.ID)
	if err != nil || len(ps) != 1 || !ps[0].ClosedAt.Equal(at(2*time.Second)) {
		t.Errorf("ListEnrollmentPrompts = %v, %v", ps, err)
	}
	if _, err := e.s.GetEnrollmentPrompt(e.ctx, agentotp.HashToken("nope")); !errors.Is(err, agentotp.ErrNotFound) {
		t.Errorf("GetEnrollmentPrompt of a missing token: %v", err)
	}
	if err := e.s.CloseEnrollmentPrompt(e.ctx, agentotp.HashToken("nope"), at(0)); !errors.Is(err, agentotp.ErrNotFound) {
		t.Errorf("CloseEnrollmentPrompt of a missing token: %v", err)
	}
}
