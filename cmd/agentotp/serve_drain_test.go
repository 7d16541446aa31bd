package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/internal/relaytest"
)

// runningRelay is a relayMain running in this process.
type runningRelay struct {
	url, data string
	logs      *relaytest.Buffer
	tls       *tls.Config  // the client's, for a relay with --tls-cert
	stop      func() error // cancels Run, waits for it, closes the store
}

// startMain runs the real lifecycle on loopback with a SQLite file in a
// new data directory; the test's end stops it.
func startMain(t *testing.T, args ...string) *runningRelay {
	t.Helper()
	o := testServeOptions(t, args...)
	buf := &relaytest.Buffer{}
	m := newRelayMain(buf, slog.New(slog.NewJSONHandler(buf, nil)), o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var stopped bool
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return errorsJoin(err, m.Close())
		case <-time.After(30 * time.Second):
			return fmt.Errorf("Run did not return after its context ended")
		}
	}
	t.Cleanup(func() { stop() })
	waitFor(t, buf, "relay started")
	out := buf.String()
	url := strings.Fields(out[strings.Index(out, "listening on ")+len("listening on "):])[0]
	return &runningRelay{url: url, data: o.dataDir, logs: buf, stop: stop}
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// agentWithRequest creates an agent and one pending request; it returns
// the agent's key and the request's id.
func (r *runningRelay) agentWithRequest(t *testing.T) (string, string) {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(r.data, "owner.token"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTest(t)
	once := client.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: r.tls}}) // leave no idle connection
	owner := client.NewOwnerClient(strings.TrimSpace(string(tok)), client.WithBaseURL(r.url), client.WithMaxRetries(0), once)
	n, err := owner.CreateAgent(ctx, "drain", false)
	if err != nil {
		t.Fatal(err)
	}
	agent := client.New(n.APIKey, client.WithBaseURL(r.url), client.WithMaxRetries(0), once)
	pub, _, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	req, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "Sign in to Acme", PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	return n.APIKey, req.ID
}

func ctxTest(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waiters reads the relay's gauge of open long-polls and event streams.
func (r *runningRelay) waiters(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "agentotp_waiters "); ok {
			return v
		}
	}
	return ""
}

// TestShutdownAnswersWaits: with two long-polls and an event stream open
// on a request, stopping the relay answers each long-poll at once with
// the request object (200, as a GET returns it) and ends the stream
// cleanly (a retry: hint, then the end of the stream) rather than the
// empty 200 that clients took for a fatal error.
func TestShutdownAnswersWaits(t *testing.T) {
	r := startMain(t)
	key, id := r.agentWithRequest(t)
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, r.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		return http.DefaultClient.Do(req)
	}
	type answer struct {
		status int
		header http.Header
		close  bool
		body   []byte
		err    error
	}
	polls := make(chan answer, 2)
	for range 2 {
		go func() {
			resp, err := get("/v1/otp/" + id + "?wait=55")
			if err != nil {
				polls <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			polls <- answer{resp.StatusCode, resp.Header, resp.Close, b, err}
		}()
	}
	stream, err := get("/v1/otp/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK {
		t.Fatalf("events: %d", stream.StatusCode)
	}
	rd := bufio.NewReader(stream.Body)
	var first strings.Builder
	for !strings.HasSuffix(first.String(), "\n\n") {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("first event: %v", err)
		}
		first.WriteString(line)
	}
	if !strings.Contains(first.String(), "event: status") {
		t.Fatalf("first event %q", first.String())
	}
	for deadline := time.Now().Add(20 * time.Second); r.waiters(t) != "3"; {
		if time.Now().After(deadline) {
			t.Fatalf("waiters %s; want the 2 long-polls and the stream", r.waiters(t))
		}
		time.Sleep(20 * time.Millisecond)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	for range 2 {
		a := <-polls
		if a.err != nil {
			t.Fatalf("long-poll at shutdown: %v", a.err)
		}
		var obj struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/json" || json.Unmarshal(a.body, &obj) != nil ||
			obj.ID != id || obj.Status != "pending_approval" {
			t.Fatalf("long-poll at shutdown: %d %s %q; want 200 and the request object", a.status, a.header.Get("Content-Type"), a.body)
		}
		if !a.close {
			t.Error("long-poll at shutdown: no Connection: close")
		}
	}
	rest, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("event stream at shutdown: %v (after %q); want a clean end", err, rest)
	}
	if string(rest) != "retry: 2000\n\n" {
		t.Fatalf("event stream at shutdown ended with %q; want the retry hint", rest)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
}
