package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/secretbox"
	"github.com/agentotp/agentotp/sqlite"
)

// rewrite stores entries (already edited and re-hashed) over their rows,
// as someone who can write the database file but has no audit key would.
func rewrite(t *testing.T, raw *sql.DB, entries []agentotp.AuditEntry) {
	t.Helper()
	if _, err := raw.Exec(`DROP TRIGGER IF EXISTS audit_no_update`); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var details any
		if e.Details != nil {
			b, _ := json.Marshal(e.Details)
			details = string(b)
		}
		if _, err := raw.Exec(`UPDATE audit SET details = ?, prev_hash = ?, hash = ?, chain = ? WHERE seq = ?`,
			details, e.PrevHash, e.Hash, e.Chain, e.Seq); err != nil {
			t.Fatal(err)
		}
	}
}

// rehash recomputes the chain from entries[from] on with hash, after
// editing entries[from]'s details.
func rehash(es []agentotp.AuditEntry, from int, chain int, hash func(e *agentotp.AuditEntry, prev string) string) []agentotp.AuditEntry {
	es = slices.Clone(es)
	es[from].Details = map[string]string{"n": "forged"}
	for i := from; i < len(es); i++ {
		prev := ""
		if i > 0 {
			prev = es[i-1].Hash
		}
		es[i].PrevHash, es[i].Chain = prev, chain
		es[i].Hash = hash(&es[i], prev)
	}
	return es[from:]
}

func verifyOwner(t *testing.T, db *sqlite.DB, ownerID string) *agentotp.ChainBreak {
	t.Helper()
	ctx := context.Background()
	es, err := db.ListAudit(ctx, agentotp.AuditQuery{OwnerID: ownerID})
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.VerifyAuditChain(ctx, ownerID, "", es)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuditRewriteNeedsKey: rewriting a row and every row after it, with
// hashes recomputed the old unkeyed way or keyed with a wrong key, breaks
// the chain at the rewritten row; before the chain was keyed, the unkeyed
// rewrite verified.
func TestAuditRewriteNeedsKey(t *testing.T) {
	ctx := context.Background()
	wrongKey := bytes.Repeat([]byte{9}, 32)
	for _, tc := range []struct {
		name   string
		chain  int
		hash   func(e *agentotp.AuditEntry, prev string) string
		reason string
	}{
		{"unkeyed SHA-256", agentotp.AuditChainLegacy, func(e *agentotp.AuditEntry, prev string) string { return e.ComputeHash(prev) }, "unkeyed"},
		{"keyed with a wrong key", agentotp.AuditChainKeyed, func(e *agentotp.AuditEntry, prev string) string { return e.ComputeMAC(wrongKey, prev) }, "audit key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := open(t)
			t.Cleanup(func() { db.Close() })
			f := newFixture(t, db)
			for i := range 4 {
				e := auditEntry(f.owner.ID, agentotp.AuditPolicyChanged)
				e.Details = map[string]string{"n": fmt.Sprint(i)}
				if err := db.AppendAudit(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			if b := verifyOwner(t, db, f.owner.ID); b != nil {
				t.Fatalf("untouched chain breaks: %+v", b)
			}
			es, _ := db.ListAudit(ctx, agentotp.AuditQuery{OwnerID: f.owner.ID})
			rewrite(t, rawDB(t, path), rehash(es, 3, tc.chain, tc.hash))
			b := verifyOwner(t, db, f.owner.ID)
			if b == nil || b.Seq != es[3].Seq || !strings.Contains(b.Reason, tc.reason) {
				t.Fatalf("break %+v; want at seq %d saying %q", b, es[3].Seq, tc.reason)
			}
		})
	}
}

// legacyDB makes a database as the version before the keyed chain left
// it: migrations up to 0007 and an owner with n unkeyed audit rows.
func legacyDB(t *testing.T, n int) (path, ownerID string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "agentotp.db")
	raw := rawDB(t, path)
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version TEXT NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	slices.Sort(files)
	for _, f := range files {
		v := strings.TrimSuffix(filepath.Base(f), ".sql")
		if v >= "0008" {
			break
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, 1)`, v); err != nil {
			t.Fatal(err)
		}
	}
	ownerID = "own_legacy"
	if _, err := raw.Exec(`INSERT INTO owners (id, name, created_at) VALUES (?, 'Ada', 1)`, ownerID); err != nil {
		t.Fatal(err)
	}
	prev := ""
	for i := range n {
		e := agentotp.AuditEntry{Seq: int64(i + 1), ID: fmt.Sprintf("aud_legacy%d", i), OwnerID: ownerID,
			At: time.UnixMicro(int64(1_700_000_000_000_000 + i)).UTC(), Actor: agentotp.ActorOwner, Action: agentotp.AuditPolicyChanged,
			Details: map[string]string{"n": fmt.Sprint(i)}}
		e.PrevHash, e.Hash = prev, e.ComputeHash(prev)
		if _, err := raw.Exec(`INSERT INTO audit (seq, id, owner_id, at, actor, action, details, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, e.ID, e.OwnerID, e.At.UnixMicro(), e.Actor, e.Action, `{"n":"`+fmt.Sprint(i)+`"}`, e.PrevHash, e.Hash); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
	raw.Close()
	return path, ownerID
}

// TestAuditLegacyRows: rows written before the chain was keyed still
// verify after the upgrade, new rows are keyed and chain on, and the
// seal of the legacy rows stops every way of passing forged rows off as
// legacy ones.
func TestAuditLegacyRows(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*sqlite.DB, string, string, []agentotp.AuditEntry) {
		path, ownerID := legacyDB(t, 3)
		db, err := sqlite.Open(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		for range 2 {
			if err := db.AppendAudit(ctx, auditEntry(ownerID, agentotp.AuditPolicyChanged)); err != nil {
				t.Fatal(err)
			}
		}
		es, err := db.ListAudit(ctx, agentotp.AuditQuery{OwnerID: ownerID})
		if err != nil {
			t.Fatal(err)
		}
		var chains []int
		for _, e := range es {
			chains = append(chains, e.Chain)
		}
		if !slices.Equal(chains, []int{0, 0, 0, 1, 1}) {
			t.Fatalf("chain versions %v", chains)
		}
		if b := verifyOwner(t, db, ownerID); b != nil {
			t.Fatalf("upgraded chain breaks: %+v", b)
		}
		return db, path, ownerID, es
	}
	t.Run("downgraded keyed row", func(t *testing.T) {
		db, path, ownerID, es := setup(t)
		rewrite(t, rawDB(t, path), rehash(es, 4, agentotp.AuditChainLegacy, func(e *agentotp.AuditEntry, prev string) string { return e.ComputeHash(prev) }))
		if b := verifyOwner(t, db, ownerID); b == nil || b.Seq != es[4].Seq {
			t.Fatalf("break %+v; want at seq %d", b, es[4].Seq)
		}
	})
	t.Run("legacy rows rewritten", func(t *testing.T) {
		db, path, ownerID, es := setup(t)
		// All legacy rows from the second on, consistently re-hashed; the
		// first keyed row's prev_hash no longer matches, and the sealed
		// legacy head differs.
		rewrite(t, rawDB(t, path), rehash(es[:3], 1, agentotp.AuditChainLegacy, func(e *agentotp.AuditEntry, prev string) string { return e.ComputeHash(prev) }))
		if b := verifyOwner(t, db, ownerID); b == nil || b.Seq != es[2].Seq || !strings.Contains(b.Reason, "legacy") {
			t.Fatalf("break %+v; want at seq %d", b, es[2].Seq)
		}
	})
	t.Run("boundary raised", func(t *testing.T) {
		db, path, ownerID, _ := setup(t)
		raw := rawDB(t, path)
		if _, err := raw.Exec(`DROP TRIGGER audit_legacy_no_update`); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`UPDATE audit_legacy SET max_seq = 1000000`); err != nil {
			t.Fatal(err)
		}
		if b := verifyOwner(t, db, ownerID); b == nil || !strings.Contains(b.Reason, "seal") {
			t.Fatalf("break %+v; want the seal's", b)
		}
	})
	t.Run("seal deleted", func(t *testing.T) {
		db, path, ownerID, _ := setup(t)
		raw := rawDB(t, path)
		if _, err := raw.Exec(`DROP TRIGGER audit_legacy_no_delete`); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`DELETE FROM audit_legacy`); err != nil {
			t.Fatal(err)
		}
		if b := verifyOwner(t, db, ownerID); b == nil || !strings.Contains(b.Reason, "seal") {
			t.Fatalf("break %+v; want the seal's", b)
		}
	})
	t.Run("another key", func(t *testing.T) {
		db, path, ownerID, _ := setup(t)
		db.Close()
		box, _ := secretbox.New(bytes.Repeat([]byte{3}, secretbox.KeySize))
		other, err := sqlite.Open(ctx, path, nil, sqlite.WithSecretBox(box))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if b := verifyOwner(t, other, ownerID); b == nil {
			t.Fatal("a chain verified under another key")
		}
	})
}
