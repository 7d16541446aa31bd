package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// maxCachedStatements bounds the prepared statements one connection keeps.
const maxCachedStatements = 256

// The store's connections keep every statement they prepare, by its SQL,
// and use it again: SQLite parsed and planned every query anew, a sixth of
// the relay's CPU under load (the audit, credential and webhook queries as
// much as the request ones). The connector wraps the driver's connections
// so that database/sql prepares through them (they do not offer direct
// Exec or Query), and a prepared statement's Close returns it to the
// connection's cache instead of finalizing it. A statement still in use
// (its rows not yet closed) is not handed out twice: a second use gets a
// statement of its own.

// connector opens the driver's connections to dsn, wrapped.
type connector struct {
	drv driver.Driver
	dsn string
}

// openDB returns a pool of cached-statement connections to dsn.
func openDB(dsn string) (*sql.DB, error) {
	base, err := sql.Open("sqlite", "") // only to reach the registered driver; opens nothing
	if err != nil {
		return nil, err
	}
	drv := base.Driver()
	base.Close()
	return sql.OpenDB(&connector{drv: drv, dsn: dsn}), nil
}

func (c *connector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachedConn{conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c *connector) Driver() driver.Driver { return c.drv }

// cachedConn is a driver connection that keeps its prepared statements.
// database/sql uses a connection from one goroutine at a time.
type cachedConn struct {
	conn  driver.Conn
	stmts map[string]*cachedStmt
}

// cachedStmt is a prepared statement of a cachedConn.
type cachedStmt struct {
	driver.Stmt
	busy   bool // handed out and not yet closed
	cached bool // kept by the connection; Close only returns it
}

func (c *cachedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *cachedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if s := c.stmts[query]; s != nil && !s.busy {
		s.busy = true
		return s, nil
	}
	var st driver.Stmt
	var err error
	if p, ok := c.conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{Stmt: st, busy: true}
	if _, taken := c.stmts[query]; !taken && len(c.stmts) < maxCachedStatements {
		s.cached = true
		c.stmts[query] = s
	}
	return s, nil
}

// Close returns a cached statement to its connection, or closes one that
// is not cached.
func (s *cachedStmt) Close() error {
	s.busy = false
	if s.cached {
		return nil
	}
	return s.Stmt.Close()
}

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, errors.New("sqlite: statement cannot ExecContext")
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, errors.New("sqlite: statement cannot QueryContext")
}

func (c *cachedConn) Close() error {
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.Stmt.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.conn.Close())
	return errors.Join(errs...)
}

func (c *cachedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return nil, fmt.Errorf("sqlite: connection cannot BeginTx")
}

func (c *cachedConn) Ping(ctx context.Context) error {
	if p, ok := c.conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachedConn) IsValid() bool {
	if v, ok := c.conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}
