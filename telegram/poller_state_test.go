package telegram_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/agentotp/agentotp/telegram"
)

// TestPollerState follows the update loop through the fake Bot API:
// polling, retrying after failures, conflict on 409, polling again.
func TestPollerState(t *testing.T) {
	e := newEnv(t, envOptions{direct: true})
	waitState := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for e.bot.PollerState() != want {
			if time.Now().After(deadline) {
				t.Fatalf("poller state %q, want %q", e.bot.PollerState(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitState(telegram.PollerPolling)
	e.fake.FailNext("getUpdates", 20, http.StatusConflict, `{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request"}`)
	waitState(telegram.PollerConflict)
	waitState(telegram.PollerPolling)
	e.fake.FailNext("getUpdates", 20, http.StatusBadGateway, `{"ok":false,"error_code":502,"description":"Bad Gateway"}`)
	waitState(telegram.PollerRetrying)
	waitState(telegram.PollerPolling)
}
