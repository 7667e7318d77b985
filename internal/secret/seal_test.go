package secret

import (
	"bytes"
	"crypto/rand"
	"errors"
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
