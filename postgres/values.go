package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// micros is the stored form of t: unix microseconds, 0 for the zero time.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros inverts micros.
func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullBytes stores an empty slice as NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// boolInt is the stored form of a boolean.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// conflictOnDuplicate adds agentotp.ErrConflict to the chain of a unique
// violation (SQLSTATE 23505): a row with that key exists already.
func conflictOnDuplicate(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %w", agentotp.ErrConflict, err)
	}
	return err
}

// notFound turns pgx.ErrNoRows into agentotp.ErrNotFound, and passes any
// other error (or nil) on.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return agentotp.ErrNotFound
	}
	return err
}

// changed passes on the outcome of an Exec, or agentotp.ErrNotFound when
// it changed no row.
func changed(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return agentotp.ErrNotFound
	}
	return nil
}
