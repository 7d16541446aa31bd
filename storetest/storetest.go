// Package storetest is the test suite of [agentotp.Store]. A backend (today
// the one in package sqlite) runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) agentotp.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"), nil)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite checks behaviour through the interface only. Where the
// interface leaves a choice to the backend it checks nothing (the form of a
// cursor, the order of due requests).
//
// Times given to the store are mostly whole microseconds in UTC; a backend
// may return them in any location. The exception is an audit entry's At,
// which the suite also gives with nanoseconds: a backend that keeps
// microseconds must truncate At before it computes the entry's hash, or the
// chain it returns does not verify.
//
// Choices the suite pins down beyond the interface's comments: a Create of
// an existing id (or credential hash) wraps agentotp.ErrConflict;
// CreateRequest keeps the Version it is given; a request in a final status
// is stored without ciphertext even if the caller left some in it; and
// RecordMessage with an empty external id always reports a new message.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// Run runs the suite as subtests of t. open must return a new, empty store
// for the (sub)test it is given; Run closes it when that test ends.
func Run(t *testing.T, open func(t *testing.T) agentotp.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Owners", testOwners},
		{"Agents", testAgents},
		{"Sources", testSources},
		{"Credentials", testCredentials},
		{"ReplaceOwnerTokens", testReplaceOwnerTokens}, // owner_tokens.go
		{"RotateAgentKey", testRotateAgentKey},
		{"RevokeAgent", testRevokeAgent},
		{"RevokeSource", testRevokeSource},
		{"RequestRoundTrip", testRequestRoundTrip},
		{"RequestLifecycle", testRequestLifecycle},
		{"UpdateRequestConflict", testUpdateRequestConflict},
		{"UpdateRequestRace", testUpdateRequestRace},
		{"ListRequests", testListRequests},
		{"ListRequestsLimit", testListRequestsLimit},
		{"ListRequestsBadCursor", testListRequestsBadCursor},
		{"ListLiveRequests", testListLiveRequests},
		{"ListDueRequests", testListDueRequests},
		{"RecordMessage", testRecordMessage},
		{"DeliverMessage", testDeliverMessage},
		{"SourceKeys", testSourceKeys},
		{"MessageSeen", testMessageSeen},
		{"IMAP", testIMAP},
		{"AuditChain", testAuditChain},
		{"AuditQuery", testAuditQuery},
		{"AuditConcurrent", testAuditConcurrent},
		{"Context", testContext},
		{"Policy", testPolicy},
		{"Telegram", testTelegram},
		{"Dashboard", testDashboard},
		{"Webhooks", testWebhooks},
		{"SigningKeys", testSigningKeys},
		{"Enrollments", testEnrollments}, // enroll.go
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, &env{t: t, s: s, ctx: t.Context()})
		})
	}
}

// env is one subtest's store and its fixtures.
type env struct {
	t   *testing.T
	s   agentotp.Store
	ctx context.Context
}

// newID returns a fresh random id with the given prefix.
func newID(prefix string) string { return prefix + "_" + rand.Text() }

// newToken returns a fresh token with the given prefix.
func newToken(prefix string) string { return prefix + rand.Text() + rand.Text() }

// at returns the suite's fixed "now", a whole number of microseconds, plus
// d.
func at(d time.Duration) time.Time {
	return time.Date(2031, time.March, 4, 5, 6, 7, 891011000, time.UTC).Add(d)
}

// entry returns an audit entry of the owner with the given action.
func entry(ownerID, action string, when time.Time) agentotp.AuditEntry {
	return agentotp.AuditEntry{ID: newID("aud"), OwnerID: ownerID, At: when, Actor: agentotp.ActorOwner, Action: action}
}

// owner creates an owner created at when, with an owner token credential
// and an owner.created audit entry.
func (e *env) owner(name string, when time.Time) (*agentotp.Owner, string) {
	e.t.Helper()
	o := &agentotp.Owner{ID: newID("own"), Name: name, CreatedAt: when}
	token := newToken(agentotp.PrefixOwnerToken)
	cred := &agentotp.Credential{Hash: agentotp.HashToken(token), Kind: agentotp.CredentialOwner, OwnerID: o.ID,
		Prefix: agentotp.TokenPrefix(token), CreatedAt: when}
	if err := e.s.CreateOwner(e.ctx, o, cred, entry(o.ID, agentotp.AuditOwnerCreated, when)); err != nil {
		e.t.Fatalf("CreateOwner: %v", err)
	}
	return o, token
}

// agent creates an agent of the owner with an API key credential and an
// agent.created audit entry.
func (e *env) agent(ownerID string, test bool, when time.Time) (*agentotp.Agent, string) {
	e.t.Helper()
	prefix := agentotp.PrefixLiveKey
	if test {
		prefix = agentotp.PrefixTestKey
	}
	token := newToken(prefix)
	a := &agentotp.Agent{ID: newID("agt"), OwnerID: ownerID, Name: "agent " + token[len(prefix):len(prefix)+4], Test: test,
		KeyPrefix: agentotp.TokenPrefix(token), WebhookSecret: newToken(agentotp.PrefixWebhook), CreatedAt: when}
	cred := &agentotp.Credential{Hash: agentotp.HashToken(token), Kind: agentotp.CredentialAgent, OwnerID: ownerID,
		AgentID: a.ID, Prefix: a.KeyPrefix, CreatedAt: when}
	ae := entry(ownerID, agentotp.AuditAgentCreated, when)
	ae.AgentID = a.ID
	if err := e.s.CreateAgent(e.ctx, a, cred, ae); err != nil {
		e.t.Fatalf("CreateAgent: %v", err)
	}
	return a, token
}

// source creates a capture source of the owner with a source token
// credential and a source.created audit entry.
func (e *env) source(ownerID, kind string, when time.Time) (*agentotp.Source, string) {
	e.t.Helper()
	token := newToken(agentotp.PrefixSourceToken)
	s := &agentotp.Source{ID: newID("src"), OwnerID: ownerID, Name: kind + " source", Kind: kind,
		KeyPrefix: agentotp.TokenPrefix(token), CreatedAt: when}
	cred := &agentotp.Credential{Hash: agentotp.HashToken(token), Kind: agentotp.CredentialSource, OwnerID: ownerID,
		SourceID: s.ID, Prefix: s.KeyPrefix, CreatedAt: when}
	ae := entry(ownerID, agentotp.AuditSourceCreated, when)
	ae.SourceID = s.ID
	if err := e.s.CreateSource(e.ctx, s, cred, ae); err != nil {
		e.t.Fatalf("CreateSource: %v", err)
	}
	return s, token
}

// newRequest returns (without storing it) a pending request of the agent
// created at when.
func newRequest(a *agentotp.Agent, when time.Time) *agentotp.Request {
	return &agentotp.Request{
		ID:             newID("otp"),
		OwnerID:        a.OwnerID,
		AgentID:        a.ID,
		Test:           a.Test,
		Status:         agentotp.StatusPending,
		Reason:         "sign up at acme.com",
		ExpectedSender: "noreply@acme.com",
		Filter:         agentotp.Filter{Sources: []agentotp.Channel{agentotp.ChannelEmail}, SenderPattern: "*@acme.com"},
		Encryption:     "RSA-OAEP-256",
		PublicKey:      "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
		KeyFingerprint: "SHA256:3q2+7w",
		CreatedAt:      when,
		ExpiresAt:      when.Add(agentotp.DefaultTTL),
		UpdatedAt:      when,
	}
}

// metadata returns the description of a message received at when.
func metadata(when time.Time) agentotp.MessageMetadata {
	return agentotp.MessageMetadata{MessageID: newID("msg"), Source: agentotp.ChannelEmail, Sender: "Acme <noreply@acme.com>",
		Subject: "Your code", ReceivedAt: when, Confidence: 0.97, Domain: "acme.com"}
}

// createRequest stores r.
func (e *env) createRequest(r *agentotp.Request) {
	e.t.Helper()
	ae := entry(r.OwnerID, agentotp.AuditRequestCreated, r.CreatedAt)
	ae.Actor, ae.RequestID, ae.AgentID = agentotp.ActorAgent(r.AgentID), r.ID, r.AgentID
	if err := e.s.CreateRequest(e.ctx, r, ae); err != nil {
		e.t.Fatalf("CreateRequest %s: %v", r.ID, err)
	}
}

// update stores r, changed since it had version prev, and checks that its
// version moved on.
func (e *env) update(r *agentotp.Request, prev int64, audit ...agentotp.AuditEntry) {
	e.t.Helper()
	if err := e.s.UpdateRequest(e.ctx, r, prev, audit...); err != nil {
		e.t.Fatalf("UpdateRequest %s (version %d, status %s): %v", r.ID, prev, r.Status, err)
	}
	if r.Version != prev+1 {
		e.t.Fatalf("UpdateRequest set Version %d; want %d", r.Version, prev+1)
	}
}

// checkRequest reads a request and checks that it equals want.
func (e *env) checkRequest(want *agentotp.Request) {
	e.t.Helper()
	got, err := e.s.GetRequest(e.ctx, want.ID)
	if err != nil {
		e.t.Fatalf("GetRequest %s: %v", want.ID, err)
	}
	if diff := diffRequest(got, want); diff != "" {
		e.t.Errorf("GetRequest %s differs from what was stored:\n%s", want.ID, diff)
	}
}

// must fails the test on a non-nil error.
func (e *env) must(err error, what string) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
}

// wantErr checks that err wraps target.
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v; want one wrapping %v", what, err, target)
	}
}

// utc normalizes a time for comparison: UTC, no monotonic reading.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

// normRequest returns a copy of r with its times in UTC and its empty
// slices nil, so that reflect.DeepEqual compares meaning.
func normRequest(r *agentotp.Request) agentotp.Request {
	c := *r
	c.CreatedAt, c.ExpiresAt, c.DecidedAt = utc(c.CreatedAt), utc(c.ExpiresAt), utc(c.DecidedAt)
	c.ConsumedAt, c.UpdatedAt = utc(c.ConsumedAt), utc(c.UpdatedAt)
	c.Filter.ReceivedAfter = utc(c.Filter.ReceivedAfter)
	if len(c.Filter.Sources) == 0 {
		c.Filter.Sources = nil
	}
	if c.Metadata != nil {
		md := *c.Metadata
		md.ReceivedAt = utc(md.ReceivedAt)
		c.Metadata = &md
	}
	if len(c.Payload) == 0 {
		c.Payload = nil
	}
	if len(c.Content) == 0 {
		c.Content = nil
	}
	return c
}

// diffRequest describes how got differs from want, or returns "".
func diffRequest(got, want *agentotp.Request) string {
	g, w := normRequest(got), normRequest(want)
	if reflect.DeepEqual(g, w) {
		return ""
	}
	return diffFields(g, w)
}

// diffFields lists the differing fields of two structs of the same type.
func diffFields(got, want any) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	s := ""
	for i := range gv.NumField() {
		gf, wf := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(gf, wf) {
			s += fmt.Sprintf("  %s: got %s, want %s\n", gv.Type().Field(i).Name, show(gf), show(wf))
		}
	}
	return s
}

// show formats a field value for a diff.
func show(v any) string {
	switch v := v.(type) {
	case []byte:
		return fmt.Sprintf("%q", v)
	case *agentotp.MessageMetadata:
		if v == nil {
			return "nil"
		}
		return fmt.Sprintf("%+v", *v)
	}
	return fmt.Sprintf("%+v", v)
}

// ids returns the ids of requests.
func ids(rs []*agentotp.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
