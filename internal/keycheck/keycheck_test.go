package keycheck_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/keycheck"
	"github.com/rekeyhq/rekey/internal/store/open"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func key() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// The first process records its keys; the same keys pass again, another
// key is refused by name and file, and a key never seen is recorded.
func TestCheck(t *testing.T) {
	for name, where := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "rekey.db") },
		"postgres": func(t *testing.T) string { return testutil.PostgresDB(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, err := open.Open(ctx, where(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			inst, seal := key(), key()
			keys := []keycheck.Key{{Name: "installation", Path: "/k/installation.key", Bytes: inst}, {Name: "seal", Path: "/k/seal.key", Bytes: seal}}
			if err := keycheck.Check(ctx, st, keys, time.Now()); err != nil {
				t.Fatalf("first start: %v", err)
			}
			if err := keycheck.Check(ctx, st, keys, time.Now()); err != nil {
				t.Fatalf("same keys again: %v", err)
			}
			other := []keycheck.Key{keys[0], {Name: "seal", Path: "/other/seal.key", Bytes: key()}}
			err = keycheck.Check(ctx, st, other, time.Now())
			if err == nil || !strings.Contains(err.Error(), "seal key /other/seal.key") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("another sealing key: %v", err)
			}
			if err := keycheck.Check(ctx, st, append(keys, keycheck.Key{Name: "audit", Bytes: key()}), time.Now()); err != nil {
				t.Fatalf("a key added later: %v", err)
			}
		})
	}
}

func TestValueDoesNotHoldTheKey(t *testing.T) {
	k := key()
	v := keycheck.Value(k)
	if strings.Contains(v, string(k)) || v == keycheck.Value(key()) || v != keycheck.Value(k) {
		t.Fatal("check value")
	}
}
