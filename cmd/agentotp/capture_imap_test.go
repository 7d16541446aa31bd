package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/imap/imaptest"
)

// waitSourceIMAP runs `sources imap ID --json` until the connector's
// state is one of states.
func waitSourceIMAP(t *testing.T, base, data, id string, states ...string) client.Source {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var src client.Source
	for time.Now().Before(deadline) {
		res := agentotp(t, "", nil, "sources", "imap", id, "--json", "--server", base, "--data", data)
		mustJSON(t, res, &src)
		if src.IMAP != nil {
			for _, s := range states {
				if src.IMAP.Status.State == s {
					return src
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("source %s never reached %v: %+v", id, states, src.IMAP)
	return src
}

// TestServeIMAP: `agentotp serve` runs the IMAP connectors; the owner
// sets a source's mailbox from the CLI (password on stdin), sees its
// status in `sources list`, and mail delivered into a real Dovecot
// reaches the waiting agent.
func TestServeIMAP(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r := startRelay(t)
	port := strconv.Itoa(d.Port)

	// Refused settings change nothing and say why.
	res := agentotp(t, d.Password+"\n", nil, "sources", "create", "--name", "inbox", "--kind", "email", "--server", r.url, "--data", r.data,
		"--imap-host", "imap.example.com", "--imap-tls", "plain", "--imap-user", d.User, "--imap-password-stdin")
	if res.code == 0 || !strings.Contains(res.stderr, "loopback") || strings.Contains(res.stderr+res.stdout, d.Password) {
		t.Fatalf("plain IMAP to a remote host: %+v", res)
	}

	var created client.NewSource
	mustJSON(t, agentotp(t, d.Password+"\n", nil, "sources", "create", "--name", "inbox", "--kind", "email", "--json", "--server", r.url, "--data", r.data,
		"--imap-host", "127.0.0.1", "--imap-port", port, "--imap-tls", "plain", "--imap-user", d.User, "--imap-password-stdin"), &created)
	if created.Source.IMAP == nil || created.Source.IMAP.Port != d.Port || !created.Source.IMAP.PasswordSet {
		t.Fatalf("sources create --imap-…: %+v", created.Source.IMAP)
	}
	id := created.Source.ID
	waitSourceIMAP(t, r.url, r.data, id, "stopped")
	list := r.owner(t, "sources", "list")
	if list.code != 0 || !strings.Contains(list.stdout, "IMAP") || !strings.Contains(list.stdout, "stopped") {
		t.Fatalf("sources list: %+v", list)
	}

	owner, agent, _ := relayClients(t, ctx, r.url, r.data, "email")
	reqID, priv := approvedRequest(t, ctx, owner, agent, &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"})
	waitSourceIMAP(t, r.url, r.data, id, "idle")
	d.Deliver("INBOX", imaptest.Email("Acme <noreply@acme.com>", "Your Acme code", "Your Acme verification code is 318592.", "serve-imap@acme.com"))
	if code := consumeCode(t, ctx, agent, reqID, priv); code != "318592" {
		t.Fatalf("code %q; want 318592", code)
	}
	src := waitSourceIMAP(t, r.url, r.data, id, "stopped")
	if src.IMAP.Status.LastMessageAt == nil || src.IMAP.Status.LastUID == 0 {
		t.Errorf("status after the mail: %+v", src.IMAP.Status)
	}
	show := r.owner(t, "sources", "imap", id)
	if show.code != 0 || !strings.Contains(show.stdout, "connector:    stopped") || !strings.Contains(show.stdout, "last UID 1") {
		t.Errorf("sources imap ID: %+v", show)
	}
	if strings.Contains(r.stderr.String(), d.Password) {
		t.Error("the relay's log holds the IMAP password")
	}
	clear := r.owner(t, "sources", "imap", id, "--clear")
	if clear.code != 0 || !strings.Contains(clear.stdout, "reads no IMAP mailbox") {
		t.Errorf("--clear: %+v", clear)
	}
}

// TestCaptureIMAP: edge capture reads a real Dovecot mailbox on the
// owner's side; the agent decrypts the right code while the relay's data
// directory, log and every byte it received hold neither the code nor
// the IMAP password; a restart of the capture hands nothing over twice.
func TestCaptureIMAP(t *testing.T) {
	d := imaptest.Start(t, imaptest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	data := filepath.Join(t.TempDir(), "data")
	relay, got := startProc(t, nil, []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-format", "json", "--log-level", "debug"}, listeningRE)
	u, _ := url.Parse(got[0])
	base, tape := recordingProxy(t, u.Host)
	owner, agent, token := relayClients(t, ctx, base, data, "email")

	const code1, code2 = "270561", "913374"
	f := &client.Filter{Sources: []string{"email"}, SenderPattern: "*@acme.com"}
	idA, privA := approvedRequest(t, ctx, owner, agent, f)
	idB, privB := approvedRequest(t, ctx, owner, agent, f)

	state := filepath.Join(t.TempDir(), "imap.state")
	args := []string{"capture", "--server", base, "--token", token, "--permissive", "--imap", d.Addr(), "--imap-tls", "plain",
		"--imap-user", d.User, "--imap-state", state, "--imap-check", "200ms"}
	env := []string{envIMAPPassword + "=" + d.Password}
	readingRE := regexp.MustCompile(`reading (\S+) on`)
	edge, _ := startProc(t, env, args, readingRE)
	waitLog(t, edge, "capture: IMAP idle")
	d.Deliver("INBOX", imaptest.Email("Acme <noreply@acme.com>", "Your Acme code", "Your Acme verification code is "+code1+".", "edge-1@acme.com"))
	if c := consumeCode(t, ctx, agent, idA, privA); c != code1 {
		t.Fatalf("A: code %q; want %s", c, code1)
	}
	// The agent can have the code a moment before the edge has its answer
	// and has moved its cursor past the mail: wait for the state file.
	var st struct {
		LastUID uint32 `json:"last_uid"`
	}
	var b []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, _ = os.ReadFile(state); json.Unmarshal(b, &st) == nil && st.LastUID == 1 {
			break
		}
	}
	if st.LastUID != 1 {
		t.Fatalf("state file: %s", b)
	}
	edge.stop()

	// A restart reads on from the cursor: mail 1 is not handed over again.
	edge, _ = startProc(t, env, args, readingRE)
	waitLog(t, edge, "capture: IMAP idle")
	if r, err := agent.GetOTPStatus(ctx, idB); err != nil || r.Status != client.StatusApproved {
		t.Fatalf("B after the restart: %+v %v", r, err)
	}
	d.Deliver("INBOX", imaptest.Email("Acme <noreply@acme.com>", "Sign-in code", "Your Acme code is "+code2, "edge-2@acme.com"))
	if c := consumeCode(t, ctx, agent, idB, privB); c != code2 {
		t.Fatalf("B: code %q; want %s", c, code2)
	}
	edge.stop()
	relay.stop()

	var files []byte
	filepath.WalkDir(data, func(path string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			b, _ := os.ReadFile(path)
			files = append(files, b...)
		}
		return nil
	})
	received := tape.String()
	if !strings.Contains(received, "/v1/capture/deliveries") {
		t.Fatal("the proxy did not see the deliveries")
	}
	for where, b := range map[string][]byte{"data directory": files, "log": []byte(relay.stderr.String()), "received bytes": []byte(received)} {
		for _, secret := range []string{code1, code2, d.Password} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("the relay's %s holds %q", where, secret)
			}
		}
	}
}

// waitLog waits until the process's stderr holds s.
func waitLog(t *testing.T, p *proc, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.stderr.String(), s) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q in: %s", s, p.stderr.String())
}

// TestCaptureIMAPUsage: bad --imap settings are usage errors.
func TestCaptureIMAPUsage(t *testing.T) {
	base := []string{"capture", "--token", "sk_x", "--server", "http://127.0.0.1:1"}
	for _, tt := range []struct {
		args []string
		env  []string
	}{
		{[]string{"--imap", "imap.example.com", "--imap-user", "a"}, nil}, // no password
		{[]string{"--imap", "imap.example.com", "--imap-tls", "plain", "--imap-user", "a"}, []string{envIMAPPassword + "=pw"}},
		{[]string{"--imap", "imap.example.com", "--imap-tls", "ssl", "--imap-user", "a"}, []string{envIMAPPassword + "=pw"}},
		{[]string{"--imap", "imap.example.com:99999", "--imap-user", "a"}, []string{envIMAPPassword + "=pw"}},
		{[]string{"--imap", "imap.example.com"}, []string{envIMAPPassword + "=pw"}}, // no user
		{[]string{"--imap", "imap.example.com", "--imap-user", "a", "--stdin"}, []string{envIMAPPassword + "=pw"}},
	} {
		if res := agentotp(t, "", tt.env, append(base, tt.args...)...); res.code != exitUsage {
			t.Errorf("%v: exit %d; want %d: %s", tt.args, res.code, exitUsage, res.stderr)
		}
	}
}
