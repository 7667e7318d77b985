package postgres_test

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/postgres"
	"github.com/rekeyhq/rekey/internal/store/storetest"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func harness() storetest.Harness {
	return storetest.Harness{
		New: func(t *testing.T) string { return testutil.PostgresDB(t) },
		Open: func(ctx context.Context, addr string) (store.Store, error) {
			return postgres.Open(ctx, addr)
		},
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness()) }

func TestUnreachable(t *testing.T) {
	// Port 1 on localhost: refused at once, nothing listens there.
	_, err := postgres.Open(context.Background(), "postgres://rekey:s3cret-pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if errs.KindOf(err) != errs.Unreachable {
		t.Errorf("error %v, want an Unreachable error", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h:5432/db?sslmode=disable": "postgres://u:xxxxx@h:5432/db?sslmode=disable",
		"postgres://h/db?password=pw":               "postgres://h/db?password=xxxxx",
		"postgres://u@h/db":                         "postgres://u@h/db",
		"host=h user=u password=pw dbname=db":       "host=h user=u password=xxxxx dbname=db",
		"host=h password = 'p w\\' x' dbname=db":    "host=h password = xxxxx dbname=db",
		"PASSWORD=pw":                               "PASSWORD=xxxxx",
	} {
		if got := postgres.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// A libpq keyword string opens the same database as its URL.
func TestKeywordDSN(t *testing.T) {
	u, err := url.Parse(testutil.PostgresDB(t))
	if err != nil {
		t.Fatal(err)
	}
	dsn := "host=" + u.Hostname() + " dbname=" + strings.TrimPrefix(u.Path, "/") + " sslmode=disable"
	if p := u.Port(); p != "" {
		dsn += " port=" + p
	}
	if n := u.User.Username(); n != "" {
		dsn += " user=" + n
	}
	if pw, ok := u.User.Password(); ok {
		dsn += " password='" + pw + "'"
	}
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open %s: %v", postgres.Redact(dsn), err)
	}
	defer s.Close()
	var v int
	if err := s.DB().QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil || v != store.SchemaVersion() {
		t.Fatalf("schema %d, %v", v, err)
	}
}

// TestConcurrentMigration opens one new database from several handles at
// once, as replicas starting together would: one migrates, all open.
func TestConcurrentMigration(t *testing.T) {
	addr := testutil.PostgresDB(t)
	const n = 6
	errc := make(chan error, n)
	for range n {
		go func() {
			s, err := postgres.Open(context.Background(), addr)
			if err == nil {
				s.Close()
			}
			errc <- err
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	db, err := sql.Open("pgx", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows int
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != store.SchemaVersion() {
		t.Errorf("%d migration rows, want %d", rows, store.SchemaVersion())
	}
}
