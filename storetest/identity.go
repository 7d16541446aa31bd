package storetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// norm returns a copy of the struct *v with its top-level times in UTC.
func norm[T any](v *T) T {
	c := *v
	rv := reflect.ValueOf(&c).Elem()
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Type() == reflect.TypeFor[time.Time]() {
			f.Set(reflect.ValueOf(utc(f.Interface().(time.Time))))
		}
	}
	return c
}

// checkEqual reports a difference between got and want, structs given by
// pointer, after normalizing their times.
func checkEqual[T any](t *testing.T, what string, got, want *T) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil", what)
		return
	}
	g, w := norm(got), norm(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s differs:\n%s", what, diffFields(g, w))
	}
}

func testOwners(t *testing.T, e *env) {
	o1, _ := e.owner("Ada", at(0))
	o2, _ := e.owner("Grace", at(time.Second))
	o3, _ := e.owner("Edsger", at(0)) // same time as o1: ordered by id
	o4 := &agentotp.Owner{ID: newID("own"), Name: "Zero"}
	e.must(e.s.CreateOwner(e.ctx, o4, nil), "CreateOwner without credential")

	for _, o := range []*agentotp.Owner{o1, o2, o3, o4} {
		got, err := e.s.GetOwner(e.ctx, o.ID)
		e.must(err, "GetOwner")
		checkEqual(t, "GetOwner "+o.ID, got, o)
	}

	want := []*agentotp.Owner{o1, o2, o3, o4}
	slices.SortFunc(want, func(a, b *agentotp.Owner) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	got, err := e.s.ListOwners(e.ctx)
	e.must(err, "ListOwners")
	if len(got) != len(want) {
		t.Fatalf("ListOwners returned %d owners; want %d", len(got), len(want))
	}
	for i := range want {
		checkEqual(t, "ListOwners[i]", got[i], want[i])
	}

	_, err = e.s.GetOwner(e.ctx, newID("own"))
	wantErr(t, err, agentotp.ErrNotFound, "GetOwner of an unknown id")

	// Not spelled out by the interface: a duplicate id is a conflict.
	err = e.s.CreateOwner(e.ctx, &agentotp.Owner{ID: o1.ID, Name: "again", CreatedAt: at(time.Hour)}, nil)
	wantErr(t, err, agentotp.ErrConflict, "CreateOwner with an existing id")
	got1, err := e.s.GetOwner(e.ctx, o1.ID)
	e.must(err, "GetOwner")
	checkEqual(t, "owner after a duplicate create", got1, o1)
}

func testAgents(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	a1, _ := e.agent(o.ID, false, at(2*time.Second))
	a2, _ := e.agent(o.ID, true, at(time.Second))
	a3, _ := e.agent(o.ID, false, at(time.Second)) // same time as a2: ordered by id
	b1, _ := e.agent(other.ID, false, at(0))

	tests := []struct {
		name     string
		owner    string
		id       string
		want     *agentotp.Agent
		notFound bool
	}{
		{"live key", o.ID, a1.ID, a1, false},
		{"test key", o.ID, a2.ID, a2, false},
		{"other owner's agent", o.ID, b1.ID, nil, true},
		{"own agent asked as other owner", other.ID, a1.ID, nil, true},
		{"unknown id", o.ID, newID("agt"), nil, true},
		{"empty owner", "", a1.ID, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.s.GetAgent(e.ctx, tt.owner, tt.id)
			if tt.notFound {
				wantErr(t, err, agentotp.ErrNotFound, "GetAgent")
				return
			}
			if err != nil {
				t.Fatalf("GetAgent: %v", err)
			}
			checkEqual(t, "GetAgent", got, tt.want)
		})
	}

	want := []*agentotp.Agent{a2, a3, a1}
	if a3.ID < a2.ID {
		want = []*agentotp.Agent{a3, a2, a1}
	}
	got, err := e.s.ListAgents(e.ctx, o.ID)
	e.must(err, "ListAgents")
	if len(got) != len(want) {
		t.Fatalf("ListAgents returned %d agents; want %d", len(got), len(want))
	}
	for i := range want {
		checkEqual(t, "ListAgents[i]", got[i], want[i])
	}
	none, err := e.s.ListAgents(e.ctx, newID("own"))
	e.must(err, "ListAgents of an unknown owner")
	if len(none) != 0 {
		t.Errorf("ListAgents of an unknown owner returned %d agents", len(none))
	}

	dup := *a1
	dup.Name = "duplicate"
	err = e.s.CreateAgent(e.ctx, &dup, nil)
	wantErr(t, err, agentotp.ErrConflict, "CreateAgent with an existing id")
}

func testSources(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	s1, _ := e.source(o.ID, agentotp.SourceKindSMS, at(time.Second))
	s2, _ := e.source(o.ID, agentotp.SourceKindEmail, at(0))
	s3, _ := e.source(o.ID, agentotp.SourceKindGeneric, at(3*time.Second))
	b1, _ := e.source(other.ID, agentotp.SourceKindSMS, at(0))

	tests := []struct {
		name     string
		owner    string
		id       string
		want     *agentotp.Source
		notFound bool
	}{
		{"sms", o.ID, s1.ID, s1, false},
		{"email", o.ID, s2.ID, s2, false},
		{"generic", o.ID, s3.ID, s3, false},
		{"other owner's source", o.ID, b1.ID, nil, true},
		{"unknown id", o.ID, newID("src"), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.s.GetSource(e.ctx, tt.owner, tt.id)
			if tt.notFound {
				wantErr(t, err, agentotp.ErrNotFound, "GetSource")
				return
			}
			if err != nil {
				t.Fatalf("GetSource: %v", err)
			}
			checkEqual(t, "GetSource", got, tt.want)
		})
	}

	got, err := e.s.ListSources(e.ctx, o.ID)
	e.must(err, "ListSources")
	want := []*agentotp.Source{s2, s1, s3}
	if len(got) != len(want) {
		t.Fatalf("ListSources returned %d sources; want %d", len(got), len(want))
	}
	for i := range want {
		checkEqual(t, "ListSources[i]", got[i], want[i])
	}

	dup := *s1
	err = e.s.CreateSource(e.ctx, &dup, nil)
	wantErr(t, err, agentotp.ErrConflict, "CreateSource with an existing id")
}

func testCredentials(t *testing.T, e *env) {
	o, ownerToken := e.owner("Ada", at(0))
	a, agentToken := e.agent(o.ID, false, at(time.Second))
	s, sourceToken := e.source(o.ID, agentotp.SourceKindSMS, at(2*time.Second))

	extraToken := newToken(agentotp.PrefixOwnerToken)
	extra := &agentotp.Credential{Hash: agentotp.HashToken(extraToken), Kind: agentotp.CredentialOwner, OwnerID: o.ID,
		Prefix: agentotp.TokenPrefix(extraToken), CreatedAt: at(time.Minute), ExpiresAt: at(time.Hour)}
	e.must(e.s.CreateCredential(e.ctx, extra), "CreateCredential")

	tests := []struct {
		name  string
		token string
		want  agentotp.Credential
	}{
		{"owner", ownerToken, agentotp.Credential{Kind: agentotp.CredentialOwner, OwnerID: o.ID, CreatedAt: at(0)}},
		{"agent", agentToken, agentotp.Credential{Kind: agentotp.CredentialAgent, OwnerID: o.ID, AgentID: a.ID, CreatedAt: at(time.Second)}},
		{"source", sourceToken, agentotp.Credential{Kind: agentotp.CredentialSource, OwnerID: o.ID, SourceID: s.ID, CreatedAt: at(2 * time.Second)}},
		{"extra with expiry", extraToken, *extra},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			want.Hash = agentotp.HashToken(tt.token)
			want.Prefix = agentotp.TokenPrefix(tt.token)
			got, err := e.s.FindCredential(e.ctx, agentotp.HashToken(tt.token))
			if err != nil {
				t.Fatalf("FindCredential: %v", err)
			}
			checkEqual(t, "FindCredential", got, &want)
			if !got.Verify(tt.token, at(30*time.Minute)) {
				t.Errorf("Verify of the stored credential failed")
			}
		})
	}
	if c, _ := e.s.FindCredential(e.ctx, agentotp.HashToken(extraToken)); c != nil && c.Verify(extraToken, at(time.Hour)) {
		t.Errorf("credential verified at its expiry")
	}

	_, err := e.s.FindCredential(e.ctx, agentotp.HashToken(newToken(agentotp.PrefixLiveKey)))
	wantErr(t, err, agentotp.ErrNotFound, "FindCredential of an unknown token")
	err = e.s.CreateCredential(e.ctx, extra)
	wantErr(t, err, agentotp.ErrConflict, "CreateCredential with an existing hash")
}

func testRotateAgentKey(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	a, key1 := e.agent(o.ID, false, at(0))
	bystander, bystanderKey := e.agent(o.ID, false, at(0))

	// An older key that ends before the grace period would, and a revoked one.
	key0 := newToken(agentotp.PrefixLiveKey)
	e.must(e.s.CreateCredential(e.ctx, &agentotp.Credential{Hash: agentotp.HashToken(key0), Kind: agentotp.CredentialAgent,
		OwnerID: o.ID, AgentID: a.ID, Prefix: agentotp.TokenPrefix(key0), CreatedAt: at(0), ExpiresAt: at(30 * time.Second)}), "CreateCredential")
	keyX := newToken(agentotp.PrefixLiveKey)
	e.must(e.s.CreateCredential(e.ctx, &agentotp.Credential{Hash: agentotp.HashToken(keyX), Kind: agentotp.CredentialAgent,
		OwnerID: o.ID, AgentID: a.ID, Prefix: agentotp.TokenPrefix(keyX), CreatedAt: at(0), RevokedAt: at(time.Second)}), "CreateCredential")

	key2 := newToken(agentotp.PrefixLiveKey)
	rotated := *a
	rotated.KeyPrefix = agentotp.TokenPrefix(key2)
	rotated.WebhookSecret = newToken(agentotp.PrefixWebhook)
	cred2 := &agentotp.Credential{Hash: agentotp.HashToken(key2), Kind: agentotp.CredentialAgent, OwnerID: o.ID,
		AgentID: a.ID, Prefix: rotated.KeyPrefix, CreatedAt: at(time.Minute)}
	ends := at(time.Minute + time.Hour)

	// Refused for another owner and for an unknown agent, changing nothing.
	stolen := rotated
	stolen.OwnerID = other.ID
	err := e.s.RotateAgentKey(e.ctx, &stolen, cred2, ends, entry(other.ID, agentotp.AuditAgentRotated, at(time.Minute)))
	wantErr(t, err, agentotp.ErrNotFound, "RotateAgentKey of another owner's agent")
	unknown := rotated
	unknown.ID = newID("agt")
	err = e.s.RotateAgentKey(e.ctx, &unknown, cred2, ends)
	wantErr(t, err, agentotp.ErrNotFound, "RotateAgentKey of an unknown agent")
	if _, err := e.s.FindCredential(e.ctx, cred2.Hash); err == nil {
		t.Errorf("a refused rotation stored the new credential")
	}
	c1, err := e.s.FindCredential(e.ctx, agentotp.HashToken(key1))
	e.must(err, "FindCredential")
	if !c1.ExpiresAt.IsZero() {
		t.Errorf("a refused rotation set the old key's ExpiresAt to %v", c1.ExpiresAt)
	}

	ae := entry(o.ID, agentotp.AuditAgentRotated, at(time.Minute))
	ae.AgentID = a.ID
	e.must(e.s.RotateAgentKey(e.ctx, &rotated, cred2, ends, ae), "RotateAgentKey")

	got, err := e.s.GetAgent(e.ctx, o.ID, a.ID)
	e.must(err, "GetAgent")
	checkEqual(t, "rotated agent", got, &rotated)

	tests := []struct {
		name      string
		token     string
		expiresAt time.Time
		validAt   []time.Duration
		invalidAt []time.Duration
	}{
		{"current key gets the grace period", key1, ends,
			[]time.Duration{time.Minute, time.Hour}, []time.Duration{time.Minute + time.Hour, 2 * time.Hour}},
		{"earlier expiry is kept", key0, at(30 * time.Second),
			[]time.Duration{0}, []time.Duration{30 * time.Second, time.Hour}},
		{"new key", key2, time.Time{},
			[]time.Duration{time.Minute, 2 * time.Hour, 1000 * time.Hour}, nil},
		{"other agent untouched", bystanderKey, time.Time{},
			[]time.Duration{2 * time.Hour}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := e.s.FindCredential(e.ctx, agentotp.HashToken(tt.token))
			if err != nil {
				t.Fatalf("FindCredential: %v", err)
			}
			if !c.ExpiresAt.Equal(tt.expiresAt) {
				t.Errorf("ExpiresAt = %v; want %v", c.ExpiresAt, tt.expiresAt)
			}
			for _, d := range tt.validAt {
				if !c.Verify(tt.token, at(d)) {
					t.Errorf("not valid at +%v", d)
				}
			}
			for _, d := range tt.invalidAt {
				if c.Verify(tt.token, at(d)) {
					t.Errorf("still valid at +%v", d)
				}
			}
		})
	}
	cx, err := e.s.FindCredential(e.ctx, agentotp.HashToken(keyX))
	e.must(err, "FindCredential")
	if !cx.RevokedAt.Equal(at(time.Second)) || cx.Verify(keyX, at(time.Second)) {
		t.Errorf("revoked key: RevokedAt %v, or it verifies", cx.RevokedAt)
	}
	if got, _ := e.s.GetAgent(e.ctx, o.ID, bystander.ID); got == nil || got.KeyPrefix != bystander.KeyPrefix {
		t.Errorf("rotation changed another agent: %+v", got)
	}

	entries, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: o.ID, Action: agentotp.AuditAgentRotated})
	e.must(err, "ListAudit")
	if len(entries) != 1 || entries[0].ID != ae.ID {
		t.Errorf("rotation audit entries: %+v; want only %s", entries, ae.ID)
	}
	if entries, _ := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: other.ID, Action: agentotp.AuditAgentRotated}); len(entries) != 0 {
		t.Errorf("a refused rotation appended audit: %+v", entries)
	}
}

func testRevokeAgent(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	a, key1 := e.agent(o.ID, false, at(0))
	key2 := newToken(agentotp.PrefixLiveKey)
	e.must(e.s.CreateCredential(e.ctx, &agentotp.Credential{Hash: agentotp.HashToken(key2), Kind: agentotp.CredentialAgent,
		OwnerID: o.ID, AgentID: a.ID, Prefix: agentotp.TokenPrefix(key2), CreatedAt: at(0), ExpiresAt: at(time.Hour)}), "CreateCredential")
	keep, keepKey := e.agent(o.ID, false, at(0))
	b, bKey := e.agent(other.ID, false, at(0))

	revokeAt := at(10 * time.Minute)
	tests := []struct {
		name  string
		owner string
		id    string
	}{
		{"another owner's agent", o.ID, b.ID},
		{"own agent named by another owner", other.ID, a.ID},
		{"unknown agent", o.ID, newID("agt")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.s.RevokeAgent(e.ctx, tt.owner, tt.id, revokeAt, entry(tt.owner, agentotp.AuditAgentRevoked, revokeAt))
			wantErr(t, err, agentotp.ErrNotFound, "RevokeAgent")
		})
	}
	if n := countAudit(e, o.ID, agentotp.AuditAgentRevoked) + countAudit(e, other.ID, agentotp.AuditAgentRevoked); n != 0 {
		t.Errorf("refused revocations appended %d audit entries", n)
	}

	ae := entry(o.ID, agentotp.AuditAgentRevoked, revokeAt)
	ae.AgentID = a.ID
	e.must(e.s.RevokeAgent(e.ctx, o.ID, a.ID, revokeAt, ae), "RevokeAgent")
	if n := countAudit(e, o.ID, agentotp.AuditAgentRevoked); n != 1 {
		t.Errorf("RevokeAgent appended %d audit entries; want 1", n)
	}

	got, err := e.s.GetAgent(e.ctx, o.ID, a.ID)
	e.must(err, "GetAgent")
	if !got.RevokedAt.Equal(revokeAt) || got.Active() {
		t.Errorf("revoked agent: RevokedAt %v; want %v", got.RevokedAt, revokeAt)
	}
	for _, tok := range []string{key1, key2} {
		c, err := e.s.FindCredential(e.ctx, agentotp.HashToken(tok))
		e.must(err, "FindCredential")
		if !c.RevokedAt.Equal(revokeAt) {
			t.Errorf("credential %s: RevokedAt %v; want %v", c.Prefix, c.RevokedAt, revokeAt)
		}
		if c.Verify(tok, revokeAt) {
			t.Errorf("credential %s verifies after revocation", c.Prefix)
		}
	}
	for _, k := range []struct {
		owner, id, token string
	}{{o.ID, keep.ID, keepKey}, {other.ID, b.ID, bKey}} {
		ag, err := e.s.GetAgent(e.ctx, k.owner, k.id)
		e.must(err, "GetAgent")
		c, err := e.s.FindCredential(e.ctx, agentotp.HashToken(k.token))
		e.must(err, "FindCredential")
		if !ag.Active() || !c.RevokedAt.IsZero() {
			t.Errorf("revoking %s touched agent %s", a.ID, k.id)
		}
	}
}

func testRevokeSource(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	s, tok := e.source(o.ID, agentotp.SourceKindEmail, at(0))
	keep, keepTok := e.source(o.ID, agentotp.SourceKindSMS, at(0))
	b, _ := e.source(other.ID, agentotp.SourceKindSMS, at(0))
	revokeAt := at(time.Hour)

	for _, tt := range []struct {
		name, owner, id string
	}{
		{"another owner's source", o.ID, b.ID},
		{"own source named by another owner", other.ID, s.ID},
		{"unknown source", o.ID, newID("src")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.s.RevokeSource(e.ctx, tt.owner, tt.id, revokeAt)
			wantErr(t, err, agentotp.ErrNotFound, "RevokeSource")
		})
	}

	ae := entry(o.ID, agentotp.AuditSourceRevoked, revokeAt)
	ae.SourceID = s.ID
	e.must(e.s.RevokeSource(e.ctx, o.ID, s.ID, revokeAt, ae), "RevokeSource")
	got, err := e.s.GetSource(e.ctx, o.ID, s.ID)
	e.must(err, "GetSource")
	if !got.RevokedAt.Equal(revokeAt) || got.Active() {
		t.Errorf("revoked source: RevokedAt %v; want %v", got.RevokedAt, revokeAt)
	}
	c, err := e.s.FindCredential(e.ctx, agentotp.HashToken(tok))
	e.must(err, "FindCredential")
	if !c.RevokedAt.Equal(revokeAt) || c.Verify(tok, revokeAt) {
		t.Errorf("source credential: RevokedAt %v; want %v", c.RevokedAt, revokeAt)
	}
	kept, err := e.s.GetSource(e.ctx, o.ID, keep.ID)
	e.must(err, "GetSource")
	kc, err := e.s.FindCredential(e.ctx, agentotp.HashToken(keepTok))
	e.must(err, "FindCredential")
	if !kept.Active() || !kc.RevokedAt.IsZero() {
		t.Errorf("revoking %s touched source %s", s.ID, keep.ID)
	}
	if n := countAudit(e, o.ID, agentotp.AuditSourceRevoked); n != 1 {
		t.Errorf("RevokeSource appended %d audit entries; want 1", n)
	}
}

// countAudit counts the owner's audit entries with the action.
func countAudit(e *env, ownerID, action string) int {
	e.t.Helper()
	entries, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: ownerID, Action: action})
	e.must(err, "ListAudit")
	return len(entries)
}
