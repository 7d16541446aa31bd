package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentotp/agentotp"
)

func openInternal(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "agentotp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestPragmas checks that the DSNs set up the connections as intended.
func TestPragmas(t *testing.T) {
	db := openInternal(t)
	tests := []struct {
		pool   string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "foreign_keys", "1"},
		{"write", "synchronous", "1"}, // NORMAL
		{"write", "secure_delete", "1"},
		{"write", "busy_timeout", "10000"},
		{"write", "query_only", "0"},
		{"read", "journal_mode", "wal"},
		{"read", "query_only", "1"},
		{"read", "busy_timeout", "10000"},
	}
	for _, tt := range tests {
		pool := db.write
		if tt.pool == "read" {
			pool = db.read
		}
		var got string
		if err := pool.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
			t.Fatalf("%s PRAGMA %s: %v", tt.pool, tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("%s connection: PRAGMA %s = %s; want %s", tt.pool, tt.pragma, got, tt.want)
		}
	}
	if _, err := db.read.Exec(`INSERT INTO owners (id, name, created_at) VALUES ('x', 'x', 1)`); err == nil {
		t.Error("a read connection wrote")
	}
}

// TestQueryPlans guards the indexes: each hot query must search an index,
// never scan a table or sort in a temporary b-tree.
func TestQueryPlans(t *testing.T) {
	db := openInternal(t)
	tests := []struct {
		query string
		index string
	}{
		{`SELECT * FROM requests WHERE owner_id = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT 5`, "requests_owner_created"},
		{`SELECT * FROM requests WHERE owner_id = ? AND status = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT 5`, "requests_owner_status"},
		{`SELECT * FROM requests WHERE owner_id = ? AND agent_id = ? ORDER BY created_at DESC, id DESC LIMIT 5`, "requests_agent_created"},
		{`SELECT * FROM requests INDEXED BY requests_live WHERE owner_id = ? AND status IN ('pending_approval', 'approved') ORDER BY created_at, id`, "requests_live"},
		{`SELECT * FROM requests WHERE status IN ('pending_approval', 'approved', 'otp_received') AND expires_at <= ? ORDER BY expires_at, id LIMIT 5`, "requests_due"},
		{`SELECT hash FROM audit WHERE owner_id = ? ORDER BY seq DESC LIMIT 1`, "audit_owner_seq"},
		{`SELECT * FROM audit WHERE seq > ? AND owner_id = ? ORDER BY seq`, "audit_owner_seq"},
		{`SELECT * FROM credentials WHERE agent_id = ? AND revoked_at = 0`, "credentials_agent"},
		// A request's entries (every request view reads its decision):
		// the owner's whole chain must not be walked for them.
		{queryOf(auditListQuery(agentotp.AuditQuery{OwnerID: "x", RequestID: "x"})), "audit_request"},
		{queryOf(auditListQuery(agentotp.AuditQuery{OwnerID: "x", RequestID: "x", Action: "x", Limit: 1})), "audit_request"},
		{queryOf(auditListQuery(agentotp.AuditQuery{OwnerID: "x"})), "audit_owner_seq"},
	}
	for _, tt := range tests {
		n := strings.Count(tt.query, "?")
		args := make([]any, n)
		for i := range args {
			args[i] = "x"
		}
		rows, err := db.read.Query("EXPLAIN QUERY PLAN "+tt.query, args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, "INDEX "+tt.index+" ") || strings.Contains(p, "SCAN ") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s\n  plan: %s\n  want a search of %s", tt.query, p, tt.index)
		}
	}
}

// queryOf returns the query of a query builder, without its arguments.
func queryOf(query string, _ []any) string { return query }
