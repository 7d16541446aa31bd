package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FloorResult is what MeasureCommitFloor measured.
type FloorResult struct {
	// Lifecycles is how many rounds of commits finished.
	Lifecycles int64
	// Elapsed is how long they took.
	Elapsed time.Duration
}

// PerSecond is Lifecycles per second of Elapsed.
func (r FloorResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Lifecycles) / r.Elapsed.Seconds()
}

// MeasureCommitFloor measures the floor that SQLite sets under the relay:
// clients goroutines each run, for d, rounds of commits small write
// transactions (a row inserted, updated, a blob written and erased), on a
// new database file in dir opened exactly as Open opens the store's write
// side (WAL, synchronous NORMAL, secure_delete, one write connection,
// IMMEDIATE transactions). With checkpoint, each round ends with the
// truncating WAL checkpoint that erasing ciphertext calls for. It is what
// `agentotp bench` compares the relay's lifecycles per second with.
func MeasureCommitFloor(ctx context.Context, dir string, clients, commits int, checkpoint bool, d time.Duration) (FloorResult, error) {
	if clients < 1 || commits < 1 {
		return FloorResult{}, fmt.Errorf("sqlite: commit floor: want clients and commits ≥ 1")
	}
	abs, err := filepath.Abs(filepath.Join(dir, "floor.db"))
	if err != nil {
		return FloorResult{}, fmt.Errorf("sqlite: commit floor: %w", err)
	}
	w, err := openDB(writeDSN(fileURI(abs)))
	if err != nil {
		return FloorResult{}, fmt.Errorf("sqlite: commit floor: %w", err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS floor (
		id TEXT NOT NULL PRIMARY KEY, step INTEGER NOT NULL, payload BLOB) STRICT`); err != nil {
		return FloorResult{}, fmt.Errorf("sqlite: commit floor: %w", err)
	}
	var n atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for c := range clients {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				id := strconv.Itoa(c) + "-" + strconv.Itoa(i)
				if err := floorRound(ctx, w, id, commits, checkpoint); err != nil {
					once.Do(func() { first = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return FloorResult{}, fmt.Errorf("sqlite: commit floor: %w", first)
	}
	return FloorResult{Lifecycles: n.Load(), Elapsed: time.Since(start)}, nil
}

// floorRound is one round: commits write transactions on row id, the
// last of which erases the row's blob and the row.
func floorRound(ctx context.Context, w *sql.DB, id string, commits int, checkpoint bool) error {
	for step := range commits {
		var q string
		var args []any
		switch {
		case step == 0:
			q, args = `INSERT INTO floor (id, step, payload) VALUES (?, 0, NULL)`, []any{id}
		case step == commits-1:
			q, args = `DELETE FROM floor WHERE id = ?`, []any{id}
		default:
			q, args = `UPDATE floor SET step = ?, payload = randomblob(96) WHERE id = ?`, []any{step, id}
		}
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	if checkpoint {
		var busy, frames, done int
		if err := w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
			return err
		}
	}
	return nil
}
