package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/seal"
	"github.com/agentotp/agentotp/sqlite"
)

func newService(t *testing.T) (*relay.Service, *relay.Principal, string) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := relay.New(store, nil, relay.Config{PublicURL: "http://relay.test"})
	o, _, err := svc.EnsureOwner(ctx, "me", false)
	if err != nil {
		t.Fatal(err)
	}
	na, err := svc.CreateAgent(ctx, o.ID, "a", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, na.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	return svc, p, o.ID
}

func publicKey(t *testing.T) string {
	k, err := seal.GenerateKey(seal.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public().String()
}

type recorder struct {
	mu     sync.Mutex
	events []agentotp.RequestChange
	got    chan struct{}
}

func (r *recorder) Notify(ctx context.Context, ev agentotp.RequestChange) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.got <- struct{}{}
}

// TestSlowNotifierNeverDelays: a notifier that blocks forever neither
// delays a request's changes nor keeps other notifiers from their events.
func TestSlowNotifierNeverDelays(t *testing.T) {
	svc, p, owner := newService(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	block := make(chan struct{})
	defer close(block)
	svc.AddNotifier(relay.NotifierFunc(func(ctx context.Context, ev agentotp.RequestChange) {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}))
	svc.AddNotifier(relay.NotifierFunc(func(ctx context.Context, ev agentotp.RequestChange) { panic("a broken notifier") }))
	rec := &recorder{got: make(chan struct{}, 4096)}
	svc.AddNotifier(rec)
	done := make(chan struct{})
	go func() { svc.Run(ctx, time.Hour); close(done) }()

	key := publicKey(t)
	for i := 0; i < 750; i++ { // 1500 events: more than a notifier's queue
		r, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "r", PublicKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Cancel(ctx, p, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	last, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "r", PublicKey: key})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{last.ID}
	if _, err := svc.Decide(ctx, owner, ids[0], relay.Decision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.events)
		var last agentotp.RequestChange
		if n > 0 {
			last = rec.events[n-1]
		}
		rec.mu.Unlock()
		if last.Action == agentotp.AuditRequestApproved {
			if last.Request.ID != ids[0] || last.Request.Status != agentotp.StatusApproved || last.Actor != "owner" || last.Request.Payload != nil {
				t.Fatalf("approval event %+v", last)
			}
			break
		}
		select {
		case <-rec.got:
		case <-deadline:
			t.Fatalf("approval never reached the recorder (%d events)", n)
		}
	}
	cancel()
	<-done
}

// TestRevokeEndsRequests: revoking an agent cancels its waiting requests,
// so none of them can take a message or be approved afterwards.
func TestRevokeEndsRequests(t *testing.T) {
	svc, p, owner := newService(t)
	ctx := context.Background()
	r, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "r", PublicKey: publicKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeAgent(ctx, owner, p.AgentID); err != nil {
		t.Fatal(err)
	}
	got, err := svc.OwnerRequest(ctx, owner, r.ID)
	if err != nil || got.Status != agentotp.StatusCancelled {
		t.Fatalf("after revoke: %v %v", got.Status, err)
	}
	if _, err := svc.Decide(ctx, owner, r.ID, relay.Decision{Approve: true}); agentotp.ErrorCode(err) != agentotp.EOTPCancelled {
		t.Fatalf("approve after revoke: %v", err)
	}
}

// TestLiveCap: an agent cannot keep more than MaxLiveRequestsPerAgent
// requests waiting.
func TestLiveCap(t *testing.T) {
	svc, p, _ := newService(t)
	ctx := context.Background()
	key := publicKey(t)
	var first string
	for i := 0; i < relay.MaxLiveRequestsPerAgent; i++ {
		r, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "r", PublicKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = r.ID
		}
	}
	_, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "r", PublicKey: key})
	var e *agentotp.Error
	if !errors.As(err, &e) || e.Code != agentotp.ERateLimit || e.RetryAfter <= 0 {
		t.Fatalf("over the cap: %v", err)
	}
	if _, err := svc.Cancel(ctx, p, first); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "r", PublicKey: key}); err != nil {
		t.Fatalf("after one ended: %v", err)
	}
}

func TestAgentTextWithoutControlCharacters(t *testing.T) {
	svc, p, _ := newService(t)
	ctx := context.Background()
	for _, in := range []relay.CreateRequestInput{
		{Reason: "sign up\x1b[2K", PublicKey: publicKey(t)},
		{Reason: "ok", ExpectedSender: "Acme\r\nSHA256:fake", PublicKey: publicKey(t)},
		{Reason: "a\u0085b", PublicKey: publicKey(t)},
	} {
		if _, err := svc.CreateRequest(ctx, p, in); agentotp.ErrorCode(err) != agentotp.EValidation {
			t.Errorf("%q / %q accepted: %v", in.Reason, in.ExpectedSender, err)
		}
	}
}

// flakyStore fails the next UpdateRequest (the delivery of a message)
// once when told to, as a busy database might.
type flakyStore struct {
	agentotp.Store
	failNext bool
}

func (f *flakyStore) UpdateRequest(ctx context.Context, r *agentotp.Request, prev int64, audit ...agentotp.AuditEntry) error {
	if f.failNext {
		f.failNext = false
		return errors.New("database is busy")
	}
	return f.Store.UpdateRequest(ctx, r, prev, audit...)
}

func (f *flakyStore) DeliverMessage(ctx context.Context, r *agentotp.Request, prev int64, m agentotp.MessageRecord, audit ...agentotp.AuditEntry) error {
	if f.failNext {
		f.failNext = false
		return errors.New("database is busy")
	}
	return f.Store.DeliverMessage(ctx, r, prev, m, audit...)
}

// TestFailedMessageIsNotADuplicate: a message whose processing failed is
// taken when the source sends it again.
func TestFailedMessageIsNotADuplicate(t *testing.T) {
	ctx := context.Background()
	base, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	store := &flakyStore{Store: base}
	svc := relay.New(store, nil, relay.Config{})
	o, _, _ := svc.EnsureOwner(ctx, "me", false)
	na, _ := svc.CreateAgent(ctx, o.ID, "a", false)
	agent, _ := svc.Authenticate(ctx, na.APIKey)
	ns, _ := svc.CreateSource(ctx, o.ID, "phone", agentotp.SourceKindSMS)
	src, _ := svc.Authenticate(ctx, ns.Token)
	r, _ := svc.CreateRequest(ctx, agent, relay.CreateRequestInput{Reason: "r", PublicKey: publicKey(t)})
	svc.Decide(ctx, o.ID, r.ID, relay.Decision{Approve: true})
	msg := relay.IncomingMessage{Source: "sms", Sender: "ACME", Text: "Your code is 123987", ExternalID: "gw-1"}
	store.failNext = true
	if _, err := svc.Ingest(ctx, src, msg); err == nil {
		t.Fatal("the store failure was not reported")
	}
	res, err := svc.Ingest(ctx, src, msg)
	if err != nil || res.Duplicate || !res.Matched {
		t.Fatalf("retry: %+v %v", res, err)
	}
}

// TestNotifierAddedWhileRunning gets events too.
func TestNotifierAddedWhileRunning(t *testing.T) {
	svc, p, _ := newService(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx, time.Hour); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(20 * time.Millisecond)
	got := make(chan agentotp.RequestChange, 1)
	svc.AddNotifier(relay.NotifierFunc(func(ctx context.Context, ev agentotp.RequestChange) { got <- ev }))
	if _, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "r", PublicKey: publicKey(t)}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.Action != agentotp.AuditRequestCreated {
			t.Fatalf("event %s", ev.Action)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a notifier added while running got nothing")
	}
}

// TestApprovedRequestsFirst: a message goes to an approved request before
// an older one that still waits for approval, so an unapproved request
// cannot take the code an approved one waits for.
func TestApprovedRequestsFirst(t *testing.T) {
	svc, p, owner := newService(t)
	ctx := context.Background()
	older, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "no filter, pending", PublicKey: publicKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	newer, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "approved", PublicKey: publicKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, owner, newer.ID, relay.Decision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	ns, _ := svc.CreateSource(ctx, owner, "phone", agentotp.SourceKindSMS)
	src, _ := svc.Authenticate(ctx, ns.Token)
	if res, err := svc.Ingest(ctx, src, relay.IncomingMessage{Source: "sms", Sender: "BANK", Text: "Your code is 445566"}); err != nil || !res.Matched {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	n, _ := svc.OwnerRequest(ctx, owner, newer.ID)
	o, _ := svc.OwnerRequest(ctx, owner, older.ID)
	if n.Status != agentotp.StatusReceived || o.Held() {
		t.Fatalf("approved got %s, pending holds %v", n.Status, o.Held())
	}
}

// TestBadKeyFieldNamedOnce: a bad public key names public_key once in the
// message and once in the field list, not "public_key: public_key: …".
func TestBadKeyFieldNamedOnce(t *testing.T) {
	svc, p, _ := newService(t)
	_, err := svc.CreateRequest(context.Background(), p, relay.CreateRequestInput{Reason: "log in", PublicKey: "%%%"})
	var e *agentotp.Error
	if !errors.As(err, &e) || e.Code != agentotp.EValidation || len(e.Fields) != 1 {
		t.Fatalf("err = %v, want one field error", err)
	}
	if got := e.Error(); strings.Count(got, "public_key") != 1 || strings.Count(e.Fields[0].Message, "public_key") != 0 {
		t.Errorf("error text %q, field message %q: the field is named more than once", got, e.Fields[0].Message)
	}
}

// TestNoCodeSaysItMatched: a message that a live request's filter takes
// but that holds no code answers reason no_code; one nobody wants answers
// no_match. Neither echoes the text.
func TestNoCodeSaysItMatched(t *testing.T) {
	svc, p, owner := newService(t)
	ctx := context.Background()
	if _, err := svc.CreateRequest(ctx, p, relay.CreateRequestInput{Reason: "log in", PublicKey: publicKey(t),
		Filter: &agentotp.Filter{SenderPattern: "ACME"}}); err != nil {
		t.Fatal(err)
	}
	ns, err := svc.CreateSource(ctx, owner, "phone", "sms")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := svc.Authenticate(ctx, ns.Token)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ sender, reason string }{{"ACME", agentotp.IngestNoCode}, {"OTHER", agentotp.IngestNoMatch}} {
		res, err := svc.Ingest(ctx, sp, relay.IncomingMessage{Source: "sms", Sender: tt.sender, Text: "Welcome aboard, secretword"})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res)
		if res.Matched || res.Reason != tt.reason || strings.Contains(string(b), "secretword") {
			t.Errorf("from %s: %s, want matched false, reason %s", tt.sender, b, tt.reason)
		}
	}
}

// crashingStore dies (panics, as a process killed at that point would stop)
// at the next write that delivers a message to a request.
type crashingStore struct {
	agentotp.Store
	crash bool
}

type crashed struct{}

func (c *crashingStore) UpdateRequest(ctx context.Context, r *agentotp.Request, prev int64, audit ...agentotp.AuditEntry) error {
	if c.crash && r.Payload != nil {
		panic(crashed{})
	}
	return c.Store.UpdateRequest(ctx, r, prev, audit...)
}

func (c *crashingStore) DeliverMessage(ctx context.Context, r *agentotp.Request, prev int64, m agentotp.MessageRecord, audit ...agentotp.AuditEntry) error {
	if c.crash {
		panic(crashed{})
	}
	return c.Store.DeliverMessage(ctx, r, prev, m, audit...)
}

// TestCrashBeforeDeliveryLosesNoCode: the relay dies after it has taken a
// message but before the delivery committed; after a restart the
// source's retry of the same message is delivered, not refused as a
// duplicate (issue 13 item 2). Before the message id was recorded with the
// delivery, this retry was dropped and the code lost.
func TestCrashBeforeDeliveryLosesNoCode(t *testing.T) {
	ctx := context.Background()
	base, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	store := &crashingStore{Store: base}
	svc := relay.New(store, nil, relay.Config{})
	o, _, _ := svc.EnsureOwner(ctx, "me", false)
	na, _ := svc.CreateAgent(ctx, o.ID, "a", false)
	agent, _ := svc.Authenticate(ctx, na.APIKey)
	ns, _ := svc.CreateSource(ctx, o.ID, "phone", agentotp.SourceKindSMS)
	src, _ := svc.Authenticate(ctx, ns.Token)
	r, err := svc.CreateRequest(ctx, agent, relay.CreateRequestInput{Reason: "r", PublicKey: publicKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, o.ID, r.ID, relay.Decision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	msg := relay.IncomingMessage{Source: "sms", Sender: "ACME", Text: "Your code is 123987", ExternalID: "gw-1"}
	store.crash = true
	func() {
		defer func() {
			if _, ok := recover().(crashed); !ok {
				t.Fatal("the delivery did not reach the store")
			}
		}()
		svc.Ingest(ctx, src, msg)
	}()
	store.crash = false
	restarted := relay.New(store, nil, relay.Config{})
	res, err := restarted.Ingest(ctx, src, msg)
	if err != nil || res.Duplicate || !res.Matched {
		t.Fatalf("the retry after the crash: %+v %v; want it delivered", res, err)
	}
	again, err := restarted.Ingest(ctx, src, msg)
	if err != nil || !again.Duplicate {
		t.Fatalf("a second retry: %+v %v; want a duplicate", again, err)
	}
}
