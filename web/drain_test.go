package web_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/internal/drain"
)

// TestLiveFeedEndsAtShutdown: a dashboard live feed open when the relay
// shuts down ends cleanly (the end of the stream, after which the page's
// EventSource reconnects), so the server's shutdown does not wait for it.
func TestLiveFeedEndsAtShutdown(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	b.mustLogin()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sig := drain.New()
	srv := &http.Server{Handler: h.srv.Config.Handler, BaseContext: func(net.Listener) context.Context { return drain.With(context.Background(), sig) }}
	srv.RegisterOnShutdown(sig.Start)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodGet, "http://"+ln.Addr().String()+"/events", nil)
	req.AddCookie(&http.Cookie{Name: "agentotp_session", Value: b.sessionCookie()})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("live feed: %d", resp.StatusCode)
	}
	rd := bufio.NewReader(resp.Body)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("live feed before shutdown: %v", err)
		}
		if strings.HasPrefix(line, "event: pending") {
			break
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		t.Fatalf("shutdown with a live feed open: %v", err)
	}
	if _, err := io.ReadAll(rd); err != nil {
		t.Fatalf("live feed at shutdown: %v; want a clean end", err)
	}
}
