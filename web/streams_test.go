package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/web"
)

// openFeed opens the live feed with the session cookie of b. Open, it
// returns the function that closes it; refused, nil and the response.
func (h *harness) openFeed(ctx context.Context, t *testing.T, b *browser) (func(), *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/events", nil)
	req.AddCookie(&http.Cookie{Name: "agentotp_session", Value: b.sessionCookie()})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, resp
	}
	// The headers come with the first events, after the slot is taken.
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("live feed: %s", ct)
	}
	return func() { cancel(); resp.Body.Close() }, resp
}

// TestLiveFeedLimits: a session may keep MaxStreamsPerSession live feeds
// open, and all sessions MaxStreams; one more is refused with 429 until
// one closes.
func TestLiveFeedLimits(t *testing.T) {
	for _, tc := range []struct {
		name              string
		perSession, total int
		holders           []int // browsers (sessions) whose feeds fill the limit
		refused           []int // browsers then refused
		admitted          []int // browsers then still let through
	}{
		{name: "per session", perSession: 2, holders: []int{0, 0}, refused: []int{0}, admitted: []int{1}},
		{name: "in all", total: 3, holders: []int{0, 0, 1}, refused: []int{2, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *web.Config) { c.MaxStreamsPerSession, c.MaxStreams = tc.perSession, tc.total })
			ctx := ctxT(t)
			browsers := make([]*browser, 3)
			for i := range browsers {
				browsers[i] = h.browser()
				browsers[i].mustLogin()
			}
			mustOpen := func(i int) func() {
				t.Helper()
				closeFeed, resp := h.openFeed(ctx, t, browsers[i])
				if closeFeed == nil {
					t.Fatalf("live feed of session %d: %d; want it open", i, resp.StatusCode)
				}
				return closeFeed
			}
			settled := func(n int) {
				t.Helper()
				for h.dash.OpenStreams() != n {
					select {
					case <-ctx.Done():
						t.Fatalf("%d live feeds open; want %d", h.dash.OpenStreams(), n)
					case <-time.After(5 * time.Millisecond):
					}
				}
			}

			closers := make([]func(), len(tc.holders))
			for i, b := range tc.holders {
				closers[i] = mustOpen(b)
			}
			for _, b := range tc.refused {
				closeFeed, resp := h.openFeed(ctx, t, browsers[b])
				if closeFeed != nil {
					t.Fatalf("session %d over the limit got a live feed", b)
				}
				if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
					!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					t.Fatalf("session %d over the limit: %d %v", b, resp.StatusCode, resp.Header)
				}
				// The pages still load.
				if r := browsers[b].get("/"); r.status != http.StatusOK {
					t.Fatalf("pending page over the limit: %d", r.status)
				}
			}
			for _, b := range tc.admitted {
				mustOpen(b)()
			}
			settled(len(tc.holders))

			// A feed that closes gives its slot back.
			closers[0]()
			settled(len(tc.holders) - 1)
			mustOpen(tc.refused[0])
		})
	}
}
