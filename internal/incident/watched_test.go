package incident

import (
	"context"
	"testing"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/store"
)

// An incident opened for an identity whose opener stopped before storing
// the identity (a watcher killed half-way) is set up by the next
// OpenForIdentity that finds it: the inventory's copy, the identity (as
// far as its system can be reached) and the kind, without a second
// incident or a second incident.open.
func TestOpenForIdentityFinishesAHalfOpenedIncident(t *testing.T) {
	ctx := context.Background()
	d, _ := testDeps(t)
	d.Actor, d.Registry, d.Getenv = WatchActor, provider.NewRegistry(), func(string) string { return "" }
	src := []byte("version: 1\nsystems:\n  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }\nidentities:\n  - { name: orders_svc, system: shop-db }\n")
	inv, rep, err := inventory.Parse("/etc/rekey/rekey.yml", src, inventory.Options{KnownSystemTypes: []string{"postgres"}, SkipLocal: true, Getenv: d.Getenv})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %+v", err, rep.Errors)
	}
	ref := store.IdentityRef{System: "shop-db", Name: "orders_svc"}
	half, _, err := d.Store.OpenIncident(ctx, store.Incident{Fingerprint: IdentityKey(ref), Created: d.now(), Inventory: inv.File, Identity: ref})
	if err != nil {
		t.Fatal(err)
	}
	w := Watched{Identity: ref, Inventory: inv, InventoryBody: src, Why: "a finding", Kind: "sensitive-action"}
	inc, opened, err := OpenForIdentity(ctx, d, w)
	if err != nil || opened || inc.ID != half.ID {
		t.Fatalf("OpenForIdentity: %+v opened %v, %v; want the half-opened %s", inc, opened, err, half.ID)
	}
	ids, err := d.Store.Identities(ctx, inc.ID)
	if err != nil || len(ids) != 1 || ids[0].Name != "orders_svc" || ids[0].InspectError == "" {
		t.Errorf("identities %+v %v, want orders_svc with why it could not be inspected here", ids, err)
	}
	if got, _ := d.Store.GetIncident(ctx, inc.ID); got.Kind != "postgres credential" {
		t.Errorf("kind %q", got.Kind)
	}
	if cp, ok, err := d.Store.GetInventory(ctx, inc.ID); err != nil || !ok || string(cp.Body) != string(src) {
		t.Errorf("inventory copy %+v %v %v", cp, ok, err)
	}
	if incs, _ := d.Store.ListIncidents(ctx, store.Filter{}); len(incs) != 1 {
		t.Errorf("%d incidents, want the one", len(incs))
	}
}
