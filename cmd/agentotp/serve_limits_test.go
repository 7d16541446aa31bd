package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// get calls path of the relay with a bearer token and returns the status.
func (r *relayProc) get(t *testing.T, path, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r *relayProc) ownerToken(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.data, "owner.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestServeRateLimitFlags: --rate-limit and its per-kind overrides take
// effect on a real relay: the owner is held to --rate-limit-owner's
// burst, --rate-limit 0 lifts the agents' limit past today's burst of
// 60, and without flags the defaults hold.
func TestServeRateLimitFlags(t *testing.T) {
	// calls makes n calls and returns how many were answered 429.
	calls := func(t *testing.T, r *relayProc, path, token string, n int) (limited int) {
		for range n {
			switch st := r.get(t, path, token); st {
			case http.StatusTooManyRequests:
				limited++
			case http.StatusOK, http.StatusNotFound:
			default:
				t.Fatalf("GET %s: %d", path, st)
			}
		}
		return limited
	}
	agentKey := func(t *testing.T, r *relayProc) string {
		var na struct {
			APIKey string `json:"api_key"`
		}
		mustJSON(t, r.owner(t, "agents", "create", "--name", "a", "--json"), &na)
		return na.APIKey
	}
	t.Run("per kind", func(t *testing.T) {
		r := startRelay(t, "--rate-limit", "0", "--rate-limit-owner", "9")
		key := agentKey(t, r) // one owner call
		// Burst 3: one spent on creating the agent, two more, then 429.
		if got := calls(t, r, "/v1/owner/agents", r.ownerToken(t), 4); got != 2 {
			t.Errorf("owner: %d of 4 calls limited; want 2 (burst 3)", got)
		}
		if got := calls(t, r, "/v1/otp/otp_none", key, 80); got != 0 {
			t.Errorf("agent with --rate-limit 0: %d of 80 calls limited", got)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		r := startRelay(t)
		key := agentKey(t, r)
		if got := calls(t, r, "/v1/otp/otp_none", key, 80); got != 20 {
			t.Errorf("agent by default: %d of 80 calls limited; want 20 (burst 60)", got)
		}
	})
	t.Run("bad values", func(t *testing.T) {
		for _, v := range []string{"-1", "lots"} {
			if res := agentotp(t, "", nil, "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--rate-limit", v); res.code != exitUsage {
				t.Errorf("--rate-limit %s: exit %d (%s)", v, res.code, res.stderr)
			}
		}
		if res := agentotp(t, "", nil, "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--trusted-proxy", "10.0.0.0/33"); res.code != exitUsage {
			t.Errorf("--trusted-proxy 10.0.0.0/33: exit %d (%s)", res.code, res.stderr)
		}
	})
}

// TestServeTrustedProxy: with --trusted-proxy, a real relay keys the
// failed-authentication limit and the access log by the forwarded client.
func TestServeTrustedProxy(t *testing.T) {
	r := startRelay(t, "--trusted-proxy", "127.0.0.0/8")
	call := func(client string) int {
		req, _ := http.NewRequest(http.MethodGet, r.url+"/v1/otp/otp_x", nil)
		req.Header.Set("Authorization", "Bearer ak_live_0000000000000000000000000000000000000000")
		req.Header.Set("X-Forwarded-For", "203.0.113.50, "+client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	limited := 0
	for range 31 {
		if call("198.51.100.1") == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 1 {
		t.Fatalf("%d of 31 failures from one client limited; want 1 (30 a minute)", limited)
	}
	if st := call("198.51.100.2"); st != http.StatusUnauthorized {
		t.Fatalf("another client behind the same proxy: %d", st)
	}
	// The access line is written once the answer has gone out: wait for it.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.stderr.String(), `"remote":"198.51.100.2"`); {
		if time.Now().After(deadline) {
			t.Fatal("the access log does not name the forwarded client")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
