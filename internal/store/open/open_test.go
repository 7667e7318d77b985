package open

import (
	"context"
	"path/filepath"
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
