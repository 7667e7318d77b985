// Package sqlite is rekey's default store: one SQLite file
// ($REKEY_HOME/rekey.db unless told otherwise) through modernc.org/sqlite,
// a pure-Go SQLite, so the binary needs no C toolchain.
//
// The file is created mode 0600 in a 0700 directory (SQLite gives its -wal
// and -shm files the database file's mode). The database runs in WAL mode
// with synchronous=FULL (a committed step survives a power cut), foreign
// keys on, secure_delete on (deleted rows are overwritten with zeros, so
// a wiped sealed credential does not linger in free pages; Wipe then
// checkpoints and truncates the write-ahead log) and a 10 s busy timeout;
// write transactions begin IMMEDIATE, so a second rekey process waits for
// the lock instead of failing half-way. The
// handle holds one connection: in-process callers queue on it, which keeps
// SQLite's single writer simple at the cost of concurrent readers. The
// connection keeps each statement it runs prepared (stmtcache.go), since
// the driver would parse it again on every call.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store/sqlstore"
)

// Dialect is SQLite's: write transactions are exclusive (BEGIN IMMEDIATE),
// so no row locks and no migration lock are needed.
var Dialect = sqlstore.Dialect{
	Name:      "sqlite",
	AfterWipe: "PRAGMA wal_checkpoint(TRUNCATE)",
	IsConflict: func(err error) bool {
		var e *msqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
}

// params configure every connection (see the package comment).
const params = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=secure_delete(1)&_txlock=immediate"

// Open opens (creating it if needed) the SQLite store at path and migrates
// it to the newest schema.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	const op = "store: open"
	if path == "" {
		return nil, errs.New(op, errs.Invalid, "", "no database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, errs.E(op, errs.Permission, path, err)
	}
	// Create the file ourselves: SQLite would use the umask (often 0644).
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		kind := errs.Other
		if errors.Is(err, os.ErrPermission) {
			kind = errs.Permission
		}
		return nil, errs.E(op, kind, path, err)
	}
	if err := f.Close(); err != nil {
		return nil, errs.E(op, errs.Other, path, err)
	}
	// A file: URI, so that a '?' or '#' in the path is escaped rather
	// than taken for the start of the parameters.
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String() + "?" + params
	conn, err := msqlite.NewConnector(dsn)
	if err != nil {
		return nil, errs.E(op, errs.Other, path, err)
	}
	db := sql.OpenDB(cachingConnector{conn})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, errs.E(op, errs.Other, path, notADatabase(err))
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, errs.New(op, errs.Other, path, "journal mode is "+mode+", want wal")
	}
	// Never add rekey's tables to some other program's database.
	var other, ours int
	if err := db.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN name = 'schema_migrations' THEN 0 ELSE 1 END), 0),
			COALESCE(SUM(CASE WHEN name = 'schema_migrations' THEN 1 ELSE 0 END), 0)
		FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).Scan(&other, &ours); err != nil {
		db.Close()
		return nil, errs.E(op, errs.Other, path, err)
	}
	if other > 0 && ours == 0 {
		db.Close()
		return nil, errs.New(op, errs.Invalid, path, "not a rekey database (an SQLite file with other tables)")
	}
	s, err := sqlstore.New(ctx, db, Dialect, path)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func notADatabase(err error) error {
	var e *msqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return errors.New("not a rekey database (not an SQLite file)")
	}
	return err
}
