package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestGroupCommit: writes that arrive together share transactions, and
// each caller is told its own outcome: a failing write leaves nothing,
// the others in its group are kept; a write whose context ended is not
// run.
func TestGroupCommit(t *testing.T) {
	db := openInternal(t)
	ctx := context.Background()
	if err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE g (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	const n = 400
	bad := errors.New("refused by the write itself")
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.tx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO g (k, v) VALUES (?, ?)`, i, fmt.Sprint(i)); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return bad // after its insert: must be undone
				case 2: // a constraint error, after a first insert that must be undone
					if _, err := tx.ExecContext(ctx, `INSERT INTO g (k, v) VALUES (?, 'x')`, 1_000_000+i); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `INSERT INTO g (k, v) VALUES (?, 'dup')`, i)
					return err
				}
				return nil
			})
		})
	}
	wg.Wait()
	if db.grouped.Load() == 0 {
		t.Error("no write shared a transaction")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := db.tx(cancelled, func(*sql.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("a write with an ended context: %v, ran %v", err, ran)
	}
	for i, err := range errs {
		switch i % 4 {
		case 1:
			if !errors.Is(err, bad) {
				t.Errorf("write %d: %v; want its own error", i, err)
			}
		case 2:
			if err == nil {
				t.Errorf("write %d: no error; want the constraint's", i)
			}
		default:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		}
	}
	rows, err := db.read.QueryContext(ctx, `SELECT k FROM g ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int]bool{}
	for rows.Next() {
		var k int
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		got[k] = true
	}
	for i := range n {
		if want := i%4 == 0 || i%4 == 3; got[i] != want {
			t.Errorf("row %d stored: %v; want %v", i, got[i], want)
		}
		if got[1_000_000+i] {
			t.Errorf("row %d of a failed write is stored", 1_000_000+i)
		}
	}
}
