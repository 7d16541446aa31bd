package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/telegram/telegramtest"
)

// testServeOptions parses serve's flags, defaults included, from args; the
// relay listens on loopback with its data in a new directory.
func testServeOptions(t *testing.T, args ...string) serveOptions {
	t.Helper()
	var o serveOptions
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.flags(fs)
	base := []string{"--addr", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "data")}
	if err := fs.Parse(append(base, args...)); err != nil {
		t.Fatal(err)
	}
	return o
}

// logEntry is one JSON log line of the relay, the fields these tests read.
type logEntry struct {
	Msg       string `json:"msg"`
	Component string `json:"component"`
	Err       string `json:"err"`
}

// lifecycleLog is what a run of the relay logged, in order.
type lifecycleLog []logEntry

func readLifecycleLog(t *testing.T, logs string) lifecycleLog {
	t.Helper()
	var out lifecycleLog
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue // the banner
		}
		var e logEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// checkStopOrder checks that each of want logged "component stopped"
// exactly once, and all of them before the one "store closed".
func (l lifecycleLog) checkStopOrder(t *testing.T, want ...string) {
	t.Helper()
	var stopped []string
	closedAt := -1
	for i, e := range l {
		switch e.Msg {
		case "component stopped":
			if closedAt >= 0 {
				t.Errorf("component %s stopped after the store closed", e.Component)
			}
			stopped = append(stopped, e.Component)
		case "store closed":
			if closedAt >= 0 {
				t.Errorf("the store closed twice")
			}
			closedAt = i
		}
	}
	if closedAt < 0 {
		t.Fatalf("the store never closed; log: %+v", l)
	}
	slices.Sort(stopped)
	slices.Sort(want)
	if !slices.Equal(stopped, want) {
		t.Fatalf("components stopped: %v; want each of %v once", stopped, want)
	}
}

// waitFor polls buf until it holds s.
func waitFor(t *testing.T, buf *relaytest.Buffer, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(buf.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in: %s", s, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLifecycleStopsEverythingBeforeTheStore: the real relay with every
// component (HTTP, SMTP, IMAP manager, webhook worker, Telegram bot
// against the fake Bot API, sweeper) on loopback with a SQLite file;
// cancelling its context stops every component, and only then does Close
// close the store.
func TestLifecycleStopsEverythingBeforeTheStore(t *testing.T) {
	fake := telegramtest.NewServer(t)
	o := testServeOptions(t, "--smtp-addr", "127.0.0.1:0",
		"--telegram-token", fake.Token(), "--telegram-api-url", fake.URL())
	buf := &relaytest.Buffer{}
	log := slog.New(slog.NewJSONHandler(buf, nil))
	m := newRelayMain(buf, log, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitFor(t, buf, "relay started")
	waitFor(t, buf, "SMTP receiver started")

	// The relay answers, over HTTP and SMTP, and the bot polls.
	url := strings.Fields(buf.String()[strings.Index(buf.String(), "listening on ")+len("listening on "):])[0]
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	smtpAddr := strings.Fields(buf.String()[strings.Index(buf.String(), "smtp:  ")+len("smtp:"):])[0]
	c, err := net.DialTimeout("tcp", smtpAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	greeting := make([]byte, 3)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(greeting); err != nil || string(greeting) != "220" {
		t.Fatalf("SMTP greeting %q, %v", greeting, err)
	}
	c.Close()
	for deadline := time.Now().Add(10 * time.Second); len(fake.Polls()) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the Telegram bot never polled")
		}
		time.Sleep(20 * time.Millisecond)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil { // again: nothing more
		t.Fatal(err)
	}
	readLifecycleLog(t, buf.String()).checkStopOrder(t, "relay", "enrollments", "webhooks", "imap", "http", "telegram", "smtp")
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("the HTTP server still answers after Run returned")
	}
}

// TestLifecycleComponentFailsAtStart: the SMTP receiver cannot listen (its
// address is taken); the components already running stop, the store
// closes after them, and Run returns the SMTP component's error, wrapped.
func TestLifecycleComponentFailsAtStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	o := testServeOptions(t, "--smtp-addr", busy.Addr().String())
	buf := &relaytest.Buffer{}
	m := newRelayMain(buf, slog.New(slog.NewJSONHandler(buf, nil)), o)
	errc := make(chan error, 1)
	go func() { errc <- m.Run(context.Background()) }()
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after a component failed")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.HasPrefix(err.Error(), "smtp: listen: ") {
		t.Fatalf("Run: %v; want the SMTP component's listen error, wrapped", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	l := readLifecycleLog(t, buf.String())
	l.checkStopOrder(t, "relay", "enrollments", "webhooks", "imap", "http", "smtp")
	if !slices.ContainsFunc(l, func(e logEntry) bool {
		return e.Msg == "component failed" && e.Component == "smtp"
	}) {
		t.Fatal("no log of the SMTP component's failure")
	}
}

// TestLifecycleExitCode: through the command line, a component failing
// at start makes `serve` exit non-zero with the wrapped error.
func TestLifecycleExitCode(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	buf := &relaytest.Buffer{}
	code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "d"),
		"--log-format", "json", "--smtp-addr", busy.Addr().String()}, strings.NewReader(""), &relaytest.Buffer{}, buf)
	if code != exitError || !strings.Contains(buf.String(), "agentotp: smtp: listen: ") {
		t.Fatalf("exit %d; stderr:\n%s", code, buf.String())
	}
}
