package postgres_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/pgtest"
	"github.com/agentotp/agentotp/postgres"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/seal"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/sqlite"
	_ "modernc.org/sqlite"
)

// sqliteRelay is what buildSQLiteRelay made through the real relay on a
// real SQLite file, which is closed when it returns.
type sqliteRelay struct {
	dir, dbPath string
	box         *secretbox.Box
	ownerID     string
	ownerToken  string
	agentKeys   map[string]string // agent id -> API key
	agentA      string
	sourceToken string
	// approved is a live approved request of agent A, waiting for its
	// message; its key opens the code fed to it after the move.
	approved    string
	approvedKey *seal.PrivateKey
	received    string // a request holding its sealed code, not consumed
	receivedKey *seal.PrivateKey
	pending     string // a request waiting for the owner
	consumed    string // a request whose code was read
	codes       []string
}

// buildSQLiteRelay runs a relay on a SQLite store in a new data directory:
// an owner, two agents (one with a webhook URL, so the outbox fills), an
// SMS source, a policy, a time zone, a dashboard password, and requests
// in every live state and a consumed one.
func buildSQLiteRelay(t *testing.T) *sqliteRelay {
	t.Helper()
	ctx := context.Background()
	fx := &sqliteRelay{dir: t.TempDir(), agentKeys: map[string]string{}}
	fx.dbPath = filepath.Join(fx.dir, "agentotp.db")
	key, err := secretbox.LoadKey(fx.dir)
	if err != nil {
		t.Fatal(err)
	}
	if fx.box, err = secretbox.New(key); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, fx.dbPath, nil, sqlite.WithSecretBox(fx.box))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := relay.New(store, relay.NewBroker(), relay.Config{PublicURL: "http://relay.test", Secrets: fx.box})
	owner, tok, err := svc.EnsureOwner(ctx, "owner", true)
	must(t, err)
	fx.ownerID, fx.ownerToken = owner.ID, tok
	for _, name := range []string{"agent-a", "agent-b"} {
		na, err := svc.CreateAgent(ctx, owner.ID, name, false)
		must(t, err)
		fx.agentKeys[na.Agent.ID] = na.APIKey
		if name == "agent-a" {
			fx.agentA = na.Agent.ID
		}
	}
	_, err = svc.SetAgentWebhookURL(ctx, owner.ID, fx.agentA, "https://agent.example/hook")
	must(t, err)
	src, err := svc.CreateSource(ctx, owner.ID, "phone", "sms")
	must(t, err)
	fx.sourceToken = src.Token
	_, err = svc.CreatePolicy(ctx, owner.ID, agentotp.Policy{Name: "ask acme", Action: agentotp.PolicyAsk, Enabled: true,
		Conditions: agentotp.PolicyConditions{AgentID: fx.agentA}})
	must(t, err)
	_, err = svc.SetTimeZone(ctx, owner.ID, "Europe/Berlin")
	must(t, err)
	must(t, svc.SetOwnerPassword(ctx, owner.ID, "correct horse battery staple"))

	agent, err := svc.Authenticate(ctx, fx.agentKeys[fx.agentA])
	must(t, err)
	source, err := svc.Authenticate(ctx, fx.sourceToken)
	must(t, err)
	newRequest := func(sender string) (*agentotp.Request, *seal.PrivateKey) {
		k, err := seal.GenerateKey(seal.HPKEX25519)
		must(t, err)
		r, err := svc.CreateRequest(ctx, agent, relay.CreateRequestInput{Reason: "sign up at " + sender, PublicKey: k.Public().String(),
			Filter: &agentotp.Filter{SenderPattern: sender}})
		must(t, err)
		return r, k
	}
	feed := func(sender, code string) {
		res, err := svc.Ingest(ctx, source, relay.IncomingMessage{Source: agentotp.ChannelSMS, Sender: sender,
			Text: "Your " + sender + " verification code is " + code})
		must(t, err)
		if !res.Matched {
			t.Fatalf("the message from %s fed no request: %+v", sender, res)
		}
		fx.codes = append(fx.codes, code)
	}
	// Consumed: approved, fed, read.
	r, k := newRequest("ACME")
	_, err = svc.Decide(ctx, owner.ID, r.ID, relay.Decision{Approve: true})
	must(t, err)
	feed("ACME", "604918")
	c, err := svc.Consume(ctx, agent, r.ID)
	must(t, err)
	if got, err := k.Open(r.ID, c.Payload); err != nil || string(got) != "604918" {
		t.Fatalf("the code before the move: %q, %v", got, err)
	}
	fx.consumed = r.ID
	// Holding its code.
	r, fx.receivedKey = newRequest("BANK")
	_, err = svc.Decide(ctx, owner.ID, r.ID, relay.Decision{Approve: true})
	must(t, err)
	feed("BANK", "271828")
	fx.received = r.ID
	// Approved, waiting for its message.
	r, fx.approvedKey = newRequest("SHOP")
	_, err = svc.Decide(ctx, owner.ID, r.ID, relay.Decision{Approve: true})
	must(t, err)
	fx.approved = r.ID
	// Pending.
	r, _ = newRequest("MAIL")
	fx.pending = r.ID
	return fx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sqliteCounts counts the rows of every table of the SQLite file.
func sqliteCounts(t *testing.T, path string) map[string]int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	must(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	must(t, err)
	var names []string
	for rows.Next() {
		var n string
		must(t, rows.Scan(&n))
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int64{}
	for _, n := range names {
		var c int64
		must(t, db.QueryRow(`SELECT count(*) FROM "`+n+`"`).Scan(&c))
		out[n] = c
	}
	return out
}

// pgCounts counts the rows of the given tables of the store's database.
func pgCounts(t *testing.T, s *postgres.Store, tables []string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, n := range tables {
		var c int64
		must(t, s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{n}.Sanitize()).Scan(&c))
		out[n] = c
	}
	return out
}

// TestImportSQLite: a relay's SQLite data moved to PostgreSQL is there row
// for row and works as it did: the agents' keys and the owner token
// authenticate, the audit chain verifies, the request that held its code
// hands it over once, the approved one is fed and consumed, the pending
// one can be approved. A second import into the same database is refused
// and changes nothing.
func TestImportSQLite(t *testing.T) {
	ctx := context.Background()
	fx := buildSQLiteRelay(t)
	before := sqliteCounts(t, fx.dbPath)
	fileBefore, err := os.ReadFile(fx.dbPath)
	must(t, err)

	store, err := postgres.Open(ctx, pgtest.URL(t), nil, postgres.WithSecretBox(fx.box))
	must(t, err)
	defer store.Close()
	rep, err := store.ImportSQLite(ctx, fx.dbPath)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if fileAfter, _ := os.ReadFile(fx.dbPath); !bytes.Equal(fileBefore, fileAfter) {
		t.Error("the import changed the SQLite file")
	}

	// Counts: every table copied whole (nothing here is expired), and the
	// report says so.
	var tables []string
	for _, tb := range rep.Tables {
		tables = append(tables, tb.Table)
		if tb.Copied != before[tb.Table] || tb.Skipped != 0 {
			t.Errorf("%s: report says %d copied, %d skipped; SQLite holds %d", tb.Table, tb.Copied, tb.Skipped, before[tb.Table])
		}
	}
	after := pgCounts(t, store, tables)
	for _, n := range tables {
		if after[n] != before[n] {
			t.Errorf("%s: %d rows in SQLite, %d in PostgreSQL", n, before[n], after[n])
		}
	}
	for _, n := range []string{"owners", "agents", "sources", "credentials", "requests", "audit", "webhook_outbox", "policies", "owner_settings", "owner_passwords", "source_keys"} {
		if after[n] == 0 {
			t.Errorf("the fixture left %s empty: the test proves nothing about it", n)
		}
	}
	if rep.Owners != 1 || rep.AuditEntries != before["audit"] {
		t.Errorf("report: %d owners, %d entries verified; want 1, %d", rep.Owners, rep.AuditEntries, before["audit"])
	}

	// No code, key or token is anywhere in the target in the clear.
	secrets := append([]string{fx.ownerToken, fx.sourceToken}, fx.codes...)
	for _, k := range fx.agentKeys {
		secrets = append(secrets, k)
	}
	sawAgent := false // the scan reads the rows it looks through
	for _, n := range tables {
		rows, err := store.Pool().Query(ctx, `SELECT t::text FROM `+pgx.Identifier{n}.Sanitize()+` AS t`)
		must(t, err)
		for rows.Next() {
			var text string
			must(t, rows.Scan(&text))
			sawAgent = sawAgent || strings.Contains(text, fx.agentA)
			for _, sec := range secrets {
				if strings.Contains(text, sec) {
					t.Errorf("a row of %s holds a code, key or token in the clear", n)
				}
			}
		}
		must(t, rows.Err())
		rows.Close()
	}
	if !sawAgent {
		t.Error("the scan for secrets in the clear read no row naming agent A")
	}

	// The relay on PostgreSQL.
	svc := relay.New(store, relay.NewBroker(), relay.Config{PublicURL: "http://relay.test", Secrets: fx.box})
	for id, key := range fx.agentKeys {
		p, err := svc.Authenticate(ctx, key)
		if err != nil || p.AgentID != id {
			t.Errorf("agent %s's key after the move: %+v, %v", id, p, err)
		}
	}
	if p, err := svc.Authenticate(ctx, fx.ownerToken); err != nil || p.OwnerID != fx.ownerID {
		t.Errorf("the owner token after the move: %+v, %v", p, err)
	}
	if _, err := svc.Authenticate(ctx, "ak_live_not_a_key_that_was_ever_made"); err == nil {
		t.Error("a made-up key authenticates")
	}
	checkAudit := func(when string) {
		t.Helper()
		ar, err := svc.VerifyAudit(ctx, fx.ownerID)
		if err != nil || !ar.OK {
			t.Fatalf("audit %s: %+v, %v", when, ar, err)
		}
	}
	checkAudit("after the move")

	agent, err := svc.Authenticate(ctx, fx.agentKeys[fx.agentA])
	must(t, err)
	source, err := svc.Authenticate(ctx, fx.sourceToken)
	must(t, err)
	// The code sealed on SQLite opens once.
	c, err := svc.Consume(ctx, agent, fx.received)
	must(t, err)
	if got, err := fx.receivedKey.Open(fx.received, c.Payload); err != nil || string(got) != "271828" {
		t.Errorf("the code sealed before the move: %q, %v", got, err)
	}
	if _, err := svc.Consume(ctx, agent, fx.received); agentotp.ErrorCode(err) != agentotp.EOTPAlreadyConsumed {
		t.Errorf("second consume: %v", err)
	}
	// The approved request is fed on PostgreSQL and read.
	res, err := svc.Ingest(ctx, source, relay.IncomingMessage{Source: agentotp.ChannelSMS, Sender: "SHOP", Text: "Your SHOP code is 314159"})
	if err != nil || !res.Matched {
		t.Fatalf("feeding the approved request after the move: %+v, %v", res, err)
	}
	c, err = svc.Consume(ctx, agent, fx.approved)
	must(t, err)
	if got, err := fx.approvedKey.Open(fx.approved, c.Payload); err != nil || string(got) != "314159" {
		t.Errorf("the code fed after the move: %q, %v", got, err)
	}
	// The pending one is the owner's to decide.
	if r, err := svc.Decide(ctx, fx.ownerID, fx.pending, relay.Decision{Approve: true}); err != nil || r.Status != agentotp.StatusApproved {
		t.Errorf("approving the pending request after the move: %+v, %v", r, err)
	}
	if r, err := svc.OwnerRequest(ctx, fx.ownerID, fx.consumed); err != nil || r.Status != agentotp.StatusConsumed {
		t.Errorf("the consumed request after the move: %+v, %v", r, err)
	}
	if a, err := svc.OwnerAgent(ctx, fx.ownerID, fx.agentA); err != nil || a.WebhookURL != "https://agent.example/hook" || a.WebhookSecret == "" {
		t.Errorf("agent A's webhook after the move: url %q, secret set %v, %v", a.WebhookURL, a.WebhookSecret != "", err)
	}
	if ps, err := svc.ListPolicies(ctx, fx.ownerID); err != nil || len(ps) != 1 || ps[0].Name != "ask acme" {
		t.Errorf("policies after the move: %+v, %v", ps, err)
	}
	if st, err := svc.OwnerSettings(ctx, fx.ownerID); err != nil || st.TimeZone != "Europe/Berlin" {
		t.Errorf("settings after the move: %+v, %v", st, err)
	}
	// New entries chain onto the copied ones.
	checkAudit("after new entries on PostgreSQL")

	// A second import is refused and writes nothing.
	heads := pgCounts(t, store, tables)
	_, err = store.ImportSQLite(ctx, fx.dbPath)
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "owners") {
		t.Fatalf("second import: %v", err)
	}
	if again := pgCounts(t, store, tables); !equalCounts(again, heads) {
		t.Errorf("the refused import changed the target: %v, then %v", heads, again)
	}
	checkAudit("after the refused import")
	for _, code := range append(fx.codes, "314159") {
		if strings.Contains(err.Error(), code) {
			t.Errorf("the refusal holds a code")
		}
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestImportSQLiteRefuses: a source that is missing or not a relay's, or
// whose audit chain does not verify under the store's key (the wrong
// secret key), is refused before anything is written.
func TestImportSQLiteRefuses(t *testing.T) {
	ctx := context.Background()
	fx := buildSQLiteRelay(t)
	notDB := filepath.Join(t.TempDir(), "notes.txt")
	must(t, os.WriteFile(notDB, []byte("hello\n"), 0o600))
	otherKey := make([]byte, secretbox.KeySize)
	otherKey[0] = 1
	otherBox, err := secretbox.New(otherKey)
	must(t, err)
	tests := []struct {
		name string
		box  *secretbox.Box
		path string
		want string
	}{
		{"missing", fx.box, filepath.Join(t.TempDir(), "agentotp.db"), "does not exist"},
		{"a directory", fx.box, fx.dir, "is a directory"},
		{"not a database", fx.box, notDB, "not a SQLite database"},
		{"another secret key", otherBox, fx.dbPath, "secret key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, err := postgres.Open(ctx, pgtest.URL(t), nil, postgres.WithSecretBox(tt.box))
			must(t, err)
			defer store.Close()
			_, err = store.ImportSQLite(ctx, tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to say %q", err, tt.want)
			}
			var n int64
			must(t, store.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM owners) + (SELECT count(*) FROM audit)`).Scan(&n))
			if n != 0 {
				t.Errorf("the refused import wrote %d rows", n)
			}
		})
	}
}

// TestImportSQLiteEditedAudit: a source whose audit chain was edited is
// refused before anything is written.
func TestImportSQLiteEditedAudit(t *testing.T) {
	ctx := context.Background()
	fx := buildSQLiteRelay(t)
	raw, err := sql.Open("sqlite", "file:"+fx.dbPath)
	must(t, err)
	_, err = raw.Exec(`DROP TRIGGER audit_no_update`)
	must(t, err)
	_, err = raw.Exec(`UPDATE audit SET actor = 'system' WHERE seq = (SELECT max(seq) FROM audit)`)
	must(t, err)
	raw.Close()
	store, err := postgres.Open(ctx, pgtest.URL(t), nil, postgres.WithSecretBox(fx.box))
	must(t, err)
	defer store.Close()
	_, err = store.ImportSQLite(ctx, fx.dbPath)
	if err == nil || !strings.Contains(err.Error(), "does not verify") || !strings.Contains(err.Error(), "breaks at seq") {
		t.Fatalf("error %v, want a refusal naming the break", err)
	}
	var n int64
	must(t, store.Pool().QueryRow(ctx, `SELECT count(*) FROM audit`).Scan(&n))
	if n != 0 {
		t.Errorf("the refused import wrote %d audit rows", n)
	}
}

// legacySQLite makes a SQLite database as a relay older than the keyed
// audit chain left it (migrations before 0008, an owner with unkeyed
// rows), then lets this build's sqlite store upgrade it and append a
// keyed row, as a relay that was upgraded would.
func legacySQLite(t *testing.T, box *secretbox.Box) (path, ownerID string) {
	t.Helper()
	ctx := context.Background()
	path = filepath.Join(t.TempDir(), "agentotp.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	must(t, err)
	_, err = raw.Exec(`CREATE TABLE schema_migrations (version TEXT NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`)
	must(t, err)
	files, _ := filepath.Glob("../sqlite/migrations/*.sql")
	slices.Sort(files)
	if len(files) == 0 {
		t.Fatal("no SQLite migrations at ../sqlite/migrations")
	}
	for _, f := range files {
		v := strings.TrimSuffix(filepath.Base(f), ".sql")
		if v >= "0008" {
			break
		}
		body, err := os.ReadFile(f)
		must(t, err)
		_, err = raw.Exec(string(body))
		must(t, err)
		_, err = raw.Exec(`INSERT INTO schema_migrations VALUES (?, 1)`, v)
		must(t, err)
	}
	ownerID = "own_legacy"
	_, err = raw.Exec(`INSERT INTO owners (id, name, created_at) VALUES (?, 'Ada', 1)`, ownerID)
	must(t, err)
	prev := ""
	for i := range 3 {
		e := agentotp.AuditEntry{Seq: int64(i + 1), ID: fmt.Sprintf("aud_legacy%d", i), OwnerID: ownerID,
			At: time.UnixMicro(int64(1_700_000_000_000_000 + i)).UTC(), Actor: agentotp.ActorOwner, Action: agentotp.AuditPolicyChanged,
			Details: map[string]string{"n": fmt.Sprint(i)}}
		e.PrevHash, e.Hash = prev, e.ComputeHash(prev)
		_, err := raw.Exec(`INSERT INTO audit (seq, id, owner_id, at, actor, action, details, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, e.ID, e.OwnerID, e.At.UnixMicro(), e.Actor, e.Action, `{"n":"`+fmt.Sprint(i)+`"}`, e.PrevHash, e.Hash)
		must(t, err)
		prev = e.Hash
	}
	raw.Close()
	db, err := sqlite.Open(ctx, path, nil, sqlite.WithSecretBox(box))
	must(t, err)
	defer db.Close()
	must(t, db.AppendAudit(ctx, agentotp.AuditEntry{ID: "aud_keyed", OwnerID: ownerID, At: time.Now(), Actor: agentotp.ActorOwner, Action: agentotp.AuditPolicyChanged}))
	return path, ownerID
}

// TestImportSQLiteLegacyAudit: unkeyed rows from before the keyed chain
// are copied with the seal that vouches for them, and the chain, legacy
// rows and keyed row, verifies on the target.
func TestImportSQLiteLegacyAudit(t *testing.T) {
	ctx := context.Background()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	must(t, err)
	path, _ := legacySQLite(t, box)
	store, err := postgres.Open(ctx, pgtest.URL(t), nil, postgres.WithSecretBox(box))
	must(t, err)
	defer store.Close()
	rep, err := store.ImportSQLite(ctx, path)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if rep.Owners != 1 || rep.AuditEntries != 4 {
		t.Errorf("verified %d owners, %d entries; want 1, 4", rep.Owners, rep.AuditEntries)
	}
	var legacy, keyed int64
	must(t, store.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE chain = 0), count(*) FILTER (WHERE chain = 1) FROM audit`).Scan(&legacy, &keyed))
	if legacy != 3 || keyed != 1 {
		t.Errorf("the target holds %d unkeyed and %d keyed rows; want 3 and 1", legacy, keyed)
	}
}

// TestImportSQLiteConcurrent: two imports into one database at once: one
// copies, the other finds it filled and writes nothing.
func TestImportSQLiteConcurrent(t *testing.T) {
	ctx := context.Background()
	fx := buildSQLiteRelay(t)
	url := pgtest.URL(t)
	var stores [2]*postgres.Store
	for i := range stores {
		s, err := postgres.Open(ctx, url, nil, postgres.WithSecretBox(fx.box))
		must(t, err)
		defer s.Close()
		stores[i] = s
	}
	errs := make(chan error, 2)
	for _, s := range stores {
		go func() {
			_, err := s.ImportSQLite(ctx, fx.dbPath)
			errs <- err
		}()
	}
	var ok, refused int
	for range stores {
		switch err := <-errs; {
		case err == nil:
			ok++
		case strings.Contains(err.Error(), "not empty"):
			refused++
		default:
			t.Errorf("import: %v", err)
		}
	}
	if ok != 1 || refused != 1 {
		t.Fatalf("%d imports copied, %d were refused; want 1 and 1", ok, refused)
	}
	before := sqliteCounts(t, fx.dbPath)
	after := pgCounts(t, stores[0], []string{"owners", "agents", "requests", "audit"})
	for n, c := range after {
		if c != before[n] {
			t.Errorf("%s: %d rows in SQLite, %d in PostgreSQL", n, before[n], c)
		}
	}
}
