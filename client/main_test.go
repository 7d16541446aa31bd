package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/sqlite"
)

// TestMain starts a real relay on loopback for the examples and sets what
// the examples read from the environment: AGENTOTP_URL,
// AGENT_OTP_TEST_KEY (a test key, which auto-approves) and
// AGENT_OTP_API_KEY (a live key).
func TestMain(m *testing.M) {
	os.Exit(runWithRelay(m))
}

func runWithRelay(m *testing.M) int {
	dir, err := os.MkdirTemp("", "agentotp-client")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "agentotp.db"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer store.Close()
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	defer srv.Close()
	svc := relay.New(store, relay.NewBroker(), relay.Config{PublicURL: srv.URL})
	srv.Config.Handler = httpapi.New(svc, slog.New(slog.DiscardHandler), httpapi.DefaultConfig()).Handler()
	_, token, err := svc.EnsureOwner(ctx, "owner", false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	owner := client.NewOwnerClient(token, client.WithBaseURL(srv.URL))
	test, err := owner.CreateAgent(ctx, "ci", true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	live, err := owner.CreateAgent(ctx, "live", false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("AGENTOTP_URL", srv.URL)
	os.Setenv("AGENT_OTP_TEST_KEY", test.APIKey)
	os.Setenv("AGENT_OTP_API_KEY", live.APIKey)
	os.Setenv("AGENT_OTP_OWNER_TOKEN", token) // for tests that play the owner and a source
	// Webhooks (webhook_example_test.go): the outbox worker, allowed to
	// reach the examples' receivers on loopback, and the test key's secret.
	os.Setenv("AGENT_OTP_WEBHOOK_SECRET", test.WebhookSecret)
	stopWebhooks := startWebhooks(store)
	defer stopWebhooks()
	return m.Run()
}
