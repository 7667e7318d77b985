package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
)

// maxCachedStmts bounds each connection's statement cache. rekey's queries
// are a few hundred fixed strings; the bound only matters if something
// starts building queries with the values in them, which then stop being
// cached instead of growing the cache.
const maxCachedStmts = 512

// cachingConnector opens connections that keep every statement they are
// given prepared, keyed by its text. modernc.org/sqlite prepares a query
// from scratch on every call unless it comes through a prepared statement,
// and parsing the same few statements again was a fifth of `rekey serve`'s
// CPU under load (docs/performance.md). database/sql's own *sql.Stmt would
// need every call site to hold one; this keeps the call sites as they are.
type cachingConnector struct {
	driver.Connector
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

// innerConn is what modernc.org/sqlite's connection implements and the
// cache relies on.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type innerStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

func newCachingConn(conn driver.Conn) (driver.Conn, error) {
	ic, ok := conn.(innerConn)
	if !ok {
		conn.Close()
		return nil, errors.New("sqlite driver connection lacks the context methods the statement cache needs")
	}
	return &cachingConn{innerConn: ic, stmts: map[string]*cachedStmt{}}, nil
}

// cachingConn is one SQLite connection with its prepared statements.
// database/sql uses a connection from one goroutine at a time, so the map
// needs no lock.
type cachingConn struct {
	innerConn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	st innerStmt
	// busy while a result set of it is open: SQLite runs a statement once
	// at a time, so a second use meanwhile (the same query run inside a
	// loop over its own rows) gets a statement of its own.
	busy bool
}

// stmt returns the cached statement for query, preparing it on first use;
// nil when it is in use or the cache is full, and the caller goes the
// uncached way.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	st, err := c.innerConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	is, ok := st.(innerStmt)
	if !ok {
		st.Close()
		return nil, nil
	}
	cs := &cachedStmt{st: is}
	c.stmts[query] = cs
	return cs, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.innerConn.ExecContext(ctx, query, args)
	}
	return cs.st.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.innerConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.st.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, stmt: cs}, nil
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for q, cs := range c.stmts {
		errs = append(errs, cs.st.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.innerConn.Close())
	return errors.Join(errs...)
}

// cachedRows gives its statement back when closed. The driver's rows
// reset the statement (rather than finalizing it) on Close.
type cachedRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *cachedRows) Close() error {
	if r.stmt == nil {
		return nil
	}
	err := r.Rows.Close()
	r.stmt.busy = false
	r.stmt = nil
	return err
}
