package incident

import (
	"context"
	"testing"
	"time"
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
