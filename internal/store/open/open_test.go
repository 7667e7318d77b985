package open

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

func TestParse(t *testing.T) {
	t.Setenv("REKEY_HOME", "/tmp/rekey-home")
	for _, c := range []struct{ spec, kind, target string }{
		{"", "sqlite", "/tmp/rekey-home/rekey.db"},
		{"state/rekey.db", "sqlite", "state/rekey.db"},
		{"postgres://u@h/db", "postgres", "postgres://u@h/db"},
		{"postgresql://u@h/db?sslmode=disable", "postgres", "postgresql://u@h/db?sslmode=disable"},
	} {
		kind, target, err := Parse(c.spec)
		if err != nil || kind != c.kind || target != c.target {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q", c.spec, kind, target, err, c.kind, c.target)
		}
	}
	if _, _, err := Parse("mysql://u@h/db"); errs.KindOf(err) != errs.Invalid {
		t.Errorf("mysql://: %v", err)
	}
}

func TestOpenDefaultIsSQLiteInRekeyHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("REKEY_HOME", home)
	s, err := Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var file string
	if err := s.(store.Raw).DB().QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		t.Fatal(err)
	}
	if file != filepath.Join(home, store.DBFile) {
		t.Errorf("default store at %q, want %q", file, filepath.Join(home, store.DBFile))
	}
}

// A libpq keyword string is PostgreSQL, never a file named with its
// password; a string holding a password that is no DSN is refused without
// echoing it.
func TestKeywordDSN(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	const dsn = "host=127.0.0.1 port=1 user=rekey password=s3cret-pw dbname=rekey connect_timeout=2"
	for _, spec := range []string{dsn, " dbname=rekey host=/run/postgresql", "user=x password='a b'"} {
		if kind, _, err := Parse(spec); err != nil || kind != "postgres" {
			t.Errorf("Parse(%q) = %q, %v; want postgres", spec, kind, err)
		}
	}
	_, err := Open(context.Background(), dsn)
	if errs.KindOf(err) != errs.Unreachable {
		t.Errorf("open %q: %v, want Unreachable", dsn, err)
	}
	for _, spec := range []string{"rekey.db password=s3cret-pw", "hots=x password=s3cret-pw"} {
		_, _, err := Parse(spec)
		if errs.KindOf(err) != errs.Invalid {
			t.Errorf("Parse(%q): %v, want Invalid", spec, err)
		}
		if _, err := Open(context.Background(), spec); err == nil {
			t.Errorf("Open(%q) succeeded", spec)
		}
	}
	if err != nil && strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error shows the password: %v", err)
	}
	if _, err := Open(context.Background(), "hots=x password=s3cret-pw"); err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error shows the password: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		t.Errorf("created %q", e.Name())
	}
}
