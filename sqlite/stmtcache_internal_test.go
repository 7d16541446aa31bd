package sqlite

import (
	"context"
	"database/sql"
	"testing"
)

// TestStatementCache: a connection prepares a query once and uses it
// again; the same query run while its rows are still open (nested) gets a
// statement of its own and both read correctly; a statement that failed is
// usable again.
func TestStatementCache(t *testing.T) {
	db := openInternal(t)
	ctx := context.Background()
	const q = `SELECT value FROM json_each(?) ORDER BY key`
	var conn *cachedConn
	err := db.tx(ctx, func(tx *sql.Tx) error {
		outer, err := tx.QueryContext(ctx, q, `[1,2,3]`)
		if err != nil {
			return err
		}
		defer outer.Close()
		sum := 0
		for outer.Next() {
			var a int
			if err := outer.Scan(&a); err != nil {
				return err
			}
			var b int
			if err := tx.QueryRowContext(ctx, q, `[10]`).Scan(&b); err != nil { // the same query, nested
				return err
			}
			sum += a * b
		}
		if err := outer.Err(); err != nil {
			return err
		}
		if sum != 60 {
			t.Errorf("nested use of one query: sum %d; want 60", sum)
		}
		if _, err := tx.ExecContext(ctx, `SELECT json(?)`, `not json`); err == nil {
			t.Error("bad JSON accepted")
		}
		var v string
		if err := tx.QueryRowContext(ctx, `SELECT json(?)`, `[1]`).Scan(&v); err != nil || v != "[1]" {
			t.Errorf("a statement after its failure: %q, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Raw(func(dc any) error { conn = dc.(*cachedConn); return nil }); err != nil {
		t.Fatal(err)
	}
	s := conn.stmts[q]
	if s == nil || s.busy {
		t.Fatalf("the query is not cached, idle: %+v", s)
	}
	if _, ok := conn.stmts[`SELECT json(?)`]; !ok {
		t.Error("a statement that once failed was dropped from the cache")
	}
}
