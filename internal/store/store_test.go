package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

func TestMigrationsAreNumberedWithoutGaps(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || SchemaVersion() != len(ms) {
		t.Fatalf("%d migrations, schema version %d", len(ms), SchemaVersion())
	}
	for i, m := range ms {
		if m.Version != i+1 || m.Name == "" || !strings.Contains(m.SQL, "CREATE") && !strings.Contains(m.SQL, "ALTER") {
			t.Errorf("migration %d: %+v", i, m)
		}
	}
}

func TestMigrationsStayPortable(t *testing.T) {
	// Types and clauses one engine lacks; see the header of 0001.
	banned := []string{"SERIAL", "AUTOINCREMENT", "TIMESTAMP", "BOOLEAN", "JSONB", "BYTEA", "BLOB", "NOW()", "DATETIME", "IDENTITY"}
	ms, _ := Migrations()
	for _, m := range ms {
		var code []string
		for _, line := range strings.Split(m.SQL, "\n") {
			if l, _, _ := strings.Cut(line, "--"); strings.TrimSpace(l) != "" {
				code = append(code, l)
			}
		}
		sql := strings.ToUpper(strings.Join(code, "\n"))
		for _, b := range banned {
			// "identity" is a column name; only the GENERATED … AS IDENTITY clause is banned.
			needle := strings.ToUpper(b)
			if b == "IDENTITY" {
				needle = "AS IDENTITY"
			}
			if strings.Contains(sql, needle) {
				t.Errorf("migration %04d_%s uses %s, which is not portable (or not wanted yet)", m.Version, m.Name, b)
			}
		}
	}
}

func TestNewID(t *testing.T) {
	at := time.Date(2026, 11, 26, 23, 59, 0, 0, time.FixedZone("x", -5*3600))
	seen := map[string]bool{}
	for range 50 {
		id := NewID(at, 4)
		if !ValidID(id) || !strings.HasPrefix(id, "INC-20261127-") || len(id) != len("INC-20261127-3f9a") {
			t.Fatalf("NewID = %q", id)
		}
		seen[id] = true
	}
	if len(seen) < 40 {
		t.Errorf("50 ids, %d distinct: not random enough", len(seen))
	}
	if id := NewID(at, 8); len(id) != len("INC-20261127-")+8 || !ValidID(id) {
		t.Errorf("NewID(8) = %q", id)
	}
	for _, bad := range []string{"", "INC-2026-3f9a", "inc-20261126-3f9a", "INC-20261126-3F9A", "INC-20261126-3f9a; DROP"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q)", bad)
		}
	}
}

func TestCheckFingerprint(t *testing.T) {
	f, _ := secret.NewFingerprinter(make([]byte, 32))
	if err := CheckFingerprint("op", f.Of(secret.FromString("x"))); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", strings.Repeat("A", 64), strings.Repeat("a", 63)} {
		err := CheckFingerprint("op", secret.Fingerprint(bad))
		if errs.KindOf(err) != errs.Invalid {
			t.Errorf("CheckFingerprint(%q) = %v", bad, err)
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("the error quotes the value: %v", err)
		}
	}
}

func TestStoredTimesSortAsText(t *testing.T) {
	a := time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC)
	b := a.Add(time.Nanosecond * 900)
	c := time.Date(2026, 1, 2, 3, 4, 6, 0, time.FixedZone("y", 3600)) // earlier instant, other zone
	fa, fb, fc := FormatTime(a), FormatTime(b), FormatTime(c)
	if !(fc < fa && fa < fb) {
		t.Errorf("text order %q %q %q does not follow time order", fc, fa, fb)
	}
	back, err := ParseTime(fb)
	if err != nil || !back.Equal(b) || back.Location() != time.UTC {
		t.Errorf("ParseTime(%q) = %v, %v", fb, back, err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("REKEY_HOME", "/tmp/rekey-home")
	p, err := DefaultPath()
	if err != nil || p != "/tmp/rekey-home/rekey.db" {
		t.Errorf("DefaultPath() = %q, %v", p, err)
	}
	if !errors.Is(errs.E("op", errs.NotFound, "x", ErrNotFound), ErrNotFound) {
		t.Error("ErrNotFound does not unwrap")
	}
}
