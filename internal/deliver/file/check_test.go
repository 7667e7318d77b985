package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.env", "DATABASE_URL=postgres://app:pw@db/app\n")
	json := write("bad.json", `{"db": {"password": `)
	nokey := write("nokey.env", "OTHER=1\n")
	linked := write("linked.env", "DATABASE_URL=x\n")
	if err := os.Link(linked, filepath.Join(dir, "second-name.env")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, format, key string
		kind              errs.Kind
		text              string
	}{
		{good, "dotenv", "DATABASE_URL", 0, ""},
		{filepath.Join(dir, "missing.env"), "dotenv", "DATABASE_URL", errs.NotFound, "missing.env"},
		{filepath.Join(dir, "adir"), "dotenv", "DATABASE_URL", errs.Unsupported, "not a regular file"},
		{json, "json", "db.password", errs.Invalid, "json"},
		{nokey, "dotenv", "DATABASE_URL", errs.NotFound, "key DATABASE_URL not found"},
		{linked, "dotenv", "DATABASE_URL", errs.Unsupported, "2 hard links"},
	} {
		tg, err := New(Config{Path: tc.path, Format: tc.format, Key: tc.key})
		if err != nil {
			t.Fatal(err)
		}
		err = tg.Check(context.Background())
		if tc.text == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
			}
			continue
		}
		if err == nil || errs.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: %v (kind %v), want %v with %q", tc.path, err, errs.KindOf(err), tc.kind, tc.text)
		}
	}
	before, _ := os.ReadFile(good)
	if after, _ := os.ReadFile(good); string(after) != string(before) {
		t.Error("Check changed the file")
	}
}
