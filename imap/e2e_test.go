package imap_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/imap/imaptest"
	"github.com/agentotp/agentotp/sqlite"
)

// TestMailReachesWaitingAgent: a message delivered into a real Dovecot
// mailbox while a request waits reaches the agent (otp_received → consume
// → decrypt → the code); mail that arrived before the request does not;
// the mailbox is left unchanged; the app password is nowhere in the clear.
func TestMailReachesWaitingAgent(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	p := newRelay(t, testIMAPConfig())
	agent := p.agent("signup-bot")
	src := p.imapSource(d, client.IMAPSettings{})
	if src.IMAP == nil || src.IMAP.Host != "127.0.0.1" || !src.IMAP.PasswordSet || src.IMAP.Mailbox != "INBOX" {
		t.Fatalf("PUT imap returned %+v", src.IMAP)
	}
	// No live request: the connector does not run.
	p.waitIMAP(src.ID, "stopped", stateIs("stopped"))

	old := d.Deliver("INBOX", imaptest.Email("Acme <noreply@acme.test>", "Your Acme code", "Your verification code is 111111.", "old-1@acme.test"))
	time.Sleep(1100 * time.Millisecond) // INTERNALDATE has whole seconds

	// A request that wants SMS only does not open the mailbox.
	pub, _, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.RequestOTP(context.Background(), client.RequestOptions{Reason: "SMS only", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"sms"}}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * testIMAPConfig().Reconcile)
	if n := strings.Count(d.Log(), "Login: user=<"+d.User+">"); n != 1 { // the one login is Deliver's
		t.Fatalf("the connector logged in for an SMS-only request:\n%s", d.Log())
	}
	p.waitIMAP(src.ID, "still stopped", stateIs("stopped"))

	req, priv := waitingRequest(t, p, agent)
	st := p.waitIMAP(src.ID, "idle", stateIs("idle"))
	if st.IMAP.Status.LastConnectedAt == nil || st.IMAP.Status.UIDValidity == 0 {
		t.Errorf("idle status lacks its connection details: %+v", st.IMAP.Status)
	}
	if got := status(t, agent, req.ID); got != client.StatusApproved {
		t.Fatalf("mail from before the request fed it: status %s", got)
	}

	uid := d.Deliver("INBOX", imaptest.Email("Acme <noreply@acme.test>", "Your Acme code", "Your Acme verification code is 424242. It expires in 10 minutes.", "new-1@acme.test"))
	if code := receive(t, agent, req, priv); code != "424242" {
		t.Fatalf("code %q; want 424242", code)
	}
	after := p.waitIMAP(src.ID, "past the new message", func(st client.SourceIMAPStatus) bool { return st.LastUID >= uid })
	if after.IMAP.Status.LastMessageAt == nil {
		t.Errorf("last_message_at not set: %+v", after.IMAP.Status)
	}

	// Reading changed nothing in the mailbox: no \Seen, no other flag.
	for u, flags := range d.Flags("INBOX") {
		for _, f := range flags {
			if f != `\Recent` {
				t.Errorf("message %d has flag %s; the connector must not change the mailbox", u, f)
			}
		}
	}
	_ = old

	// The request is consumed and no other waits: the connector stops.
	p.waitIMAP(src.ID, "stopped", stateIs("stopped"))

	// The app password is in no log line, no API answer and not in the
	// clear in the database.
	code, body := p.rawCall("GET", "/v1/owner/sources", "")
	if code != 200 || bytes.Contains(body, []byte(d.Password)) || bytes.Contains(body, []byte(`"password"`)) {
		t.Errorf("GET /v1/owner/sources: %d %s", code, body)
	}
	code, body = p.rawCall("GET", "/v1/owner/audit/export?format=jsonl", "")
	if code != 200 || bytes.Contains(body, []byte(d.Password)) || !bytes.Contains(body, []byte("source.imap_set")) {
		t.Errorf("audit export: %d, holds the password or lacks source.imap_set", code)
	}
	if bytes.Contains(p.logs.Bytes(), []byte(d.Password)) {
		t.Error("the relay's log holds the IMAP password")
	}
	p.Stop()
	for _, name := range []string{"agentotp.db", "agentotp.db-wal"} {
		b, err := os.ReadFile(filepath.Join(p.dir, name))
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(d.Password)) {
			t.Errorf("%s holds the IMAP password in the clear", name)
		}
		if bytes.Contains(b, []byte("424242")) {
			t.Errorf("%s holds the code in the clear", name)
		}
	}
}

// TestRestartDeliversOnce: restarting the relay neither hands the same
// mail over again nor skips the next one — with the cursor kept, and
// with the cursor lost (a crash between hand-over and cursor write),
// where the relay's Message-ID de-duplication holds.
func TestRestartDeliversOnce(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	p := newRelay(t, testIMAPConfig())
	agent := p.agent("signup-bot")
	src := p.imapSource(d, client.IMAPSettings{})

	// Three requests wait, all older than every mail below: each mail
	// feeds the oldest one still waiting, so a mail handed over twice
	// would feed a second request.
	reqA, privA := waitingRequest(t, p, agent)
	reqB, privB := waitingRequest(t, p, agent)
	reqC, privC := waitingRequest(t, p, agent)
	p.waitIMAP(src.ID, "idle", stateIs("idle"))

	uid1 := d.Deliver("INBOX", imaptest.Email("noreply@acme.test", "Acme code", "Your Acme code is 111111.", "m1@acme.test"))
	if code := receive(t, agent, reqA, privA); code != "111111" {
		t.Fatalf("A got %q; want 111111", code)
	}
	p.waitIMAP(src.ID, "past mail 1", func(st client.SourceIMAPStatus) bool { return st.LastUID >= uid1 })

	// Restart with the cursor kept.
	p.Restart()
	p.waitIMAP(src.ID, "idle after restart", stateIs("idle"))
	if got := status(t, agent, reqB.ID); got != client.StatusApproved {
		t.Fatalf("after a restart B is %s: mail 1 was handed over again", got)
	}
	uid2 := d.Deliver("INBOX", imaptest.Email("noreply@acme.test", "Acme code", "Your Acme code is 222222.", "m2@acme.test"))
	if code := receive(t, agent, reqB, privB); code != "222222" {
		t.Fatalf("B got %q; want 222222", code)
	}
	p.waitIMAP(src.ID, "past mail 2", func(st client.SourceIMAPStatus) bool { return st.LastUID >= uid2 })

	// Restart with the cursor lost: the connector reads mails 1 and 2
	// again, and the relay drops them by Message-ID.
	p.Stop()
	store, err := sqlite.Open(context.Background(), filepath.Join(p.dir, "agentotp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	row, err := store.ListActiveIMAPSources(context.Background())
	if err != nil || len(row) != 1 {
		t.Fatalf("list: %v %d", err, len(row))
	}
	if err := store.SaveIMAPCursor(context.Background(), src.ID, row[0].Version, row[0].UIDValidity, 0); err != nil {
		t.Fatal(err)
	}
	store.Close()
	p.Start()
	p.waitIMAP(src.ID, "re-read past mail 2", func(st client.SourceIMAPStatus) bool { return st.LastUID >= uid2 && st.State == "idle" })
	if got := status(t, agent, reqC.ID); got != client.StatusApproved {
		t.Fatalf("after a restart without cursor C is %s: an old mail was handed over again", got)
	}
	d.Deliver("INBOX", imaptest.Email("noreply@acme.test", "Acme code", "Your Acme code is 333333.", "m3@acme.test"))
	if code := receive(t, agent, reqC, privC); code != "333333" {
		t.Fatalf("C got %q; want 333333", code)
	}
	if n := bytes.Count(p.logs.Bytes(), []byte("duplicate message ignored")); n < 2 {
		t.Errorf("the relay logged %d duplicates; want the 2 re-read mails", n)
	}
}

// TestDovecotKilledAndRestarted: the connector survives the server's
// death (SIGKILL of Dovecot and its children, no BYE), reports the error,
// reconnects when the server is back, and delivers the next mail.
func TestDovecotKilledAndRestarted(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	p := newRelay(t, testIMAPConfig())
	agent := p.agent("signup-bot")
	src := p.imapSource(d, client.IMAPSettings{})
	req, priv := waitingRequest(t, p, agent)
	first := p.waitIMAP(src.ID, "idle", stateIs("idle"))

	d.Kill()
	failed := p.waitIMAP(src.ID, "error", stateIs("error"))
	if failed.IMAP.Status.LastError == nil || *failed.IMAP.Status.LastError == "" || failed.IMAP.Status.LastErrorAt == nil {
		t.Errorf("error status without its error: %+v", failed.IMAP.Status)
	}
	t.Logf("while Dovecot is down: %s", *failed.IMAP.Status.LastError)

	d.Restart()
	back := p.waitIMAP(src.ID, "idle again", func(st client.SourceIMAPStatus) bool {
		return st.State == "idle" && st.LastConnectedAt != nil && st.LastConnectedAt.After(*first.IMAP.Status.LastConnectedAt)
	})
	_ = back
	d.Deliver("INBOX", imaptest.Email("Acme <noreply@acme.test>", "Acme", "Use 909090 to sign in to Acme.", "after-restart@acme.test"))
	if code := receive(t, agent, req, priv); code != "909090" {
		t.Fatalf("code %q; want 909090", code)
	}
}

// TestFrozenServer: a server that stops answering without closing the
// connection (SIGSTOP: the kernel still acknowledges) is found dead by the
// NOOP keepalive at the IDLE restart and its deadline; the connector
// reports the error, reconnects once the server answers again, and
// delivers the next mail.
func TestFrozenServer(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	cfg := testIMAPConfig()
	cfg.IdleRestart, cfg.CommandTimeout = time.Second, time.Second
	p := newRelay(t, cfg)
	agent := p.agent("signup-bot")
	src := p.imapSource(d, client.IMAPSettings{})
	req, priv := waitingRequest(t, p, agent)
	p.waitIMAP(src.ID, "idle", stateIs("idle"))

	d.Freeze()
	failed := p.waitIMAP(src.ID, "error", stateIs("error"))
	if msg := *failed.IMAP.Status.LastError; !strings.Contains(msg, "no answer within") {
		t.Errorf("last_error %q; want the missed deadline", msg)
	}
	d.Thaw()
	p.waitIMAP(src.ID, "idle again", func(st client.SourceIMAPStatus) bool {
		return st.State == "idle" && st.LastConnectedAt.After(*failed.IMAP.Status.LastErrorAt)
	})
	d.Deliver("INBOX", imaptest.Email("noreply@acme.test", "Acme", "Your Acme code is 565656.", "thawed@acme.test"))
	if code := receive(t, agent, req, priv); code != "565656" {
		t.Fatalf("code %q; want 565656", code)
	}
}

// TestNewRequestWhileIdle: a request made while the connector already
// waits in IDLE (for an older request) makes it search at once, so that a
// message arriving right after, in the same second, feeds it (a message
// of that second that may have come first would not: TestSameSecondOrder).
func TestNewRequestWhileIdle(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	p := newRelay(t, testIMAPConfig())
	agent := p.agent("signup-bot")
	src := p.imapSource(d, client.IMAPSettings{})
	keeper, err := agent.RequestOTP(context.Background(), client.RequestOptions{Reason: "another site", PublicKey: mustPub(t),
		Filter: &client.Filter{Sources: []string{"email"}, SenderPattern: "*@other.test"}})
	if err != nil {
		t.Fatal(err)
	}
	searchedAfter(t, p, src.ID, keeper)
	for i := range 3 {
		req, priv := waitingRequest(t, p, agent)
		searchedAfter(t, p, src.ID, req)
		code := fmt.Sprintf("7%05d", i)
		d.Deliver("INBOX", imaptest.Email("noreply@acme.test", "Acme", "Your Acme code is "+code+".", fmt.Sprintf("while-idle-%d@acme.test", i)))
		if got := receive(t, agent, req, priv); got != code {
			t.Fatalf("round %d: code %q; want %s", i, got, code)
		}
	}
}

func mustPub(t testing.TB) string {
	t.Helper()
	pub, _, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	return client.ExportPublicKey(pub)
}

// TestPollingWithoutIdle: a server that does not offer IDLE is polled.
func TestPollingWithoutIdle(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{NoIdle: true})
	p := newRelay(t, testIMAPConfig())
	agent := p.agent("signup-bot")
	src := p.imapSource(d, client.IMAPSettings{PollIntervalSeconds: 5})
	req, priv := waitingRequest(t, p, agent)
	p.waitIMAP(src.ID, "polling", stateIs("polling"))
	d.Deliver("INBOX", imaptest.Email("noreply@acme.test", "Acme", "Acme code: 515151", "poll@acme.test"))
	if code := receive(t, agent, req, priv); code != "515151" {
		t.Fatalf("code %q; want 515151", code)
	}
}

// TestMarkAsRead: only when the owner asks for it does the connector
// open the mailbox read-write and set \Seen on what it read.
func TestMarkAsRead(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	p := newRelay(t, testIMAPConfig())
	agent := p.agent("signup-bot")
	src := p.imapSource(d, client.IMAPSettings{MarkAsRead: true, Mailbox: "Codes"})
	d.Deliver("Codes", imaptest.Email("x@elsewhere.test", "hello", "no code here", "other@elsewhere.test")) // creates the mailbox
	req, priv := waitingRequest(t, p, agent)
	p.waitIMAP(src.ID, "idle", stateIs("idle"))
	uid := d.Deliver("Codes", imaptest.Email("noreply@acme.test", "Acme", "Your Acme code is 737373.", "seen@acme.test"))
	if code := receive(t, agent, req, priv); code != "737373" {
		t.Fatalf("code %q; want 737373", code)
	}
	p.waitIMAP(src.ID, "past the message", func(st client.SourceIMAPStatus) bool { return st.LastUID >= uid })
	if flags := d.Flags("Codes")[uid]; !slices.Contains(flags, goimap.FlagSeen) {
		t.Errorf("flags of the read message: %v; want \\Seen", flags)
	}
}

// TestOversizeAndMalformedMail: a 30 MB mail is skipped without being
// fetched, a mail that is not RFC 5322 is refused by the relay, and
// neither stops the connector from delivering the next one.
func TestOversizeAndMalformedMail(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	p := newRelay(t, testIMAPConfig())
	agent := p.agent("signup-bot")
	src := p.imapSource(d, client.IMAPSettings{})
	req, priv := waitingRequest(t, p, agent)
	p.waitIMAP(src.ID, "idle", stateIs("idle"))

	big := imaptest.Email("noreply@acme.test", "Acme", "Your Acme code is 808080.\r\n"+strings.Repeat("padding line of a very large mail\r\n", 30<<20/35), "big@acme.test")
	bigUID := d.Deliver("INBOX", big)
	bad := d.Deliver("INBOX", []byte("this is not a mail: no header, no body separator, code 818181"))
	p.waitIMAP(src.ID, "past the bad mails", func(st client.SourceIMAPStatus) bool { return st.LastUID >= bad })
	if got := status(t, agent, req.ID); got != client.StatusApproved {
		t.Fatalf("after an oversize and a malformed mail the request is %s", got)
	}
	if !bytes.Contains(p.logs.Bytes(), []byte("too large")) {
		t.Errorf("no log line says the %d-byte mail (uid %d) was skipped", len(big), bigUID)
	}
	d.Deliver("INBOX", imaptest.Email("noreply@acme.test", "Acme", "Your Acme code is 828282.", "ok@acme.test"))
	if code := receive(t, agent, req, priv); code != "828282" {
		t.Fatalf("code %q; want 828282", code)
	}
}

// TestWrongPassword: a login failure shows as an error status that names
// the failure and never the password; the connector keeps retrying, and
// a corrected password (PUT again) connects.
func TestWrongPassword(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	p := newRelay(t, testIMAPConfig())
	agent := p.agent("signup-bot")
	wrong := "wrong-" + d.Password
	src := p.imapSource(d, client.IMAPSettings{Password: wrong})
	req, priv := waitingRequest(t, p, agent)
	failed := p.waitIMAP(src.ID, "error", stateIs("error"))
	msg := *failed.IMAP.Status.LastError
	if !strings.Contains(strings.ToLower(msg), "login") || strings.Contains(msg, wrong) {
		t.Errorf("last_error %q: want the login failure, never the password", msg)
	}
	if bytes.Contains(p.logs.Bytes(), []byte(wrong)) {
		t.Error("the log holds the password")
	}
	if _, err := p.owner.SetSourceIMAP(context.Background(), src.ID, client.IMAPSettings{
		Host: "127.0.0.1", Port: d.Port, TLSMode: "plain", Username: d.User, Password: d.Password,
	}); err != nil {
		t.Fatal(err)
	}
	p.waitIMAP(src.ID, "idle", stateIs("idle"))
	d.Deliver("INBOX", imaptest.Email("noreply@acme.test", "Acme", "Your Acme code is 646464.", "fixed@acme.test"))
	if code := receive(t, agent, req, priv); code != "646464" {
		t.Fatalf("code %q; want 646464", code)
	}
}

// TestIMAPSettingsInput: bad settings are refused with a clear error and
// change nothing.
func TestIMAPSettingsInput(t *testing.T) {
	p := newRelay(t, testIMAPConfig())
	ctx := context.Background()
	email, err := p.owner.CreateSource(ctx, "inbox", "email")
	if err != nil {
		t.Fatal(err)
	}
	sms, err := p.owner.CreateSource(ctx, "phone", "sms")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := p.owner.CreateSource(ctx, "old", "email")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.owner.RevokeSource(ctx, gone.Source.ID); err != nil {
		t.Fatal(err)
	}
	base := `"host":"imap.example.com","username":"ada@example.com"`
	for _, tt := range []struct {
		name, id, body string
		status         int
		code, field    string
	}{
		{"plain to a remote host", email.Source.ID, `{` + base + `,"password":"pw","tls_mode":"plain"}`, 422, "VALIDATION_ERROR", "tls_mode"},
		{"unknown tls mode", email.Source.ID, `{` + base + `,"password":"pw","tls_mode":"ssl3"}`, 422, "VALIDATION_ERROR", "tls_mode"},
		{"no password the first time", email.Source.ID, `{` + base + `}`, 422, "VALIDATION_ERROR", "password"},
		{"bad host", email.Source.ID, `{"host":"imap example.com","username":"a","password":"pw"}`, 422, "VALIDATION_ERROR", "host"},
		{"port out of range", email.Source.ID, `{` + base + `,"password":"pw","port":70000}`, 422, "VALIDATION_ERROR", "port"},
		{"poll too fast", email.Source.ID, `{` + base + `,"password":"pw","poll_interval_seconds":1}`, 422, "VALIDATION_ERROR", "poll_interval_seconds"},
		{"control character in mailbox", email.Source.ID, `{` + base + `,"password":"pw","mailbox":"IN\rBOX"}`, 422, "VALIDATION_ERROR", "mailbox"},
		{"newline in password", email.Source.ID, `{` + base + `,"password":"p\nw"}`, 422, "VALIDATION_ERROR", "password"},
		{"unknown field", email.Source.ID, `{` + base + `,"password":"pw","ssl":true}`, 422, "VALIDATION_ERROR", "ssl"},
		{"sms source", sms.Source.ID, `{` + base + `,"password":"pw"}`, 422, "VALIDATION_ERROR", "source"},
		{"revoked source", gone.Source.ID, `{` + base + `,"password":"pw"}`, 409, "CONFLICT", ""},
		{"unknown source", "src_nope", `{` + base + `,"password":"pw"}`, 404, "NOT_FOUND", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := p.rawCall("PUT", "/v1/owner/sources/"+tt.id+"/imap", tt.body)
			var prob struct {
				Code   string `json:"code"`
				Errors []struct {
					Field string `json:"field"`
				} `json:"errors"`
			}
			_ = json.Unmarshal(body, &prob)
			if status != tt.status || prob.Code != tt.code {
				t.Fatalf("%d %s; want %d %s", status, body, tt.status, tt.code)
			}
			if tt.field != "" && (len(prob.Errors) == 0 || prob.Errors[0].Field != tt.field) {
				t.Errorf("errors %s; want field %s", body, tt.field)
			}
			if bytes.Contains(body, []byte(`"pw"`)) {
				t.Errorf("the error repeats the password: %s", body)
			}
		})
	}
	for _, id := range []string{email.Source.ID, sms.Source.ID, gone.Source.ID} {
		s, err := p.owner.GetSource(ctx, id)
		if err != nil || s.IMAP != nil {
			t.Errorf("source %s after refused PUTs: %+v %v", id, s, err)
		}
	}
	if status, body := p.rawCall("DELETE", "/v1/owner/sources/"+email.Source.ID+"/imap", ""); status != 404 {
		t.Errorf("DELETE without settings: %d %s", status, body)
	}

	// A valid PUT, then one without password keeps it; DELETE removes.
	s, err := p.owner.SetSourceIMAP(ctx, email.Source.ID, client.IMAPSettings{Host: "IMAP.Example.com", Username: "ada@example.com", Password: "pw-1"})
	if err != nil {
		t.Fatal(err)
	}
	if s.IMAP.Host != "imap.example.com" || s.IMAP.Port != 993 || s.IMAP.TLSMode != "tls" || s.IMAP.Mailbox != "INBOX" || s.IMAP.PollIntervalSeconds != 60 {
		t.Errorf("defaults: %+v", s.IMAP)
	}
	s, err = p.owner.SetSourceIMAP(ctx, email.Source.ID, client.IMAPSettings{Host: "imap.example.com", Username: "ada@example.com", PollIntervalSeconds: 30})
	if err != nil || !s.IMAP.PasswordSet || s.IMAP.PollIntervalSeconds != 30 {
		t.Fatalf("update without password: %+v %v", s, err)
	}
	list, err := p.owner.ListSources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range list {
		if s.IMAP != nil {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d listed sources have IMAP settings; want 1", n)
	}

	// Another owner can neither see, set nor clear the settings.
	otherTok := agentotp.PrefixOwnerToken + rand.Text() + rand.Text()
	now := time.Now().UTC()
	if err := p.store.CreateOwner(ctx, &agentotp.Owner{ID: "own_other", Name: "other", CreatedAt: now}, &agentotp.Credential{
		Hash: agentotp.HashToken(otherTok), Kind: agentotp.CredentialOwner, OwnerID: "own_other",
		Prefix: agentotp.TokenPrefix(otherTok), CreatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/owner/sources/" + email.Source.ID, ""},
		{"PUT", "/v1/owner/sources/" + email.Source.ID + "/imap", `{"host":"evil.example","username":"x","password":"y"}`},
		{"DELETE", "/v1/owner/sources/" + email.Source.ID + "/imap", ""},
	} {
		if status, body := p.rawCallAs(otherTok, c.method, c.path, c.body); status != 404 || bytes.Contains(body, []byte("imap.example.com")) {
			t.Errorf("another owner's %s %s: %d %s", c.method, c.path, status, body)
		}
	}
	if status, body := p.rawCallAs(otherTok, "GET", "/v1/owner/sources", ""); status != 200 || bytes.Contains(body, []byte(email.Source.ID)) {
		t.Errorf("another owner's listing: %d %s", status, body)
	}
	if s, err := p.owner.GetSource(ctx, email.Source.ID); err != nil || s.IMAP == nil || s.IMAP.Host != "imap.example.com" {
		t.Errorf("after another owner's calls: %+v %v", s, err)
	}

	if s, err := p.owner.ClearSourceIMAP(ctx, email.Source.ID); err != nil || s.IMAP != nil {
		t.Errorf("clear: %+v %v", s, err)
	}

	// At most MaxIMAPSourcesPerOwner mailboxes per owner.
	for i := range agentotp.MaxIMAPSourcesPerOwner + 1 {
		n, err := p.owner.CreateSource(ctx, fmt.Sprintf("inbox %d", i), "email")
		if err != nil {
			t.Fatal(err)
		}
		status, body := p.rawCall("PUT", "/v1/owner/sources/"+n.Source.ID+"/imap", `{`+base+`,"password":"pw"}`)
		if want := 200; i == agentotp.MaxIMAPSourcesPerOwner {
			if status != 409 {
				t.Errorf("IMAP source %d: %d %s; want 409", i+1, status, body)
			}
		} else if status != want {
			t.Fatalf("IMAP source %d: %d %s", i+1, status, body)
		}
	}
}

// TestTLSModes: implicit TLS and STARTTLS to a Dovecot with its own
// certificate, verified against the CA the relay is given; a relay that
// does not trust the certificate refuses to log in and says why.
func TestTLSModes(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{TLS: true})
	for _, tt := range []struct {
		mode, code string
		port       int
	}{
		{"tls", "451234", d.TLSPort},
		{"starttls", "461234", d.Port},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			cfg := testIMAPConfig()
			cfg.TLSConfig = &tls.Config{RootCAs: d.RootCAs}
			p := newRelay(t, cfg)
			agent := p.agent("signup-bot")
			src := p.imapSource(d, client.IMAPSettings{TLSMode: tt.mode, Port: tt.port})
			req, priv := waitingRequest(t, p, agent)
			p.waitIMAP(src.ID, "idle", stateIs("idle"))
			d.Deliver("INBOX", imaptest.Email("noreply@acme.test", "Acme", "Your Acme code is "+tt.code+".", "tls-"+tt.mode+"@acme.test"))
			if code := receive(t, agent, req, priv); code != tt.code {
				t.Fatalf("code %q; want %s", code, tt.code)
			}
		})
		t.Run(tt.mode+" untrusted", func(t *testing.T) {
			p := newRelay(t, testIMAPConfig()) // system roots only
			agent := p.agent("signup-bot")
			src := p.imapSource(d, client.IMAPSettings{TLSMode: tt.mode, Port: tt.port})
			waitingRequest(t, p, agent)
			failed := p.waitIMAP(src.ID, "error", stateIs("error"))
			if msg := *failed.IMAP.Status.LastError; !strings.Contains(msg, "certificate") {
				t.Errorf("last_error %q; want a certificate error", msg)
			}
		})
	}
}
