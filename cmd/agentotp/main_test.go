package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/internal/relaytest"
)

// binary is the agentotp command built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agentotp-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "agentotp")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// relayProc is a running `agentotp serve`.
type relayProc struct {
	url, data  string
	metricsURL string // with --metrics-addr (startRelayIn)
	stderr     *relaytest.Buffer
	cmd        *exec.Cmd
}

// startRelay starts `agentotp serve` on a loopback port, with extra flags.
func startRelay(t *testing.T, extra ...string) *relayProc {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-format", "json"}, extra...)...)
	cmd.Env = cleanEnv()
	pr, pw := io.Pipe()
	buf := &relaytest.Buffer{}
	cmd.Stderr = io.MultiWriter(buf, pw)
	cmd.Stdout = io.MultiWriter(buf, pw) // the banner; logs are on stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		pw.Close()
	})
	re := regexp.MustCompile(`listening on (http://\S+)`)
	sc := bufio.NewScanner(pr)
	found := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case u := <-found:
		return &relayProc{url: u, data: data, stderr: buf, cmd: cmd}
	case <-time.After(30 * time.Second):
		t.Fatalf("relay did not start: %s", buf.String())
	}
	return nil
}

// cleanEnv drops AGENTOTP_ variables of the caller's environment.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTOTP_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

type result struct {
	stdout, stderr string
	code           int
}

// agentotp runs the binary to completion.
func agentotp(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func (r *relayProc) owner(t *testing.T, args ...string) result {
	t.Helper()
	return agentotp(t, "", nil, append(args, "--server", r.url, "--data", r.data)...)
}

func mustJSON(t *testing.T, r result, v any) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("not JSON: %q", r.stdout)
	}
}

// pendingID waits until a request is pending and returns its id.
func (r *relayProc) pendingID(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var page struct {
			Data []struct{ ID, Status string } `json:"data"`
		}
		mustJSON(t, r.owner(t, "requests", "list", "--status", "pending_approval", "--json"), &page)
		if len(page.Data) > 0 {
			return page.Data[0].ID
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no pending request appeared")
	return ""
}

// TestWalkthrough is the README's five-minute walk-through, run with the
// real binary: serve, create an agent and a source, request from one
// shell, approve and ingest from another, the code printed.
func TestWalkthrough(t *testing.T) {
	r := startRelay(t)
	fi, err := os.Stat(filepath.Join(r.data, "owner.token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("owner.token: %v %v", fi, err)
	}
	var agent struct {
		Agent  struct{ ID string } `json:"agent"`
		APIKey string              `json:"api_key"`
	}
	mustJSON(t, r.owner(t, "agents", "create", "--name", "my-agent", "--json"), &agent)
	var src struct {
		Token string `json:"token"`
	}
	mustJSON(t, r.owner(t, "sources", "create", "--name", "phone", "--kind", "sms", "--json"), &src)
	if !strings.HasPrefix(agent.APIKey, "ak_live_") || !strings.HasPrefix(src.Token, "sk_") {
		t.Fatalf("keys: %q %q", agent.APIKey, src.Token)
	}
	list := r.owner(t, "agents", "list")
	if !strings.Contains(list.stdout, agent.Agent.ID) || strings.Contains(list.stdout, agent.APIKey) {
		t.Fatalf("agents list: %s", list.stdout)
	}

	for _, alg := range []string{"x25519", "rsa", "mlkem768x25519"} {
		t.Run(alg, func(t *testing.T) {
			keyFile := filepath.Join(t.TempDir(), "agent.pem")
			kg := agentotp(t, "", nil, "keygen", "--alg", alg, "--out", keyFile)
			if kg.code != 0 {
				t.Fatalf("keygen: %s", kg.stderr)
			}
			if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("private key mode: %v %v", fi, err)
			}
			done := make(chan result, 1)
			go func() {
				// The agent side reads its server and key from the environment.
				done <- agentotp(t, "", []string{"AGENTOTP_URL=" + r.url, "AGENTOTP_API_KEY=" + agent.APIKey},
					"request", "--reason", "Sign up for Acme", "--sender-pattern", "ACME", "--source", "sms", "--ttl", "120", "--key", keyFile)
			}()
			id := r.pendingID(t)
			if res := r.owner(t, "approve", id); res.code != 0 || !strings.Contains(res.stdout, "approved") {
				t.Fatalf("approve: %+v", res)
			}
			ing := agentotp(t, "Your ACME verification code is 604918. Do not share it.\n", nil,
				"ingest", "--source", "sms", "--sender", "ACME", "--server", r.url, "--source-token", src.Token)
			if ing.code != 0 || !strings.Contains(ing.stdout, "matched a request") {
				t.Fatalf("ingest: %+v", ing)
			}
			res := <-done
			if res.code != 0 || res.stdout != "604918\n" {
				t.Fatalf("request: exit %d stdout %q stderr %s", res.code, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stderr, "waiting for the owner's approval") {
				t.Errorf("no progress on stderr: %s", res.stderr)
			}
		})
	}

	t.Run("denied", func(t *testing.T) {
		done := make(chan result, 1)
		go func() {
			done <- agentotp(t, "", nil, "request", "--reason", "Buy a car", "--server", r.url, "--api-key", agent.APIKey)
		}()
		id := r.pendingID(t)
		if res := r.owner(t, "deny", id, "--reason", "no cars"); res.code != 0 {
			t.Fatalf("deny: %+v", res)
		}
		res := <-done
		if res.code != exitDenied || res.stdout != "" || !strings.Contains(res.stderr, "no cars") {
			t.Fatalf("denied request: %+v", res)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		res := agentotp(t, "", nil, "request", "--reason", "Slow", "--server", r.url, "--api-key", agent.APIKey, "--timeout", "2s", "--quiet")
		if res.code != exitTimeout {
			t.Fatalf("timeout: %+v", res)
		}
	})

	t.Run("email", func(t *testing.T) {
		var esrc struct {
			Token string `json:"token"`
		}
		mustJSON(t, r.owner(t, "sources", "create", "--name", "inbox", "--kind", "email", "--json"), &esrc)
		done := make(chan result, 1)
		go func() {
			done <- agentotp(t, "", nil, "request", "--reason", "Log in", "--sender-pattern", "*@acme.com", "--source", "email",
				"--server", r.url, "--api-key", agent.APIKey)
		}()
		id := r.pendingID(t)
		r.owner(t, "approve", id)
		mail := "From: Acme <no-reply@acme.com>\r\nTo: me@example.com\r\nSubject: Your Acme sign-in code\r\nMessage-ID: <1@acme.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\n\r\nYour sign-in code is 731902.\r\n\r\nAcme, 1 Main St, Springfield 62704\r\n"
		ing := agentotp(t, mail, nil, "ingest", "--source", "email", "--server", r.url, "--source-token", esrc.Token)
		if ing.code != 0 {
			t.Fatalf("ingest: %+v", ing)
		}
		res := <-done
		if res.code != 0 || res.stdout != "731902\n" {
			t.Fatalf("email request: %+v", res)
		}
		again := agentotp(t, mail, nil, "ingest", "--source", "email", "--server", r.url, "--source-token", esrc.Token)
		if !strings.Contains(again.stdout, "already delivered") {
			t.Fatalf("duplicate Message-ID not ignored: %+v", again)
		}
	})

	if res := r.owner(t, "audit", "verify"); res.code != 0 || !strings.Contains(res.stdout, "audit chain intact") {
		t.Fatalf("audit verify: %+v", res)
	}
	exp := r.owner(t, "audit", "export", "--format", "csv")
	if exp.code != 0 || !strings.HasPrefix(exp.stdout, "seq,id,at,actor,action") {
		t.Fatalf("audit export: %+v", exp)
	}
	if res := r.owner(t, "agents", "rotate", agent.Agent.ID, "--json"); res.code != 0 {
		t.Fatalf("rotate: %+v", res)
	}
	if res := agentotp(t, "", nil, "request", "--reason", "x", "--server", r.url, "--api-key", agent.APIKey); res.code != exitAuth {
		t.Fatalf("old key after rotate: %+v", res)
	}
	if res := r.owner(t, "agents", "revoke", agent.Agent.ID); res.code != 0 {
		t.Fatalf("revoke: %+v", res)
	}

	// Nothing secret in the relay's log.
	logs := r.stderr.String()
	for _, s := range []string{"604918", "731902", agent.APIKey, src.Token} {
		if strings.Contains(logs, s) {
			t.Errorf("relay log holds %q", s)
		}
	}
	tok, _ := os.ReadFile(filepath.Join(r.data, "owner.token"))
	if strings.Contains(logs, strings.TrimSpace(string(tok))) {
		t.Error("relay log holds the owner token")
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"nonsense"}, exitUsage},
		{[]string{"agents", "create"}, exitUsage},
		{[]string{"keygen", "--alg", "dsa", "--out", filepath.Join(t.TempDir(), "k")}, exitUsage},
		{[]string{"request", "--reason", "x", "--api-key", "ak_live_x", "--ttl", "soon"}, exitUsage},
		{[]string{"request", "--reason", "x"}, exitUsage},
		{[]string{"serve", "--database", "mysql://x", "--data", t.TempDir()}, exitUsage},
		{[]string{"agents", "list", "--data", t.TempDir()}, exitAuth},
	}
	for _, tt := range tests {
		if res := agentotp(t, "", nil, tt.args...); res.code != tt.code {
			t.Errorf("%v: exit %d, want %d (%s)", tt.args, res.code, tt.code, res.stderr)
		}
	}
}
