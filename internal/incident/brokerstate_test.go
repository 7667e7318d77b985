package incident

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/plan"
)

// The broker sees an identity under incident while an incident on it is
// open, and no longer once it is closed.
func TestIdentityState(t *testing.T) {
	ctx := context.Background()
	d, _ := testDeps(t)
	inc := openTest(t, d, "cc00000000000000000000000000000000000000000000000000000000000000", d.now())
	inc.Identity.System, inc.Identity.Name = "shop-db", "orders_svc"
	if err := d.Store.UpdateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	s := IdentityState{Store: d.Store, Now: d.Now}
	for _, c := range []struct {
		identity string
		want     bool
	}{{"shop-db/orders_svc", true}, {"shop-db/billing_svc", false}, {"other/orders_svc", false}} {
		under, _, err := s.State(ctx, c.identity)
		if err != nil || under != c.want {
			t.Errorf("%s: under incident %v, %v", c.identity, under, err)
		}
	}
	if err := d.Store.CloseIncident(ctx, inc.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if under, risk, err := s.State(ctx, "shop-db/orders_svc"); err != nil || under || risk != 0 {
		t.Fatalf("after close: %v %d %v", under, risk, err)
	}
}

// A jit plan for an identity a broker role copies ends its leases, and a
// run's engine gets the broker's leases over the run's own connections.
func TestJITPlanAndRunLeases(t *testing.T) {
	ctx := context.Background()
	d, inc, _ := runnable(t, nil) // DB_ADMIN unset: opening db fails, naming it
	if err := os.WriteFile(inc.Inventory, []byte(`version: 1
systems:
  - {name: db, type: postgres, admin: env:DB_ADMIN}
identities:
  - {name: app, system: db}
  - {name: app_tmpl, system: db}
consumers:
  - {name: api, identity: app, jit: {role: app-rw}, deliver: {type: file, path: app.env, format: dotenv, key: DATABASE_URL}}
broker:
  issuers:
    - {name: k8s, issuer: "https://k8s.example.com", audience: rekey}
  roles:
    - {name: app-rw, system: db, like: app_tmpl, ttl: 15m, subjects: ["system:serviceaccount:app:*"]}
    - {name: legacy, system: db, like: app, ttl: 15m, subjects: ["system:serviceaccount:app:*"]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Plan(ctx, d, inc.ID, plan.JIT)
	if err != nil {
		t.Fatal(err)
	}
	if p.Step("move-to-lease:api") == nil || p.Step("revoke-leases:db/app") == nil {
		t.Fatalf("jit plan: %+v", p.Steps)
	}
	ed, cleanup, err := d.engineDeps(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if ed.Leases == nil {
		t.Fatal("a run of an inventory with a broker has no leases service")
	}
	if _, err := ed.Leases(ctx); err == nil || !strings.Contains(err.Error(), "DB_ADMIN") {
		t.Fatalf("the leases service did not open the roles' system through the run: %v", err)
	}
}
