package token

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

var layout = regexp.MustCompile(`^rekey_[0-9A-Za-z]{38}$`)

func TestNewLayoutAndChecksum(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		tok, err := New()
		if err != nil {
			t.Fatal(err)
		}
		s := string(tok.Reveal())
		if !layout.MatchString(s) || !Valid(tok.Reveal()) {
			t.Fatalf("New() = %q: not a valid token", s)
		}
		if seen[s] {
			t.Fatalf("New() repeated %q", s)
		}
		seen[s] = true
	}
}

func TestValidRefusesTyposAndLookAlikes(t *testing.T) {
	tok, _ := New()
	good := string(tok.Reveal())
	swap := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for name, s := range map[string]string{
		"a changed random character":   swap(len(Prefix) + 3),
		"a changed checksum character": swap(Len - 1),
		"two characters transposed":    good[:10] + good[11:12] + good[10:11] + good[12:],
		"truncated":                    good[:Len-1],
		"extended":                     good + "0",
		"another prefix":               "rekez_" + good[len(Prefix):],
		"a character outside base62":   good[:10] + "-" + good[11:],
		"empty":                        "",
	} {
		if s == good {
			continue // a transposition of equal characters
		}
		if Valid([]byte(s)) {
			t.Errorf("%s: %q is valid", name, s)
		}
	}
}

func TestHashIsSHA256Hex(t *testing.T) {
	// SHA-256("abc") from FIPS 180-2.
	if got := Hash([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Hash = %s", got)
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func testStore(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	c := &clock{time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	a := &Authenticator{Store: st, Now: c.now}

	tok, rec, err := Create(ctx, st, " Alice ", auth.Approver, time.Hour, "root", c.t)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Name != "Alice" || rec.NameKey != "alice" || !rec.Expires.Equal(c.t.Add(time.Hour)) || rec.Hash != Hash(tok.Reveal()) {
		t.Fatalf("record %+v", rec)
	}
	p, err := a.Authenticate(ctx, string(tok.Reveal()))
	if err != nil || p != (auth.Principal{Name: "Alice", Role: auth.Approver, Via: "token"}) {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}

	// The same name, told apart only by case, is taken.
	if _, _, err := Create(ctx, st, "ALICE", auth.Viewer, time.Hour, "root", c.t); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("a second Alice: %v", err)
	}

	// Last use is written once a minute at most.
	last := func() time.Time {
		t.Helper()
		r, _, err := st.TokenByHash(ctx, rec.Hash)
		if err != nil || r.LastUsed == nil {
			t.Fatalf("last use: %+v %v", r, err)
		}
		return *r.LastUsed
	}
	first := last()
	c.t = c.t.Add(30 * time.Second)
	a.Authenticate(ctx, string(tok.Reveal()))
	if !last().Equal(first) {
		t.Error("last use rewritten within a minute")
	}
	c.t = c.t.Add(time.Minute)
	a.Authenticate(ctx, string(tok.Reveal()))
	if !last().Equal(c.t) {
		t.Errorf("last use = %s, want %s", last(), c.t)
	}

	refused := func(what, bearer string) {
		t.Helper()
		_, err := a.Authenticate(ctx, bearer)
		if !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", what, err)
		}
	}
	other, _ := New()
	refused("an unknown token", string(other.Reveal()))
	refused("garbage", "hunter2")
	bad := []byte(string(tok.Reveal()))
	bad[Len-1] ^= 1
	refused("a bad checksum", string(bad))

	c.t = rec.Expires
	refused("an expired token", string(tok.Reveal()))
	c.t = rec.Expires.Add(-time.Second)
	if _, err := a.Authenticate(ctx, string(tok.Reveal())); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	if _, err := Revoke(ctx, st, "alice", c.t); err != nil {
		t.Fatal(err)
	}
	refused("a revoked token", string(tok.Reveal()))
}

func TestCreateRefuses(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	now := time.Now()
	for name, f := range map[string]func() error{
		"an empty name":   func() error { _, _, err := Create(ctx, st, "  ", auth.Admin, time.Hour, "root", now); return err },
		"a mixed script":  func() error { _, _, err := Create(ctx, st, "аlice", auth.Admin, time.Hour, "root", now); return err },
		"an unknown role": func() error { _, _, err := Create(ctx, st, "bob", "root", time.Hour, "root", now); return err },
		"no ttl":          func() error { _, _, err := Create(ctx, st, "bob", auth.Admin, 0, "root", now); return err },
	} {
		if err := f(); errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if n, _ := st.CountTokens(ctx); n != 0 {
		t.Errorf("%d tokens stored after refusals", n)
	}
}
