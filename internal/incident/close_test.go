package incident

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// testDeps is a store in a temporary directory with its audit log; Claim
// always succeeds and counts its calls.
func testDeps(t *testing.T) (Deps, *int) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	claims := 0
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	return Deps{Store: st, Audit: audit.New(st, filepath.Join(dir, "witness")).WithKey(filepath.Join(dir, "audit.key"), true), Actor: "alice",
		Now: func() time.Time { return now },
		Claim: func(ctx context.Context, id string) (context.Context, func(), error) {
			claims++
			return ctx, func() {}, nil
		}}, &claims
}

func openTest(t *testing.T, d Deps, fp string, created time.Time) store.Incident {
	t.Helper()
	inc, _, err := d.Store.OpenIncident(context.Background(), store.Incident{Fingerprint: secret.Fingerprint(fp), Preview: "s3…", Created: created})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Audit.Append(context.Background(), d.Actor, "incident.open", inc.ID, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	return inc
}

func TestCloseAndList(t *testing.T) {
	ctx := context.Background()
	d, claims := testDeps(t)
	a := openTest(t, d, "aa00000000000000000000000000000000000000000000000000000000000000", d.now().Add(-time.Hour))
	b := openTest(t, d, "bb00000000000000000000000000000000000000000000000000000000000000", d.now())

	if _, err := Close(ctx, d, a.ID, " "); errs.KindOf(err) != errs.Invalid || *claims != 0 {
		t.Fatalf("no reason: %v (claims %d)", err, *claims)
	}
	d.Actor = "bob"
	inc, err := Close(ctx, d, a.ID, "done")
	if err != nil || inc.State != store.Closed || inc.ClosedAt == nil || !inc.ClosedAt.Equal(d.now()) || *claims != 1 {
		t.Fatalf("close: %+v %v (claims %d)", inc, err, *claims)
	}
	if _, err := Close(ctx, d, a.ID, "again"); errs.KindOf(err) != errs.Invalid {
		t.Errorf("closing twice: %v", err)
	}
	for state, want := range map[string][]string{"open": {b.ID}, "closed": {a.ID}, "all": {a.ID, b.ID}} {
		got, err := List(ctx, d, store.State(state))
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, s := range got {
			gotIDs = append(gotIDs, s.ID)
			if s.OpenedBy != "alice" {
				t.Errorf("%s opened by %q", s.ID, s.OpenedBy)
			}
		}
		if len(gotIDs) != len(want) || gotIDs[0] != want[0] {
			t.Errorf("%s: %v, want %v", state, gotIDs, want)
		}
	}
	if _, err := List(ctx, d, "bogus"); errs.KindOf(err) != errs.Invalid {
		t.Errorf("a bad state: %v", err)
	}
	log, err := d.Store.AuditLog(ctx)
	if err != nil || log[len(log)-1].Action != "incident.close" || log[len(log)-1].Actor != "bob" {
		t.Errorf("audit: %+v %v", log, err)
	}
}
