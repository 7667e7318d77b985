package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

func tokenHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func testTokens(t *testing.T, h Harness) {
	s := fresh(t, h)
	if n, err := s.CountTokens(ctx()); n != 0 || err != nil {
		t.Fatalf("CountTokens of a new store = %d, %v", n, err)
	}
	ci := store.Token{Name: "CI Bot", NameKey: "ci bot", Hash: tokenHash("rekey_ci"), Role: "responder",
		Created: at(0), CreatedBy: "alice", Expires: at(720 * time.Hour)}
	adm := store.Token{Name: "admin", NameKey: "admin", Hash: tokenHash("rekey_admin"), Role: "admin",
		Created: at(time.Minute), CreatedBy: "alice", Expires: at(time.Hour)}
	for _, tk := range []store.Token{ci, adm} {
		if err := s.CreateToken(ctx(), tk); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.TokenByHash(ctx(), ci.Hash)
	if err != nil || !ok {
		t.Fatalf("TokenByHash: ok %v, err %v", ok, err)
	}
	check(t, "token", got, ci)
	if _, ok, err := s.TokenByHash(ctx(), tokenHash("rekey_nobody")); ok || err != nil {
		t.Fatalf("TokenByHash of an unknown hash: ok %v, err %v", ok, err)
	}

	// One live token per name key; a clear token is refused.
	dup := ci
	dup.Name, dup.Hash = "ci bot", tokenHash("rekey_ci2")
	if err := s.CreateToken(ctx(), dup); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("a second live token with the same name key: %v, want a conflict", err)
	}
	inClear := ci
	inClear.NameKey, inClear.Hash = "other", "rekey_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV"
	if err := s.CreateToken(ctx(), inClear); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("a token in clear: %v, want invalid", err)
	}

	// Last use: written, then not again within the interval.
	if err := s.TouchToken(ctx(), ci.Hash, at(time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchToken(ctx(), ci.Hash, at(time.Hour+30*time.Second), time.Minute); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.TokenByHash(ctx(), ci.Hash)
	check(t, "last use within the minute", got.LastUsed, ptr(at(time.Hour)))
	if err := s.TouchToken(ctx(), ci.Hash, at(time.Hour+2*time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.TokenByHash(ctx(), ci.Hash)
	check(t, "last use after the minute", got.LastUsed, ptr(at(time.Hour+2*time.Minute)))

	// Revoke: the live one, then again does nothing; the name is free.
	rv, err := s.RevokeToken(ctx(), "ci bot", at(2*time.Hour))
	if err != nil || rv.Hash != ci.Hash || rv.Revoked == nil || !rv.Revoked.Equal(at(2*time.Hour)) {
		t.Fatalf("RevokeToken = %s, %v", show(rv), err)
	}
	if rv, err := s.RevokeToken(ctx(), "ci bot", at(3*time.Hour)); err != nil || !rv.Revoked.Equal(at(2*time.Hour)) {
		t.Fatalf("revoking again = %s, %v; want the first revocation kept", show(rv), err)
	}
	if _, err := s.RevokeToken(ctx(), "nobody", at(0)); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("revoking an unknown name: %v, want not found", err)
	}
	dup.Created = at(3 * time.Hour)
	if err := s.CreateToken(ctx(), dup); err != nil {
		t.Fatalf("a new token for a revoked name: %v", err)
	}
	list, err := s.ListTokens(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Name != "admin" || list[1].Hash != ci.Hash || list[1].Revoked == nil || list[2].Hash != dup.Hash {
		t.Fatalf("ListTokens = %s", show(list))
	}
	if n, err := s.CountTokens(ctx()); n != 3 || err != nil {
		t.Fatalf("CountTokens = %d, %v; want 3 (revoked rows count)", n, err)
	}
}
