// Package postgres is rekey's store for teams and for several `rekey serve`
// replicas: the same schema as the SQLite store, in a PostgreSQL database
// reached with a postgres:// URL (github.com/jackc/pgx/v5 through
// database/sql).
//
// Writes lock the incident row (SELECT … FOR UPDATE) and migrations hold a
// transaction-scoped advisory lock, so any number of processes can share
// one database. Errors name the server by its URL with the password
// removed.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store/sqlstore"
)

// migrationLock is the advisory lock key migrations hold: "rekey" in ASCII.
const migrationLock = 0x72656b6579

// auditLock is the advisory lock key audit appends hold: "rekeyau".
const auditLock = 0x72656b65796175

// Dialect is PostgreSQL's.
var Dialect = sqlstore.Dialect{
	Name:           "postgres",
	ForUpdate:      " FOR UPDATE",
	LockMigrations: "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(migrationLock, 10) + ")",
	LockAudit:      "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(auditLock, 10) + ")",
	IsConflict: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505" // unique_violation
	},
	Batch: batch,
}

// batch sends qs as one pgx batch on one of db's connections, between
// BEGIN and COMMIT: a snapshot not kept (an incident's first read, or
// its first after a write) was a round trip per query and two for the
// transaction, a dozen in all.
func batch(ctx context.Context, db *sql.DB, qs []sqlstore.Query) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("batch: a %T is not a pgx connection", dc)
		}
		conn := sc.Conn()
		b := &pgx.Batch{}
		b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
		for _, q := range qs {
			b.Queue(q.SQL, q.Args...).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					if err := q.Row(rows); err != nil {
						return err
					}
				}
				return rows.Err()
			})
		}
		b.Queue("COMMIT")
		err := conn.SendBatch(ctx, b).Close()
		if err != nil && conn.PgConn().TxStatus() != 'I' {
			// A failed query leaves the transaction open: end it before
			// the connection goes back to the pool (which would
			// otherwise drop it).
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_, _ = conn.Exec(rctx, "ROLLBACK")
		}
		return err
	})
}

// Open connects to the database at rawURL (postgres://…, postgresql://…
// or a libpq keyword string, "host=… dbname=…") and migrates it to the newest schema. The database must
// exist; rekey creates only its tables.
func Open(ctx context.Context, rawURL string) (*sqlstore.Store, error) {
	const op = "store: open"
	where := Redact(rawURL)
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// pgx's parse errors may quote the URL, password included.
		return nil, errs.New(op, errs.Invalid, where, "not a valid PostgreSQL URL")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	// database/sql keeps 2 idle connections unless told: under 16
	// concurrent requests the rest were closed after each use and the
	// next request paid for a new backend (a fork and a login).
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, errs.E(op, errs.Unreachable, where, err)
	}
	s, err := sqlstore.New(ctx, db, Dialect, where)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Redact returns the URL with its password (in the user info or a
// password parameter) replaced, for messages; for a keyword string, the
// value of every password= (quoted or not).
func Redact(rawURL string) string {
	if !strings.Contains(rawURL, "://") {
		return keywordPassword.ReplaceAllString(rawURL, "${1}xxxxx")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "postgres://…"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// keywordPassword is a password= pair of a keyword string: its value is
// up to the next unescaped space, or a single-quoted string with \' and
// \\ escapes (libpq's rules).
var keywordPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)*)`)
