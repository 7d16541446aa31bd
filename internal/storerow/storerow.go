// Package storerow holds the Go side of the rows that the SQLite store
// (package sqlite) and the PostgreSQL store (package postgres) share: the
// two schemas have the same tables, columns and value kinds (times as
// unix microseconds, booleans as 0/1, structured values as JSON text), so
// a row is encoded and scanned the same way in both. The SQL text, whose
// parameter markers differ (? and $n), stays in each store.
package storerow

import "time"

// Scanner is a row to scan: a *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Micros is the stored form of t: unix microseconds, 0 for the zero time.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros inverts Micros.
func FromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// NullString stores "" as NULL.
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// NullBytes stores an empty slice as NULL.
func NullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// BoolInt is the stored form of a boolean.
func BoolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Rows is a result set to read: a *sql.Rows or pgx.Rows. The caller
// closes it (the two Close methods differ).
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Collect scans every row of rows with scan.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// CountStates reads rows of (state, count) of IMAP connectors into a map,
// "" counted as "stopped".
func CountStates(rows Rows) (map[string]int, error) {
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, err
		}
		if state == "" {
			state = "stopped"
		}
		out[state] += n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
