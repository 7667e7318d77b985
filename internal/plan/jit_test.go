package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/scope"
)

const jitInventory = `version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:A }
identities:
  - { name: orders_svc, system: shop-db }
  - { name: orders_tmpl, system: shop-db }
consumers:
  - { name: api, identity: orders_svc, jit: { role: orders-rw }, deliver: { type: file, path: /srv/api/.env, format: dotenv, key: DATABASE_URL } }
  - { name: worker, identity: orders_svc, jit: { role: self }, deliver: { type: file, path: /srv/worker/.env, format: dotenv, key: DATABASE_URL, user_key: DATABASE_USER } }
  - { name: cron, identity: orders_svc, deliver: { type: file, path: /srv/cron/.env, format: dotenv, key: DATABASE_URL, user_key: DATABASE_USER } }
  - { name: partner, identity: orders_svc, jit: { role: orders-rw } }
broker:
  issuers:
    - { name: k8s, issuer: "https://k8s.example.com", audience: rekey }
  roles:
    - { name: orders-rw, system: shop-db, like: orders_tmpl, ttl: 15m, subjects: ["system:serviceaccount:orders:*"] }
    - { name: self, system: shop-db, like: orders_svc, ttl: 15m, subjects: ["system:serviceaccount:orders:*"] }
`

func jitScope() scope.Scope {
	return scope.Scope{Incident: "INC-20261125-3f9a",
		Identity:  scope.Identity{Status: "identified", Name: "orders_svc", System: "shop-db", Declared: true, CanLogin: true},
		Consumers: []scope.Consumer{{Name: "api", Declared: true}, {Name: "worker", Declared: true}, {Name: "cron", Declared: true}, {Name: "partner", Declared: true}}}
}

// jit moves the consumers whose role has a template of its own onto
// leases, gives the others their own login with the reason in a note,
// and disables the static identity only after all of them; the leases
// of the identity itself are ended with it.
func TestJITPlan(t *testing.T) {
	p, err := Build(Input{Scope: jitScope(), Inventory: inv(t, jitInventory), Strategy: JIT, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if p.Strategy != JIT {
		t.Fatalf("strategy %s", p.Strategy)
	}
	byID := map[string]Step{}
	var ids []string
	for _, st := range p.Steps {
		byID[st.ID] = st
		ids = append(ids, st.ID)
	}
	api := byID["move-to-lease:api"]
	if api.Kind != MoveToLease || api.Role != "orders-rw" || api.Approval != "" || !strings.Contains(api.Summary, "rekey agent --role orders-rw --consumer api") {
		t.Fatalf("api: %+v", api)
	}
	if pt := byID["move-to-lease:partner"]; pt.Approval != ApprovalManual {
		t.Fatalf("partner (no delivery): %+v", pt)
	}
	for _, c := range []string{"worker", "cron"} {
		if _, ok := byID["issue:shop-db/orders_svc_"+c]; !ok {
			t.Errorf("%s has no login of its own: %v", c, ids)
		}
		if _, ok := byID["move-to-lease:"+c]; ok {
			t.Errorf("%s moved onto leases", c)
		}
	}
	notes := strings.Join(p.Notes, "\n")
	if !strings.Contains(notes, "worker could not be moved onto leases: its jit role self copies shop-db/orders_svc, the identity under incident") ||
		!strings.Contains(notes, "cron could not be moved onto leases: it declares no jit") {
		t.Fatalf("notes:\n%s", notes)
	}
	rev := byID["revoke:shop-db/orders_svc"]
	for _, need := range []string{"move-to-lease:api", "move-to-lease:partner", "verify:worker", "verify:cron"} {
		if !slices.Contains(rev.Needs, need) {
			t.Errorf("revoke does not wait for %s: %v", need, rev.Needs)
		}
	}
	rl, ok := byID["revoke-leases:shop-db/orders_svc"]
	if !ok || rl.Kind != RevokeLeases || !slices.Equal(rl.Needs, rev.Needs) || !strings.Contains(rl.Summary, "role self") {
		t.Fatalf("revoke-leases: %+v", rl)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Every strategy ends the leases of an identity under incident; emergency
// does it with the revoke, at once.
func TestRevokeLeasesStep(t *testing.T) {
	p, err := Build(Input{Scope: jitScope(), Inventory: inv(t, jitInventory), Strategy: Emergency, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	st := p.Step("revoke-leases:shop-db/orders_svc")
	if st == nil || !slices.Equal(st.Needs, []string{"revoke:shop-db/orders_svc"}) {
		t.Fatalf("emergency revoke-leases: %+v", st)
	}
	if p.Step("move-to-lease:api") != nil {
		t.Fatal("emergency moved a consumer onto leases")
	}
	sc := jitScope()
	sc.Identity.Name = "orders_tmpl"
	p, err = Build(Input{Scope: sc, Inventory: inv(t, jitInventory), Strategy: Graceful, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if p.Step("revoke-leases:shop-db/orders_tmpl") == nil {
		t.Fatal("graceful plan for a template has no revoke-leases step")
	}
	p, err = Build(Input{Scope: shopScope(), Inventory: inv(t, shopInventory), Strategy: Graceful, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		if s.Kind == RevokeLeases {
			t.Fatal("revoke-leases for an identity no broker role copies")
		}
	}
}
