package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write creates a missing file with the mode given, leaves a file that
// already holds the data untouched, replaces one that does not keeping
// its mode minus the bits to clear, and names the file in its errors.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tls.key")
	changed, err := Write("test", p, []byte("one"), 0o600, 0o007)
	if err != nil || !changed {
		t.Fatalf("create: %v %v", changed, err)
	}
	if fi, _ := os.Stat(p); fi.Mode() != 0o600 {
		t.Errorf("created with %v", fi.Mode())
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := Write("test", p, []byte("one"), 0o600, 0o007); err != nil || changed {
		t.Errorf("same data: changed %v, %v", changed, err)
	}
	if fi, _ := os.Stat(p); fi.Mode() != 0o644 {
		t.Errorf("an unchanged file's mode changed to %v", fi.Mode())
	}
	if changed, err := Write("test", p, []byte("two"), 0o600, 0o007); err != nil || !changed {
		t.Errorf("replace: changed %v, %v", changed, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Errorf("content %q", b)
	}
	if fi, _ := os.Stat(p); fi.Mode() != 0o640 {
		t.Errorf("replaced with %v, want 0640 (others' bits cleared)", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	bad := filepath.Join(dir, "missing", "x")
	if _, err := Write("test", bad, []byte("x"), 0o600, 0); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("missing directory: %v", err)
	}
}
