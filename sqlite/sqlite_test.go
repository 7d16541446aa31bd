package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/sqlite"
	"github.com/agentotp/agentotp/storetest"
)

// open opens a new store in a file of t's temporary directory.
func open(t testing.TB) (*sqlite.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agentotp.db")
	db, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db, path
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) agentotp.Store {
		db, _ := open(t)
		return db
	})
}

// rawDB opens the file with a connection of its own, as another process
// (or an attacker with access to the file) would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// fixture stores an owner and an agent.
type fixture struct {
	owner *agentotp.Owner
	agent *agentotp.Agent
}

func newFixture(t testing.TB, db *sqlite.DB) fixture {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	o := &agentotp.Owner{ID: "own_" + randID(), Name: "Ada", CreatedAt: now}
	if err := db.CreateOwner(ctx, o, nil, auditEntry(o.ID, agentotp.AuditOwnerCreated)); err != nil {
		t.Fatal(err)
	}
	a := &agentotp.Agent{ID: "agt_" + randID(), OwnerID: o.ID, Name: "bot", KeyPrefix: "ak_live_abcd",
		WebhookSecret: "whsec_x", CreatedAt: now}
	if err := db.CreateAgent(ctx, a, nil, auditEntry(o.ID, agentotp.AuditAgentCreated)); err != nil {
		t.Fatal(err)
	}
	return fixture{o, a}
}

func randID() string { return rand.Text() }

func auditEntry(ownerID, action string) agentotp.AuditEntry {
	return agentotp.AuditEntry{ID: "aud_" + randID(), OwnerID: ownerID, At: time.Now(), Actor: agentotp.ActorSystem, Action: action}
}

func (f fixture) request(id string) *agentotp.Request {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &agentotp.Request{ID: id, OwnerID: f.owner.ID, AgentID: f.agent.ID, Status: agentotp.StatusPending,
		Reason: "sign up", ExpectedSender: "noreply@acme.com", Filter: agentotp.Filter{SenderPattern: "*@acme.com"},
		Encryption: "RSA-OAEP-256", PublicKey: "pk", KeyFingerprint: "fp",
		CreatedAt: now, ExpiresAt: now.Add(agentotp.DefaultTTL), UpdatedAt: now}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentotp.db")
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	db, err := sqlite.Open(ctx, path, logger)
	if err != nil {
		t.Fatal(err)
	}
	applied := strings.Count(logs.String(), "applied migration")
	if applied == 0 {
		t.Errorf("the first Open logged no migration:\n%s", logs.String())
	}
	f := newFixture(t, db)
	r := f.request("otp_reopen")
	if err := db.CreateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		logs.Reset()
		db, err = sqlite.Open(ctx, path, logger)
		if err != nil {
			t.Fatalf("re-open %d: %v", i, err)
		}
		if strings.Contains(logs.String(), "applied migration") {
			t.Errorf("re-open %d applied a migration again:\n%s", i, logs.String())
		}
		if _, err := db.GetRequest(ctx, r.ID); err != nil {
			t.Errorf("re-open %d lost the request: %v", i, err)
		}
		if _, err := db.GetOwner(ctx, f.owner.ID); err != nil {
			t.Errorf("re-open %d lost the owner: %v", i, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}

	var n int
	if err := rawDB(t, path).QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != applied {
		t.Errorf("schema_migrations has %d rows; %d migrations were applied", n, applied)
	}
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if db, err := sqlite.Open(context.Background(), p, nil); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd&chars%20")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "agentotp.db")
	db, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	newFixture(t, db)
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at the given path: %v", err)
	}
}

// TestConcurrentWrites runs 8 writers of 50 operations each, with readers
// beside them: none may fail with SQLITE_BUSY or any other error.
func TestConcurrentWrites(t *testing.T) {
	db, _ := open(t)
	defer db.Close()
	f := newFixture(t, db)
	ctx := context.Background()

	const writers, ops = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*ops*2)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.ListLiveRequests(ctx, f.owner.ID); err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
			}
		})
	}
	for w := range writers {
		wg.Go(func() {
			var mine []*agentotp.Request
			for i := range ops {
				if i%2 == 0 || len(mine) == 0 {
					r := f.request(fmt.Sprintf("otp_w%d_%d", w, i))
					if err := db.CreateRequest(ctx, r, auditEntry(f.owner.ID, agentotp.AuditRequestCreated)); err != nil {
						errs <- fmt.Errorf("writer %d: create: %w", w, err)
						continue
					}
					mine = append(mine, r)
					continue
				}
				r := mine[len(mine)-1]
				mine = mine[:len(mine)-1]
				prev := r.Version
				if err := r.Approve(agentotp.DecidedByOwner, time.Now()); err != nil {
					errs <- err
					continue
				}
				if err := db.UpdateRequest(ctx, r, prev, auditEntry(f.owner.ID, agentotp.AuditRequestApproved)); err != nil {
					errs <- fmt.Errorf("writer %d: update: %w", w, err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	entries, err := db.ListAudit(ctx, agentotp.AuditQuery{OwnerID: f.owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + writers*ops; len(entries) != want {
		t.Errorf("%d audit entries; want %d", len(entries), want)
	}
	if b, err := db.VerifyAuditChain(ctx, f.owner.ID, "", entries); err != nil || b != nil {
		t.Errorf("chain breaks: %+v %v", b, err)
	}
}

func TestAuditTamper(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*sqlite.DB, *sql.DB, []agentotp.AuditEntry) {
		db, path := open(t)
		t.Cleanup(func() { db.Close() })
		f := newFixture(t, db)
		for i := range 4 {
			e := auditEntry(f.owner.ID, agentotp.AuditPolicyChanged)
			e.Details = map[string]string{"n": fmt.Sprint(i)}
			if err := db.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		entries, err := db.ListAudit(ctx, agentotp.AuditQuery{OwnerID: f.owner.ID})
		if err != nil {
			t.Fatal(err)
		}
		if b, err := db.VerifyAuditChain(ctx, f.owner.ID, "", entries); err != nil || b != nil {
			t.Fatalf("untouched chain breaks: %+v %v", b, err)
		}
		return db, rawDB(t, path), entries
	}
	verify := func(t *testing.T, db *sqlite.DB, ownerID string) *agentotp.ChainBreak {
		entries, err := db.ListAudit(ctx, agentotp.AuditQuery{OwnerID: ownerID})
		if err != nil {
			t.Fatal(err)
		}
		b, err := db.VerifyAuditChain(ctx, ownerID, "", entries)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("triggers refuse edits", func(t *testing.T) {
		_, raw, entries := setup(t)
		if _, err := raw.Exec(`UPDATE audit SET actor = 'owner' WHERE seq = ?`, entries[2].Seq); err == nil {
			t.Error("UPDATE of an audit row succeeded")
		}
		if _, err := raw.Exec(`DELETE FROM audit WHERE seq = ?`, entries[2].Seq); err == nil {
			t.Error("DELETE of an audit row succeeded")
		}
	})
	tests := []struct {
		name     string
		trigger  string
		sql      string
		target   int // index of the row the statement changes
		breakAt  int // index of the entry VerifyChain must report
		inReason string
	}{
		{"edited details", "audit_no_update", `UPDATE audit SET details = '{"n":"9"}' WHERE seq = ?`, 3, 3, "edited"},
		{"garbled details", "audit_no_update", `UPDATE audit SET details = 'not json' WHERE seq = ?`, 3, 3, "edited"},
		{"edited time", "audit_no_update", `UPDATE audit SET at = at + 1 WHERE seq = ?`, 1, 1, "edited"},
		{"deleted row", "audit_no_delete", `DELETE FROM audit WHERE seq = ?`, 2, 3, "deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, raw, entries := setup(t)
			if _, err := raw.Exec(`DROP TRIGGER ` + tt.trigger); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(tt.sql, entries[tt.target].Seq); err != nil {
				t.Fatal(err)
			}
			b := verify(t, db, entries[0].OwnerID)
			if b == nil {
				t.Fatal("VerifyChain did not notice")
			}
			if b.Seq != entries[tt.breakAt].Seq || !strings.Contains(b.Reason, tt.inReason) {
				t.Errorf("break at seq %d (%s); want seq %d, a reason saying %q", b.Seq, b.Reason, entries[tt.breakAt].Seq, tt.inReason)
			}
		})
	}
}

// TestPayloadErased checks that the ciphertext of a request that reached a
// final status is nowhere in the database files (the database and its
// write-ahead log) once the log is checkpointed, whether the test does so
// or leaves it to the store.
func TestPayloadErased(t *testing.T) {
	// A small payload lives in the row's page; a large content spills to
	// overflow pages, which are freed when the request ends.
	payload := []byte("CIPHERTEXT-MARKER")
	content := bytes.Repeat([]byte("CONTENT-CIPHERTEXT-MARKER."), 1000)
	markers := [][]byte{payload, content[:25]}
	match := func(r *agentotp.Request) error {
		return r.Match(payload, content, agentotp.MessageMetadata{Source: agentotp.ChannelSMS, Sender: "+100"}, time.Now())
	}
	approve := func(r *agentotp.Request) error { return r.Approve(agentotp.DecidedByOwner, time.Now()) }
	consume := func(r *agentotp.Request) error {
		got, _, err := r.Consume(time.Now())
		if err == nil && !bytes.Equal(got, payload) {
			err = fmt.Errorf("Consume returned %q", got)
		}
		return err
	}
	deny := func(r *agentotp.Request) error { return r.Deny(agentotp.DecidedByOwner, "", time.Now()) }
	expire := func(r *agentotp.Request) error { return r.Expire(time.Now()) }

	tests := []struct {
		name       string
		hold       []func(*agentotp.Request) error
		finish     func(*agentotp.Request) error
		checkpoint bool // checkpoint explicitly, or wait for the store to
	}{
		{"consumed, explicit checkpoint", []func(*agentotp.Request) error{approve, match}, consume, true},
		{"consumed", []func(*agentotp.Request) error{approve, match}, consume, false},
		{"held code denied", []func(*agentotp.Request) error{match}, deny, false},
		{"received code expired", []func(*agentotp.Request) error{approve, match}, expire, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			db, path := open(t)
			defer db.Close()
			f := newFixture(t, db)

			files := func() []byte {
				var all []byte
				for _, p := range []string{path, path + "-wal"} {
					b, err := os.ReadFile(p)
					if err != nil && !errors.Is(err, os.ErrNotExist) {
						t.Fatal(err)
					}
					all = append(all, b...)
				}
				return all
			}
			checkpoint := func() {
				raw := rawDB(t, path)
				for range 10 {
					var busy, log, done int
					if err := raw.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &done); err != nil {
						t.Fatal(err)
					}
					if busy == 0 {
						return
					}
					time.Sleep(50 * time.Millisecond) // the store's own checkpoint, perhaps
				}
				t.Fatal("checkpoint stays blocked")
			}
			step := func(do func(*agentotp.Request) error, r *agentotp.Request) {
				prev := r.Version
				if err := do(r); err != nil {
					t.Fatal(err)
				}
				if err := db.UpdateRequest(ctx, r, prev); err != nil {
					t.Fatal(err)
				}
			}

			r := f.request("otp_marker")
			r.IncludeMessage = true
			if err := db.CreateRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
			for _, do := range tt.hold {
				step(do, r)
			}
			for _, m := range markers {
				if !bytes.Contains(files(), m) {
					t.Fatalf("%s is not in the files while held: the test would prove nothing", m)
				}
			}

			step(tt.finish, r)
			if tt.checkpoint {
				checkpoint()
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				b := files()
				left := ""
				for _, m := range markers {
					if i := bytes.Index(b, m); i >= 0 {
						left += fmt.Sprintf(" %s at offset %d;", m, i)
					}
				}
				if left == "" {
					return
				}
				if tt.checkpoint || time.Now().After(deadline) {
					t.Fatalf("still in the database files:%s", left)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

func BenchmarkCreateRequest(b *testing.B) {
	db, _ := open(b)
	defer db.Close()
	f := newFixture(b, db)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		r := f.request(fmt.Sprintf("otp_%d", i))
		i++
		if err := db.CreateRequest(ctx, r, auditEntry(f.owner.ID, agentotp.AuditRequestCreated)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateRequest(b *testing.B) {
	db, _ := open(b)
	defer db.Close()
	f := newFixture(b, db)
	ctx := context.Background()
	r := f.request("otp_bench")
	if err := db.CreateRequest(ctx, r); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r.UpdatedAt = time.Now()
		if err := db.UpdateRequest(ctx, r, r.Version, auditEntry(f.owner.ID, agentotp.AuditMessageHeld)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetRequest(b *testing.B) {
	db, _ := open(b)
	defer db.Close()
	f := newFixture(b, db)
	ctx := context.Background()
	const n = 1000
	for i := range n {
		if err := db.CreateRequest(ctx, f.request(fmt.Sprintf("otp_%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		if _, err := db.GetRequest(ctx, fmt.Sprintf("otp_%d", i%n)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
