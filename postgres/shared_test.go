package postgres

// Tests of what must hold when several relays share one database: each
// opens two or three *Store handles on one test database.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/pgtest"
)

// fixture is a test database shared by several store handles, with one
// owner and one agent.
type fixture struct {
	t       *testing.T
	url     string
	handles []*Store
	owner   *agentotp.Owner
	agent   *agentotp.Agent
	apiKey  string // the agent's API key, stored only as a hash
}

// newFixture opens n handles on a fresh database (options apply to each)
// and stores an owner and an agent through the first.
func newFixture(t *testing.T, n int, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{t: t, url: pgtest.URL(t)}
	box := testBox(t)
	for range n {
		s, err := Open(t.Context(), f.url, nil, append([]Option{WithSecretBox(box)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f.handles = append(f.handles, s)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	f.owner = &agentotp.Owner{ID: agentotp.NewID("own_"), Name: "Ada", CreatedAt: now}
	if err := f.handles[0].CreateOwner(t.Context(), f.owner, nil); err != nil {
		t.Fatal(err)
	}
	f.agent, f.apiKey = f.newAgent()
	return f
}

// newAgent stores another agent of the owner, with an API key and a
// webhook URL.
func (f *fixture) newAgent() (*agentotp.Agent, string) {
	f.t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	key := agentotp.NewToken(agentotp.PrefixLiveKey)
	a := &agentotp.Agent{ID: agentotp.NewID("agt_"), OwnerID: f.owner.ID, Name: "bot", KeyPrefix: agentotp.TokenPrefix(key),
		WebhookSecret: agentotp.NewToken(agentotp.PrefixWebhook), WebhookURL: "https://hooks.example/" + agentotp.NewID(""), CreatedAt: now}
	cred := &agentotp.Credential{Hash: agentotp.HashToken(key), Kind: agentotp.CredentialAgent, OwnerID: f.owner.ID,
		AgentID: a.ID, Prefix: a.KeyPrefix, CreatedAt: now}
	if err := f.handles[0].CreateAgent(f.t.Context(), a, cred); err != nil {
		f.t.Fatal(err)
	}
	return a, key
}

// request returns (without storing it) a pending request of agent a.
func (f *fixture) request(a *agentotp.Agent) *agentotp.Request {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &agentotp.Request{ID: agentotp.NewID("otp_"), OwnerID: a.OwnerID, AgentID: a.ID, Status: agentotp.StatusPending,
		Reason: "sign up", Filter: agentotp.Filter{Sources: []agentotp.Channel{agentotp.ChannelEmail}},
		Encryption: "RSA-OAEP-256", PublicKey: "MIIB", KeyFingerprint: "SHA256:x",
		CreatedAt: now, ExpiresAt: now.Add(agentotp.DefaultTTL), UpdatedAt: now}
}

// audit returns an audit entry of the owner about request r.
func (f *fixture) audit(action string, r *agentotp.Request) agentotp.AuditEntry {
	e := agentotp.AuditEntry{ID: agentotp.NewID("aud_"), OwnerID: f.owner.ID, At: time.Now(), Actor: agentotp.ActorOwner, Action: action}
	if r != nil {
		e.RequestID, e.AgentID = r.ID, r.AgentID
	}
	return e
}

// create stores r through handle h.
func (f *fixture) create(h int, r *agentotp.Request) {
	f.t.Helper()
	if err := f.handles[h].CreateRequest(f.t.Context(), r, f.audit(agentotp.AuditRequestCreated, r)); err != nil {
		f.t.Fatal(err)
	}
}

// received stores a request of the agent that holds a sealed code, and
// returns it as stored.
func (f *fixture) received() *agentotp.Request {
	f.t.Helper()
	r := f.request(f.agent)
	f.create(0, r)
	if err := r.Approve(agentotp.DecidedByOwner, time.Now()); err != nil {
		f.t.Fatal(err)
	}
	f.update(1, r, f.audit(agentotp.AuditRequestApproved, r))
	if err := r.Match([]byte("sealed code"), nil, agentotp.MessageMetadata{Source: agentotp.ChannelEmail}, time.Now()); err != nil {
		f.t.Fatal(err)
	}
	f.update(2%len(f.handles), r)
	return r
}

// update writes r through handle h.
func (f *fixture) update(h int, r *agentotp.Request, audit ...agentotp.AuditEntry) {
	f.t.Helper()
	if err := f.handles[h].UpdateRequest(f.t.Context(), r, r.Version, audit...); err != nil {
		f.t.Fatal(err)
	}
}

// listener is a raw LISTEN connection on ChangesChannel.
type listener struct {
	t    *testing.T
	conn *pgx.Conn
}

func (f *fixture) listen() *listener {
	f.t.Helper()
	conn, err := pgx.Connect(f.t.Context(), f.url)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(f.t.Context(), "LISTEN "+ChangesChannel); err != nil {
		f.t.Fatal(err)
	}
	return &listener{t: f.t, conn: conn}
}

// next returns the payload of the next note.
func (l *listener) next() string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(l.t.Context(), 30*time.Second)
	defer cancel()
	n, err := l.conn.WaitForNotification(ctx)
	if err != nil {
		l.t.Fatalf("waiting for a note: %v", err)
	}
	return n.Payload
}

// nextChange returns the next note, decoded.
func (l *listener) nextChange() agentotp.Change {
	l.t.Helper()
	p := l.next()
	c, err := decodeChange(p)
	if err != nil {
		l.t.Fatalf("note %q: %v", p, err)
	}
	return c
}

// sentinel sends a note that is not a change, from a connection of its
// own; a listener that hears it has heard every note committed before.
func (f *fixture) sentinel(payload string) {
	f.t.Helper()
	if _, err := f.handles[0].pool.Exec(f.t.Context(), `SELECT pg_notify($1, $2)`, ChangesChannel, payload); err != nil {
		f.t.Fatal(err)
	}
}

// TestChangeNotes: every write of a request or an enrollment, through any
// handle, sends one note that names it, with its last audit entry and the
// handle's instance; a write that fails sends none.
func TestChangeNotes(t *testing.T) {
	f := newFixture(t, 3)
	l := f.listen()
	ctx := t.Context()
	check := func(what string, h int, kind, id, action string) {
		t.Helper()
		c := l.nextChange()
		if c.Kind != kind || c.ID != id || c.OwnerID != f.owner.ID || c.Origin != f.handles[h].Instance() || c.Action != action {
			t.Errorf("%s: note %+v; want kind %s id %s action %q origin %s", what, c, kind, id, action, f.handles[h].Instance())
		}
		if action != "" && (c.At.IsZero() || c.Actor != agentotp.ActorOwner) {
			t.Errorf("%s: note %+v lacks the audit entry's actor or time", what, c)
		}
	}

	r := f.request(f.agent)
	f.create(0, r)
	check("CreateRequest", 0, agentotp.ChangeRequest, r.ID, agentotp.AuditRequestCreated)

	if err := r.Approve(agentotp.DecidedByOwner, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.update(1, r, f.audit(agentotp.AuditRequestApproved, r))
	check("UpdateRequest", 1, agentotp.ChangeRequest, r.ID, agentotp.AuditRequestApproved)

	// A stale version fails and sends nothing: the next note is the
	// sentinel.
	stale := *r
	if err := f.handles[2].UpdateRequest(ctx, &stale, r.Version-1); !errors.Is(err, agentotp.ErrConflict) {
		t.Fatalf("stale UpdateRequest: %v", err)
	}
	f.sentinel("after the stale update")
	if p := l.next(); p != "after the stale update" {
		t.Fatalf("a failed update sent the note %q", p)
	}

	if err := r.Match([]byte("sealed"), nil, agentotp.MessageMetadata{Source: agentotp.ChannelEmail}, time.Now()); err != nil {
		t.Fatal(err)
	}
	m := agentotp.MessageRecord{SourceID: "src_1", ExternalID: "msg-1", At: time.Now()}
	if err := f.handles[2].DeliverMessage(ctx, r, r.Version, m, f.audit("request.otp_received", r)); err != nil {
		t.Fatal(err)
	}
	check("DeliverMessage", 2, agentotp.ChangeRequest, r.ID, "request.otp_received")

	capped := f.request(f.agent)
	if err := f.handles[1].CreateRequestCapped(ctx, capped, agentotp.RequestCap{AgentID: f.agent.ID, DecidedBy: "policy:x", Max: 5, Since: time.Now().Add(-time.Hour)},
		f.audit(agentotp.AuditRequestCreated, capped)); err != nil {
		t.Fatal(err)
	}
	check("CreateRequestCapped", 1, agentotp.ChangeRequest, capped.ID, agentotp.AuditRequestCreated)

	now := time.Now().UTC().Truncate(time.Microsecond)
	e := &agentotp.Enrollment{ID: agentotp.NewID("enr_"), OwnerID: f.owner.ID, Name: "new bot", UserCodeHash: agentotp.HashUserCode("ABCD-EFGH"),
		DeviceCodeHash: agentotp.HashToken(agentotp.NewToken(agentotp.PrefixDeviceCode)), Status: agentotp.EnrollmentPending,
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := f.handles[0].CreateEnrollment(ctx, e, f.audit(agentotp.AuditEnrollmentCreated, nil)); err != nil {
		t.Fatal(err)
	}
	check("CreateEnrollment", 0, agentotp.ChangeEnrollment, e.ID, agentotp.AuditEnrollmentCreated)
	e.Status, e.DecidedAt, e.DecidedBy = agentotp.EnrollmentApproved, now, agentotp.DecidedByOwner
	if err := f.handles[1].UpdateEnrollment(ctx, e, e.Version, f.audit("enrollment.approved", nil)); err != nil {
		t.Fatal(err)
	}
	check("UpdateEnrollment", 1, agentotp.ChangeEnrollment, e.ID, "enrollment.approved")
	key := agentotp.NewToken(agentotp.PrefixLiveKey)
	a := &agentotp.Agent{ID: agentotp.NewID("agt_"), OwnerID: f.owner.ID, Name: e.Name, KeyPrefix: agentotp.TokenPrefix(key), CreatedAt: now}
	cred := &agentotp.Credential{Hash: agentotp.HashToken(key), Kind: agentotp.CredentialAgent, OwnerID: f.owner.ID, AgentID: a.ID, Prefix: a.KeyPrefix, CreatedAt: now}
	e.Status, e.IssuedAt, e.AgentID = agentotp.EnrollmentIssued, now, a.ID
	if err := f.handles[2].IssueEnrollment(ctx, e, e.Version, a, cred); err != nil {
		t.Fatal(err)
	}
	check("IssueEnrollment", 2, agentotp.ChangeEnrollment, e.ID, "")
}

// TestChangeNoteAtCommit: a note is heard once its transaction commits,
// not while it runs, and never when it rolls back.
func TestChangeNoteAtCommit(t *testing.T) {
	f := newFixture(t, 1)
	s := f.handles[0]
	l := f.listen()
	ctx := t.Context()
	audit := []agentotp.AuditEntry{f.audit("request.approved", &agentotp.Request{ID: "otp_1"})}

	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := s.notifyChange(ctx, tx, agentotp.ChangeRequest, f.owner.ID, "otp_1", audit); err != nil {
			return err
		}
		// Committed meanwhile by another connection: heard first.
		f.sentinel("during")
		if p := l.next(); p != "during" {
			t.Errorf("heard %q before the commit", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := l.nextChange(); c.ID != "otp_1" || c.Action != "request.approved" || c.Origin != s.Instance() {
		t.Errorf("after the commit heard %+v", c)
	}

	errRollback := errors.New("roll back")
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if err := s.notifyChange(ctx, tx, agentotp.ChangeRequest, f.owner.ID, "otp_2", nil); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	f.sentinel("after the rollback")
	if p := l.next(); p != "after the rollback" {
		t.Errorf("a rolled-back transaction sent %q", p)
	}
}

// TestAuditChainSharedWriters: writers on three handles append to two
// owners' chains at once; each chain verifies, and Seq runs 1..N with
// neither gaps nor repeats.
func TestAuditChainSharedWriters(t *testing.T) {
	f := newFixture(t, 3)
	ctx := t.Context()
	other := &agentotp.Owner{ID: agentotp.NewID("own_"), Name: "Bob", CreatedAt: time.Now()}
	if err := f.handles[1].CreateOwner(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	owners := []string{f.owner.ID, other.ID}
	const workers, rounds = 4, 15 // per handle
	var wg sync.WaitGroup
	errs := make(chan error, len(f.handles)*workers)
	for h, s := range f.handles {
		for w := range workers {
			wg.Go(func() {
				for i := range rounds {
					e1 := agentotp.AuditEntry{ID: agentotp.NewID("aud_"), OwnerID: owners[(h+w+i)%2], At: time.Now(), Actor: agentotp.ActorOwner,
						Action: "test.append", Details: map[string]string{"h": fmt.Sprint(h), "w": fmt.Sprint(w), "i": fmt.Sprint(i)}}
					e2 := e1
					e2.ID, e2.OwnerID = agentotp.NewID("aud_"), owners[(h+w+i+1)%2]
					if err := s.AppendAudit(ctx, e1, e2); err != nil { // both chains in one transaction
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := f.handles[2].ListAudit(ctx, agentotp.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := len(f.handles) * workers * rounds * 2
	if len(all) != want {
		t.Fatalf("%d entries; want %d", len(all), want)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d: seqs are not 1..%d", i, e.Seq, want)
		}
	}
	for _, o := range owners {
		got, err := f.handles[0].ListAudit(ctx, agentotp.AuditQuery{OwnerID: o})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want/2 {
			t.Errorf("owner %s has %d entries; want %d", o, len(got), want/2)
		}
		for _, s := range f.handles {
			if b, err := s.VerifyAuditChain(ctx, o, "", got); err != nil || b != nil {
				t.Errorf("chain of %s through %s: %+v, %v", o, s.Instance(), b, err)
			}
		}
	}
}

// TestAuditLegacySeal: a store with no audit_legacy row trusts no unkeyed
// entry, and one whose row does not verify breaks every chain.
func TestAuditLegacySeal(t *testing.T) {
	f := newFixture(t, 1)
	s := f.handles[0]
	ctx := t.Context()
	if err := s.AppendAudit(ctx, f.audit("test.one", nil)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAudit(ctx, agentotp.AuditQuery{OwnerID: f.owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := s.VerifyAuditChain(ctx, f.owner.ID, "", got); err != nil || b != nil {
		t.Fatalf("fresh chain: %+v, %v", b, err)
	}
	unkeyed := slices.Clone(got)
	unkeyed[0].Chain = agentotp.AuditChainLegacy
	if b, _ := s.VerifyAuditChain(ctx, f.owner.ID, "", unkeyed); b == nil {
		t.Error("an unkeyed entry verified without a legacy seal")
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO audit_legacy (id, max_seq, heads, mac) VALUES (1, 0, '{}', 'forged')`); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.VerifyAuditChain(ctx, f.owner.ID, "", got); b == nil {
		t.Error("a forged legacy seal left the chain verifying")
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM audit_legacy`); err == nil {
		t.Error("audit_legacy row deleted")
	}
	if _, err := s.pool.Exec(ctx, `UPDATE audit SET actor = 'x'`); err == nil {
		t.Error("audit row updated")
	}
}

// TestConsumeOnceShared: 200 concurrent consumes of one request over three
// handles; exactly one succeeds, the others lose with ErrConflict, and the
// stored request holds no ciphertext.
func TestConsumeOnceShared(t *testing.T) {
	f := newFixture(t, 3)
	r := f.received()
	const n = 200
	var wins atomic.Int32
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			mine := *r
			if _, _, err := mine.Consume(time.Now()); err != nil {
				errs[i] = err
				return
			}
			<-start
			errs[i] = f.handles[i%3].UpdateRequest(t.Context(), &mine, r.Version, f.audit(agentotp.AuditRequestConsumed, &mine))
			if errs[i] == nil {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, agentotp.ErrConflict) {
			t.Errorf("consume %d: %v", i, err)
		}
	}
	if wins.Load() != 1 {
		t.Fatalf("%d consumes succeeded; want exactly 1", wins.Load())
	}
	got, err := f.handles[0].GetRequest(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != agentotp.StatusConsumed || got.Payload != nil || got.Version != r.Version+1 {
		t.Errorf("stored %s version %d payload %q", got.Status, got.Version, got.Payload)
	}
	consumed, err := f.handles[1].ListAudit(t.Context(), agentotp.AuditQuery{OwnerID: f.owner.ID, Action: agentotp.AuditRequestConsumed})
	if err != nil || len(consumed) != 1 {
		t.Errorf("%d request.consumed entries (%v); want 1", len(consumed), err)
	}
}

// TestOneMessageOneRequestShared: one message (source and external id)
// delivered at once to several requests over three handles feeds exactly
// one of them; the others get ErrDuplicateMessage and stay as they were.
func TestOneMessageOneRequestShared(t *testing.T) {
	f := newFixture(t, 3)
	ctx := t.Context()
	for round := range 10 {
		const k = 6
		a, _ := f.newAgent() // the live cap bounds each agent's waiting requests
		reqs := make([]*agentotp.Request, k)
		for i := range reqs {
			r := f.request(a)
			f.create(i%3, r)
			if err := r.Approve(agentotp.DecidedByOwner, time.Now()); err != nil {
				t.Fatal(err)
			}
			f.update((i+1)%3, r)
			reqs[i] = r
		}
		m := agentotp.MessageRecord{SourceID: "src_1", ExternalID: fmt.Sprintf("msg-%d", round), At: time.Now()}
		errs := make([]error, k)
		var wg sync.WaitGroup
		for i, r := range reqs {
			wg.Go(func() {
				mine := *r
				if err := mine.Match([]byte("sealed"), nil, agentotp.MessageMetadata{Source: agentotp.ChannelEmail}, time.Now()); err != nil {
					errs[i] = err
					return
				}
				errs[i] = f.handles[i%3].DeliverMessage(ctx, &mine, r.Version, m, f.audit("request.otp_received", &mine))
			})
		}
		wg.Wait()
		fed := 0
		for i, err := range errs {
			got, gerr := f.handles[0].GetRequest(ctx, reqs[i].ID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			switch {
			case err == nil:
				fed++
				if got.Status != agentotp.StatusReceived {
					t.Errorf("round %d: fed request %s is %s", round, got.ID, got.Status)
				}
			case errors.Is(err, agentotp.ErrDuplicateMessage):
				if got.Status != agentotp.StatusApproved || got.Version != reqs[i].Version {
					t.Errorf("round %d: refused request %s changed to %s v%d", round, got.ID, got.Status, got.Version)
				}
			default:
				t.Errorf("round %d: deliver %d: %v", round, i, err)
			}
		}
		if fed != 1 {
			t.Fatalf("round %d: the message fed %d requests; want 1", round, fed)
		}
	}
}

// TestClaimWebhooksShared: claims on three handles at once never return a
// delivery that another claim holds, nor a later delivery of a request
// whose earlier one is held; once the earlier one is done the later one
// is claimed.
func TestClaimWebhooksShared(t *testing.T) {
	f := newFixture(t, 3)
	ctx := t.Context()
	const n = 30
	first := map[string]string{} // request id -> the webhook id of its first delivery
	var a *agentotp.Agent
	for i := range n {
		if i%10 == 0 {
			a, _ = f.newAgent() // the live cap bounds each agent's waiting requests
		}
		r := f.request(a)
		f.create(i%3, r)
		if err := r.Approve(agentotp.DecidedByOwner, time.Now()); err != nil {
			t.Fatal(err)
		}
		f.update((i+1)%3, r, f.audit(agentotp.AuditRequestApproved, r))
		first[r.ID] = ""
	}
	all, err := f.handles[0].ListWebhooks(ctx, agentotp.WebhookQuery{OwnerID: f.owner.ID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2*n {
		t.Fatalf("%d deliveries queued; want at least %d (two per request)", len(all), 2*n)
	}
	slices.SortFunc(all, func(a, b *agentotp.WebhookDelivery) int { return int(a.Seq - b.Seq) })
	for _, d := range all {
		if first[d.RequestID] == "" {
			first[d.RequestID] = d.ID
		}
	}

	lease := time.Now().Add(time.Hour)
	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for w := range 9 {
		wg.Go(func() {
			for range 5 {
				got, err := f.handles[w%3].ClaimWebhooks(ctx, time.Now(), lease, 4)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, d := range got {
					claimed[d.ID]++
					if first[d.RequestID] != d.ID {
						t.Errorf("claimed %s of request %s before its first delivery %s", d.ID, d.RequestID, first[d.RequestID])
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != n {
		t.Errorf("%d deliveries claimed; want %d, the first of each request", len(claimed), n)
	}
	for id, c := range claimed {
		if c != 1 {
			t.Errorf("delivery %s claimed %d times", id, c)
		}
	}
	// The first deliveries done, the second ones come up, once each.
	for _, id := range first {
		d, err := f.handles[1].GetWebhook(ctx, f.owner.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		d.State, d.Attempts, d.DeliveredAt, d.LastAttemptAt = agentotp.DeliveryDelivered, 1, time.Now(), time.Now()
		if err := f.handles[2].SaveWebhookAttempt(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for h := range 3 {
		got, err := f.handles[h].ClaimWebhooks(ctx, time.Now(), lease, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range got {
			if seen[d.ID] || claimed[d.ID] > 0 {
				t.Errorf("delivery %s claimed again", d.ID)
			}
			seen[d.ID] = true
		}
	}
	if len(seen) < n {
		t.Errorf("%d second deliveries claimed; want at least %d", len(seen), n)
	}
}

// TestLiveCapShared: concurrent creates of one agent's requests over three
// handles never leave more than MaxLiveRequestsPerAgent waiting; the
// others are ErrLiveCap and write nothing. Final requests are not capped,
// and a request that ends makes room.
func TestLiveCapShared(t *testing.T) {
	f := newFixture(t, 3)
	ctx := t.Context()
	const tries = 3 * agentotp.MaxLiveRequestsPerAgent
	errs := make([]error, tries)
	reqs := make([]*agentotp.Request, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			reqs[i] = f.request(f.agent)
			errs[i] = f.handles[i%3].CreateRequest(ctx, reqs[i], f.audit(agentotp.AuditRequestCreated, reqs[i]))
		})
	}
	wg.Wait()
	var ok []*agentotp.Request
	for i, err := range errs {
		switch {
		case err == nil:
			ok = append(ok, reqs[i])
		case errors.Is(err, agentotp.ErrLiveCap):
			if _, gerr := f.handles[0].GetRequest(ctx, reqs[i].ID); !errors.Is(gerr, agentotp.ErrNotFound) {
				t.Errorf("a refused request was stored: %v", gerr)
			}
		default:
			t.Errorf("create %d: %v", i, err)
		}
	}
	if len(ok) != agentotp.MaxLiveRequestsPerAgent {
		t.Fatalf("%d creates succeeded; want %d", len(ok), agentotp.MaxLiveRequestsPerAgent)
	}
	var stored int
	if err := f.handles[0].pool.QueryRow(ctx, `SELECT count(*) FROM requests WHERE agent_id = $1`, f.agent.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	created, err := f.handles[0].ListAudit(ctx, agentotp.AuditQuery{OwnerID: f.owner.ID, Action: agentotp.AuditRequestCreated})
	if err != nil {
		t.Fatal(err)
	}
	if stored != len(ok) || len(created) != len(ok) {
		t.Errorf("%d requests and %d audit entries stored; want %d", stored, len(created), len(ok))
	}

	// Another agent of the owner is not held back.
	other, _ := f.newAgent()
	f.create(1, f.request(other))
	// A final request is not capped.
	done := f.request(f.agent)
	if err := done.Cancel(time.Now()); err != nil {
		t.Fatal(err)
	}
	f.create(2, done)
	// An expired one does not count, nor does one that ended.
	if err := ok[0].Cancel(time.Now()); err != nil {
		t.Fatal(err)
	}
	f.update(0, ok[0])
	f.create(1, f.request(f.agent))
	if err := f.handles[2].CreateRequest(ctx, f.request(f.agent)); !errors.Is(err, agentotp.ErrLiveCap) {
		t.Errorf("create beyond the cap after one ended and one was added: %v", err)
	}
	if _, err := f.handles[0].pool.Exec(ctx, `UPDATE requests SET expires_at = $1 WHERE id = $2`, time.Now().Add(-time.Second).UnixMicro(), ok[1].ID); err != nil {
		t.Fatal(err)
	}
	f.create(0, f.request(f.agent))
}

// TestNoPlaintextInDump: a pg_dump of a database that holds an agent's
// API key and webhook secret and an owner token contains none of them in
// the clear. (The code itself never reaches the store: the relay hands it
// only the code sealed to the agent's key.)
func TestNoPlaintextInDump(t *testing.T) {
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pg_dump is needed: ", err)
		}
		t.Skip("pg_dump is not on PATH")
	}
	f := newFixture(t, 2)
	ctx := t.Context()
	ownerToken := agentotp.NewToken(agentotp.PrefixOwnerToken)
	if err := f.handles[1].CreateCredential(ctx, &agentotp.Credential{Hash: agentotp.HashToken(ownerToken), Kind: agentotp.CredentialOwner,
		OwnerID: f.owner.ID, Prefix: agentotp.TokenPrefix(ownerToken), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	secret, err := f.handles[0].GetAgent(ctx, f.owner.ID, f.agent.ID)
	if err != nil || secret.WebhookSecret != f.agent.WebhookSecret {
		t.Fatalf("webhook secret does not read back: %v", err)
	}
	r := f.received()
	out, err := exec.CommandContext(ctx, pgDump, "--data-only", "--dbname", f.url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(out, []byte(r.ID)) {
		t.Fatal("the dump does not hold the request: not a dump of the test database")
	}
	for what, s := range map[string]string{"API key": f.apiKey, "owner token": ownerToken, "webhook secret": f.agent.WebhookSecret} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("the dump holds the %s in the clear", what)
		}
	}
}

// TestOrderIgnoresLocale: on a database whose default collation is not
// bytewise (ICU en-US puts "a" before "B"), listings still order equal
// creation times by id bytewise, as SQLite and the relay's index do, and
// the cursor of ListRequests still continues where the page ended.
func TestOrderIgnoresLocale(t *testing.T) {
	url := pgtest.URLICU(t, "en-US")
	s := openStore(t, url, testBox(t))
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	o := &agentotp.Owner{ID: "own_1", Name: "Ada", CreatedAt: now}
	a := &agentotp.Agent{ID: "agt_1", OwnerID: o.ID, Name: "bot", CreatedAt: now}
	if err := s.CreateOwner(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAgent(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	ids := []string{"otp_B", "otp_a", "otp_C", "otp_b"} // bytewise: B C a b
	for _, id := range ids {
		r := &agentotp.Request{ID: id, OwnerID: o.ID, AgentID: a.ID, Status: agentotp.StatusPending, Encryption: "RSA-OAEP-256",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), UpdatedAt: now}
		if err := s.CreateRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Sorted(slices.Values(ids))
	live, err := s.ListLiveRequests(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range live {
		got = append(got, r.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListLiveRequests order %v; want %v", got, want)
	}
	got = nil
	cursor := ""
	for {
		page, next, err := s.ListRequests(ctx, agentotp.RequestQuery{OwnerID: o.ID, Limit: 1, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			got = append(got, r.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("ListRequests pages %v; want %v", got, want)
	}
}
