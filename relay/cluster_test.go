package relay_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/internal/pgtest"
	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/postgres"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/secretbox"
)

// clusterNode is one relay of a cluster under test: its own store handle
// of the shared database, its own service and broker, its own HTTP
// server on loopback, and the store's listener feeding the service.
type clusterNode struct {
	name  string
	url   string // of the shared database
	store *postgres.Store
	svc   *relay.Service
	srv   *httptest.Server
	logs  *relaytest.Buffer
	stop  func()
}

// newCluster starts n relays on one fresh PostgreSQL database, sharing
// one secret key, and waits until each one's listener is connected. The
// owner is made on the first; each relay gets its own owner token.
// wrap, when given, stands between relay i and its store's Cluster.
func newCluster(t *testing.T, n int, cfg httpapi.Config, wrap ...func(i int, c agentotp.Cluster) agentotp.Cluster) ([]*clusterNode, []string, string) {
	t.Helper()
	url := pgtest.URL(t)
	key, err := secretbox.LoadKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*clusterNode
	var tokens []string
	var ownerID string
	for i := range n {
		nd := &clusterNode{name: string(rune('A' + i)), url: url, logs: &relaytest.Buffer{}}
		log := slog.New(slog.NewJSONHandler(nd.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		ctx := context.Background()
		if nd.store, err = postgres.Open(ctx, url, log, postgres.WithSecretBox(box)); err != nil {
			t.Fatal(err)
		}
		nd.srv = httptest.NewUnstartedServer(http.NotFoundHandler())
		nd.srv.Start()
		nd.svc = relay.New(nd.store, relay.NewBroker(), relay.Config{PublicURL: nd.srv.URL, Logger: log, Secrets: box})
		c := cfg
		c.SharedLimits = nd.store
		nd.srv.Config.Handler = httpapi.New(nd.svc, log, c).Handler()
		runCtx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); nd.svc.Run(runCtx, time.Hour) }()
		go func() {
			defer wg.Done()
			var c agentotp.Cluster = nd.store
			for _, w := range wrap {
				c = w(i, c)
			}
			if err := nd.svc.RunCluster(runCtx, c); err != nil {
				t.Errorf("relay %s: RunCluster: %v", nd.name, err)
			}
		}()
		nd.stop = sync.OnceFunc(func() {
			nd.srv.CloseClientConnections()
			cancel()
			wg.Wait()
			nd.srv.Close()
			nd.store.Close()
		})
		t.Cleanup(nd.stop)
		o, tok, err := nd.svc.EnsureOwner(ctx, "owner", true)
		if err != nil {
			t.Fatal(err)
		}
		ownerID = o.ID
		nodes, tokens = append(nodes, nd), append(tokens, tok)
	}
	for _, nd := range nodes {
		nd.waitListening(t, 1)
	}
	return nodes, tokens, ownerID
}

// waitListening waits until the relay's listener has (re)connected n
// times in all.
func (nd *clusterNode) waitListening(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(nd.logs.String(), "cluster: listening") < n {
		if time.Now().After(deadline) {
			t.Fatalf("relay %s: its listener did not connect (%d times wanted)", nd.name, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (nd *clusterNode) owner(token string) *client.OwnerClient {
	return client.NewOwnerClient(token, client.WithBaseURL(nd.srv.URL), client.WithMaxRetries(0))
}

func (nd *clusterNode) agent(key string) *client.Client {
	return client.New(key, client.WithBaseURL(nd.srv.URL), client.WithMaxRetries(0))
}

func (nd *clusterNode) source(token string) *client.SourceClient {
	return client.NewSourceClient(token, client.WithBaseURL(nd.srv.URL), client.WithMaxRetries(0))
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newRequest makes a key pair and a request of agent on relay nd.
func newRequest(t *testing.T, ctx context.Context, agent *client.Client) (*client.OTPRequest, *client.PrivateKey) {
	t.Helper()
	pub, priv, err := client.GenerateKeyPair("")
	if err != nil {
		t.Fatal(err)
	}
	r, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "log in to the shop", PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{SenderPattern: "+15550001111"}})
	if err != nil {
		t.Fatal(err)
	}
	return r, priv
}

// A request created on A, approved on B and fed on C wakes an agent's
// long-poll on A, an agent's event stream on B and the owner's live feed
// (the dashboard's stream follows Service.WatchOwner) on B; the code is
// then consumed once.
func TestClusterWakesEveryRelay(t *testing.T) {
	nodes, tokens, ownerID := newCluster(t, 3, httpapi.DefaultConfig())
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx := testCtx(t)
	na, src := fleet(t, ctx, a, tokens[0], c, tokens[2])
	agentA, agentB := a.agent(na.APIKey), b.agent(na.APIKey)

	feed, release := b.svc.WatchOwner(ownerID)
	defer release()
	r, priv := newRequest(t, ctx, agentA)

	// B's owner feed hears of the new request made on A.
	waitFeed(t, feed, r.ID, "the creation on A")

	stream := make(chan clusterSeen, 8)
	go func() {
		for got, err := range agentB.WatchOTP(ctx, r.ID) {
			if err != nil {
				stream <- clusterSeen{err: err}
				return
			}
			stream <- clusterSeen{st: got.Status}
			if !got.Status.Waiting() {
				return
			}
		}
	}()
	waitStream(t, stream, client.StatusPendingApproval)

	poll := make(chan clusterSeen, 1)
	go func() {
		got, err := agentA.WaitOTPStatus(ctx, r.ID, 30*time.Second)
		if err != nil {
			poll <- clusterSeen{err: err}
			return
		}
		poll <- clusterSeen{st: got.Status}
	}()
	time.Sleep(100 * time.Millisecond) // the long-poll is waiting on A
	if _, err := b.owner(tokens[1]).Approve(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if got := <-poll; got.err != nil || got.st != client.StatusApproved {
		t.Fatalf("A's long-poll after the approval on B = %v, %v; want approved", got.st, got.err)
	}
	waitStream(t, stream, client.StatusApproved)
	waitFeed(t, feed, r.ID, "the approval on B")

	go func() {
		got, err := agentA.WaitOTPStatus(ctx, r.ID, 30*time.Second)
		if err != nil {
			poll <- clusterSeen{err: err}
			return
		}
		poll <- clusterSeen{st: got.Status}
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	res, err := c.source(src.Token).Send(ctx, client.Message{Source: "sms", Sender: "+15550001111", Text: "Your code is 482913"})
	if err != nil || !res.Matched {
		t.Fatalf("the message on C = %+v, %v; want matched", res, err)
	}
	if got := <-poll; got.err != nil || got.st != client.StatusOTPReceived {
		t.Fatalf("A's long-poll after the message on C = %v, %v; want otp_received", got.st, got.err)
	}
	t.Logf("ingest on C → A's long-poll answered: %s", time.Since(start))
	waitStream(t, stream, client.StatusOTPReceived)
	waitFeed(t, feed, r.ID, "the message on C")

	got, err := agentB.ConsumeOTP(ctx, r.ID, priv)
	if err != nil || got.Code != "482913" {
		t.Fatalf("consume on B = %+v, %v; want 482913", got, err)
	}
	if _, err := agentA.ConsumeOTP(ctx, r.ID, priv); err == nil {
		t.Fatal("a second consume, on A, succeeded")
	}
}

func waitFeed(t *testing.T, feed <-chan string, id, what string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-feed:
			if got == id {
				return
			}
		case <-timeout:
			t.Fatalf("the owner's feed on B did not hear of %s", what)
		}
	}
}

// clusterSeen is a status a watcher saw, or the error it ended with.
type clusterSeen struct {
	st  client.Status
	err error
}

func waitStream(t *testing.T, stream <-chan clusterSeen, want client.Status) {
	t.Helper()
	select {
	case got := <-stream:
		if got.err != nil || got.st != want {
			t.Fatalf("B's event stream = %v, %v; want %v", got.st, got.err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("B's event stream did not say %v", want)
	}
}

// apiError returns err as the relay's answer, failing t when it is not one.
func apiError(t *testing.T, err error) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v; want an answer of the relay", err)
	}
	return e
}

// A relay whose listener connection is killed (pg_terminate_backend)
// loses no change made meanwhile: after it reconnects it reads its live
// index again and wakes its waiters, so a long-poll held on it answers,
// and a message it takes in feeds a request it never heard of.
func TestClusterDroppedListenerLosesNoWakeup(t *testing.T) {
	nodes, tokens, _ := newCluster(t, 2, httpapi.DefaultConfig())
	a, b := nodes[0], nodes[1]
	ctx := testCtx(t)
	na, src := fleet(t, ctx, b, tokens[1], a, tokens[0])
	agentA, agentB := a.agent(na.APIKey), b.agent(na.APIKey)
	first, _ := newRequest(t, ctx, agentA) // loads the owner's part of A's index

	poll := make(chan clusterSeen, 1)
	go func() {
		got, err := agentA.WaitOTPStatus(ctx, first.ID, 30*time.Second)
		if err != nil {
			poll <- clusterSeen{err: err}
			return
		}
		poll <- clusterSeen{st: got.Status}
	}()
	time.Sleep(100 * time.Millisecond)

	admin, err := pgx.Connect(ctx, a.url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		"agentotp-listen "+a.store.Instance()).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate A's listener: %d killed, %v", killed, err)
	}
	// While A is not listening: B approves the first request and makes
	// a second one.
	if _, err := b.owner(tokens[1]).Approve(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	second, priv := newRequest(t, ctx, agentB)
	if _, err := b.owner(tokens[1]).Approve(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-poll:
		if got.err != nil || got.st != client.StatusApproved {
			t.Fatalf("A's long-poll = %v, %v; want approved", got.st, got.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("A's long-poll was not woken after its listener dropped")
	}
	a.waitListening(t, 2) // it reconnected

	// The first request takes the first message (older, approved); the
	// second, which A heard of only through its resync, the next one.
	for _, code := range []string{"111111", "222222"} {
		res, err := a.source(src.Token).Send(ctx, client.Message{Source: "sms", Sender: "+15550001111", Text: "Your code is " + code})
		if err != nil || !res.Matched {
			t.Fatalf("message %s on A = %+v, %v; want matched", code, res, err)
		}
	}
	got, err := agentB.ConsumeOTP(ctx, second.ID, priv)
	if err != nil || got.Code != "222222" {
		t.Fatalf("consume the second request = %+v, %v; want 222222", got, err)
	}
}

// The cap on an agent's waiting requests holds for the cluster: at 18
// live requests, four made at once on two relays give two more, and the
// others are refused as the in-memory check refuses (429,
// RATE_LIMIT_ERROR).
func TestClusterLiveCap(t *testing.T) {
	nodes, tokens, _ := newCluster(t, 2, httpapi.DefaultConfig())
	ctx := testCtx(t)
	na, err := nodes[0].owner(tokens[0]).CreateAgent(ctx, "busy-agent", false)
	if err != nil {
		t.Fatal(err)
	}
	agents := []*client.Client{nodes[0].agent(na.APIKey), nodes[1].agent(na.APIKey)}
	for i := range relay.MaxLiveRequestsPerAgent - 2 {
		newRequest(t, ctx, agents[i%2])
	}
	pub, _, err := client.GenerateKeyPair("")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	var start sync.WaitGroup
	start.Add(1)
	for i := range 4 {
		go func() {
			start.Wait()
			_, err := agents[i%2].RequestOTP(ctx, client.RequestOptions{Reason: "one more", PublicKey: client.ExportPublicKey(pub)})
			errs <- err
		}()
	}
	start.Done()
	made := 0
	for range 4 {
		err := <-errs
		if err == nil {
			made++
			continue
		}
		if e := apiError(t, err); e.StatusCode != http.StatusTooManyRequests || e.Code != "RATE_LIMIT_ERROR" {
			t.Errorf("a refused request = %d %s (%v); want 429 RATE_LIMIT_ERROR", e.StatusCode, e.Code, err)
		}
	}
	if made != 2 {
		t.Fatalf("%d of 4 concurrent requests made at 18 live; want 2", made)
	}
	for _, ag := range agents {
		_, err := ag.RequestOTP(ctx, client.RequestOptions{Reason: "over", PublicKey: client.ExportPublicKey(pub)})
		if e := apiError(t, err); e.StatusCode != http.StatusTooManyRequests {
			t.Errorf("a request over the cap = %v; want 429", err)
		}
	}
}

// An agent key's rate limit is one budget for the cluster: with 6 calls
// a minute and a burst of 3, the fourth call is refused whichever relay
// it reaches. When the shared count fails, calls are refused (503,
// RATE_LIMIT_ERROR, Retry-After), not let through.
func TestClusterRateLimit(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.AgentRate, cfg.AgentBurst = 6, 3
	nodes, tokens, _ := newCluster(t, 3, cfg)
	ctx := testCtx(t)
	na, err := nodes[0].owner(tokens[0]).CreateAgent(ctx, "chatty-agent", false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_, err := nodes[i].agent(na.APIKey).GetOTPStatus(ctx, "otp_doesnotexist00000000")
		if e := apiError(t, err); e.StatusCode != http.StatusNotFound {
			t.Fatalf("call %d on %s = %v; want 404 (within the limit)", i+1, nodes[i].name, err)
		}
	}
	for _, nd := range nodes {
		_, err := nd.agent(na.APIKey).GetOTPStatus(ctx, "otp_doesnotexist00000000")
		if e := apiError(t, err); e.StatusCode != http.StatusTooManyRequests || e.Code != "RATE_LIMIT_ERROR" || e.RetryAfter <= 0 {
			t.Fatalf("a call over the budget on %s = %v; want 429 RATE_LIMIT_ERROR with Retry-After", nd.name, err)
		}
	}

	// The buckets' table gone, the count fails: closed, not open.
	admin, err := pgx.Connect(ctx, nodes[0].url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `DROP TABLE rate_buckets`); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, nodes[1].srv.URL+"/v1/owner/agents", nil)
	req.Header.Set("Authorization", "Bearer "+tokens[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a call whose limit cannot be counted = %d (Retry-After %q); want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(nodes[1].logs.String(), "rate limit: count failed") {
		t.Error("the failed count was not logged")
	}
}

// lateNotes is a store's Cluster whose listener holds every change it
// hears until release is closed: a relay that hears of the others'
// changes late.
type lateNotes struct {
	agentotp.Cluster
	release chan struct{}
}

func (l lateNotes) Listen(ctx context.Context, resync func(context.Context), fn func(context.Context, agentotp.Change)) error {
	return l.Cluster.Listen(ctx, resync, func(ctx context.Context, ch agentotp.Change) {
		select {
		case <-l.release:
			fn(ctx, ch)
		case <-ctx.Done():
		}
	})
}

// TestClusterMessageBeforeTheNote: an SMS that reaches relay B before B
// has heard that the request it is for was created and approved on A
// still feeds that request (B reads its owner's live requests again
// rather than drop the code), once.
func TestClusterMessageBeforeTheNote(t *testing.T) {
	release := make(chan struct{})
	nodes, tokens, _ := newCluster(t, 2, httpapi.DefaultConfig(), func(i int, c agentotp.Cluster) agentotp.Cluster {
		if i == 1 {
			return lateNotes{c, release}
		}
		return c
	})
	t.Cleanup(func() { close(release) })
	a, b := nodes[0], nodes[1]
	ctx := testCtx(t)
	na, src := fleet(t, ctx, a, tokens[0], a, tokens[0])
	phone := b.source(src.Token)
	// B's index of the owner is loaded (a message that feeds nothing).
	if res, err := phone.Send(ctx, client.Message{Source: "sms", Sender: "+15550009999", Text: "Your code is 100200"}); err != nil || res.Matched {
		t.Fatalf("first message on B = %+v, %v; want unmatched", res, err)
	}
	r, priv := newRequest(t, ctx, a.agent(na.APIKey))
	if _, err := a.owner(tokens[0]).Approve(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	// B has heard nothing of r yet; its code arrives at B.
	res, err := phone.Send(ctx, client.Message{Source: "sms", Sender: "+15550001111", Text: "Your code is 551902"})
	if err != nil || !res.Matched {
		t.Fatalf("the message on B before B heard of the request = %+v, %v; want matched", res, err)
	}
	got, err := a.agent(na.APIKey).ConsumeOTP(ctx, r.ID, priv)
	if err != nil || got.Code != "551902" {
		t.Fatalf("consume on A = %+v, %v; want 551902", got, err)
	}
	// A second copy of the message, under another id, feeds nothing.
	if res, err := phone.Send(ctx, client.Message{Source: "sms", Sender: "+15550001111", Text: "Your code is 551902"}); err != nil || res.Matched {
		t.Fatalf("the message again = %+v, %v; want unmatched", res, err)
	}
}

// fleet makes an agent through relay ag and an SMS source through relay
// sr, each with its relay's owner token.
func fleet(t *testing.T, ctx context.Context, ag *clusterNode, agToken string, sr *clusterNode, srToken string) (*client.NewAgent, *client.NewSource) {
	t.Helper()
	na, err := ag.owner(agToken).CreateAgent(ctx, "shop-agent", false)
	if err != nil {
		t.Fatal(err)
	}
	src, err := sr.owner(srToken).CreateSource(ctx, "phone", "sms")
	if err != nil {
		t.Fatal(err)
	}
	return na, src
}
