package secret

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpens(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	x, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	s := FromString("Zx9-new-password-for-orders")
	blob, err := x.Seal(s, "INC-1/login:shop-db/orders_svc_api")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, s.Reveal()) {
		t.Fatal("the blob holds the clear value")
	}
	got, err := x.Open(blob, "INC-1/login:shop-db/orders_svc_api")
	if err != nil || !got.Equal(s) {
		t.Fatalf("open: %v", err)
	}
	// Another slot, another key, a flipped bit: none opens.
	if _, err := x.Open(blob, "INC-1/login:shop-db/other"); !errors.Is(err, ErrUnseal) {
		t.Errorf("another slot: %v", err)
	}
	key2 := make([]byte, 32)
	rand.Read(key2)
	y, _ := NewSealer(key2)
	if _, err := y.Open(blob, "INC-1/login:shop-db/orders_svc_api"); !errors.Is(err, ErrUnseal) {
		t.Errorf("another key: %v", err)
	}
	blob[len(blob)-1] ^= 1
	if _, err := x.Open(blob, "INC-1/login:shop-db/orders_svc_api"); !errors.Is(err, ErrUnseal) {
		t.Errorf("altered blob: %v", err)
	}
	if _, err := x.Open(blob[:5], "x"); !errors.Is(err, ErrUnseal) {
		t.Errorf("short blob: %v", err)
	}
	if _, err := NewSealer(key[:16]); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	counts := map[byte]int{}
	for range 200 {
		s, err := Generate(32)
		if err != nil {
			t.Fatal(err)
		}
		v := string(s.Reveal())
		if len(v) != 32 || seen[v] {
			t.Fatalf("password %d long or repeated", len(v))
		}
		seen[v] = true
		for i := range len(v) {
			if !strings.Contains(passwordAlphabet, v[i:i+1]) {
				t.Fatalf("character %q outside the alphabet", v[i])
			}
			counts[v[i]]++
		}
	}
	// 6400 draws over 57 characters: each should appear (expected ~112).
	if len(counts) != len(passwordAlphabet) {
		t.Errorf("%d of %d characters ever drawn", len(counts), len(passwordAlphabet))
	}
}

// A run's credentials are sealed under a key of the run's own, outside
// the store: once it is destroyed, a copy of a blob taken earlier does not
// open any more, not even with seal.key.
func TestRunKeyDestroyedBlobsStayShut(t *testing.T) {
	home := t.TempDir()
	key, err := LoadOrCreateKey(home, SealKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	base, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, RunKeyDir)
	run := base.ForRun(dir, "INC-20261206-ab12")
	s := FromString("Zx9-new-password-for-orders")
	const slot = "INC-20261206-ab12/login:shop-db/orders_svc_b"
	blob, err := run.Seal(s, slot)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "INC-20261206-ab12.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("run key: %v %v", st, err)
	}
	copied := append([]byte(nil), blob...)
	// Another Sealer for the same run (a resumed process) opens it; seal.key
	// alone and another run's key do not.
	if got, err := base.ForRun(dir, "INC-20261206-ab12").Open(blob, slot); err != nil || !got.Equal(s) {
		t.Fatalf("resumed open: %v", err)
	}
	if _, err := base.Open(blob, slot); !errors.Is(err, ErrUnseal) {
		t.Errorf("seal.key alone opened a run's blob: %v", err)
	}
	if _, err := base.ForRun(dir, "INC-other").Open(blob, slot); !errors.Is(err, ErrUnseal) {
		t.Errorf("another run's key opened it: %v", err)
	}
	if err := run.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Sealer{run, base.ForRun(dir, "INC-20261206-ab12"), base} {
		if _, err := x.Open(copied, slot); !errors.Is(err, ErrUnseal) {
			t.Errorf("the copy opened after the run key was destroyed: %v", err)
		}
	}
	if _, err := run.Open(copied, slot); err == nil || !strings.Contains(err.Error(), "run's key") {
		t.Errorf("error does not say the run key is gone: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in %s: %v", dir, ents)
	}
	if err := run.Destroy(); err != nil {
		t.Errorf("destroying twice: %v", err)
	}
}

// Blobs sealed before run keys existed (under seal.key alone) still open
// through a run's Sealer, so a run in flight survives the upgrade.
func TestRunSealerOpensOldBlobs(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	base, _ := NewSealer(key)
	s := FromString("old-style")
	blob, err := base.Seal(s, "INC-1/x")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := base.ForRun(t.TempDir(), "INC-1").Open(blob, "INC-1/x"); err != nil || !got.Equal(s) {
		t.Fatalf("old blob through a run's Sealer: %v", err)
	}
}
