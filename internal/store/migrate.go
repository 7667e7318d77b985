package store

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one step of the schema: migrations/NNNN_name.sql. Each runs
// once, in version order, inside the transaction that records it in
// schema_migrations(version, name, applied_at). Its SQL is portable: the
// same text runs on SQLite and PostgreSQL.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the schema's migrations in version order. Versions
// start at 1 and have no gaps (checked here, so a misnamed file fails
// every test rather than a user's upgrade).
func Migrations() ([]Migration, error) {
	ents, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range ents { // ReadDir sorts by name: NNNN_ orders them
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 || name == "" {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d", e.Name(), v, len(ms)+1)
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	return ms, nil
}

// SchemaVersion is the newest schema this binary knows.
func SchemaVersion() int {
	ms, err := Migrations()
	if err != nil {
		panic(err) // the embedded files are part of the binary; tests catch this
	}
	return len(ms)
}

// TimeLayout is how times are stored: UTC, fixed width, so that text order
// is time order on every engine and nanoseconds survive (PostgreSQL's own
// timestamp keeps microseconds).
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime renders t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime reads a time written by FormatTime.
func ParseTime(s string) (time.Time, error) { return time.Parse(TimeLayout, s) }
