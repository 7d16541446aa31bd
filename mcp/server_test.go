package mcp_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/mcp"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/sqlite"
)

// relayWithTestKey starts a real relay (SQLite file, HTTP on loopback)
// and returns a client with a test key.
func relayWithTestKey(t *testing.T) *client.Client {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "agentotp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	svc := relay.New(store, relay.NewBroker(), relay.Config{PublicURL: srv.URL})
	srv.Config.Handler = httpapi.New(svc, slog.New(slog.DiscardHandler), httpapi.DefaultConfig()).Handler()
	t.Cleanup(func() { srv.Close(); store.Close() })
	o, _, err := svc.EnsureOwner(ctx, "owner", false)
	if err != nil {
		t.Fatal(err)
	}
	n, err := svc.CreateAgent(ctx, o.ID, "mcp", true)
	if err != nil {
		t.Fatal(err)
	}
	return client.New(n.APIKey, client.WithBaseURL(srv.URL), client.WithMaxRetries(0))
}

// connect runs the server in memory and returns a connected client
// session and the progress messages it has received.
func connect(t *testing.T, cfg mcp.Config) (*mcpsdk.ClientSession, func() []string) {
	t.Helper()
	srv := mcp.New(cfg)
	st, ct := mcpsdk.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	ss, err := srv.SDK().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var progress []string
	c := mcpsdk.NewClient(&mcpsdk.Implementation{Name: "test", Version: "v1"}, &mcpsdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcpsdk.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, r.Params.Message)
			mu.Unlock()
		},
	})
	cs, err := c.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close(); ss.Close(); cancel() })
	return cs, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), progress...)
	}
}

func call(t *testing.T, cs *mcpsdk.ClientSession, name string, args map[string]any) (*mcpsdk.CallToolResult, string) {
	t.Helper()
	p := &mcpsdk.CallToolParams{Name: name, Arguments: args}
	p.SetProgressToken(name)
	res, err := cs.CallTool(context.Background(), p)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcpsdk.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	return res, strings.Join(text, "\n")
}

// A call that runs out of time says so, cancels its request (nobody will
// read it), and kept the client informed while it waited.
func TestGetTimesOutAndCancels(t *testing.T) {
	otp := relayWithTestKey(t)
	cs, progress := connect(t, mcp.Config{Client: otp, ProgressEvery: 200 * time.Millisecond})
	res, text := call(t, cs, mcp.ToolGet, map[string]any{"reason": "x", "sender_pattern": "NOBODY", "timeout_seconds": 3})
	if !res.IsError || !strings.Contains(text, "no code within 3s") || !strings.Contains(text, "cancelled") {
		t.Fatalf("timeout: %v %q", res.IsError, text)
	}
	// Waits are whole seconds (the long-poll's unit), never past the
	// timeout: a progress notification before each.
	if n := len(progress()); n < 2 {
		t.Errorf("%d progress notifications in a 3 s wait", n)
	}
	id := regexp.MustCompile(`otp_[0-9A-Za-z]+`).FindString(text)
	r, err := otp.GetOTPStatus(context.Background(), id)
	if err != nil || r.Status != client.StatusCancelled {
		t.Fatalf("the abandoned request %q: %v %v", id, r, err)
	}
}

// The server holds at most MaxPending private keys.
func TestPendingBound(t *testing.T) {
	otp := relayWithTestKey(t)
	cs, _ := connect(t, mcp.Config{Client: otp, MaxPending: 2})
	var ids []string
	for i := range 2 {
		res, text := call(t, cs, mcp.ToolRequest, map[string]any{"reason": "x", "sender_pattern": "NOBODY"})
		if res.IsError {
			t.Fatalf("request %d: %q", i, text)
		}
		ids = append(ids, res.StructuredContent.(map[string]any)["request_id"].(string))
	}
	if res, text := call(t, cs, mcp.ToolRequest, map[string]any{"reason": "x"}); !res.IsError || !strings.Contains(text, "open already") {
		t.Fatalf("third request: %v %q", res.IsError, text)
	}
	// Cancelling one frees its place.
	if res, text := call(t, cs, mcp.ToolCancel, map[string]any{"request_id": ids[0]}); res.IsError {
		t.Fatalf("cancel: %q", text)
	}
	if res, text := call(t, cs, mcp.ToolRequest, map[string]any{"reason": "x", "sender_pattern": "NOBODY"}); res.IsError {
		t.Fatalf("request after cancel: %q", text)
	}
	// A request this server did not open cannot be checked: it has no key.
	if res, text := call(t, cs, mcp.ToolCheck, map[string]any{"request_id": "otp_elsewhere"}); !res.IsError || !strings.Contains(text, "not opened") {
		t.Fatalf("foreign check: %q", text)
	}
	if res, _ := call(t, cs, mcp.ToolCheck, map[string]any{"request_id": ids[1], "wait_seconds": 99}); !res.IsError {
		t.Fatal("wait_seconds 99 accepted")
	}
}
