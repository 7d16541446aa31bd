package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	_ "modernc.org/sqlite"

	otp "github.com/agentotp/agentotp"
)

// stop ends the relay with SIGTERM and waits for it.
func (r *relayProc) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r.cmd.Wait()
}

// editDB runs statements on the relay's database file, as someone who can
// write the file (not the secret key) would.
func editDB(t *testing.T, data string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "agentotp.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestAuditHeadAndTamper, through the real binary: audit head prints the
// chain's head; verify --head accepts it while the log only grows; after
// the last rows are deleted the rest still verifies on its own, but not
// against the head exported before; a row rewritten with a recomputed
// unkeyed hash fails plain verify.
func TestAuditHeadAndTamper(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	r := serveAt(t, data)
	for i := range 3 {
		if res := r.owner(t, "agents", "create", "--name", fmt.Sprint("a", i)); res.code != 0 {
			t.Fatal(res.stderr)
		}
	}
	early := strings.TrimSpace(r.owner(t, "audit", "head").stdout)
	var hj struct {
		Head string `json:"head"`
		Seq  int64  `json:"seq"`
	}
	mustJSON(t, r.owner(t, "audit", "head", "--json"), &hj)
	if hj.Head != early || !strings.HasPrefix(early, fmt.Sprint(hj.Seq)+":") {
		t.Fatalf("audit head %q, --json %+v", early, hj)
	}
	for i := range 2 {
		r.owner(t, "agents", "create", "--name", fmt.Sprint("b", i))
	}
	headFile := filepath.Join(t.TempDir(), "head.json")
	res := r.owner(t, "audit", "head", "--json")
	if err := os.WriteFile(headFile, []byte(res.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	// The log grew since the early head: it still holds it.
	for _, h := range []string{early, headFile} {
		if res := r.owner(t, "audit", "verify", "--head", h); res.code != 0 || !strings.Contains(res.stdout, "still in it") {
			t.Fatalf("verify --head %s: %d %s %s", h, res.code, res.stdout, res.stderr)
		}
	}
	r.stop(t)

	// Truncate: the last two rows go.
	editDB(t, data, `DROP TRIGGER audit_no_delete`, `DELETE FROM audit WHERE seq IN (SELECT seq FROM audit ORDER BY seq DESC LIMIT 2)`)
	r = serveAt(t, data)
	if res := r.owner(t, "audit", "verify"); res.code != 0 {
		t.Fatalf("the truncated chain is still a chain; plain verify: %d %s", res.code, res.stderr)
	}
	if res := r.owner(t, "audit", "verify", "--head", early); res.code != 0 {
		t.Fatalf("verify against the early head: %d %s", res.code, res.stderr)
	}
	res = r.owner(t, "audit", "verify", "--head", headFile)
	if res.code != exitError || !strings.Contains(res.stderr, "truncated") {
		t.Fatalf("verify against the later head after truncation: %d %s", res.code, res.stderr)
	}
	if res := r.owner(t, "audit", "verify", "--head", "12:nothex"); res.code != exitUsage {
		t.Fatalf("--head 12:nothex: %d %s", res.code, res.stderr)
	}
	r.stop(t)

	// Rewrite the second row with a recomputed unkeyed hash, and every
	// row after it, as the pre-keyed chain allowed.
	var es []otp.AuditEntry
	r = serveAt(t, data)
	for line := range strings.Lines(r.owner(t, "audit", "export").stdout) {
		var e otp.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	r.stop(t)
	stmts := []string{`DROP TRIGGER audit_no_update`}
	es[1].Actor = otp.ActorSystem
	for i := 1; i < len(es); i++ {
		es[i].PrevHash, es[i].Chain = es[i-1].Hash, otp.AuditChainLegacy
		es[i].Hash = es[i].ComputeHash(es[i].PrevHash)
		stmts = append(stmts, fmt.Sprintf(`UPDATE audit SET actor = '%s', prev_hash = '%s', hash = '%s', chain = 0 WHERE seq = %d`,
			es[i].Actor, es[i].PrevHash, es[i].Hash, es[i].Seq))
	}
	editDB(t, data, stmts...)
	r = serveAt(t, data)
	res = r.owner(t, "audit", "verify")
	if res.code != exitError || !strings.Contains(res.stderr, fmt.Sprintf("seq %d", es[1].Seq)) {
		t.Fatalf("verify after an unkeyed rewrite: %d %s", res.code, res.stderr)
	}
	if res := r.owner(t, "audit", "head"); res.code != exitError || res.stdout != "" {
		t.Fatalf("audit head of a broken chain: %d %q", res.code, res.stdout)
	}
}
