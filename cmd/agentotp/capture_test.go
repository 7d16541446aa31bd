package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	netsmtp "net/smtp"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/internal/relaytest"
)

// proc is a long-running agentotp process whose stderr is kept.
type proc struct {
	stderr *relaytest.Buffer
	stop   func()
}

// startProc runs the binary with args and waits until each pattern has
// matched a line of its stderr; it returns each pattern's first group.
func startProc(t *testing.T, env []string, args []string, patterns ...*regexp.Regexp) (*proc, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv(env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	buf := &relaytest.Buffer{}
	cmd.Stderr = io.MultiWriter(buf, pw)
	cmd.Stdout = io.MultiWriter(buf, pw) // serve's banner
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			cmd.Wait()
			pw.Close()
		})
	}
	t.Cleanup(stop)
	found := make(chan []string, 1)
	go func() {
		got := make([]string, len(patterns))
		left := len(patterns)
		sc := bufio.NewScanner(pr)
		for left > 0 && sc.Scan() {
			for i, re := range patterns {
				if got[i] == "" {
					if m := re.FindStringSubmatch(sc.Text()); m != nil {
						got[i] = m[1]
						left--
					}
				}
			}
		}
		found <- got
		io.Copy(io.Discard, pr)
	}()
	select {
	case got := <-found:
		for i, g := range got {
			if g == "" {
				t.Fatalf("%v: no line matched %s: %s", args, patterns[i], buf.String())
			}
		}
		return &proc{stderr: buf, stop: stop}, got
	case <-time.After(30 * time.Second):
		t.Fatalf("%v did not start: %s", args, buf.String())
	}
	return nil, nil
}

// recordingProxy forwards loopback TCP to target and keeps every byte
// sent towards target: the test hook on what the relay receives.
func recordingProxy(t *testing.T, target string) (string, *relaytest.Buffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tape := &relaytest.Buffer{}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { io.Copy(c, up); c.Close() }()
				io.Copy(io.MultiWriter(up, tape), c)
			})
		}
	})
	return "http://" + ln.Addr().String(), tape
}

var (
	listeningRE = regexp.MustCompile(`listening on (http://\S+)`)
	smtpRE      = regexp.MustCompile(`smtp:\s+(\S+)`)
	captureRE   = regexp.MustCompile(`SMTP on (\S+)`)
)

func rawMail(from, subject, body string) string {
	return fmt.Sprintf("From: %s\r\nTo: me@example.net\r\nSubject: %s\r\nMessage-ID: <%d@acme.com>\r\n\r\n%s\r\n", from, subject, time.Now().UnixNano(), body)
}

// relayClients returns an owner client (through base) and, made with it,
// an agent client and a source token of kind.
func relayClients(t *testing.T, ctx context.Context, base, data, kind string) (*client.OwnerClient, *client.Client, string) {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(data, "owner.token"))
	if err != nil {
		t.Fatal(err)
	}
	owner := client.NewOwnerClient(strings.TrimSpace(string(tok)), client.WithBaseURL(base))
	na, err := owner.CreateAgent(ctx, "bot", false)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := owner.CreateSource(ctx, "inbox", kind)
	if err != nil {
		t.Fatal(err)
	}
	return owner, client.New(na.APIKey, client.WithBaseURL(base)), ns.Token
}

// pendingRequest makes a request that waits for the owner.
func pendingRequest(t *testing.T, ctx context.Context, agent *client.Client, f *client.Filter) (string, *client.PrivateKey) {
	t.Helper()
	pub, priv, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	r, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "Sign up for Acme", PublicKey: client.ExportPublicKey(pub), Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID, priv
}

// approvedRequest makes a request and approves it with the owner token
// alone (unsigned).
func approvedRequest(t *testing.T, ctx context.Context, owner *client.OwnerClient, agent *client.Client, f *client.Filter) (string, *client.PrivateKey) {
	t.Helper()
	id, priv := pendingRequest(t, ctx, agent, f)
	if _, err := owner.Approve(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id, priv
}

func consumeCode(t *testing.T, ctx context.Context, agent *client.Client, id string, priv *client.PrivateKey) string {
	t.Helper()
	r, err := agent.WaitForOTP(ctx, id, 20*time.Second)
	if err != nil || r.Status != client.StatusOTPReceived {
		t.Fatalf("wait: %+v %v", r, err)
	}
	out, err := agent.ConsumeOTP(ctx, id, priv)
	if err != nil {
		t.Fatal(err)
	}
	return out.Code
}

// TestCaptureRelayNeverHoldsCode is edge capture's must-hold with the real
// binaries: `agentotp serve` as the relay, every byte it receives recorded
// by a proxy in front of it, and `agentotp capture` (--stdin, then
// --smtp-addr fed by net/smtp) on the owner's side. The agent decrypts
// the right codes; the relay's data directory, its log and all it
// received do not hold them.
func TestCaptureRelayNeverHoldsCode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := filepath.Join(t.TempDir(), "data")
	relay, got := startProc(t, nil, []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-format", "json", "--log-level", "debug"}, listeningRE)
	u, _ := url.Parse(got[0])
	base, tape := recordingProxy(t, u.Host)
	_, agent, token := relayClients(t, ctx, base, data, "email")

	// The owner makes a signing key and pins it at the edge; approvals
	// signed with it are the only ones a strict edge seals for.
	keyFile, trustFile := filepath.Join(t.TempDir(), "owner.pem"), filepath.Join(t.TempDir(), "trust.json")
	ownerArgs := []string{"--server", base, "--data", data}
	if res := agentotp(t, "", nil, append([]string{"owner", "keygen", "--out", keyFile, "--name", "laptop"}, ownerArgs...)...); res.code != 0 {
		t.Fatalf("owner keygen: %+v", res)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key file: %v %v", fi, err)
	}
	if res := agentotp(t, "", nil, append([]string{"owner", "trust", "--out", trustFile}, ownerArgs...)...); res.code != 0 {
		t.Fatalf("owner trust: %+v", res)
	}
	signed := func(f *client.Filter) (string, *client.PrivateKey) {
		t.Helper()
		id, priv := pendingRequest(t, ctx, agent, f)
		res := agentotp(t, "", nil, append([]string{"approve", id, "--sign-key", keyFile}, ownerArgs...)...)
		if res.code != 0 || !strings.Contains(res.stderr, "signed with ed25519:") {
			t.Fatalf("approve --sign-key: %+v", res)
		}
		return id, priv
	}

	const code1, code2, code3 = "731946", "582047", "419263"
	id1, priv1 := signed(&client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"})
	res := agentotp(t, rawMail("Acme <noreply@acme.com>", code1+" is your Acme code", "Your Acme verification code is "+code1+"."),
		nil, "capture", "--server", base, "--token", token, "--trust", trustFile, "--stdin")
	if res.code != 0 || !strings.Contains(res.stdout, "delivered to "+id1) {
		t.Fatalf("capture --stdin: %+v", res)
	}
	if got := consumeCode(t, ctx, agent, id1, priv1); got != code1 {
		t.Fatalf("code %q; want %s", got, code1)
	}

	// Approved with the owner token alone: the owner is told it is
	// unsigned; a strict edge refuses it and says why, a permissive one
	// seals.
	id3, priv3 := pendingRequest(t, ctx, agent, &client.Filter{SenderPattern: "*@acme.com"})
	res = agentotp(t, "", nil, append([]string{"approve", id3}, ownerArgs...)...)
	if res.code != 0 || !strings.Contains(res.stderr, "unsigned") {
		t.Fatalf("approve without a key: %+v", res)
	}
	mail3 := rawMail("Acme <noreply@acme.com>", "Your code", "Your Acme code is "+code3)
	res = agentotp(t, mail3, nil, "capture", "--server", base, "--token", token, "--trust", trustFile, "--stdin")
	if strings.Contains(res.stdout, "delivered to") || !strings.Contains(res.stdout+res.stderr, "without an owner signature") {
		t.Fatalf("strict capture of an unsigned approval: %+v", res)
	}
	res = agentotp(t, mail3, nil, "capture", "--server", base, "--token", token, "--permissive", "--stdin")
	if res.code != 0 || !strings.Contains(res.stdout, "delivered to "+id3) {
		t.Fatalf("permissive capture of an unsigned approval: %+v", res)
	}
	if got := consumeCode(t, ctx, agent, id3, priv3); got != code3 {
		t.Fatalf("code %q; want %s", got, code3)
	}

	id2, priv2 := signed(&client.Filter{SenderPattern: "*@acme.com"})
	edge, got := startProc(t, nil, []string{"capture", "--server", base, "--token", token, "--trust", trustFile, "--smtp-addr", "127.0.0.1:0"}, captureRE)
	auth := netsmtp.PlainAuth("", "me", token, "127.0.0.1")
	if err := netsmtp.SendMail(got[0], auth, "noreply@acme.com", []string{"me@example.net"},
		[]byte(rawMail("Acme <noreply@acme.com>", "Sign-in code", "Your Acme code is "+code2))); err != nil {
		t.Fatalf("SendMail to the edge: %v\n%s", err, edge.stderr.String())
	}
	if got := consumeCode(t, ctx, agent, id2, priv2); got != code2 {
		t.Fatalf("code %q; want %s", got, code2)
	}
	edge.stop()
	relay.stop() // the relay checkpoints its log into the database as it stops

	var files []byte
	filepath.WalkDir(data, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			files = append(files, b...)
		}
		return nil
	})
	received := tape.String()
	if !strings.Contains(received, "/v1/capture/deliveries") || !strings.Contains(received, "/consume") {
		t.Fatal("the proxy did not see the deliveries and consumes")
	}
	for where, b := range map[string][]byte{"data directory": files, "log": []byte(relay.stderr.String()), "received bytes": []byte(received)} {
		for _, c := range []string{code1, code2, code3} {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("the relay's %s holds the code %s", where, c)
			}
		}
	}
}

// TestServeSMTP: `agentotp serve --smtp-addr` takes mail with AUTH and an
// email source token, and the agent gets the code; bad SMTP options are
// usage errors.
func TestServeSMTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := filepath.Join(t.TempDir(), "data")
	_, got := startProc(t, nil, []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-format", "json", "--smtp-addr", "127.0.0.1:0"}, listeningRE, smtpRE)
	owner, agent, token := relayClients(t, ctx, got[0], data, "email")
	id, priv := approvedRequest(t, ctx, owner, agent, &client.Filter{SenderPattern: "*@acme.com"})
	if err := netsmtp.SendMail(got[1], netsmtp.PlainAuth("", "me", token, "127.0.0.1"), "noreply@acme.com", []string{"me@example.net"},
		[]byte(rawMail("noreply@acme.com", "code", "Your Acme code is 660311"))); err != nil {
		t.Fatal(err)
	}
	if c := consumeCode(t, ctx, agent, id, priv); c != "660311" {
		t.Fatalf("code %q", c)
	}

	for _, args := range [][]string{
		{"--smtp-open"},
		{"--smtp-addr", "127.0.0.1:0", "--smtp-mx-domain", "x.example=src_x"},
		{"--smtp-addr", "127.0.0.1:0", "--smtp-open", "--smtp-mx-domain", "x.example"},
		{"--smtp-addr", "127.0.0.1:0", "--smtp-tls-cert", "cert.pem"},
	} {
		res := agentotp(t, "", nil, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "d")}, args...)...)
		if res.code != exitUsage {
			t.Errorf("serve %v: exit %d; want %d: %s", args, res.code, exitUsage, res.stderr)
		}
	}
}

// TestCaptureUsage: capture needs a source token and exactly one way in.
func TestCaptureUsage(t *testing.T) {
	for _, args := range [][]string{
		{"capture", "--stdin"},
		{"capture", "--token", "ok_owner", "--stdin"},
		{"capture", "--token", "sk_x"},
		{"capture", "--token", "sk_x", "--stdin", "--smtp-addr", "127.0.0.1:0"},
		{"capture", "--token", "sk_x", "--stdin", "--source", "sms"},
	} {
		if res := agentotp(t, "hello", nil, args...); res.code != exitUsage {
			t.Errorf("%v: exit %d; want %d: %s", args, res.code, exitUsage, res.stderr)
		}
	}
}
