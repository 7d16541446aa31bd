package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

type tokenOut struct {
	Token           string   `json:"token"`
	RevokedPrefixes []string `json:"revoked_prefixes"`
	UpdatedFile     string   `json:"updated_file"`
}

// auditActions lists the actions of the relay's audit log.
func (r *relayProc) auditActions(t *testing.T) []string {
	t.Helper()
	res := r.owner(t, "audit", "export")
	if res.code != 0 {
		t.Fatalf("audit export: %d %s", res.code, res.stderr)
	}
	var out []string
	for line := range strings.Lines(res.stdout) {
		var e struct{ Action string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, e.Action)
	}
	return out
}

// TestOwnerTokenRotateAndRevoke, through the real binary: rotate prints
// a new token once, rewrites owner.token that held the old one, and the
// old token is refused at once; revoke (after a restart minted a second
// token) ends every owner token and leaves only the new one; both are
// audited, and the new tokens are nowhere in the database.
func TestOwnerTokenRotateAndRevoke(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	r := serveAt(t, data)
	first := r.ownerToken(t)

	var rot tokenOut
	mustJSON(t, r.owner(t, "owner", "token", "rotate", "--json"), &rot)
	if !strings.HasPrefix(rot.Token, "ok_") || rot.Token == first || len(rot.RevokedPrefixes) != 1 || !strings.HasPrefix(first, rot.RevokedPrefixes[0]) {
		t.Fatalf("rotate: %+v", rot)
	}
	if rot.UpdatedFile == "" || r.ownerToken(t) != rot.Token {
		t.Fatalf("owner.token not updated: %+v, file %q", rot, r.ownerToken(t))
	}
	if st := r.get(t, "/v1/owner/agents", first); st != http.StatusUnauthorized {
		t.Fatalf("old token after rotate: %d", st)
	}
	if st := r.get(t, "/v1/owner/agents", rot.Token); st != http.StatusOK {
		t.Fatalf("new token: %d", st)
	}
	// Rotating with the revoked token is refused and changes nothing.
	if res := agentotp(t, "", nil, "owner", "token", "rotate", "--server", r.url, "--token", first, "--data", t.TempDir()); res.code != exitAuth {
		t.Fatalf("rotate with a revoked token: exit %d %s", res.code, res.stderr)
	}
	// Text output, with --token (owner.token holds it too: it is rewritten).
	res := r.owner(t, "owner", "token", "rotate")
	if res.code != 0 || !strings.Contains(res.stdout, "owner token: ok_") {
		t.Fatalf("rotate (text): %d %s %s", res.code, res.stdout, res.stderr)
	}
	second := r.ownerToken(t)
	if second == rot.Token || !strings.Contains(res.stdout, second) {
		t.Fatalf("text rotate printed %q, file holds %q", res.stdout, second)
	}

	// A restart without owner.token mints another token for the owner.
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r.cmd.Wait()
	if err := os.Remove(filepath.Join(data, "owner.token")); err != nil {
		t.Fatal(err)
	}
	r = serveAt(t, data)
	minted := r.ownerToken(t)
	for _, tok := range []string{second, minted} {
		if st := r.get(t, "/v1/owner/agents", tok); st != http.StatusOK {
			t.Fatalf("token before revoke: %d", st)
		}
	}
	// Revoke with the older token: every owner token ends, owner.token
	// (which held the minted one, now revoked) gets the new one.
	var rev tokenOut
	mustJSON(t, agentotp(t, "", nil, "owner", "token", "revoke", "--json", "--server", r.url, "--data", data, "--token", second), &rev)
	if len(rev.RevokedPrefixes) != 2 || rev.UpdatedFile == "" || r.ownerToken(t) != rev.Token {
		t.Fatalf("revoke: %+v, file %q", rev, r.ownerToken(t))
	}
	for _, tok := range []string{first, rot.Token, second, minted} {
		if st := r.get(t, "/v1/owner/agents", tok); st != http.StatusUnauthorized {
			t.Fatalf("a revoked token still works: %d", st)
		}
	}
	if st := r.get(t, "/v1/owner/agents", rev.Token); st != http.StatusOK {
		t.Fatalf("token after revoke: %d", st)
	}
	acts := strings.Join(r.auditActions(t), " ")
	if strings.Count(acts, "owner.token_rotated") != 2 || strings.Count(acts, "owner.tokens_revoked") != 1 {
		t.Fatalf("audit: %s", acts)
	}
	// Tokens are stored as hashes only.
	for _, name := range []string{"agentotp.db", "agentotp.db-wal"} {
		b, err := os.ReadFile(filepath.Join(data, name))
		if err != nil {
			continue
		}
		for _, tok := range []string{first, rot.Token, second, minted, rev.Token} {
			if strings.Contains(string(b), tok) {
				t.Fatalf("%s holds an owner token in the clear", name)
			}
		}
	}
}
