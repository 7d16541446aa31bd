package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/internal/relaytest"
)

// enrolling is an `agentotp request|mcp --enroll` process that has printed
// its user code.
type enrolling struct {
	code   string
	stderr *relaytest.Buffer
	stdout *relaytest.Buffer
	done   chan result
}

// startEnrolling runs the binary with args and waits for the user code on
// its stderr.
func startEnrolling(t *testing.T, stdin io.Reader, args ...string) *enrolling {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv()
	cmd.Stdin = stdin
	e := &enrolling{stderr: &relaytest.Buffer{}, stdout: &relaytest.Buffer{}, done: make(chan result, 1)}
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(e.stderr, pw)
	cmd.Stdout = e.stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		pw.Close()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		e.done <- result{e.stdout.String(), e.stderr.String(), code}
	}()
	// The approval link is printed after the code line, and holds the code.
	re := regexp.MustCompile(`approve:\s+\S+/enroll\?code=([A-Z]{4}-[A-Z]{4})`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case e.code = <-found:
	case r := <-e.done:
		t.Fatalf("exited (%d) before printing a code: %s", r.code, r.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("no user code printed: %s", e.stderr.String())
	}
	return e
}

// ownerAPI calls the owner API of the relay with its owner token.
func (r *relayProc) ownerAPI(t *testing.T, method, path string) (int, map[string]any) {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(r.data, "owner.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, r.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	return resp.StatusCode, doc
}

// decideEnrollment finds the pending enrollment showing code and decides it.
func (r *relayProc) decideEnrollment(t *testing.T, code, verb string) map[string]any {
	t.Helper()
	st, list := r.ownerAPI(t, "GET", "/v1/owner/enrollments?status=pending")
	if st != 200 {
		t.Fatalf("list enrollments: %d %v", st, list)
	}
	for _, it := range list["data"].([]any) {
		en := it.(map[string]any)
		if en["user_code"] == code {
			st, doc := r.ownerAPI(t, "POST", "/v1/owner/enrollments/"+en["id"].(string)+"/"+verb)
			if st != 200 {
				t.Fatalf("%s: %d %v", verb, st, doc)
			}
			return en
		}
	}
	t.Fatalf("no pending enrollment shows %s: %v", code, list)
	return nil
}

// TestEnrollThroughBinary: `agentotp request --enroll --key-file F`
// against a real relay prints a code, waits for the owner's approval
// (owner API), stores the key 0600, and goes on to get a code with it; a
// later run reads the file.
func TestEnrollThroughBinary(t *testing.T) {
	r := startRelay(t)
	var src struct {
		Token string `json:"token"`
	}
	mustJSON(t, r.owner(t, "sources", "create", "--name", "phone", "--kind", "sms", "--json"), &src)
	keyFile := filepath.Join(t.TempDir(), "conf", "agent.key")

	e := startEnrolling(t, nil, "request", "--enroll", "--key-file", keyFile, "--enroll-name", "ci-runner",
		"--enroll-description", "the nightly job", "--server", r.url, "--reason", "Sign up for Acme", "--sender-pattern", "ACME", "--source", "sms")
	if !strings.Contains(e.stderr.String(), "code:     "+e.code) || !strings.Contains(e.stderr.String(), r.url+"/enroll?code="+e.code) {
		t.Errorf("stderr does not show the approval URL: %s", e.stderr.String())
	}
	en := r.decideEnrollment(t, e.code, "approve")
	if en["name"] != "ci-runner" || en["description"] != "the nightly job" || en["client_address"] != "127.0.0.1" ||
		!strings.HasPrefix(en["user_agent"].(string), "agentotp-go") {
		t.Errorf("the owner saw %v", en)
	}
	id := r.pendingID(t) // the OTP request, made with the enrolled key
	if res := r.owner(t, "approve", id); res.code != 0 {
		t.Fatalf("approve: %+v", res)
	}
	if ing := agentotp(t, "Your ACME code is 551902\n", nil, "ingest", "--source", "sms", "--sender", "ACME", "--server", r.url, "--source-token", src.Token); ing.code != 0 {
		t.Fatalf("ingest: %+v", ing)
	}
	res := <-e.done
	if res.code != 0 || res.stdout != "551902\n" {
		t.Fatalf("request --enroll: exit %d stdout %q stderr %s", res.code, res.stdout, res.stderr)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	var kf keyFileJSON
	b, _ := os.ReadFile(keyFile)
	if err := json.Unmarshal(b, &kf); err != nil || !strings.HasPrefix(kf.APIKey, "ak_live_") {
		t.Fatalf("key file content: %v", err)
	}
	if strings.Contains(res.stderr, kf.APIKey) {
		t.Error("the key was printed to stderr")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(keyFile), ".*.tmp")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	// A later run reads the file: its request is made (and times out here).
	again := agentotp(t, "", nil, "request", "--key-file", keyFile, "--server", r.url, "--reason", "again", "--timeout", "1s")
	if again.code != exitTimeout || !strings.Contains(again.stderr, "request otp_") || strings.Contains(again.stderr, "code:") {
		t.Errorf("second run with the key file: %+v", again)
	}
	// The enrollment was audited and is no longer pending.
	if st, list := r.ownerAPI(t, "GET", "/v1/owner/enrollments?status=issued"); st != 200 || len(list["data"].([]any)) != 1 {
		t.Errorf("issued enrollments: %d %v", st, list)
	}
	audit := r.owner(t, "audit", "export")
	for _, action := range []string{"enrollment.created", "enrollment.approved", "enrollment.issued"} {
		if !strings.Contains(audit.stdout, action) {
			t.Errorf("audit lacks %s", action)
		}
	}
	if bytes.Contains([]byte(audit.stdout), []byte(kf.APIKey)) || strings.Contains(audit.stdout, e.code) {
		t.Error("the audit log holds the key or the user code")
	}
}

func TestEnrollThroughBinaryDenied(t *testing.T) {
	r := startRelay(t)
	keyFile := filepath.Join(t.TempDir(), "agent.key")
	e := startEnrolling(t, nil, "mcp", "--enroll", "--key-file", keyFile, "--server", r.url)
	r.decideEnrollment(t, e.code, "deny")
	res := <-e.done
	if res.code != exitDenied || !strings.Contains(res.stderr, "denied") {
		t.Fatalf("mcp --enroll denied: %+v", res)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file exists after a denial: %v", err)
	}
}

// TestEnrollMCP: `agentotp mcp --enroll` stores the key and then speaks
// MCP on stdio with it.
func TestEnrollMCP(t *testing.T) {
	r := startRelay(t)
	keyFile := filepath.Join(t.TempDir(), "agent.key")
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	e := startEnrolling(t, stdinR, "mcp", "--enroll", "--key-file", keyFile, "--server", r.url)
	r.decideEnrollment(t, e.code, "approve")
	go func() {
		_, _ = io.WriteString(stdinW, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`+"\n")
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(e.stdout.String(), `"id":1`) {
		if time.Now().After(deadline) {
			t.Fatalf("no MCP answer after enrolling; stderr: %s", e.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
	stdinW.Close()
	<-e.done
}

func TestEnrollFlagsBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not a key\n"), 0o600)
	badJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(badJSON, []byte(`{"api_key":`), 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"enroll without a key file", []string{"request", "--reason", "x", "--enroll"}, "--enroll needs --key-file"},
		{"no key file, no enroll", []string{"request", "--reason", "x", "--key-file", filepath.Join(dir, "missing")}, "add --enroll"},
		{"both a key and a key file", []string{"mcp", "--api-key", "ak_live_x", "--key-file", garbage}, "not both"},
		{"a file without a key", []string{"mcp", "--key-file", garbage}, "holds no agent API key"},
		{"a file of broken JSON", []string{"request", "--reason", "x", "--key-file", badJSON}, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := agentotp(t, "", nil, append(tt.args, "--server", "http://127.0.0.1:1")...)
			if res.code != exitUsage || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", res.code, res.stderr, tt.want)
			}
		})
	}
}
