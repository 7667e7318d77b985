package storetest

import (
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// idHash is what the web UI keys a session by: a SHA-256 in hex, as a
// token's hash is.
func idHash(id string) string { return tokenHash(id) }

func testWebSessions(t *testing.T, h Harness) {
	s := fresh(t, h)
	t0 := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	a := store.WebSession{IDHash: idHash("a"), Actor: "alice", Role: "approver", Via: "token", Credential: "sealed-a",
		Created: t0, LastSeen: t0, Expires: t0.Add(12 * time.Hour)}
	b := store.WebSession{IDHash: idHash("b"), Actor: "bob@example.org", Role: "viewer", Via: "oidc",
		Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour)}
	for _, w := range []store.WebSession{a, b} {
		if err := s.CreateWebSession(ctx(), w); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateWebSession(ctx(), a); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("creating a session twice: %v, want a conflict", err)
	}
	for _, bad := range []store.WebSession{
		{IDHash: "a", Actor: "alice", Role: "viewer", Via: "token", Expires: t0}, // an id, not its hash
		{IDHash: idHash("c"), Role: "viewer", Via: "token", Expires: t0},
		{IDHash: idHash("c"), Actor: "alice", Role: "viewer", Via: "token"},
	} {
		if err := s.CreateWebSession(ctx(), bad); errs.KindOf(err) != errs.Invalid {
			t.Errorf("CreateWebSession(%+v) = %v, want invalid", bad, err)
		}
	}
	got, ok, err := s.WebSession(ctx(), a.IDHash)
	if err != nil || !ok {
		t.Fatalf("WebSession: ok %v, err %v", ok, err)
	}
	check(t, "session", got, a)
	if _, ok, err := s.WebSession(ctx(), idHash("none")); ok || err != nil {
		t.Fatalf("an unknown session: ok %v, err %v", ok, err)
	}

	// Touching moves last_seen forward only.
	if err := s.TouchWebSession(ctx(), a.IDHash, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchWebSession(ctx(), a.IDHash, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.WebSession(ctx(), a.IDHash); !got.LastSeen.Equal(t0.Add(30 * time.Minute)) {
		t.Fatalf("last seen %v after touches, want %v", got.LastSeen, t0.Add(30*time.Minute))
	}

	// At t0+1h: b reached its absolute expiry; a is idle 30m, under a 45m limit.
	n, err := s.DeleteExpiredWebSessions(ctx(), t0.Add(time.Hour), t0.Add(15*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v; want b alone", n, err)
	}
	if _, ok, _ := s.WebSession(ctx(), b.IDHash); ok {
		t.Fatal("b outlived its expiry")
	}
	// Idle since t0+30m, the limit moved past it.
	if n, err := s.DeleteExpiredWebSessions(ctx(), t0.Add(time.Hour), t0.Add(31*time.Minute)); err != nil || n != 1 {
		t.Fatalf("idle sweep: %d, %v; want a", n, err)
	}
	if err := s.CreateWebSession(ctx(), a); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebSession(ctx(), a.IDHash); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebSession(ctx(), a.IDHash); err != nil {
		t.Fatalf("signing out twice: %v", err)
	}
	if _, ok, _ := s.WebSession(ctx(), a.IDHash); ok {
		t.Fatal("a signed-out session is still stored")
	}
}
