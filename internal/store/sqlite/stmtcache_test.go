package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// cache opens a store in a temporary directory with table t(n) holding
// 1..5, and returns its handle and a function that reads the one
// connection's statement cache.
func cache(t *testing.T) (*sql.DB, func() map[string]*cachedStmt) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db := s.DB()
	for _, q := range []string{`CREATE TABLE t (n INTEGER)`, `INSERT INTO t (n) VALUES (1), (2), (3), (4), (5)`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return db, func() map[string]*cachedStmt {
		t.Helper()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var out map[string]*cachedStmt
		if err := conn.Raw(func(c any) error {
			cc, ok := c.(*cachingConn)
			if !ok {
				return fmt.Errorf("connection is a %T, not a caching one", c)
			}
			out = cc.stmts
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

func TestStatementsArePreparedOncePerConnection(t *testing.T) {
	db, stmts := cache(t)
	const q = `SELECT COUNT(*) FROM t WHERE n > $1`
	var first *cachedStmt
	for i := range 3 {
		var n int
		if err := db.QueryRow(q, 2).Scan(&n); err != nil || n != 3 {
			t.Fatalf("run %d: %d, %v; want 3", i, n, err)
		}
		cs := stmts()[q]
		if cs == nil {
			t.Fatalf("run %d: %q is not cached", i, q)
		}
		if first == nil {
			first = cs
		} else if cs != first {
			t.Errorf("run %d prepared the statement again", i)
		}
		if cs.busy {
			t.Errorf("run %d left the statement marked in use", i)
		}
	}
	if _, err := db.Exec(`UPDATE t SET n = n WHERE n = $1`, 1); err != nil {
		t.Fatal(err)
	}
	if stmts()[`UPDATE t SET n = n WHERE n = $1`] == nil {
		t.Error("an Exec statement is not cached")
	}
}

// The same query run again while its rows are being read must not reset
// the statement under the outer loop.
func TestNestedUseOfTheSameQuery(t *testing.T) {
	db, stmts := cache(t)
	const q = `SELECT n FROM t WHERE n >= $1 ORDER BY n`
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rows, err := tx.Query(q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var outer, inner []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		outer = append(outer, n)
		var m int
		if err := tx.QueryRow(q, n).Scan(&m); err != nil {
			t.Fatal(err)
		}
		inner = append(inner, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(outer) != "[1 2 3 4 5]" || fmt.Sprint(inner) != "[1 2 3 4 5]" {
		t.Errorf("outer %v, inner %v; want 1..5 for both", outer, inner)
	}
	if cs := stmts()[q]; cs == nil || cs.busy {
		t.Errorf("after the rows closed: %+v, want the statement cached and free", cs)
	}
}

func TestCacheIsBounded(t *testing.T) {
	db, stmts := cache(t)
	before := len(stmts())
	for i := range maxCachedStmts + 10 {
		var n int
		if err := db.QueryRow(fmt.Sprintf(`SELECT %d + n FROM t WHERE n = 1`, i)).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
	}
	if got := len(stmts()); got != maxCachedStmts || before >= got {
		t.Errorf("%d statements cached (%d before), want the bound, %d", got, before, maxCachedStmts)
	}
}

// A cached statement follows a schema change (SQLite prepares it again).
func TestCachedStatementAfterSchemaChange(t *testing.T) {
	db, _ := cache(t)
	const q = `SELECT * FROM t WHERE n = 1`
	cols := func() int {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(c)
	}
	if n := cols(); n != 1 {
		t.Fatalf("%d columns, want 1", n)
	}
	if _, err := db.Exec(`ALTER TABLE t ADD COLUMN m TEXT NOT NULL DEFAULT 'x'`); err != nil {
		t.Fatal(err)
	}
	if n := cols(); n != 2 {
		t.Errorf("%d columns after ALTER TABLE, want 2", n)
	}
}
