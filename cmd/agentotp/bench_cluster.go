package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agentotp/agentotp/postgres"
	"github.com/agentotp/agentotp/secretbox"
)

// clusterRun is one lifecycle run on relays started with `serve`: on
// embedded SQLite (one relay) or on one PostgreSQL database (one or
// more), with the same flags, so that the rows compare like with like.
type clusterRun struct {
	Store  string `json:"store"` // "sqlite" or "postgres"
	Relays int    `json:"relays"`
	lifecycleRun
}

// checkBenchDatabase refuses a --database that is not PostgreSQL on
// loopback. Bench makes a database of its own for each run through it
// (its role must be allowed to create databases) and drops it after.
func checkBenchDatabase(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("--database must be a postgres:// URL")
	}
	host := u.Hostname()
	if host == "" || strings.HasPrefix(host, "/") {
		return nil // a Unix socket: this machine
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--database must be on loopback (bench makes and drops databases through it), not %s", host)
}

// benchServeRuns runs, with c agents for d each, the lifecycle on one
// `serve` relay on embedded SQLite, then on n relays on the database for
// each n of relays, and returns one row each.
func benchServeRuns(ctx context.Context, database string, relays []int, c int, d time.Duration, progress func(string, ...any)) ([]clusterRun, error) {
	// One secret key for every relay of every run: the database keeps
	// the key it was first opened with, and refuses another.
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	runs := []struct {
		store, database string
		n               int
	}{{"sqlite", "", 1}}
	for _, n := range relays {
		runs = append(runs, struct {
			store, database string
			n               int
		}{"postgres", database, n})
	}
	var out []clusterRun
	for _, r := range runs {
		progress("lifecycles with %d agents on %d `serve` relay(s) on %s for %v …", c, r.n, r.store, d)
		if r.database != "" {
			// A database of its own for each run, dropped after it.
			db, drop, err := postgres.CreateScratchDatabase(ctx, r.database, "agentotp_bench")
			if err != nil {
				return out, err
			}
			defer func() { _ = drop(context.WithoutCancel(ctx)) }()
			r.database = db
		}
		t, err := startServeRelays(ctx, r.database, r.n, key)
		if err != nil {
			return out, fmt.Errorf("%d relay(s) on %s: %w", r.n, r.store, err)
		}
		run, err := benchLifecycles(ctx, t, c, d)
		if serr := t.stop(); err == nil && serr != nil {
			err = serr
		}
		if err != nil {
			return out, fmt.Errorf("%d relay(s) on %s: %w", r.n, r.store, err)
		}
		out = append(out, clusterRun{Store: r.store, Relays: r.n, lifecycleRun: run})
	}
	return out, nil
}

// startServeRelays starts n `agentotp serve` processes (this binary) on
// loopback, on database ("" for embedded SQLite in a temporary data
// directory), each with a data directory of its own, all with key as
// their secret key and no rate limits. The first one starts alone (it
// migrates the database and makes the owner); the target it returns has
// the others as peers, and its stop stops them all.
func startServeRelays(ctx context.Context, database string, n int, key []byte) (*benchTarget, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "agentotp-bench-serve-")
	if err != nil {
		return nil, err
	}
	var procs []*serveProc
	stopAll := func() error {
		var wg sync.WaitGroup
		errs := make([]error, len(procs))
		for i, p := range procs {
			wg.Go(func() { errs[i] = p.stop() })
		}
		wg.Wait()
		os.RemoveAll(dir)
		return errors.Join(errs...)
	}
	env := append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AGENTOTP_") }),
		secretbox.EnvKey+"="+base64.StdEncoding.EncodeToString(key))
	for i := range n {
		args := []string{"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, fmt.Sprintf("relay%d", i)),
			"--rate-limit", "0", "--log-format", "json"}
		if database != "" {
			args = append(args, "--database", database)
		}
		p, err := startServeProc(ctx, exe, args, env)
		if err != nil {
			_ = stopAll()
			return nil, fmt.Errorf("relay %d: %w", i, err)
		}
		procs = append(procs, p)
	}
	first := &benchTarget{url: procs[0].url, token: procs[0].token, stop: stopAll}
	for _, p := range procs[1:] {
		first.peers = append(first.peers, &benchTarget{url: p.url, token: p.token})
	}
	return first, nil
}

// serveProc is one `agentotp serve` that bench started.
type serveProc struct {
	cmd        *exec.Cmd
	url, token string
	stderr     *tailBuffer
	done       chan error
}

// startServeProc starts serve and waits for its banner.
func startServeProc(ctx context.Context, exe string, args, env []string) (*serveProc, error) {
	p := &serveProc{stderr: &tailBuffer{max: 4 << 10}, done: make(chan error, 1)}
	p.cmd = exec.CommandContext(ctx, exe, args...)
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.done <- p.cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "agentotp relay listening on ")
	if err != nil || !ok {
		_ = p.stop()
		return nil, fmt.Errorf("serve did not start: %q: %s", line, p.stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	p.url = u
	var data string
	for i, a := range args {
		if a == "--data" {
			data = args[i+1]
		}
	}
	tok, err := os.ReadFile(filepath.Join(data, "owner.token"))
	if err != nil {
		_ = p.stop()
		return nil, err
	}
	p.token = strings.TrimSpace(string(tok))
	return p, nil
}

// stop ends serve as an operator would (SIGTERM), and kills it if it has
// not stopped in 15 s.
func (p *serveProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("serve: %w: %s", err, p.stderr.String())
		}
		return nil
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("serve did not stop within 15 s of SIGTERM")
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.ToValidUTF8(t.b, nil))
}

// printServeRuns prints the rows of benchServeRuns side by side.
func printServeRuns(w io.Writer, runs []clusterRun) {
	if len(runs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nlifecycles on `serve` relays, %d agents, steps spread over the relays:\n", runs[0].Clients)
	fmt.Fprintf(w, "  %-9s %6s %13s %10s %10s %18s %18s\n", "store", "relays", "lifecycles/s", "vs sqlite", "failures", "ingest→agent p50", "ingest→agent p99")
	base := runs[0].PerSecond
	for _, r := range runs {
		fmt.Fprintf(w, "  %-9s %6d %13.0f %9.2fx %10d %15.1f ms %15.1f ms\n", r.Store, r.Relays, r.PerSecond, ratio(r.PerSecond, base), r.Failures,
			r.IngestToAgent.P50, r.IngestToAgent.P99)
	}
	for _, r := range runs {
		if r.FirstFailure != "" {
			fmt.Fprintf(w, "  first failure on %d relay(s) on %s: %s\n", r.Relays, r.Store, r.FirstFailure)
		}
	}
}
