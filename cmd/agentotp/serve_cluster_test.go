package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/imap/imaptest"
	"github.com/agentotp/agentotp/internal/pgtest"
	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/postgres"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/telegram/telegramtest"
)

func TestParseDatabase(t *testing.T) {
	tests := []struct {
		flag, want, err string
	}{
		{"", "sqlite:/d/agentotp.db", ""},
		{"sqlite:/x/y.db", "sqlite:/x/y.db", ""},
		{"postgres://relay:s3cret@db.internal:5432/agentotp?sslmode=verify-full", "postgres://relay:xxxxx@db.internal:5432/agentotp?sslmode=verify-full", ""},
		{"postgresql://relay@db/agentotp", "postgresql://relay@db/agentotp", ""},
		{"postgres://db/agentotp?user=relay&password=s3cret", "postgres://db/agentotp?password=xxxxx&user=relay", ""},
		{"postgres:///agentotp", "", "names no host"},
		{"postgres:relay@db", "", "a PostgreSQL URL looks like"},
		{"mysql://db", "", `unsupported scheme "mysql"`},
		{"sqlite:", "", "needs a path"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			db, err := parseDatabase(tt.flag, "/d")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseDatabase(%q) = %v, %v; want an error with %q", tt.flag, db, err, tt.err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error repeats the password: %v", err)
				}
				return
			}
			if err != nil || db.String() != tt.want {
				t.Fatalf("parseDatabase(%q) = %q, %v; want %q", tt.flag, db, err, tt.want)
			}
			if strings.Contains(db.String(), "s3cret") {
				t.Fatalf("%q shows the password", db)
			}
		})
	}
}

// clusterRelay is one relay process's run, in this test's process.
type clusterRelay struct {
	m      *relayMain
	out    *relaytest.Buffer // banner and log
	cancel context.CancelFunc
	done   chan error
	dir    string
}

func startClusterRelay(t *testing.T, dir string, args ...string) *clusterRelay {
	t.Helper()
	r := &clusterRelay{out: &relaytest.Buffer{}, done: make(chan error, 1), dir: dir}
	o := testServeOptions(t, append([]string{"--data", dir}, args...)...)
	r.m = newRelayMain(r.out, slog.New(slog.NewJSONHandler(r.out, nil)), o)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.m.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop stops the relay cleanly, as SIGTERM does.
func (r *clusterRelay) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if err := r.m.Close(); err != nil {
		t.Error(err)
	}
}

func (r *clusterRelay) url() string {
	s := r.out.String()
	return strings.Fields(s[strings.Index(s, "listening on ")+len("listening on "):])[0]
}

// holds reports whether the relay holds the lease now, as its log says.
func (r *clusterRelay) holds(lease string) bool {
	s := r.out.String()
	taken := strings.LastIndex(s, `"msg":"cluster: lease taken; running here","lease":"`+lease+`"`)
	return taken >= 0 && taken > strings.LastIndex(s, `"msg":"cluster: lease released","lease":"`+lease+`"`)
}

func (r *clusterRelay) ownerToken(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(r.dir, "owner.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Two relays started at once on one PostgreSQL database make one owner;
// the Telegram bot polls and sends from the one that holds its lease
// only (a request made on the other is prompted once); when that relay
// stops, the other takes the lease, polls and prompts. The banners name
// the database without its password.
func TestClusterTelegramLeaseMoves(t *testing.T) {
	url := pgtest.URL(t)
	fake := telegramtest.NewServer(t)
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, d := range []string{dirA, dirB} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := secretbox.LoadKey(dirA); err != nil { // makes dirA's key
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dirA, secretbox.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, secretbox.KeyFile), key, 0o600); err != nil { // the same key on every relay
		t.Fatal(err)
	}
	args := []string{"--database", url, "--cluster-lease-ttl", "2s", "--telegram-token", fake.Token(), "--telegram-api-url", fake.URL()}
	relays := []*clusterRelay{startClusterRelay(t, dirA, args...), startClusterRelay(t, dirB, args...)}
	for _, r := range relays {
		waitFor(t, r.out, "relay started")
		waitFor(t, r.out, "cluster: listening")
	}
	owner := func(r *clusterRelay) string {
		s := r.out.String()
		return strings.Fields(s[strings.Index(s, "owner:       ")+len("owner:"):])[0]
	}
	if owner(relays[0]) != owner(relays[1]) {
		t.Fatalf("two relays started at once made two owners: %s, %s", owner(relays[0]), owner(relays[1]))
	}
	for _, r := range relays {
		banner := r.out.String()
		if !strings.Contains(banner, "  database:    postgres://agentotp:xxxxx@") || strings.Contains(banner, ":agentotp@") {
			t.Fatalf("the banner or log does not redact the database's password:\n%s", banner)
		}
	}
	var holder, other *clusterRelay
	for deadline := time.Now().Add(10 * time.Second); holder == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no relay took the Telegram lease")
		}
		switch {
		case relays[0].holds("telegram"):
			holder, other = relays[0], relays[1]
		case relays[1].holds("telegram"):
			holder, other = relays[1], relays[0]
		}
	}
	if other.holds("telegram") {
		t.Fatal("both relays run the Telegram bot")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ownerOther := client.NewOwnerClient(other.ownerToken(t), client.WithBaseURL(other.url()), client.WithMaxRetries(0))
	code, err := ownerOther.NewTelegramLinkCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls := fake.Cursor()
	fake.SendText(42, 7, "/link "+code.Code)
	if got := calls.Take(t, 1)[0]; got.Send == nil || !strings.HasPrefix(got.Send.Text, "Linked") {
		t.Fatalf("after /link: %s", telegramtest.DescribeCalls([]telegramtest.Call{got}))
	}
	na, err := ownerOther.CreateAgent(ctx, "shop-agent", false)
	if err != nil {
		t.Fatal(err)
	}
	agent := client.New(na.APIKey, client.WithBaseURL(other.url()), client.WithMaxRetries(0))
	prompted := func(what string) {
		t.Helper()
		pub, _, err := client.GenerateKeyPair("")
		if err != nil {
			t.Fatal(err)
		}
		r, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: what, PublicKey: client.ExportPublicKey(pub)})
		if err != nil {
			t.Fatal(err)
		}
		got := calls.Take(t, 1)[0]
		if got.Send == nil || got.Send.ChatID != 42 || !strings.Contains(got.Send.Text, what) {
			t.Fatalf("request %s: %s; want its prompt in chat 42", r.ID, telegramtest.DescribeCalls([]telegramtest.Call{got}))
		}
	}
	// Made on the relay without the lease, prompted once, by the holder.
	prompted("made on the relay without the lease")

	// The holder stops cleanly: it gives the lease up; the other polls
	// and prompts.
	holder.stop(t)
	waitFor(t, holder.out, `"msg":"cluster: lease released","lease":"telegram"`)
	for deadline := time.Now().Add(10 * time.Second); !other.holds("telegram"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the other relay did not take the Telegram lease")
		}
	}
	// The new holder polls: it answers a command sent now.
	fake.SendText(42, 7, "/pending")
	if got := calls.Take(t, 1)[0]; got.Send == nil || got.Send.ChatID != 42 {
		t.Fatalf("after /pending: %s; want a reply from the new holder", telegramtest.DescribeCalls([]telegramtest.Call{got}))
	}
	prompted("made after the takeover")
	if n := fake.CallCount(); n != 4 {
		t.Fatalf("%d Bot API calls besides getUpdates; want 4 (the link reply, two prompts, the /pending reply): something went out twice", n)
	}
}

// leaseRelay is one relay's lease runner over its own store handle.
type leaseRelay struct {
	store  *postgres.Store
	gate   *leaseGate
	cancel context.CancelFunc
	done   chan error
}

// Two relays' lease runners over one database never run the component
// at once; when the lease is taken from the holder (its row given to
// another holder, as when it ran out) the holder's component is stopped,
// and when the holder stops, the other runs it.
func TestLeaseRunsOnceInTheCluster(t *testing.T) {
	url := pgtest.URL(t)
	key, err := secretbox.LoadKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	var running, most, starts atomic.Int32
	fn := func(ctx context.Context) error {
		starts.Add(1)
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-ctx.Done()
		running.Add(-1)
		return nil
	}
	logs := &relaytest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	relays := make([]*leaseRelay, 2)
	for i := range relays {
		st, err := postgres.Open(context.Background(), url, log, postgres.WithSecretBox(box))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &leaseRelay{store: st, gate: &leaseGate{}, cancel: cancel, done: make(chan error, 1)}
		// A ttl of 3 s leaves a renewal 2 s to answer before its holder
		// lets go: with 1 s, a loaded machine let the lease lapse.
		c := (&leaseRunner{c: st, ttl: 3 * time.Second, log: log}).component("work", r.gate, fn)
		go func() { r.done <- c.run(ctx) }()
		relays[i] = r
		t.Cleanup(func() { cancel(); <-r.done; st.Close() })
	}
	holder := func() (*leaseRelay, *leaseRelay) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			switch {
			case relays[0].gate.Held() && !relays[1].gate.Held():
				return relays[0], relays[1]
			case relays[1].gate.Held() && !relays[0].gate.Held():
				return relays[1], relays[0]
			}
		}
		t.Fatal("no one relay holds the lease")
		return nil, nil
	}
	h, _ := holder()
	time.Sleep(3500 * time.Millisecond) // three renewals
	if h2, _ := holder(); h2 != h {
		t.Fatal("the lease moved while its holder renewed it")
	}

	// The lease taken away: the holder stops at its next renewal, and
	// the other takes it once the stolen lease runs out.
	admin, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), `UPDATE leases SET holder = 'someone-else' WHERE name = 'component:work'`); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); h.gate.Held(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the holder went on running after its lease was taken")
		}
	}
	h, o := holder()

	// The holder stops: the other runs the component.
	h.cancel()
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.done <- nil // for the cleanup
	for deadline := time.Now().Add(10 * time.Second); !o.gate.Held(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the other relay did not take the lease after the holder stopped")
		}
	}
	if m := most.Load(); m != 1 {
		t.Fatalf("the component ran on %d relays at once", m)
	}
	if s := starts.Load(); s < 3 {
		t.Fatalf("the component started %d times; want 3 (first holder, after the theft, after the stop)", s)
	}
}

// The IMAP connectors run on the relay that holds their lease; when it
// stops, the other relay starts the connector a waiting request needs,
// and the next mail reaches the agent. Real Dovecot, real PostgreSQL.
func TestClusterIMAPLeaseMoves(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	url := pgtest.URL(t)
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, dir := range []string{dirA, dirB} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := secretbox.LoadKey(dirA); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dirA, secretbox.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, secretbox.KeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--database", url, "--cluster-lease-ttl", "2s"}
	relays := []*clusterRelay{startClusterRelay(t, dirA, args...), startClusterRelay(t, dirB, args...)}
	for _, r := range relays {
		waitFor(t, r.out, "relay started")
		waitFor(t, r.out, "cluster: listening")
	}
	var holder, other *clusterRelay
	for deadline := time.Now().Add(10 * time.Second); holder == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no relay took the IMAP lease")
		}
		switch {
		case relays[0].holds("imap"):
			holder, other = relays[0], relays[1]
		case relays[1].holds("imap"):
			holder, other = relays[1], relays[0]
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	owner := client.NewOwnerClient(other.ownerToken(t), client.WithBaseURL(other.url()), client.WithMaxRetries(0))
	n, err := owner.CreateSource(ctx, "inbox", "email")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.SetSourceIMAP(ctx, n.Source.ID, client.IMAPSettings{Host: "127.0.0.1", Port: d.Port, TLSMode: "plain", Username: d.User, Password: d.Password}); err != nil {
		t.Fatal(err)
	}
	na, err := owner.CreateAgent(ctx, "signup-bot", false)
	if err != nil {
		t.Fatal(err)
	}
	agent := client.New(na.APIKey, client.WithBaseURL(other.url()), client.WithMaxRetries(0))
	receive := func(code, msgID string) {
		t.Helper()
		pub, priv, err := client.GenerateKeyPair("")
		if err != nil {
			t.Fatal(err)
		}
		r, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "sign up", PublicKey: client.ExportPublicKey(pub),
			Filter: &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.test"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := owner.Approve(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // INTERNALDATE has whole seconds: the mail comes after the request
		d.Deliver("INBOX", imaptest.Email("Acme <noreply@acme.test>", "Your Acme code", "Your Acme verification code is "+code+".", msgID))
		got, err := agent.WaitForOTP(ctx, r.ID, 60*time.Second)
		if err != nil || got.Status != client.StatusOTPReceived {
			t.Fatalf("the mail with %s: %v, %v; want otp_received", code, got, err)
		}
		res, err := agent.ConsumeOTP(ctx, r.ID, priv)
		if err != nil || res.Code != code {
			t.Fatalf("consume = %+v, %v; want %s", res, err, code)
		}
	}
	receive("424242", "first@acme.test")

	holder.stop(t)
	for deadline := time.Now().Add(10 * time.Second); !other.holds("imap"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the other relay did not take the IMAP lease")
		}
	}
	receive("515151", "second@acme.test")
}
