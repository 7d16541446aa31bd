package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/storerow"
)

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

// collect scans every row of rows with scan, and closes rows.
func collect[T any](rows pgx.Rows, scan func(storerow.Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	return storerow.Collect(rows, scan)
}

// list runs query on the pool and scans its rows with scan; errors read
// "postgres: <what>: …".
func list[T any](ctx context.Context, db *Store, what string, scan func(storerow.Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	out, err := collect(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return out, nil
}

// params collects the arguments of a query built piece by piece.
type params []any

// add appends v and returns the parameter that stands for it ($n).
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}
