package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// dashboardTests are the subtests of the DashboardStore part of Store.
var dashboardTests = []struct {
	name string
	fn   func(t *testing.T, e *env)
}{
	{"OwnerPassword", testOwnerPassword},
	{"Sessions", testSessions},
	{"LoginLinks", testLoginLinks},
	{"LoginLinkRace", testLoginLinkRace},
	{"DeleteExpired", testDeleteExpired},
}

// testDashboard runs the dashboard subtests on the suite's store.
func testDashboard(t *testing.T, e *env) {
	for _, tt := range dashboardTests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, &env{t: t, s: e.s, ctx: e.ctx})
		})
	}
}

// session returns a new session of the owner, created at when and ending
// after ttl, with the hash of a fresh token.
func session(ownerID string, when time.Time, ttl time.Duration) (*agentotp.Session, string) {
	token := newToken("ds_")
	return &agentotp.Session{ID: newID("ses"), Hash: agentotp.HashToken(token), OwnerID: ownerID,
		Method: agentotp.LoginPassword, CreatedAt: when, ExpiresAt: when.Add(ttl)}, token
}

// loginLink returns a new unused log-in link of the owner.
func loginLink(ownerID string, when time.Time, ttl time.Duration) (*agentotp.LoginLinkToken, string) {
	token := newToken("ll_")
	return &agentotp.LoginLinkToken{Hash: agentotp.HashToken(token), OwnerID: ownerID, CreatedAt: when, ExpiresAt: when.Add(ttl)}, token
}

func auditActions(t *testing.T, e *env, ownerID string) []string {
	t.Helper()
	return actions(checkChain(t, e, ownerID))
}

func testOwnerPassword(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Grace", at(0))

	_, err := e.s.GetOwnerPassword(e.ctx, o.ID)
	wantErr(t, err, agentotp.ErrNotFound, "GetOwnerPassword before any was set")

	pw := &agentotp.OwnerPassword{OwnerID: o.ID, Hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", UpdatedAt: at(time.Minute)}
	set := entry(o.ID, agentotp.AuditOwnerPasswordSet, at(time.Minute))
	e.must(e.s.SetOwnerPassword(e.ctx, pw, set), "SetOwnerPassword")
	got, err := e.s.GetOwnerPassword(e.ctx, o.ID)
	e.must(err, "GetOwnerPassword")
	checkEqual(t, "GetOwnerPassword", got, pw)

	// Sessions of the owner end with a new password; another owner's stay.
	mine, _ := session(o.ID, at(2*time.Minute), time.Hour)
	theirs, _ := session(other.ID, at(2*time.Minute), time.Hour)
	e.must(e.s.CreateSession(e.ctx, mine), "CreateSession")
	e.must(e.s.CreateSession(e.ctx, theirs), "CreateSession")
	pw2 := &agentotp.OwnerPassword{OwnerID: o.ID, Hash: "$argon2id$v=19$m=8,t=1,p=1$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYQ", UpdatedAt: at(3 * time.Minute)}
	e.must(e.s.SetOwnerPassword(e.ctx, pw2, entry(o.ID, agentotp.AuditOwnerPasswordSet, at(3*time.Minute))), "SetOwnerPassword again")
	got, err = e.s.GetOwnerPassword(e.ctx, o.ID)
	e.must(err, "GetOwnerPassword")
	checkEqual(t, "GetOwnerPassword after a change", got, pw2)
	_, err = e.s.GetSession(e.ctx, mine.Hash)
	wantErr(t, err, agentotp.ErrNotFound, "the owner's session after a password change")
	_, err = e.s.GetSession(e.ctx, theirs.Hash)
	e.must(err, "another owner's session after a password change")
	_, err = e.s.GetOwnerPassword(e.ctx, other.ID)
	wantErr(t, err, agentotp.ErrNotFound, "another owner's password")

	// An unknown owner: nothing stored, no audit.
	ghost := newID("own")
	err = e.s.SetOwnerPassword(e.ctx, &agentotp.OwnerPassword{OwnerID: ghost, Hash: pw.Hash, UpdatedAt: at(0)}, entry(ghost, agentotp.AuditOwnerPasswordSet, at(0)))
	wantErr(t, err, agentotp.ErrNotFound, "SetOwnerPassword of an unknown owner")
	if es, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: ghost}); err != nil || len(es) != 0 {
		t.Errorf("audit of an unknown owner after a failed SetOwnerPassword: %d entries, %v", len(es), err)
	}
	if got := auditActions(t, e, o.ID); !slices.Equal(got, []string{agentotp.AuditOwnerCreated, agentotp.AuditOwnerPasswordSet, agentotp.AuditOwnerPasswordSet}) {
		t.Errorf("audit actions %v", got)
	}
}

func testSessions(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	s, token := session(o.ID, at(time.Minute), time.Hour)
	s.Method = agentotp.LoginLink
	in := entry(o.ID, agentotp.AuditOwnerLoggedIn, at(time.Minute))
	e.must(e.s.CreateSession(e.ctx, s, in), "CreateSession")

	got, err := e.s.GetSession(e.ctx, agentotp.HashToken(token))
	e.must(err, "GetSession")
	checkEqual(t, "GetSession", got, s)
	if !got.ValidAt(at(time.Minute)) || got.ValidAt(at(time.Minute+time.Hour)) {
		t.Errorf("ValidAt: session of %v–%v", got.CreatedAt, got.ExpiresAt)
	}

	_, err = e.s.GetSession(e.ctx, agentotp.HashToken(token+"x"))
	wantErr(t, err, agentotp.ErrNotFound, "GetSession of an unknown token")

	dup := *s
	dup.ID = newID("ses")
	wantErr(t, e.s.CreateSession(e.ctx, &dup), agentotp.ErrConflict, "CreateSession with an existing hash")
	dup2, _ := session(o.ID, at(time.Minute), time.Hour)
	dup2.ID = s.ID
	wantErr(t, e.s.CreateSession(e.ctx, dup2), agentotp.ErrConflict, "CreateSession with an existing id")

	out := entry(o.ID, agentotp.AuditOwnerLoggedOut, at(2*time.Minute))
	e.must(e.s.DeleteSession(e.ctx, s.Hash, out), "DeleteSession")
	_, err = e.s.GetSession(e.ctx, s.Hash)
	wantErr(t, err, agentotp.ErrNotFound, "GetSession after DeleteSession")
	wantErr(t, e.s.DeleteSession(e.ctx, s.Hash, entry(o.ID, agentotp.AuditOwnerLoggedOut, at(3*time.Minute))),
		agentotp.ErrNotFound, "DeleteSession twice")

	if got := auditActions(t, e, o.ID); !slices.Equal(got, []string{agentotp.AuditOwnerCreated, agentotp.AuditOwnerLoggedIn, agentotp.AuditOwnerLoggedOut}) {
		t.Errorf("audit actions %v; the second DeleteSession must append nothing", got)
	}
}

func testLoginLinks(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Grace", at(0))
	l, token := loginLink(o.ID, at(0), 15*time.Minute)
	e.must(e.s.CreateLoginLink(e.ctx, l, entry(o.ID, agentotp.AuditLoginLinkCreated, at(0))), "CreateLoginLink")
	got, err := e.s.GetLoginLink(e.ctx, agentotp.HashToken(token))
	e.must(err, "GetLoginLink")
	checkEqual(t, "GetLoginLink", got, l)
	if !got.Usable(at(time.Minute)) || got.Usable(at(15*time.Minute)) {
		t.Errorf("Usable: link of %v–%v", got.CreatedAt, got.ExpiresAt)
	}
	wantErr(t, e.s.CreateLoginLink(e.ctx, l), agentotp.ErrConflict, "CreateLoginLink with an existing hash")

	// Another owner cannot use it; nothing changes.
	s1, _ := session(other.ID, at(time.Minute), time.Hour)
	wantErr(t, e.s.UseLoginLink(e.ctx, l.Hash, s1), agentotp.ErrNotFound, "UseLoginLink for another owner")
	_, err = e.s.GetSession(e.ctx, s1.Hash)
	wantErr(t, err, agentotp.ErrNotFound, "session after a refused UseLoginLink")

	// Too late: nothing changes.
	late, _ := session(o.ID, at(15*time.Minute), time.Hour)
	wantErr(t, e.s.UseLoginLink(e.ctx, l.Hash, late), agentotp.ErrNotFound, "UseLoginLink after expiry")
	_, err = e.s.GetSession(e.ctx, late.Hash)
	wantErr(t, err, agentotp.ErrNotFound, "session after an expired UseLoginLink")

	s2, _ := session(o.ID, at(time.Minute), time.Hour)
	s2.Method = agentotp.LoginLink
	e.must(e.s.UseLoginLink(e.ctx, l.Hash, s2, entry(o.ID, agentotp.AuditOwnerLoggedIn, at(time.Minute))), "UseLoginLink")
	gs, err := e.s.GetSession(e.ctx, s2.Hash)
	e.must(err, "GetSession after UseLoginLink")
	checkEqual(t, "session made by UseLoginLink", gs, s2)
	got, err = e.s.GetLoginLink(e.ctx, l.Hash)
	e.must(err, "GetLoginLink after use")
	if !utc(got.UsedAt).Equal(utc(at(time.Minute))) || got.Usable(at(time.Minute)) {
		t.Errorf("used link: UsedAt %v, usable %v", got.UsedAt, got.Usable(at(time.Minute)))
	}

	s3, _ := session(o.ID, at(2*time.Minute), time.Hour)
	wantErr(t, e.s.UseLoginLink(e.ctx, l.Hash, s3), agentotp.ErrNotFound, "UseLoginLink twice")
	_, err = e.s.GetSession(e.ctx, s3.Hash)
	wantErr(t, err, agentotp.ErrNotFound, "session of a second use")

	_, err = e.s.GetLoginLink(e.ctx, agentotp.HashToken(token+"x"))
	wantErr(t, err, agentotp.ErrNotFound, "GetLoginLink of an unknown token")
	if got := auditActions(t, e, o.ID); !slices.Equal(got, []string{agentotp.AuditOwnerCreated, agentotp.AuditLoginLinkCreated, agentotp.AuditOwnerLoggedIn}) {
		t.Errorf("audit actions %v", got)
	}
}

func testLoginLinkRace(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	l, _ := loginLink(o.ID, at(0), 15*time.Minute)
	e.must(e.s.CreateLoginLink(e.ctx, l), "CreateLoginLink")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			s, _ := session(o.ID, at(time.Minute), time.Hour)
			errs[i] = e.s.UseLoginLink(e.ctx, l.Hash, s, entry(o.ID, agentotp.AuditOwnerLoggedIn, at(time.Minute)))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			wantErr(t, err, agentotp.ErrNotFound, "a losing UseLoginLink")
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent UseLoginLink calls succeeded; want exactly 1", ok, n)
	}
	if got := auditActions(t, e, o.ID); len(got) != 2 {
		t.Errorf("audit actions %v; want owner.created and one log-in", got)
	}
}

func testDeleteExpired(t *testing.T, e *env) {
	// The store is shared with the other dashboard subtests: clear what
	// they left that this call would count.
	_, err := e.s.DeleteExpired(e.ctx, at(2*time.Hour))
	e.must(err, "DeleteExpired")
	o, _ := e.owner("Ada", at(0))
	old, _ := session(o.ID, at(0), time.Hour)
	live, _ := session(o.ID, at(0), 3*time.Hour)
	e.must(e.s.CreateSession(e.ctx, old), "CreateSession")
	e.must(e.s.CreateSession(e.ctx, live), "CreateSession")
	oldLink, _ := loginLink(o.ID, at(0), time.Hour)
	usedLink, _ := loginLink(o.ID, at(0), 3*time.Hour)
	liveLink, _ := loginLink(o.ID, at(0), 3*time.Hour)
	for _, l := range []*agentotp.LoginLinkToken{oldLink, usedLink, liveLink} {
		e.must(e.s.CreateLoginLink(e.ctx, l), "CreateLoginLink")
	}
	used, _ := session(o.ID, at(time.Minute), 3*time.Hour)
	e.must(e.s.UseLoginLink(e.ctx, usedLink.Hash, used), "UseLoginLink")

	n, err := e.s.DeleteExpired(e.ctx, at(2*time.Hour))
	e.must(err, "DeleteExpired")
	if n != 3 {
		t.Errorf("DeleteExpired removed %d rows; want 3 (a session, an expired and a used link)", n)
	}
	_, err = e.s.GetSession(e.ctx, old.Hash)
	wantErr(t, err, agentotp.ErrNotFound, "expired session")
	for _, s := range []*agentotp.Session{live, used} {
		if _, err := e.s.GetSession(e.ctx, s.Hash); err != nil {
			t.Errorf("live session %s: %v", s.ID, err)
		}
	}
	for _, l := range []*agentotp.LoginLinkToken{oldLink, usedLink} {
		_, err := e.s.GetLoginLink(e.ctx, l.Hash)
		wantErr(t, err, agentotp.ErrNotFound, "expired or used link")
	}
	if _, err := e.s.GetLoginLink(e.ctx, liveLink.Hash); err != nil {
		t.Errorf("live link: %v", err)
	}
}
