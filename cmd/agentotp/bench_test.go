package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/agentotp/agentotp/internal/pgtest"
)

// TestBench runs `agentotp bench` briefly against its own relay and checks
// that every scenario produced figures and no lifecycle failed.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("bench run; -short skips it")
	}
	out, err := exec.Command(binary, "bench", "--json", "--clients", "1,2", "--duration", "1s",
		"--live", "0,50", "--probes", "5", "--waiters", "40").Output()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderrOf(err))
	}
	var rep benchReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	if len(rep.Lifecycles) != 2 {
		t.Fatalf("lifecycle runs: %+v", rep.Lifecycles)
	}
	for _, l := range rep.Lifecycles {
		if l.Lifecycles == 0 || l.Failures != 0 || l.HTTPFloor <= 0 || l.SQLiteFloor <= 0 || l.SQLiteCkpt <= 0 ||
			l.IngestToAgent.N == 0 || l.Steps["consume"].N == 0 || l.RatioHTTP <= 0 {
			t.Errorf("lifecycle run: %+v", l)
		}
	}
	if len(rep.Live) != 2 || rep.Live[1].Live != 50 || rep.Live[1].IngestNoMat.N != 5 || rep.Live[1].CreateCancel.N != 5 {
		t.Errorf("live runs: %+v", rep.Live)
	}
	if w := rep.Waiters; w == nil || w.Waiters != 40 || w.Failures != 0 || w.IngestToAgent.N != 40 || w.PerWaiterKiB <= 0 || w.FeedPerSecond <= 0 {
		t.Errorf("waiters run: %+v", rep.Waiters)
	}
}

// TestBenchLoopbackOnly: bench refuses to load a relay that is not on this
// machine, before sending anything.
func TestBenchLoopbackOnly(t *testing.T) {
	// (127.0.0.1:8787 without a scheme is a loopback relay, as for every
	// command: --server takes HOST:PORT.)
	for _, server := range []string{"http://192.0.2.1:8787", "https://example.com", "ftp://127.0.0.1", "192.0.2.1:8787"} {
		out, err := exec.Command(binary, "bench", "--server", server, "--token", "x").CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "--server") {
			t.Errorf("bench --server %s: %v %s", server, err, out)
		}
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// TestBenchServeRelays runs bench's serve rows briefly: one relay on
// SQLite and two on PostgreSQL, each lifecycle crossing the relays, and
// checks that every row has figures, no lifecycle failed, and no
// database bench made is left behind.
func TestBenchServeRelays(t *testing.T) {
	if testing.Short() {
		t.Skip("bench run; -short skips it")
	}
	admin := pgtest.AdminURL(t)
	out, err := exec.Command(binary, "bench", "--json", "--clients", "4", "--duration", "1s", "--live=-1", "--waiters", "0",
		"--database", admin, "--relays", "2").Output()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderrOf(err))
	}
	var rep benchReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	if len(rep.Serve) != 2 || rep.Serve[0].Store != "sqlite" || rep.Serve[1].Store != "postgres" || rep.Serve[1].Relays != 2 {
		t.Fatalf("serve rows: %+v", rep.Serve)
	}
	for _, r := range rep.Serve {
		if r.Lifecycles == 0 || r.Failures != 0 || r.IngestToAgent.N == 0 {
			t.Errorf("%s × %d: %+v", r.Store, r.Relays, r.lifecycleRun)
		}
	}
	left, err := exec.Command("psql", admin, "-Atc", "SELECT count(*) FROM pg_database WHERE datname LIKE 'agentotp_bench%'").CombinedOutput()
	if err == nil && strings.TrimSpace(string(left)) != "0" {
		t.Errorf("bench left %s database(s) behind", left)
	}
}

// TestBenchDatabaseLoopbackOnly: bench makes databases only through a
// server on this machine.
func TestBenchDatabaseLoopbackOnly(t *testing.T) {
	for _, db := range []string{"postgres://u:p@192.0.2.1/postgres", "mysql://127.0.0.1/x", "postgres://u@db.example.com/x"} {
		out, err := exec.Command(binary, "bench", "--database", db).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "--database") || strings.Contains(string(out), ":p@") {
			t.Errorf("bench --database %s: %v %s", db, err, out)
		}
	}
}
