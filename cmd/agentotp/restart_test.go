package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/internal/relaytest"
)

// freeAddr returns a loopback address with a port free now, so that a
// relay can be started on it again after it was killed.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waiter is one of our clients waiting for a code: it requests one for
// reason (its filter takes SMS from sender only) and returns the code.
type waiter func(t *testing.T, url, apiKey, reason, sender string) (string, error)

func sdkLongPoll(t *testing.T, url, apiKey, reason, sender string) (string, error) {
	ctx := context.Background()
	otp := client.New(apiKey, client.WithBaseURL(url))
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		return "", err
	}
	req, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: reason, PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: sender}, WaitForOTP: true, Timeout: 90 * time.Second})
	if err != nil {
		return "", err
	}
	if req.Status != client.StatusOTPReceived {
		return "", fmt.Errorf("RequestOTP returned the request %s", req.Status)
	}
	res, err := otp.ConsumeOTP(ctx, req.ID, priv)
	if err != nil {
		return "", err
	}
	return res.Code, nil
}

func sdkEvents(t *testing.T, url, apiKey, reason, sender string) (string, error) {
	ctx := context.Background()
	otp := client.New(apiKey, client.WithBaseURL(url))
	pub, priv, err := client.GenerateKeyPair(client.RSAOAEP256)
	if err != nil {
		return "", err
	}
	req, err := otp.RequestOTP(ctx, client.RequestOptions{Reason: reason, PublicKey: client.ExportPublicKey(pub),
		Filter: &client.Filter{Sources: []string{"sms"}, SenderPattern: sender}})
	if err != nil {
		return "", err
	}
	got, err := otp.WaitForOTPEvents(ctx, req.ID, 90*time.Second)
	if err != nil {
		return "", err
	}
	if got.Status != client.StatusOTPReceived {
		return "", fmt.Errorf("WaitForOTPEvents returned the request %s", got.Status)
	}
	res, err := otp.ConsumeOTP(ctx, req.ID, priv)
	if err != nil {
		return "", err
	}
	return res.Code, nil
}

func cliRequest(t *testing.T, url, apiKey, reason, sender string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "request", "--server", url, "--api-key", apiKey, "--reason", reason,
		"--source", "sms", "--sender-pattern", sender, "--timeout", "90s")
	cmd.Env = cleanEnv()
	var stderr relaytest.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("agentotp request: %w\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

func mcpGet(t *testing.T, url, apiKey, reason, sender string) (string, error) {
	sess, _ := mcpSession(t, url, apiKey)
	p := map[string]any{"reason": reason, "sources": []string{"sms"}, "sender_pattern": sender, "timeout_seconds": 90}
	res := callTool(t, sess, "get_verification_code", p)
	if res.IsError {
		return "", errors.New("get_verification_code: " + text(res))
	}
	return text(res), nil
}

// TestWaitAcrossRelayRestart: every client of ours (the Go SDK's
// long-poll and event-stream waits, `agentotp request`, the MCP server's
// get_verification_code) is waiting when the relay is stopped (SIGTERM)
// or killed (kill -9); a new relay starts on the same data directory and
// port, the owner approves, the message arrives, and the client still
// gets the code. Before the clients treated a refused connection, a
// 502/503/504 and an empty or cut-short 200 as transient, SIGTERM's empty
// 200 to a long-poll was fatal and kill -9 outlasted the three retries.
func TestWaitAcrossRelayRestart(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	r := serveAt(t, data, "--addr", addr)
	tok, err := os.ReadFile(filepath.Join(data, "owner.token"))
	if err != nil {
		t.Fatal(err)
	}
	owner := client.NewOwnerClient(strings.TrimSpace(string(tok)), client.WithBaseURL(r.url))
	agent, err := owner.CreateAgent(ctx, "restart", false)
	if err != nil {
		t.Fatal(err)
	}
	src, err := owner.CreateSource(ctx, "restart-sms", "sms")
	if err != nil {
		t.Fatal(err)
	}
	source := client.NewSourceClient(src.Token, client.WithBaseURL(r.url))
	clients := []struct {
		name string
		wait waiter
	}{
		{"go-sdk-long-poll", sdkLongPoll},
		{"go-sdk-events", sdkEvents},
		{"cli-request", cliRequest},
		{"mcp", mcpGet},
	}
	signals := []struct {
		name string
		sig  os.Signal
	}{{"SIGTERM", syscall.SIGTERM}, {"SIGKILL", syscall.SIGKILL}}
	parent := t
	n := 0
	for _, c := range clients {
		for _, s := range signals {
			n++
			t.Run(c.name+"/"+s.name, func(t *testing.T) {
				code := fmt.Sprintf("%06d", 310000+n*7919)
				reason := fmt.Sprintf("restart case %d", n)
				sender := fmt.Sprintf("+1555020%04d", n)
				done := make(chan waitOutcome, 1)
				go func() {
					got, err := c.wait(t, r.url, agent.APIKey, reason, sender)
					done <- waitOutcome{got, err}
				}()
				id := pendingByReason(t, owner, agent.Agent.ID, reason, done)
				if err := r.cmd.Process.Signal(s.sig); err != nil {
					t.Fatal(err)
				}
				r.cmd.Wait()
				restarted := false
				defer func() {
					if !restarted { // a failed case leaves a relay for the next
						r = serveAt(parent, data, "--addr", addr)
					}
				}()
				// The relay is down for a while: the client keeps trying
				// (a refused connection) rather than giving up.
				time.Sleep(4 * time.Second)
				select {
				case o := <-done:
					t.Fatalf("the client returned while the relay was down: %q, %v", o.code, o.err)
				default:
				}
				r, restarted = serveAt(parent, data, "--addr", addr), true // lives beyond this case
				if _, err := owner.Approve(ctx, id); err != nil {
					t.Fatal(err)
				}
				res, err := source.Send(ctx, client.Message{Source: "sms", Sender: sender, Text: "Your verification code is " + code, ExternalID: id})
				if err != nil || !res.Matched {
					t.Fatalf("ingest after the restart: %+v, %v", res, err)
				}
				select {
				case o := <-done:
					if o.err != nil || o.code != code {
						t.Fatalf("after the restart the client got %q, %v; want %s", o.code, o.err, code)
					}
				case <-time.After(100 * time.Second):
					t.Fatal("the client did not return after the restart")
				}
			})
		}
	}
}

// waitOutcome is what a waiter returned.
type waitOutcome struct {
	code string
	err  error
}

// pendingByReason waits (bounded) until the agent's request with reason
// is pending and returns its id; it fails at once if the client returned.
func pendingByReason(t *testing.T, owner *client.OwnerClient, agentID, reason string, done <-chan waitOutcome) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		page, err := owner.ListRequests(context.Background(), client.ListQuery{Status: client.StatusPendingApproval, AgentID: agentID})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Data {
			if r.Reason == reason {
				return r.ID
			}
		}
		select {
		case o := <-done:
			t.Fatalf("the client returned before its request was pending: %q, %v", o.code, o.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("no pending request %q appeared", reason)
	return ""
}
