package postgres

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/rekeyhq/rekey/internal/store/sqlstore"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// roundTrips counts what a connection sends: queries one by one, and
// batches.
type roundTrips struct{ queries, batches atomic.Int32 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.queries.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.batches.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func tracedDB(t *testing.T) (*sql.DB, *roundTrips) {
	t.Helper()
	cfg, err := pgx.ParseConfig(testutil.PostgresDB(t))
	if err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	cfg.Tracer = rt
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db, rt
}

func TestBatchOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, rt := tracedDB(t)
	var got []int
	row := func(r sqlstore.Scanner) error {
		var n int
		err := r.Scan(&n)
		got = append(got, n)
		return err
	}
	qs := []sqlstore.Query{
		{SQL: `SELECT generate_series(1, $1::int)`, Args: []any{2}, Row: row},
		{SQL: `SELECT 10 WHERE false`, Row: row},
		{SQL: `SELECT $1::int`, Args: []any{7}, Row: row},
	}
	if err := batch(ctx, db, qs); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 7}; len(got) != len(want) || got[0] != 1 || got[1] != 2 || got[2] != 7 {
		t.Errorf("rows %v, want %v in the queries' order", got, want)
	}
	if q, b := rt.queries.Load(), rt.batches.Load(); q != 0 || b != 1 {
		t.Errorf("%d queries and %d batches sent, want one batch", q, b)
	}
}

// A query that fails ends the transaction, and the connection goes back
// to the pool usable (database/sql would otherwise drop it and open
// another: a new backend, a fork and a login).
func TestBatchFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	db, _ := tracedDB(t)
	pid := func() int {
		var p int
		if err := db.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := pid()
	err := batch(ctx, db, []sqlstore.Query{
		{SQL: `SELECT 1/0`, Row: func(r sqlstore.Scanner) error { var n int; return r.Scan(&n) }},
		{SQL: `SELECT 1`, Row: func(r sqlstore.Scanner) error { var n int; return r.Scan(&n) }},
	})
	if err == nil {
		t.Fatal("a division by zero did not fail the batch")
	}
	if after := pid(); after != before {
		t.Errorf("the connection was dropped after the failure (backend %d, then %d)", before, after)
	}
}
