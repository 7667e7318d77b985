package sqlstore

import (
	"context"
	"database/sql"
)

// Scanner is a row being read: database/sql's rows and other drivers'.
type Scanner = scanner

// A Query is one query of a read that runs several, with what is done
// with each of its rows.
type Query struct {
	SQL  string
	Args []any
	Row  func(Scanner) error
}

// querier runs the queries of a multi-query read, or queues them to be
// sent together: row is called for each row of a query, and all the rows
// of one query before any of the next, but possibly only after query has
// returned. A failure is reported at the end (the rest is then skipped).
type querier interface {
	query(text string, args []any, row func(scanner) error)
}

// txQuerier runs each query when it is given, in tx.
type txQuerier struct {
	ctx context.Context
	tx  *sql.Tx
	err error
}

func (q *txQuerier) query(text string, args []any, row func(scanner) error) {
	if q.err != nil {
		return
	}
	q.err = queryAll(q.ctx, q.tx, text, args, func(r *sql.Rows) error { return row(r) })
}

// queued keeps the queries given for Dialect.Batch.
type queued []Query

func (q *queued) query(text string, args []any, row func(scanner) error) {
	*q = append(*q, Query{SQL: text, Args: args, Row: row})
}

// readNow runs read's queries in tx and returns what it read.
func readNow[T any](ctx context.Context, tx *sql.Tx, id string, read func(querier, string, *T)) (T, error) {
	var out T
	q := &txQuerier{ctx: ctx, tx: tx}
	read(q, id, &out)
	return out, q.err
}

// readAll runs read in one read-only transaction of one consistent
// snapshot: in one round trip through d.Batch when the engine has it,
// else one query at a time.
func (s *Store) readAll(ctx context.Context, op, id string, read func(querier)) error {
	if s.d.Batch != nil {
		var qs queued
		read(&qs)
		return wrap(op, id, s.d.Batch(ctx, s.db, qs))
	}
	return s.tx(ctx, op, id, readOnly, func(tx *sql.Tx) error {
		q := &txQuerier{ctx: ctx, tx: tx}
		read(q)
		return q.err
	})
}
