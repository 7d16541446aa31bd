package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newAgent creates an agent on r and returns its id and API key.
func (r *relayProc) newAgent(t *testing.T, extra ...string) (id, key string) {
	t.Helper()
	var agent struct {
		Agent  struct{ ID string } `json:"agent"`
		APIKey string              `json:"api_key"`
	}
	mustJSON(t, r.owner(t, append([]string{"agents", "create", "--name", "a" + strings.ReplaceAll(t.Name(), "/", "-"), "--json"}, extra...)...), &agent)
	return agent.Agent.ID, agent.APIKey
}

// TestVersion: `version` and `--version` report what the toolchain
// stamped into the binary, as `go version -m` reads it.
func TestVersion(t *testing.T) {
	res := agentotp(t, "", nil, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(res.stdout), &v); res.code != 0 || err != nil {
		t.Fatalf("version --json: %+v %v", res, err)
	}
	out, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	meta := string(out)
	if !strings.Contains(meta, "\tmod\t"+v.Module+"\t"+v.Version) {
		t.Errorf("version %s %s, go version -m says:\n%s", v.Module, v.Version, meta)
	}
	if !strings.HasPrefix(meta, binary+": "+v.GoVersion+"\n") {
		t.Errorf("go version %s, go version -m says %s", v.GoVersion, strings.SplitN(meta, "\n", 2)[0])
	}
	if (v.Commit != "") != strings.Contains(meta, "vcs.revision="+v.Commit) {
		t.Errorf("commit %q; go version -m: %s", v.Commit, meta)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := agentotp(t, "", nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, v.Version) || !strings.Contains(r.stdout, v.GoVersion) {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

// TestUsageExitCodes: every kind of bad command line exits 2, whatever
// its message says.
func TestUsageExitCodes(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		{"unknown command", nil, []string{"frobnicate"}},
		{"unknown subcommand", nil, []string{"agents", "frobnicate"}},
		{"unknown flag", nil, []string{"agents", "list", "--frobnicate"}},
		{"unknown shorthand", nil, []string{"request", "-Z"}},
		{"bad duration", nil, []string{"request", "--reason", "x", "--timeout", "soon"}},
		{"bad int", nil, []string{"requests", "list", "--limit", "many"}},
		{"bad bool", nil, []string{"policies", "create", "--name", "n", "--action", "ask", "--enabled=perhaps"}},
		{"flag needs a value", nil, []string{"request", "--reason"}},
		{"missing argument", nil, []string{"approve"}},
		{"too many arguments", nil, []string{"approve", "otp_1", "otp_2"}},
		{"arguments where none", nil, []string{"serve", "extra"}},
		{"missing required flag", nil, []string{"agents", "create"}},
		{"missing required flag decrypt", nil, []string{"decrypt"}},
		{"bad value from the environment", []string{"AGENTOTP_TIMEOUT=soon", "AGENTOTP_API_KEY=ak_test_x"}, []string{"mcp"}},
		{"bad server", nil, []string{"agents", "list", "--server", "ftp://relay"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := agentotp(t, "", tt.env, tt.args...)
			if res.code != exitUsage {
				t.Errorf("%v: exit %d, want 2 (%s)", tt.args, res.code, res.stderr)
			}
			if !strings.HasPrefix(res.stderr, "agentotp: ") {
				t.Errorf("no error message: %q", res.stderr)
			}
		})
	}
	// A group command without a subcommand shows its help and succeeds.
	if res := agentotp(t, "", nil, "agents"); res.code != 0 || !strings.Contains(res.stdout, "Available Commands") {
		t.Errorf("agents: %+v", res)
	}
}

// TestEveryCommandHasExamples walks the command tree: each command's help
// has an Examples section.
func TestEveryCommandHasExamples(t *testing.T) {
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Examples: add them to examples.go or set Example", c.CommandPath())
		}
		// pflag shows a backquoted word of the help as the value's name
		// ("--key agentotp keygen"): keep backquotes out of flag help.
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if strings.Contains(f.Usage, "`") {
				t.Errorf("%s --%s: a backquote in the help garbles it: %q", c.CommandPath(), f.Name, f.Usage)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(a))
	if n < 40 {
		t.Fatalf("walked only %d commands", n)
	}
	// And through the binary: the help shows them, and request's flags
	// read as "--key string", not as words lifted from the help text.
	res := agentotp(t, "", nil, "request", "--help")
	if res.code != 0 || !strings.Contains(res.stdout, "Examples:\n  ") {
		t.Fatalf("request --help: %+v", res)
	}
	for _, want := range []string{"--key string ", "--source strings ", "--alg string ", "--timeout duration "} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("request --help lacks %q:\n%s", want, res.stdout)
		}
	}
}

// TestEnvironment: only the variables the help documents are read; the
// integration guide's names work for the relay URL and the API key.
func TestEnvironment(t *testing.T) {
	r := startRelay(t)
	_, key := r.newAgent(t)
	// AGENTOTP_SOURCE and AGENTOTP_SENDER_PATTERN are not documented: a
	// request made with them set has no filter.
	res := agentotp(t, "", []string{"AGENTOTP_URL=" + r.url, "AGENTOTP_API_KEY=" + key,
		"AGENTOTP_SOURCE=sms", "AGENTOTP_SENDER_PATTERN=*@evil", "AGENTOTP_QUIET=true"},
		"request", "--reason", "env check", "--timeout", "1s")
	if res.code != exitTimeout {
		t.Fatalf("request: %+v", res)
	}
	if !strings.Contains(res.stderr, "request otp_") {
		t.Errorf("AGENTOTP_QUIET was read: %q", res.stderr)
	}
	var page struct {
		Data []struct {
			Reason string          `json:"reason"`
			Filter json.RawMessage `json:"filter"`
		} `json:"data"`
	}
	mustJSON(t, r.owner(t, "requests", "list", "--json"), &page)
	if len(page.Data) != 1 || page.Data[0].Reason != "env check" {
		t.Fatalf("requests: %+v", page)
	}
	if f := string(page.Data[0].Filter); strings.Contains(f, "sms") || strings.Contains(f, "evil") {
		t.Errorf("undocumented variables changed the filter: %s", f)
	}

	// The guide's and the dashboard's names.
	res = agentotp(t, "", []string{"AGENT_OTP_BASE_URL=" + r.url, "AGENT_OTP_API_KEY=" + key},
		"request", "--reason", "guide names", "--timeout", "1s", "--quiet")
	if res.code != exitTimeout {
		t.Errorf("request with AGENT_OTP_*: %+v", res)
	}
	tok, err := os.ReadFile(filepath.Join(r.data, "owner.token"))
	if err != nil {
		t.Fatal(err)
	}
	res = agentotp(t, "", []string{"AGENT_OTP_BASE_URL=" + r.url, "AGENTOTP_OWNER_TOKEN=" + strings.TrimSpace(string(tok))}, "agents", "list")
	if res.code != 0 || !strings.Contains(res.stdout, "agt_") {
		t.Errorf("agents list with AGENT_OTP_BASE_URL: %+v", res)
	}
	// AGENTOTP_URL wins over the alias.
	res = agentotp(t, "", []string{"AGENTOTP_URL=" + r.url, "AGENT_OTP_BASE_URL=http://127.0.0.1:1", "AGENTOTP_OWNER_TOKEN=" + strings.TrimSpace(string(tok))}, "agents", "list")
	if res.code != 0 {
		t.Errorf("AGENTOTP_URL did not win: %+v", res)
	}
}

// TestEnvironmentDocumented: every variable a flag's help names is in the
// README's list.
func TestEnvironmentDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			for _, n := range flagEnvs(f) {
				seen[n] = true
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(a))
	for _, n := range []string{"AGENTOTP_SECRET_KEY", "AGENTOTP_IMAP_PASSWORD"} {
		seen[n] = true
	}
	if len(seen) < 20 {
		t.Fatalf("only %d variables found", len(seen))
	}
	_, section, _ := bytes.Cut(readme, []byte("### Environment variables"))
	section, _, _ = bytes.Cut(section, []byte("\n## "))
	for n := range seen {
		if !bytes.Contains(section, []byte("`"+n+"`")) {
			t.Errorf("README's table of environment variables lacks %s", n)
		}
	}
}

// TestServerAddress: --server without a scheme works; an unreachable
// relay is named with what to do; a server that is not a relay is called
// that, not "OTP request not found".
func TestServerAddress(t *testing.T) {
	r := startRelay(t)
	hostport := strings.TrimPrefix(r.url, "http://")
	if res := r.ownerAt(t, hostport, "agents", "list"); res.code != 0 {
		t.Fatalf("--server %s: %+v", hostport, res)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	res := agentotp(t, "", nil, "request", "--server", closed, "--api-key", "ak_live_x", "--reason", "x")
	if res.code != exitError || !strings.Contains(res.stderr, "relay not reachable at http://"+closed) ||
		!strings.Contains(res.stderr, "agentotp serve") || !strings.Contains(res.stderr, "--server") {
		t.Errorf("unreachable: %+v", res)
	}

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	defer plain.Close()
	for _, args := range [][]string{
		{"request", "--api-key", "ak_live_x", "--reason", "x"},
		{"approve", "otp_x", "--token", "ot_x"},
		{"agents", "list", "--token", "ot_x"},
	} {
		res := agentotp(t, "", nil, append(args, "--server", plain.URL)...)
		if res.code != exitError || !strings.Contains(res.stderr, "not an agentotp relay") || strings.Contains(res.stderr, "not found (") {
			t.Errorf("%v against a plain server: %+v", args, res)
		}
	}
}

// ownerAt runs an owner command against server with r's data directory.
func (r *relayProc) ownerAt(t *testing.T, server string, args ...string) result {
	t.Helper()
	return agentotp(t, "", nil, append(args, "--server", server, "--data", r.data)...)
}

// TestDecrypt is the README's curl walk-through ending in `agentotp
// decrypt`: the consume answer piped in gives the code.
func TestDecrypt(t *testing.T) {
	r := startRelay(t)
	_, key := r.newAgent(t, "--test") // auto-approved, fed by /v1/test/messages
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "agent.pem")
	kg := agentotp(t, "", nil, "keygen", "--alg", "x25519", "--out", keyFile)
	if kg.code != 0 {
		t.Fatalf("keygen: %+v", kg)
	}
	pub := strings.TrimSpace(kg.stdout)
	call := func(method, path string, body any) []byte {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, r.url+path, rd)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
	var created struct{ ID string }
	json.Unmarshal(call("POST", "/v1/otp/request", map[string]any{"reason": "Sign up for Acme", "public_key": pub,
		"filter": map[string]any{"sender_pattern": "ACME", "sources": []string{"sms"}}}), &created)
	call("POST", "/v1/test/messages", map[string]any{"source": "sms", "sender": "ACME", "text": "Your ACME verification code is 604918."})
	call("GET", "/v1/otp/"+created.ID+"?wait=10", nil)
	consumed := call("POST", "/v1/otp/"+created.ID+"/consume", nil)

	res := agentotp(t, string(consumed), nil, "decrypt", "--key", keyFile)
	if res.code != 0 || res.stdout != "604918\n" {
		t.Fatalf("decrypt: %+v (answer %s)", res, consumed)
	}
	var answer struct {
		EncryptedPayload string `json:"encrypted_payload"`
	}
	json.Unmarshal(consumed, &answer)
	bare, _ := json.Marshal(map[string]string{"encrypted_payload": answer.EncryptedPayload})
	for name, tt := range map[string]struct {
		stdin string
		args  []string
		code  int
		out   string
	}{
		"bare object":       {string(bare), []string{"--id", created.ID}, 0, "604918\n"},
		"json string":       {`"` + answer.EncryptedPayload + `"`, []string{"--id", created.ID}, 0, "604918\n"},
		"base64 text":       {answer.EncryptedPayload + "\n", []string{"--id", created.ID}, 0, "604918\n"},
		"json output":       {string(consumed), []string{"--json"}, 0, `"code": "604918"`},
		"bare without id":   {string(bare), nil, exitUsage, ""},
		"wrong id":          {answer.EncryptedPayload, []string{"--id", "otp_other"}, exitError, ""},
		"conflicting id":    {string(consumed), []string{"--id", "otp_other"}, exitUsage, ""},
		"empty stdin":       {"", nil, exitUsage, ""},
		"error answer":      {`{"code":"OTP_ALREADY_CONSUMED","message":"x"}`, nil, exitUsage, ""},
		"not json, not b64": {"{nope", nil, exitUsage, ""},
	} {
		t.Run(name, func(t *testing.T) {
			res := agentotp(t, tt.stdin, nil, append([]string{"decrypt", "--key", keyFile}, tt.args...)...)
			if res.code != tt.code || !strings.Contains(res.stdout, tt.out) {
				t.Errorf("exit %d stdout %q stderr %q; want exit %d and %q", res.code, res.stdout, res.stderr, tt.code, tt.out)
			}
			if tt.code != 0 && strings.Contains(res.stdout+res.stderr, "604918") {
				t.Errorf("a failure printed the code")
			}
		})
	}
	other := filepath.Join(dir, "other.pem")
	agentotp(t, "", nil, "keygen", "--out", other)
	if res := agentotp(t, string(consumed), nil, "decrypt", "--key", other); res.code != exitError || !strings.Contains(res.stderr, "decryption failed") {
		t.Errorf("another key: %+v", res)
	}
}

// hostile holds what a sender or a careless agent may put in text the CLI
// prints: a title-setting OSC, colours, a screen clear, a C1 CSI, a bidi
// override and a lone carriage return.
const hostile = "\x1b]0;owned\x07\x1b[31mred\x1b[2J\u009b1m\u202Etxt.exe\rspoof"

// assertClean fails when s holds a control character the terminal acts on.
func assertClean(t *testing.T, what, s string) {
	t.Helper()
	for _, bad := range []string{"\x1b", "\u009b", "\u202E", "\x07", "\r"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s holds %q: %q", what, bad, s)
		}
	}
}

// TestOutputHasNoControlCharacters: text that came from others (a deny
// reason, a sender, a request's reason) reaches the terminal without
// escape sequences, through the real binary.
func TestOutputHasNoControlCharacters(t *testing.T) {
	r := startRelay(t)
	_, key := r.newAgent(t)
	var src struct {
		Token string `json:"token"`
	}
	mustJSON(t, r.owner(t, "sources", "create", "--name", "phone", "--kind", "sms", "--json"), &src)

	done := make(chan result, 1)
	go func() {
		done <- agentotp(t, "", nil, "request", "--reason", "deny me", "--server", r.url, "--api-key", key)
	}()
	id := r.pendingID(t)
	if res := r.owner(t, "deny", id, "--reason", "no "+hostile); res.code != 0 {
		t.Fatalf("deny: %+v", res)
	}
	res := <-done
	if res.code != exitDenied || !strings.Contains(res.stderr, "no ") {
		t.Fatalf("denied request: %+v", res)
	}
	assertClean(t, "request's stderr after a deny", res.stderr)

	go func() {
		done <- agentotp(t, "", nil, "request", "--reason", "sender", "--source", "sms", "--server", r.url, "--api-key", key)
	}()
	id = r.pendingID(t)
	r.owner(t, "approve", id)
	ing := agentotp(t, "Your code is 604918 "+hostile, nil, "ingest", "--source", "sms", "--sender", "ACME"+hostile,
		"--server", r.url, "--source-token", src.Token)
	if ing.code != 0 {
		t.Fatalf("ingest: %+v", ing)
	}
	res = <-done
	if res.code != 0 || res.stdout != "604918\n" || !strings.Contains(res.stderr, "code received from ACME") {
		t.Fatalf("request: %+v", res)
	}
	assertClean(t, "request's stderr", res.stderr)

	// A relay (or something posing as one) whose error messages carry
	// escape sequences.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		json.NewEncoder(w).Encode(map[string]string{"code": "VALIDATION_ERROR", "message": "bad " + hostile})
	}))
	defer evil.Close()
	res = agentotp(t, "", nil, "request", "--reason", "x", "--server", evil.URL, "--api-key", key)
	if res.code != exitError || !strings.Contains(res.stderr, "bad ") {
		t.Fatalf("request against the evil relay: %+v", res)
	}
	assertClean(t, "an error from the relay", res.stderr)
}

// TestCompletion: the completion machinery suggests ids from the relay
// and fixed flag values.
func TestCompletion(t *testing.T) {
	r := startRelay(t)
	agentID, key := r.newAgent(t)
	done := make(chan result, 1)
	go func() {
		done <- agentotp(t, "", nil, "request", "--reason", "complete me", "--server", r.url, "--api-key", key, "--timeout", "20s", "--quiet")
	}()
	defer func() { r.owner(t, "deny", r.pendingID(t)); <-done }()
	id := r.pendingID(t)
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "approve", "--server", r.url, "--data", r.data, ""}, []string{id + "\tcomplete me"}},
		{[]string{"__complete", "agents", "revoke", "--server", r.url, "--data", r.data, ""}, []string{agentID}},
		{[]string{"__complete", "requests", "list", "--server", r.url, "--data", r.data, "--agent", ""}, []string{agentID}},
		{[]string{"__complete", "request", "--source", ""}, []string{"sms", "email"}},
		{[]string{"__complete", "request", "--alg", ""}, []string{"x25519", "mlkem768x25519", "rsa"}},
		{[]string{"__complete", "sources", "create", "--kind", ""}, []string{"sms", "email", "generic"}},
	} {
		res := agentotp(t, "", nil, tt.args...)
		if res.code != 0 {
			t.Errorf("%v: %+v", tt.args, res)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(res.stdout, w) {
				t.Errorf("%v: no %q in %q", tt.args, w, res.stdout)
			}
		}
	}
	if res := agentotp(t, "", nil, "completion", "bash"); res.code != 0 || !strings.Contains(res.stdout, "__agentotp") {
		t.Errorf("completion bash: %+v", res.code)
	}
}

// TestTelegramLinkNeedsBot: without a bot no one reads /link, so the
// relay gives no link code and the command says how to start one
// (TestTelegramServe links a chat with one).
func TestTelegramLinkNeedsBot(t *testing.T) {
	r := startRelay(t)
	res := r.owner(t, "owner", "telegram-link")
	if res.code != exitError || !strings.Contains(res.stderr, "no Telegram bot runs on this relay") ||
		!strings.Contains(res.stderr, "--telegram-token") || res.stdout != "" {
		t.Fatalf("telegram-link without a bot: %+v", res)
	}
	exp := r.owner(t, "audit", "export")
	if exp.code != 0 || strings.Contains(exp.stdout, "telegram.link_code") {
		t.Errorf("a refused link code was audited: %s", exp.stdout)
	}
}
