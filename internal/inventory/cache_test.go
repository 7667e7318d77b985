package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCacheSeesEdits(t *testing.T) {
	good, err := os.ReadFile("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "inventory.yml")
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	c := NewCache(Options{SkipLocal: true})
	first, _, err := c.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := c.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Error("the same bytes were parsed again")
	}

	// The same length and modification time, another identity name: only
	// the content tells.
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(good), "name: orders_svc", "name: orders_sv2", 1)
	if len(edited) != len(good) || edited == string(good) {
		t.Fatal("the edit must keep the length")
	}
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, time.Time{}, st.ModTime()); err != nil {
		t.Fatal(err)
	}
	after, _, err := c.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if after == first || after.Identities[0].Name != "orders_sv2" {
		t.Errorf("the edit was not seen: first identity %q", after.Identities[0].Name)
	}

	// A file that no longer parses is an error, not the last good parse.
	if err := os.WriteFile(path, []byte("version: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Load(path); err == nil {
		t.Error("a broken file loaded from the cache")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Load(path); err == nil {
		t.Error("a removed file loaded from the cache")
	}
}
