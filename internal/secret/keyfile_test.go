package secret

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// leftovers lists what besides want is in dir: a failed or finished
// write must leave no temporary file behind.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range ents {
		ok := false
		for _, w := range want {
			ok = ok || e.Name() == w
		}
		if !ok {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

func TestWriteFileIsWholeAndPrivate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "witness")
	for _, data := range []string{"1 aaaa\n", "2 bbbb\n"} {
		if err := WriteFile(p, []byte(data), true); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != data {
			t.Fatalf("file holds %q, want %q", b, data)
		}
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if extra := leftovers(t, dir, "witness"); len(extra) > 0 {
		t.Errorf("left behind %v", extra)
	}
}

func TestWriteFileNeverOverwritesWithoutReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k")
	if err := os.WriteFile(p, []byte("the old key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("a new key"), false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwriting an existing key: %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "the old key" {
		t.Fatalf("existing key changed to %q", b)
	}
	if extra := leftovers(t, dir, "k"); len(extra) > 0 {
		t.Errorf("left behind %v", extra)
	}
}

func TestWriteFileFailureLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should go: the rename fails after the
	// data was written to the temporary file.
	p := filepath.Join(dir, "witness")
	if err := os.MkdirAll(filepath.Join(p, "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("1 aaaa\n"), true); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
	if extra := leftovers(t, dir, "witness"); len(extra) > 0 {
		t.Errorf("left behind %v", extra)
	}
	// A directory that does not exist: nothing is created anywhere.
	if err := WriteFile(filepath.Join(dir, "nope", "k"), []byte("x"), false); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

// Processes creating the key at once all get the same, whole key: none
// reads a file another is still writing (with O_EXCL and a write after,
// a reader could see an empty key file).
func TestLoadOrCreateKeyRacesToOneKey(t *testing.T) {
	for round := 0; round < 20; round++ {
		dir := t.TempDir()
		const n = 8
		keys := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				keys[i], errs[i] = LoadOrCreateKey(dir, SealKeyFile)
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d: %v", round, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("round %d: two different keys", round)
			}
		}
		if extra := leftovers(t, dir, SealKeyFile); len(extra) > 0 {
			t.Fatalf("left behind %v", extra)
		}
	}
}

func TestDestroyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "run.key")
	if err := WriteFile(p, bytes.Repeat([]byte{7}, 32), false); err != nil {
		t.Fatal(err)
	}
	if err := DestroyFile(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("still there: %v", err)
	}
	if err := DestroyFile(p); err != nil {
		t.Fatalf("destroying a missing file: %v", err)
	}
}
