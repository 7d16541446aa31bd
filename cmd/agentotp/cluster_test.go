package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/imap/imaptest"
	"github.com/agentotp/agentotp/internal/pgtest"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/telegram/telegramtest"
)

// These tests run several real relays (the binary) on one PostgreSQL
// database, as a team would behind a load balancer (issue 15). They need
// AGENTOTP_TEST_POSTGRES (scripts/start-postgres); without it they skip,
// and under CI=true they fail.

// cluster is n relays on one database.
type cluster struct {
	t      *testing.T
	db     string
	relays []*killRelay
}

// startCluster starts n relays on a fresh database, one after the other
// (the first makes the schema and the owner); every relay has a data
// directory of its own holding the same secret key. extra gives relay i
// more serve flags.
func startCluster(t *testing.T, n int, extra func(i int) []string) *cluster {
	t.Helper()
	c := &cluster{t: t, db: pgtest.URL(t)}
	for i := range n {
		k := &killRelay{t: t, data: filepath.Join(t.TempDir(), fmt.Sprintf("relay%d", i)), addr: freeAddr(t)}
		k.url = "http://" + k.addr
		k.extra = []string{"--database", c.db, "--allow-private-webhooks"}
		if extra != nil {
			k.extra = append(k.extra, extra(i)...)
		}
		if i > 0 {
			if err := os.MkdirAll(k.data, 0o700); err != nil {
				t.Fatal(err)
			}
			key, err := os.ReadFile(filepath.Join(c.relays[0].data, secretbox.KeyFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(k.data, secretbox.KeyFile), key, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		k.start()
		t.Cleanup(k.kill9)
		c.relays = append(c.relays, k)
	}
	return c
}

// setup makes an agent and an SMS source through the first relay, and
// gives every relay their credentials.
func (c *cluster) setup() {
	c.t.Helper()
	first := c.relays[0]
	var na struct {
		APIKey string `json:"api_key"`
	}
	first.mustCall("POST", "/v1/owner/agents", first.token, map[string]any{"name": "fleet"}, &na)
	var ns struct {
		Token  string `json:"token"`
		Source struct {
			ID string `json:"id"`
		} `json:"source"`
	}
	first.mustCall("POST", "/v1/owner/sources", first.token, map[string]any{"name": "phone", "kind": "sms"}, &ns)
	for _, k := range c.relays {
		k.agentKey, k.smsToken, k.smsSource = na.APIKey, ns.Token, ns.Source.ID
	}
}

// newRequest asks relay k for a code from sender and returns its id.
func newRequest(k *killRelay, pub *client.PublicKey, sender, webhookURL string) string {
	k.t.Helper()
	in := map[string]any{"reason": "cluster", "public_key": client.ExportPublicKey(pub), "ttl": 600,
		"filter": map[string]any{"sender_pattern": sender}}
	if webhookURL != "" {
		in["webhook_url"] = webhookURL
	}
	var r struct {
		ID string `json:"id"`
	}
	k.mustCall("POST", "/v1/otp/request", k.agentKey, in, &r)
	return r.ID
}

// feed sends an SMS from sender through relay k and reports whether the
// relay matched it.
func feed(k *killRelay, sender, text, externalID string) (bool, error) {
	st, b, err := k.call("POST", "/v1/messages", k.smsToken, map[string]any{
		"source": "sms", "sender": sender, "text": text, "external_id": externalID})
	if err != nil {
		return false, err
	}
	if st != http.StatusAccepted {
		return false, fmt.Errorf("HTTP %d %s", st, b)
	}
	var out struct {
		Matched bool `json:"matched"`
	}
	err = json.Unmarshal(b, &out)
	return out.Matched, err
}

// TestClusterOneRequestThreeRelays: a request created on A, approved on B
// and fed on C reaches an agent long-polling on A and one streaming its
// events on B; the relays' logs and the database keep no plaintext code
// or credential.
func TestClusterOneRequestThreeRelays(t *testing.T) {
	c := startCluster(t, 3, nil)
	c.setup()
	a, b, cc := c.relays[0], c.relays[1], c.relays[2]
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	const code, sender = "604913", "+15550100001"
	id := newRequest(a, pub, sender, "")

	// An agent long-polls on A.
	polled := make(chan time.Time, 1)
	go func() {
		for {
			var got struct {
				Status string `json:"status"`
			}
			st, body, err := a.call("GET", "/v1/otp/"+id+"?wait=30", a.agentKey, nil)
			if err != nil || st != 200 || json.Unmarshal(body, &got) != nil {
				t.Errorf("long-poll on A: %d %v %s", st, err, body)
				polled <- time.Time{}
				return
			}
			if got.Status == "otp_received" {
				polled <- time.Now()
				return
			}
		}
	}()
	// Another streams the request's events from B.
	streamed := make(chan time.Time, 1)
	approvedSeen := make(chan struct{})
	go func() {
		req, _ := http.NewRequest("GET", b.url+"/v1/otp/"+id+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+b.agentKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("events on B: %v", err)
			streamed <- time.Time{}
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		approved := false
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Errorf("events on B: %v: %s", err, data)
				break
			}
			if ev.Status == "approved" && !approved {
				approved = true
				close(approvedSeen)
			}
			if ev.Status == "otp_received" {
				streamed <- time.Now()
				return
			}
		}
		t.Errorf("events on B ended before the code: %v", sc.Err())
		streamed <- time.Time{}
	}()

	// The owner approves on B; the stream on B hears it (committed by B).
	b.mustCall("POST", "/v1/owner/requests/"+id+"/approve", b.token, struct{}{}, nil)
	select {
	case <-approvedSeen:
	case <-time.After(20 * time.Second):
		t.Fatalf("the stream on B never saw the approval\nA: %s\nB: %s", a.stderr, b.stderr)
	}
	time.Sleep(100 * time.Millisecond) // the long-poll on A is back waiting

	// The SMS arrives at C.
	fedAt := time.Now()
	matched, err := feed(cc, sender, "Your verification code is "+code+". It expires in 10 minutes.", "cluster-1")
	if err != nil || !matched {
		t.Fatalf("feed on C: matched=%v %v\n%s", matched, err, cc.stderr)
	}
	var lp, sse time.Time
	for lp.IsZero() || sse.IsZero() {
		select {
		case lp = <-polled:
			if lp.IsZero() {
				t.FailNow()
			}
		case sse = <-streamed:
			if sse.IsZero() {
				t.FailNow()
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the agents never heard of the code (long-poll %v, stream %v)\nA: %s\nB: %s", lp, sse, a.stderr, b.stderr)
		}
	}
	t.Logf("ingest on C → long-poll on A answered after %v, stream on B after %v", lp.Sub(fedAt), sse.Sub(fedAt))

	// The code is read once, on C.
	var out struct {
		EncryptedPayload string `json:"encrypted_payload"`
	}
	cc.mustCall("POST", "/v1/otp/"+id+"/consume", cc.agentKey, struct{}{}, &out)
	if got, err := client.DecryptOTPPayload(priv, id, out.EncryptedPayload); err != nil || got != code {
		t.Fatalf("decrypted %q, %v; want %s", got, err, code)
	}

	// Neither the database nor any relay's log holds the code or a
	// credential in plaintext.
	dump, err := exec.Command("pg_dump", "--no-owner", c.db).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, dump)
	}
	if !strings.Contains(string(dump), id) {
		t.Fatalf("pg_dump holds no trace of the request %s: did it dump the right database?", id)
	}
	secrets := map[string]string{"the code": code, "the agent key": a.agentKey, "the source token": a.smsToken}
	for i, k := range c.relays {
		secrets[fmt.Sprintf("relay %d's owner token", i)] = k.token
	}
	for what, s := range secrets {
		if strings.Contains(string(dump), s) {
			t.Errorf("pg_dump holds %s in plaintext", what)
		}
		for i, k := range c.relays {
			if strings.Contains(k.stderr.String(), s) {
				t.Errorf("relay %d's log holds %s", i, what)
			}
		}
	}
}

// TestClusterConsumeOnce: 200 concurrent consumes of one request, spread
// over three relays, and exactly one of them gets the code.
func TestClusterConsumeOnce(t *testing.T) {
	c := startCluster(t, 3, func(int) []string { return []string{"--rate-limit", "0"} }) // every consume reaches the request
	c.setup()
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	a := c.relays[0]
	id := newRequest(a, pub, "+15550100002", "")
	c.relays[1].mustCall("POST", "/v1/owner/requests/"+id+"/approve", c.relays[1].token, struct{}{}, nil)
	if matched, err := feed(c.relays[2], "+15550100002", "G-771204 is your code", "once-1"); err != nil || !matched {
		t.Fatalf("feed: %v %v", matched, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var payload string
	start := make(chan struct{})
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := c.relays[i%3]
			<-start
			st, body, err := k.call("POST", "/v1/otp/"+id+"/consume", k.agentKey, struct{}{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("consume %d: %v", i, err)
				return
			}
			statuses[st]++
			if st == 200 {
				var out struct {
					EncryptedPayload string `json:"encrypted_payload"`
				}
				_ = json.Unmarshal(body, &out)
				payload = out.EncryptedPayload
			}
		}()
	}
	close(start)
	wg.Wait()
	if statuses[200] != 1 || statuses[410] != 199 {
		t.Fatalf("statuses of 200 consumes over 3 relays: %v; want one 200 and 199 410s", statuses)
	}
	if got, err := client.DecryptOTPPayload(priv, id, payload); err != nil || got != "771204" {
		t.Fatalf("decrypted %q, %v", got, err)
	}
	t.Logf("statuses: %v", statuses)
}

// TestClusterListenerDropped: when the database ends every relay's
// listening connection (pg_terminate_backend), a change committed on one
// relay still wakes an agent waiting on another.
func TestClusterListenerDropped(t *testing.T) {
	c := startCluster(t, 2, nil)
	c.setup()
	a, b := c.relays[0], c.relays[1]
	pub, _, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		id := newRequest(a, pub, fmt.Sprintf("+1555020%04d", round), "")
		answered := make(chan string, 1)
		go func() {
			var got struct {
				Status string `json:"status"`
			}
			_, body, err := b.call("GET", "/v1/otp/"+id+"?wait=30", b.agentKey, nil)
			if err != nil || json.Unmarshal(body, &got) != nil {
				t.Errorf("long-poll on B: %v %s", err, body)
			}
			answered <- got.Status
		}()
		time.Sleep(200 * time.Millisecond) // B is waiting
		out, err := exec.Command("psql", c.db, "-Atc",
			`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'listen%'`).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) == "0" {
			t.Fatalf("terminate the listeners: %v %s", err, out)
		}
		// The approval is committed by A while B's listener is down or
		// coming back.
		a.mustCall("POST", "/v1/owner/requests/"+id+"/approve", a.token, struct{}{}, nil)
		select {
		case st := <-answered:
			if st != "approved" {
				t.Fatalf("round %d: the long-poll on B answered %q; want approved", round, st)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: the long-poll on B missed the approval after its listener was dropped\n%s", round, b.stderr)
		}
	}
}

// TestClusterKill9 runs a load of requests, approvals, ingests, consumes
// and webhooks over three relays, kills one with SIGKILL in the middle,
// and checks that the other two finish every request, that every
// request's webhooks arrive in order, that no code is read twice, that
// the audit chain verifies, and that the Telegram poller and the IMAP
// connector move to a surviving relay.
func TestClusterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 load run; -short skips it")
	}
	dove := imaptest.Start(t, imaptest.Options{}) // skips without Dovecot (fails when CI=true)
	tg := telegramtest.NewServer(t)
	hooks := newHookSink(t)
	c := startCluster(t, 3, func(int) []string {
		return []string{"--telegram-token", tg.Token(), "--telegram-api-url", tg.URL(), "--webhook-timeout", "2s", "--webhook-retry-base", "200ms", "--rate-limit", "0"}
	})
	c.setup()
	first := c.relays[0]
	var ns struct {
		Source struct {
			ID string `json:"id"`
		} `json:"source"`
	}
	first.mustCall("POST", "/v1/owner/sources", first.token, map[string]any{"name": "inbox", "kind": "email"}, &ns)
	first.mustCall("PUT", "/v1/owner/sources/"+ns.Source.ID+"/imap", first.token, map[string]any{
		"host": "127.0.0.1", "port": dove.Port, "tls_mode": "plain", "username": dove.User, "password": dove.Password}, nil)
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}

	const workers, perWorker = 6, 40
	var dead atomic.Int32 // the index of the killed relay + 1
	alive := func(i int) *killRelay {
		for {
			if int(dead.Load()) != i%3+1 {
				return c.relays[i%3]
			}
			i++
		}
	}
	// retry calls fn on relay after relay until one answers, as a load
	// balancer does when a relay stops answering.
	retry := func(i int, fn func(k *killRelay) error) error {
		var err error
		for attempt := range 30 {
			if err = fn(alive(i + attempt)); err == nil || errors.Is(err, errNoRetry) {
				return err
			}
			time.Sleep(100 * time.Millisecond)
		}
		return err
	}
	var consumed, lost sync.Map // request id -> code
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perWorker {
				i := w*perWorker + n
				sender := fmt.Sprintf("+1555030%04d", i)
				code := fmt.Sprintf("%06d", 300000+i)
				var id string
				err := retry(i, func(k *killRelay) error {
					var r struct {
						ID string `json:"id"`
					}
					st, body, err := k.call("POST", "/v1/otp/request", k.agentKey, map[string]any{
						"reason": "load", "public_key": client.ExportPublicKey(pub), "ttl": 600,
						"filter": map[string]any{"sender_pattern": sender}, "webhook_url": hooks.url(w)})
					if err == nil && (st != 201 || json.Unmarshal(body, &r) != nil) {
						err = fmt.Errorf("create: %d %s", st, body)
					}
					id = r.ID
					return err
				})
				if err == nil {
					err = retry(i+1, func(k *killRelay) error {
						st, body, err := k.call("POST", "/v1/owner/requests/"+id+"/approve", k.token, struct{}{})
						if err == nil && st != 200 {
							// An approval whose answer was lost with a
							// relay is refused the second time.
							var cur struct {
								Status string `json:"status"`
							}
							if _, b, gerr := k.call("GET", "/v1/otp/"+id, k.agentKey, nil); gerr != nil || json.Unmarshal(b, &cur) != nil || cur.Status != "approved" {
								err = fmt.Errorf("approve: %d %s", st, body)
							}
						}
						return err
					})
				}
				if err == nil {
					err = retry(i+2, func(k *killRelay) error {
						_, err := feed(k, sender, "Your code is "+code, "load-"+id)
						return err
					})
				}
				if err == nil {
					err = retry(i+3, func(k *killRelay) error {
						var got struct {
							Status string `json:"status"`
						}
						st, body, err := k.call("GET", "/v1/otp/"+id+"?wait=20", k.agentKey, nil)
						if err == nil && (st != 200 || json.Unmarshal(body, &got) != nil || got.Status != "otp_received") {
							err = fmt.Errorf("wait: %d %s", st, body)
						}
						return err
					})
				}
				if err == nil {
					connLost := false
					err = retry(i+4, func(k *killRelay) error {
						st, body, err := k.call("POST", "/v1/otp/"+id+"/consume", k.agentKey, struct{}{})
						if err != nil {
							connLost = true
							return err
						}
						if st == 410 && connLost && strings.Contains(string(body), "OTP_ALREADY_CONSUMED") {
							// The first consume was read on the relay that
							// died before it answered: read once, and lost
							// with the connection, as a crash loses any
							// answer in flight. It is not read again.
							lost.Store(id, code)
							return nil
						}
						if st != 200 {
							return fmt.Errorf("consume %s: %d %s: %w", id, st, body, errNoRetry)
						}
						var out struct {
							EncryptedPayload string `json:"encrypted_payload"`
						}
						_ = json.Unmarshal(body, &out)
						got, err := client.DecryptOTPPayload(priv, id, out.EncryptedPayload)
						if err != nil || got != code {
							return fmt.Errorf("consume %s: decrypted %q, %v; want %s: %w", id, got, err, code, errNoRetry)
						}
						if _, dup := consumed.LoadOrStore(id, code); dup {
							return fmt.Errorf("consume %s: read twice: %w", id, errNoRetry)
						}
						return nil
					})
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d request %d (%s): %w", w, n, id, err)
					return
				}
			}
		}()
	}
	// Kill the relay that started first (it took the leases: the Telegram
	// poller and the IMAP connector run there) a third of the way in.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for countMap(&consumed) < workers*perWorker/3 {
		select {
		case <-done:
			t.Fatalf("the load ended before the kill: %v", <-errs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	pollsAtKill := len(tg.Polls())
	t.Logf("kill -9 relay 0 after %d of %d lifecycles", countMap(&consumed), workers*perWorker)
	killedAt := time.Now()
	dead.Store(1)
	first.kill9()
	// When a survivor first polls Telegram.
	tgBack := make(chan time.Duration, 1)
	go func() {
		for len(tg.Polls()) <= pollsAtKill && time.Since(killedAt) < 60*time.Second {
			time.Sleep(20 * time.Millisecond)
		}
		tgBack <- time.Since(killedAt)
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Fatalf("relay 1: %s\nrelay 2: %s", c.relays[1].stderr, c.relays[2].stderr)
	}
	if n, l := countMap(&consumed), countMap(&lost); n+l != workers*perWorker {
		t.Fatalf("%d codes read (%d more answers lost with the relay); want %d", n, l, workers*perWorker)
	}
	t.Logf("%d lifecycles finished on the two survivors; %d consume answers were lost with the killed relay (read once there)", workers*perWorker, countMap(&lost))

	// Every finished request's webhooks arrive, in order, at least once.
	want := []string{"pending_approval", "approved", "otp_received", "consumed"}
	var finished []string
	for _, m := range []*sync.Map{&consumed, &lost} {
		m.Range(func(k, _ any) bool { finished = append(finished, k.(string)); return true })
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		bad := hooks.check(want, finished)
		if bad == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks: %s", bad)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The Telegram poller resumed on a survivor.
	if back := <-tgBack; len(tg.Polls()) <= pollsAtKill {
		t.Fatalf("no relay polled Telegram in the %v since the kill (%d polls before it)", back, pollsAtKill)
	} else {
		t.Logf("a survivor polled Telegram %v after the kill", back.Round(time.Millisecond))
	}

	// The IMAP connector resumed on a survivor: a code mailed now reaches
	// a request made now.
	k := c.relays[1]
	id := newRequest(k, pub, "login@mail.example.test", "")
	k.mustCall("POST", "/v1/owner/requests/"+id+"/approve", k.token, struct{}{}, nil)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond))) // INTERNALDATE has whole seconds
	dove.Deliver("INBOX", []byte(fmt.Sprintf("From: login@mail.example.test\r\nTo: alice@example.test\r\nSubject: Sign in\r\nDate: %s\r\n"+
		"Message-ID: <after-kill@example.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYour verification code is 918273\r\n",
		time.Now().Add(2*time.Second).Format(time.RFC1123Z))))
	var got struct {
		Status string `json:"status"`
	}
	for got.Status != "otp_received" {
		if time.Since(killedAt) > 120*time.Second {
			t.Fatalf("the mailed code never arrived after the kill: %s\nrelay 1: %s\nrelay 2: %s", got.Status, k.stderr, c.relays[2].stderr)
		}
		k.mustCall("GET", "/v1/otp/"+id+"?wait=10", k.agentKey, nil, &got)
	}
	var out struct {
		EncryptedPayload string `json:"encrypted_payload"`
	}
	c.relays[2].mustCall("POST", "/v1/otp/"+id+"/consume", k.agentKey, struct{}{}, &out)
	if code, err := client.DecryptOTPPayload(priv, id, out.EncryptedPayload); err != nil || code != "918273" {
		t.Fatalf("mailed code: %q, %v", code, err)
	}

	// The audit chain is one chain that verifies.
	res, err := exec.Command(binary, "audit", "verify", "--server", k.url, "--token", k.token).CombinedOutput()
	if err != nil || !strings.Contains(string(res), "audit chain intact") {
		t.Fatalf("audit verify: %v\n%s", err, res)
	}
	t.Logf("%s", strings.TrimSpace(string(res)))
}

// errNoRetry marks a failure that retrying on another relay must not
// repeat.
var errNoRetry = errors.New("not retried")

func countMap(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

// hookSink receives webhooks at /w/N and records, per URL, the statuses
// of each request in the order they arrived.
type hookSink struct {
	srv  *http.Server
	base string
	mu   sync.Mutex
	got  map[string]map[string][]string // path -> request id -> statuses
	ids  map[string]bool                // webhook-id seen
}

func newHookSink(t *testing.T) *hookSink {
	t.Helper()
	h := &hookSink{got: map[string]map[string][]string{}, ids: map[string]bool{}}
	addr := freeAddr(t)
	h.base = "http://" + addr
	h.srv = &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			RequestID string `json:"request_id"`
			Status    string `json:"status"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if id := r.Header.Get("webhook-id"); !h.ids[id] { // a repeat of a delivery is dropped, as receivers do
			h.ids[id] = true
			if h.got[r.URL.Path] == nil {
				h.got[r.URL.Path] = map[string][]string{}
			}
			h.got[r.URL.Path][body.RequestID] = append(h.got[r.URL.Path][body.RequestID], body.Status)
		}
		w.WriteHeader(204)
	})}
	go h.srv.ListenAndServe()
	t.Cleanup(func() { h.srv.Shutdown(context.Background()) })
	return h
}

func (h *hookSink) url(w int) string { return fmt.Sprintf("%s/w/%d", h.base, w) }

// check returns "" when every request of ids has received want, in
// order, at one URL, else what is missing.
func (h *hookSink) check(want []string, ids []string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	byID := map[string][]string{}
	for _, reqs := range h.got {
		for id, sts := range reqs {
			if byID[id] != nil {
				return fmt.Sprintf("request %s has webhooks at two URLs", id)
			}
			byID[id] = sts
		}
	}
	for _, id := range ids {
		if strings.Join(byID[id], ",") != strings.Join(want, ",") {
			return fmt.Sprintf("request %s received %v; want %v", id, byID[id], want)
		}
	}
	return ""
}
