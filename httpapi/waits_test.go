package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
)

// openWait is a long-poll or an event stream the server holds open.
type openWait struct {
	cancel context.CancelFunc
	body   io.ReadCloser   // the event stream
	done   <-chan waitDone // the long-poll's answer
}

type waitDone struct {
	status int
	err    error
}

// end reads the wait to its end: the long-poll's answer, or the event
// stream to its close.
func (o *openWait) end(t *testing.T) {
	t.Helper()
	if o.body != nil {
		if _, err := io.Copy(io.Discard, o.body); err != nil {
			t.Fatalf("event stream: %v", err)
		}
		return
	}
	if d := <-o.done; d.err != nil || d.status != http.StatusOK {
		t.Fatalf("long-poll: %d %v", d.status, d.err)
	}
}

// eventually polls cond until it holds, failing the test if the test's
// context ends first.
func eventually(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("never: %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitPath is the path of a long-poll or an event stream of request id.
func waitPath(mode, id string, wait int) string {
	if mode == "sse" {
		return "/v1/otp/" + id + "/events"
	}
	return fmt.Sprintf("/v1/otp/%s?wait=%d", id, wait)
}

// open starts a long-poll or an event stream of request id with key and
// returns it once the server holds it open; refused, it returns nil and
// the status.
func (h *harness) open(ctx context.Context, t *testing.T, mode, key, id string) (*openWait, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+waitPath(mode, id, 50), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if mode == "sse" {
		// The stream's headers come with its first event, after the slot
		// is taken.
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			cancel()
			return nil, resp.StatusCode
		}
		t.Cleanup(func() { resp.Body.Close() })
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "id: ") {
			t.Fatalf("first event: %q %v", line, err)
		}
		return &openWait{cancel: cancel, body: resp.Body}, http.StatusOK
	}
	// A long-poll says nothing until it ends: it is open once it holds
	// one more slot. open is called only when no other wait starts or
	// ends.
	before := h.api.OpenWaits()
	done := make(chan waitDone, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- waitDone{err: err}
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- waitDone{status: resp.StatusCode, err: err}
	}()
	for h.api.OpenWaits() == before {
		select {
		case d := <-done:
			cancel()
			if d.err != nil {
				t.Fatal(d.err)
			}
			return nil, d.status
		case <-ctx.Done():
			t.Fatal("the long-poll never started")
		case <-time.After(5 * time.Millisecond):
		}
	}
	return &openWait{cancel: cancel, done: done}, http.StatusOK
}

// TestWaitLimits: a credential may keep MaxWaitsPerKey long-polls and
// event streams open, and all credentials MaxWaits; one more is refused
// with 429 RATE_LIMIT_ERROR until one ends, by its request's end or the
// client's leaving.
func TestWaitLimits(t *testing.T) {
	for _, tc := range []struct {
		name          string
		mode          string // "poll" or "sse"
		perKey, total int
		holders       []string // agents whose waits fill the limit
		refused       []string // agents then refused
		admitted      []string // agents then still let through
		streams       []string // agents that also hold an event stream
	}{
		{name: "long-poll per key", mode: "poll", perKey: 3, holders: []string{"a", "a", "a"}, refused: []string{"a"}, admitted: []string{"b"}},
		{name: "events per key", mode: "sse", perKey: 3, holders: []string{"a", "a", "a"}, refused: []string{"a"}, admitted: []string{"b"}},
		{name: "long-poll in all", mode: "poll", total: 3, holders: []string{"a", "a", "b"}, refused: []string{"c", "a"}},
		{name: "events in all", mode: "sse", total: 3, holders: []string{"a", "a", "b"}, refused: []string{"c", "a"}},
		{name: "both kinds share the limit", mode: "poll", perKey: 2, holders: []string{"a"}, streams: []string{"a"}, refused: []string{"a"}, admitted: []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *httpapi.Config) { c.MaxWaitsPerKey, c.MaxWaits = tc.perKey, tc.total })
			ctx := ctxT(t)
			keys := map[string]string{}
			agents := map[string]*client.Client{}
			for _, name := range []string{"a", "b", "c"} {
				c, na := h.agent(name, false)
				agents[name], keys[name] = c, na.APIKey
			}
			pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
			request := func(name string) string {
				t.Helper()
				req, err := agents[name].RequestOTP(ctx, client.RequestOptions{Reason: "wait", PublicKey: client.ExportPublicKey(pub)})
				if err != nil {
					t.Fatal(err)
				}
				return req.ID
			}
			mustOpen := func(mode, name string) (*openWait, string) {
				t.Helper()
				id := request(name)
				o, status := h.open(ctx, t, mode, keys[name], id)
				if o == nil {
					t.Fatalf("%s of %s: %d; want it open", mode, name, status)
				}
				return o, id
			}

			holders := make([]*openWait, len(tc.holders))
			ids := make([]string, len(tc.holders))
			for i, name := range tc.holders {
				holders[i], ids[i] = mustOpen(tc.mode, name)
			}
			for _, name := range tc.streams {
				mustOpen("sse", name)
			}
			for _, name := range tc.refused {
				for _, mode := range []string{"poll", "sse"} {
					status, body, hdr := h.call(http.MethodGet, waitPath(mode, request(name), 1), keys[name], "", nil)
					p := decodeProblem(t, body)
					if status != http.StatusTooManyRequests || p.Code != agentotp.ERateLimit || p.RetryAfter < 1 || hdr.Get("Retry-After") == "" {
						t.Fatalf("%s of %s over the limit: %d %s %v", mode, name, status, body, hdr)
					}
				}
				// A plain read is no wait.
				if status, body, _ := h.call(http.MethodGet, "/v1/otp/"+ids[0], keys[tc.holders[0]], "", nil); status != http.StatusOK {
					t.Fatalf("read over the limit: %d %s", status, body)
				}
			}
			for _, name := range tc.admitted {
				// A long-poll of a second ends before its answer arrives.
				if status, body, _ := h.call(http.MethodGet, waitPath("poll", request(name), 1), keys[name], "", nil); status != http.StatusOK {
					t.Fatalf("long-poll of %s: %d %s", name, status, body)
				}
			}
			open := h.api.OpenWaits()

			// A wait that ends gives its slot back before its answer, or
			// its stream's end, reaches the client.
			if status, body, _ := h.call(http.MethodDelete, "/v1/otp/"+ids[0], keys[tc.holders[0]], "", nil); status != http.StatusOK {
				t.Fatalf("cancel: %d %s", status, body)
			}
			holders[0].end(t)
			if n := h.api.OpenWaits(); n != open-1 {
				t.Fatalf("%d waits open after one ended; want %d", n, open-1)
			}
			mustOpen(tc.mode, tc.refused[0])

			// A client that leaves gives its slot back.
			if len(holders) > 1 {
				holders[1].cancel()
				eventually(ctx, t, "the slot of a client gone is given back", func() bool { return h.api.OpenWaits() == open-1 })
				mustOpen(tc.mode, tc.refused[0])
			}
		})
	}
}

// countingStore counts the store lookups an authentication makes.
type countingStore struct {
	agentotp.Store
	finds, keyLists atomic.Int64
}

func (s *countingStore) FindCredential(ctx context.Context, hash []byte) (*agentotp.Credential, error) {
	s.finds.Add(1)
	return s.Store.FindCredential(ctx, hash)
}

func (s *countingStore) ListSourceKeys(ctx context.Context, sourceID string, limit int) ([]*agentotp.SourceKey, error) {
	s.keyLists.Add(1)
	return s.Store.ListSourceKeys(ctx, sourceID, limit)
}

// TestSMSGateCountsFailures: a webhook whose signature verifies with no
// source's token counts as a failed authentication of its client.
func TestSMSGateCountsFailures(t *testing.T) {
	var cs *countingStore
	h := newHarnessStore(t, func(s agentotp.Store) agentotp.Store { cs = &countingStore{Store: s}; return cs },
		func(c *httpapi.Config) { c.FailedAuthRate = 2 })
	h.source("sms")
	post := func() int {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/ingest/sms-gate", strings.NewReader(`{"event":"sms:received"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Timestamp", fmt.Sprint(time.Now().Unix()))
		req.Header.Set("X-Signature", strings.Repeat("ab", 32))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusTooManyRequests} {
		if status := post(); status != want {
			t.Fatalf("webhook %d: %d; want %d", i, status, want)
		}
	}
	// Every webhook had its signature checked (a valid one must get
	// through whatever its address did before: authlimit_test.go).
	if n := cs.keyLists.Load(); n != 4 {
		t.Errorf("%d source key lookups; want 4", n)
	}
}
