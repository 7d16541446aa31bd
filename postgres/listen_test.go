package postgres

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// recorder is a Listen's resync and fn, recording what they saw.
type recorder struct {
	mu       sync.Mutex
	resyncs  int
	changes  []agentotp.Change
	inFn     int // calls of fn running now
	overlaps int // calls of fn that began while another ran
	// onResync and onChange, when set, run in each resync and each call
	// of fn (under no lock).
	onResync func(ctx context.Context)
	onChange func(c agentotp.Change)
	kick     chan struct{} // gets a value (when free) after each call
}

func newRecorder() *recorder { return &recorder{kick: make(chan struct{}, 1)} }

func (r *recorder) resync(ctx context.Context) {
	if r.onResync != nil {
		r.onResync(ctx)
	}
	r.mu.Lock()
	r.resyncs++
	r.mu.Unlock()
	r.signal()
}

func (r *recorder) fn(ctx context.Context, c agentotp.Change) {
	if r.onChange != nil {
		r.onChange(c)
	}
	r.mu.Lock()
	r.inFn++
	if r.inFn > 1 {
		r.overlaps++
	}
	r.changes = append(r.changes, c)
	r.mu.Unlock()
	time.Sleep(time.Millisecond) // widen the window for an overlap
	r.mu.Lock()
	r.inFn--
	r.mu.Unlock()
	r.signal()
}

func (r *recorder) signal() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// wait waits until cond holds (checked under r's lock), failing t after
// a generous deadline.
func (r *recorder) wait(t *testing.T, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.kick:
		case <-time.After(50 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// listen runs s.Listen with r until the end of t, and checks that it
// returns ctx's error.
func listen(t *testing.T, s *Store, r *recorder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, r.resync, r.fn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Listen returned %v; want context.Canceled", err)
		}
	})
}

// commitNote commits, through s, a transaction that sends the note of c
// as the store's writes do, after exec (when not "") in the same
// transaction.
func commitNote(s *Store, c agentotp.Change, exec string, args ...any) error {
	return s.tx(context.Background(), func(tx pgx.Tx) error {
		if exec != "" {
			if _, err := tx.Exec(context.Background(), exec, args...); err != nil {
				return err
			}
		}
		payload, err := encodeChange(c)
		if err != nil {
			return err
		}
		_, err = tx.Exec(context.Background(), `SELECT pg_notify($1, $2)`, ChangesChannel, payload)
		return err
	})
}

// sendRaw sends payload on the changes channel outside any transaction.
func sendRaw(t *testing.T, s *Store, payload string) {
	t.Helper()
	if _, err := s.pool.Exec(context.Background(), `SELECT pg_notify($1, $2)`, ChangesChannel, payload); err != nil {
		t.Fatal(err)
	}
}

// TestListenDeliversOthersChanges: a change committed on one handle
// reaches the other's fn as it was sent, and not its own; malformed notes
// are skipped; Listen returns ctx's error when ctx ends.
func TestListenDeliversOthersChanges(t *testing.T) {
	a, b := pair(t)
	ra, rb := newRecorder(), newRecorder()
	listen(t, a, ra)
	listen(t, b, rb)
	ra.wait(t, "a's first resync", func(r *recorder) bool { return r.resyncs == 1 })
	rb.wait(t, "b's first resync", func(r *recorder) bool { return r.resyncs == 1 })

	at := time.Date(2026, 12, 2, 17, 0, 0, 123456000, time.UTC)
	first := agentotp.Change{Kind: agentotp.ChangeRequest, OwnerID: "own_1", ID: "req_1",
		Action: "request.approved", Actor: "owner:own_1", At: at, Origin: a.Instance()}
	if err := commitNote(a, first, ""); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "{", "[]", `{"k":"nope","o":"x","i":"y","s":"z"}`, `{"k":"request","s":"z"}`,
		"null", `"text"`, `{"k":"request","o":"x","i":"y","s":"z","t":"soon"}`, strings.Repeat("{", 7999)} {
		sendRaw(t, a, bad)
	}
	// A transaction that rolls back sends nothing.
	tx, err := a.pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `SELECT pg_notify($1, $2)`, ChangesChannel,
		`{"k":"request","o":"own_1","i":"req_rolled_back","s":"`+a.Instance()+`"}`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := agentotp.Change{Kind: agentotp.ChangeEnrollment, OwnerID: "own_1", ID: "enr_1", Origin: a.Instance()}
	if err := commitNote(a, second, ""); err != nil {
		t.Fatal(err)
	}
	fromB := agentotp.Change{Kind: agentotp.ChangeRequest, OwnerID: "own_2", ID: "req_2", Origin: b.Instance()}
	if err := commitNote(b, fromB, ""); err != nil {
		t.Fatal(err)
	}

	rb.wait(t, "b hearing a's two changes", func(r *recorder) bool { return len(r.changes) >= 2 })
	ra.wait(t, "a hearing b's change", func(r *recorder) bool { return len(r.changes) >= 1 })
	// Notes reach each listener in commit order, so by the time a heard
	// b's change (sent last), it would have heard its own two.
	ra.mu.Lock()
	if len(ra.changes) != 1 || ra.changes[0] != fromB {
		t.Errorf("a heard %+v; want only b's change %+v", ra.changes, fromB)
	}
	ra.mu.Unlock()
	rb.mu.Lock()
	if len(rb.changes) != 2 || rb.changes[0] != first || rb.changes[1] != second {
		t.Errorf("b heard %+v; want %+v then %+v", rb.changes, first, second)
	}
	if rb.resyncs != 1 || rb.overlaps != 0 {
		t.Errorf("b: %d resyncs, %d overlapping calls of fn; want 1 and 0", rb.resyncs, rb.overlaps)
	}
	rb.mu.Unlock()
}

// listenerPID is the backend pid of s's listening connection, 0 when it
// has none.
func listenerPID(t *testing.T, s *Store) int {
	t.Helper()
	var pid int
	err := s.pool.QueryRow(context.Background(), `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, listenApplicationName+s.Instance()).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestListenReconnectLosesNothing: the listening backend is terminated
// again and again while the other handle commits changes; each time the
// listener reconnects and resyncs, and every change committed is either
// delivered to fn or read by a resync that ran after it was committed.
func TestListenReconnectLosesNothing(t *testing.T) {
	a, b := pair(t)
	ctx := context.Background()
	// No autovacuum: PostgreSQL 15's DROP DATABASE ... WITH (FORCE) at
	// cleanup cannot end an autovacuum worker for a role without
	// pg_signal_backend.
	if _, err := a.pool.Exec(ctx, `CREATE TABLE listen_test (i int PRIMARY KEY) WITH (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int]string{} // change -> how it was seen: "fn" or "resync"
	mark := func(i int, how string) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen[i]; !ok {
			seen[i] = how
		}
	}
	rb := newRecorder()
	rb.onResync = func(ctx context.Context) {
		rows, err := b.pool.Query(ctx, `SELECT i FROM listen_test`)
		if err != nil {
			t.Errorf("resync: %v", err)
			return
		}
		is, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			t.Errorf("resync: %v", err)
			return
		}
		for _, i := range is {
			mark(int(i), "resync")
		}
	}
	rb.onChange = func(c agentotp.Change) {
		i, err := strconv.Atoi(c.ID)
		if err != nil {
			t.Errorf("change of id %q", c.ID)
			return
		}
		mark(i, "fn")
	}
	listen(t, b, rb)
	rb.wait(t, "the first resync", func(r *recorder) bool { return r.resyncs == 1 })

	const n, drops = 400, 3
	var progress sync.WaitGroup
	committed := make(chan int, n)
	progress.Go(func() {
		defer close(committed)
		for i := 1; i <= n; i++ {
			c := agentotp.Change{Kind: agentotp.ChangeRequest, OwnerID: "own_1", ID: strconv.Itoa(i), Origin: a.Instance()}
			if err := commitNote(a, c, `INSERT INTO listen_test (i) VALUES ($1)`, i); err != nil {
				t.Errorf("commit %d: %v", i, err)
				return
			}
			committed <- i
			time.Sleep(2 * time.Millisecond)
		}
	})
	pids := map[int]bool{}
	var gaps []time.Duration // from each terminate to the resync after it, for the log
	for k := 1; k <= drops; k++ {
		// Let a share of the changes go by, then cut the listener.
		for i := range committed {
			if i >= k*n/(drops+1) {
				break
			}
		}
		pid := listenerPID(t, b)
		if pid == 0 || pids[pid] {
			t.Fatalf("drop %d: listener backend pid %d (earlier: %v)", k, pid, pids)
		}
		pids[pid] = true
		var ok bool
		cut := time.Now()
		if err := a.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("terminate backend %d: %v, %v", pid, ok, err)
		}
		rb.wait(t, "the resync after drop "+strconv.Itoa(k), func(r *recorder) bool { return r.resyncs == k+1 })
		gaps = append(gaps, time.Since(cut).Round(time.Millisecond))
	}
	for range committed {
	}
	progress.Wait()

	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			var missing []int
			mu.Lock()
			for i := 1; i <= n; i++ {
				if _, ok := seen[i]; !ok {
					missing = append(missing, i)
				}
			}
			mu.Unlock()
			t.Fatalf("%d of %d changes neither delivered nor resynced: %v", len(missing), n, missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.resyncs != drops+1 || rb.overlaps != 0 {
		t.Errorf("%d resyncs, %d overlapping calls of fn; want %d and 0", rb.resyncs, rb.overlaps, drops+1)
	}
	byFn := 0
	for _, how := range seen {
		if how == "fn" {
			byFn++
		}
	}
	t.Logf("%d changes: %d delivered to fn first, %d read by a resync first, over %d drops; terminate to resync: %v", n, byFn, n-byFn, drops, gaps)
	if byFn == 0 {
		t.Error("no change was delivered to fn")
	}
}

// countHandler counts the log records whose message contains substr.
type countHandler struct {
	substr string
	mu     *sync.Mutex
	n      *int
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.substr) {
		h.mu.Lock()
		*h.n++
		h.mu.Unlock()
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// TestListenRetriesUntilTheServerTakesItBack: while the database refuses
// new connections the listener keeps trying, backing off, and once it
// accepts them again the listener is back and resyncs.
func TestListenRetriesUntilTheServerTakesItBack(t *testing.T) {
	url := pgtest.URL(t)
	box := testBox(t)
	a := openStore(t, url, box)
	var mu sync.Mutex
	var attempts int
	b, err := Open(context.Background(), url, slog.New(countHandler{"reconnecting", &mu, &attempts}), WithSecretBox(box))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx := context.Background()
	// ALTER DATABASE goes through a connection to the admin URL's
	// database, as a database cannot refuse connections to itself.
	admin, err := pgx.Connect(ctx, pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	var db string
	if err := a.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	allow := func(on bool) {
		t.Helper()
		if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{db}.Sanitize()+` ALLOW_CONNECTIONS `+strconv.FormatBool(on)); err != nil {
			t.Fatal(err)
		}
	}

	rb := newRecorder()
	listen(t, b, rb)
	rb.wait(t, "the first resync", func(r *recorder) bool { return r.resyncs == 1 })
	allow(false)
	t.Cleanup(func() {
		_, _ = admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{db}.Sanitize()+` ALLOW_CONNECTIONS true`)
	})
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, listenerPID(t, b)); err != nil {
		t.Fatal(err)
	}
	// The drop and at least two refused attempts after it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := attempts
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reconnect attempts logged while the database refused connections; want 3 or more", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rb.mu.Lock()
	if rb.resyncs != 1 {
		t.Errorf("%d resyncs while no connection could be made; want 1", rb.resyncs)
	}
	rb.mu.Unlock()
	allow(true)
	rb.wait(t, "the resync after the database took connections again", func(r *recorder) bool { return r.resyncs == 2 })
	c := agentotp.Change{Kind: agentotp.ChangeRequest, OwnerID: "own_1", ID: "req_after", Origin: a.Instance()}
	if err := commitNote(a, c, ""); err != nil {
		t.Fatal(err)
	}
	rb.wait(t, "the change after the reconnect", func(r *recorder) bool { return len(r.changes) == 1 && r.changes[0] == c })
}

// TestListenConnSurvivesIdleCheck: a wait on the listening connection
// that times out (the idle check) leaves it usable, still listening: the
// ping succeeds and a note sent after it arrives.
func TestListenConnSurvivesIdleCheck(t *testing.T) {
	a, b := pair(t)
	ctx := context.Background()
	conn, err := b.listenConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ChangesChannel}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("idle wait: %v; want a deadline", err)
		}
		if conn.IsClosed() {
			t.Fatal("the idle wait closed the connection")
		}
		if err := conn.Ping(ctx); err != nil {
			t.Fatalf("ping after the idle wait: %v", err)
		}
	}
	sendRaw(t, a, `{"k":"request","o":"own_1","i":"req_1","s":"x"}`)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := conn.WaitForNotification(wctx)
	if err != nil {
		t.Fatalf("note after the idle waits: %v", err)
	}
	if c, err := decodeChange(n.Payload); err != nil || c.ID != "req_1" {
		t.Fatalf("note after the idle waits: %+v, %v", c, err)
	}
}

// TestListenHearsStoreWrites: a request that the store creates on one
// handle reaches the other handle's listener as the change the store's
// transaction recorded.
func TestListenHearsStoreWrites(t *testing.T) {
	a, b := pair(t)
	ctx := context.Background()
	rb := newRecorder()
	listen(t, b, rb)
	rb.wait(t, "the first resync", func(r *recorder) bool { return r.resyncs == 1 })

	now := time.Now().UTC().Truncate(time.Microsecond)
	owner := &agentotp.Owner{ID: "own_listen", Name: "listen", CreatedAt: now}
	ownerToken := agentotp.PrefixOwnerToken + "listen-owner-token-0123456789"
	if err := a.CreateOwner(ctx, owner, &agentotp.Credential{Hash: agentotp.HashToken(ownerToken), Kind: agentotp.CredentialOwner,
		OwnerID: owner.ID, Prefix: agentotp.TokenPrefix(ownerToken), CreatedAt: now},
		agentotp.AuditEntry{ID: "aud_1", OwnerID: owner.ID, At: now, Actor: agentotp.ActorOwner, Action: agentotp.AuditOwnerCreated}); err != nil {
		t.Fatal(err)
	}
	key := agentotp.PrefixLiveKey + "listen-agent-key-0123456789"
	agent := &agentotp.Agent{ID: "agt_listen", OwnerID: owner.ID, Name: "agent", KeyPrefix: agentotp.TokenPrefix(key),
		WebhookSecret: agentotp.PrefixWebhook + "listen-webhook-secret", CreatedAt: now}
	if err := a.CreateAgent(ctx, agent, &agentotp.Credential{Hash: agentotp.HashToken(key), Kind: agentotp.CredentialAgent,
		OwnerID: owner.ID, AgentID: agent.ID, Prefix: agent.KeyPrefix, CreatedAt: now},
		agentotp.AuditEntry{ID: "aud_2", OwnerID: owner.ID, AgentID: agent.ID, At: now, Actor: agentotp.ActorOwner, Action: agentotp.AuditAgentCreated}); err != nil {
		t.Fatal(err)
	}
	req := &agentotp.Request{ID: "otp_listen", OwnerID: owner.ID, AgentID: agent.ID, Status: agentotp.StatusPending,
		Reason: "sign up", Filter: agentotp.Filter{Sources: []agentotp.Channel{agentotp.ChannelEmail}},
		Encryption: "RSA-OAEP-256", PublicKey: "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", KeyFingerprint: "SHA256:3q2+7w",
		CreatedAt: now, ExpiresAt: now.Add(agentotp.DefaultTTL), UpdatedAt: now}
	actor := agentotp.ActorAgent(agent.ID)
	if err := a.CreateRequest(ctx, req, agentotp.AuditEntry{ID: "aud_3", OwnerID: owner.ID, AgentID: agent.ID, RequestID: req.ID,
		At: now, Actor: actor, Action: agentotp.AuditRequestCreated}); err != nil {
		t.Fatal(err)
	}
	want := agentotp.Change{Kind: agentotp.ChangeRequest, OwnerID: owner.ID, ID: req.ID,
		Action: agentotp.AuditRequestCreated, Actor: actor, At: now, Origin: a.Instance()}
	rb.wait(t, "the request's change", func(r *recorder) bool { return len(r.changes) >= 1 })
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if len(rb.changes) != 1 || rb.changes[0] != want {
		t.Fatalf("b heard %+v; want %+v", rb.changes, want)
	}
}
