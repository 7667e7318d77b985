package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/store/storetest"
)

func harness() storetest.Harness {
	return storetest.Harness{
		New: func(t *testing.T) string { return filepath.Join(t.TempDir(), "state", "rekey.db") },
		Open: func(ctx context.Context, addr string) (store.Store, error) {
			return sqlite.Open(ctx, addr)
		},
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness()) }

func TestFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	path := filepath.Join(dir, "rekey.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	if err := s.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q (%v), want wal", mode, err)
	}
	var fk int
	if err := s.DB().QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys %d (%v), want 1", fk, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %04o, want 0700", dir, st.Mode().Perm())
	}
	for _, name := range []string{"rekey.db", "rekey.db-wal", "rekey.db-shm"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", name, st.Mode().Perm())
		}
	}
}

func TestOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", "rekey.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not where asked: %v", err)
	}
}

func TestNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "not a rekey database") {
		t.Errorf("opening a text file: %v", err)
	}
	// Another program's SQLite database is left alone.
	other := filepath.Join(t.TempDir(), "other.db")
	s, err := sqlite.Open(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`DROP TABLE schema_migrations`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := sqlite.Open(context.Background(), other); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "not a rekey database") {
		t.Errorf("opening another program's database: %v", err)
	}
	if _, err := sqlite.Open(context.Background(), ""); errs.KindOf(err) != errs.Invalid {
		t.Errorf("empty path: %v", err)
	}
}

// A wiped sealed credential leaves no copy in the files SQLite keeps: the
// deleted row is overwritten (secure_delete) and the write-ahead log,
// which held the page as written, is checkpointed and truncated.
func TestWipeLeavesNoCopyInTheFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rekey.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inc, _, err := s.OpenIncident(context.Background(), store.Incident{Fingerprint: secret.Fingerprint(strings.Repeat("ab", 32))})
	if err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 80)
	rand.Read(blob)
	stored := []byte(base64.StdEncoding.EncodeToString(blob)) // as the sealed column holds it
	raw := func() []byte {
		var all []byte
		for _, f := range []string{path, path + "-wal", path + "-journal"} {
			b, _ := os.ReadFile(f)
			all = append(all, b...)
		}
		return all
	}
	// Some rows before and after, so the blob shares its page with rows
	// that stay.
	for _, n := range []string{"login:a", "login:b", "login:c"} {
		if _, err := s.SealOnce(context.Background(), inc.ID, n, bytes.Repeat([]byte{1}, 60)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SealOnce(context.Background(), inc.ID, "login:shop-db/orders_svc_b", blob); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw(), stored) {
		t.Fatal("the sealed blob is not in the files before the wipe: the test proves nothing")
	}
	// Checkpointed into the main file too, as a long-lived store would.
	if _, err := s.DB().Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Wipe(context.Background(), inc.ID, "login:shop-db/orders_svc_b"); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw(), stored) {
		t.Error("the wiped blob is still in rekey.db or its -wal file")
	}
	if b, ok, err := s.Sealed(context.Background(), inc.ID, "login:a"); err != nil || !ok || len(b) != 60 {
		t.Errorf("the other blobs: %v %v", ok, err)
	}
}
