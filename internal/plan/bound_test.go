package plan

import (
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

const k8sInventory = `version: 1
systems:
  - name: cluster
    type: kubernetes
    admin: env:KUBECONFIG_ADMIN
identities:
  - name: shop/orders
    system: cluster
`

func k8sScope(key string) scope.Scope {
	return scope.Scope{Incident: "INC-20261206-b0b0",
		Identity: scope.Identity{Status: "identified", Name: "shop/orders", System: "cluster", Declared: true, CanLogin: true, Privileges: []scope.Privilege{}},
		Related:  []store.Related{{Kind: "this-key", Name: key}}}
}

// A leaked bound token is revoked by its key (what it is bound to), after
// a person approves, and the plan says what the revoke disrupts; a
// legacy token Secret is revoked by its name, without approval, and
// neither plan ends sessions (a token has none).
func TestBoundTokenRevokeNeedsApproval(t *testing.T) {
	for _, c := range []struct{ key, says string }{
		{"serviceaccount/0b5f-uid", "every pod of the account"},
		{"pod/web-1/7c1e-uid", "delete pod web-1"},
		{"secret/holder/9d2a-uid", "delete Secret holder"},
	} {
		for _, strategy := range []Strategy{Graceful, Emergency} {
			p := build(t, Input{Scope: k8sScope(c.key), Inventory: inv(t, k8sInventory), Strategy: strategy})
			rev := mustStep(t, p, "revoke:cluster/shop/orders")
			if rev.Key != c.key || rev.Approval != ApprovalManual || !strings.Contains(rev.Summary, c.says) {
				t.Errorf("%s, %s: revoke %+v; want key %s, manual approval, a summary saying %q", c.key, strategy, rev, c.key, c.says)
			}
		}
	}
	for _, strategy := range []Strategy{Graceful, Emergency} {
		p := build(t, Input{Scope: k8sScope("orders-token"), Inventory: inv(t, k8sInventory), Strategy: strategy})
		if rev := mustStep(t, p, "revoke:cluster/shop/orders"); rev.Key != "orders-token" || rev.Approval != "" {
			t.Errorf("%s: a token Secret's revoke %+v: want that Secret by name, no approval", strategy, rev)
		}
		if st := p.Step("terminate:cluster/shop/orders"); st != nil {
			t.Errorf("%s: a terminate step %+v: a token opens no session to end", strategy, st)
		}
	}
}

// A leaked token Secret with a consumer is replaced like any key: a new
// token Secret for the same account (generated), delivered and verified,
// then the leaked one deleted by name.
func TestKubernetesTokenSecretGraceful(t *testing.T) {
	invText := k8sInventory + `consumers:
  - name: web
    identity: shop/orders
    deliver: { type: kubernetes-secret, namespace: shop, name: orders-token, key: token, restart: deployment/web }
`
	sc := k8sScope("orders-token")
	sc.Consumers = []scope.Consumer{{Name: "web", Declared: true}}
	p := build(t, Input{Scope: sc, Inventory: inv(t, invText), Strategy: Graceful})
	is := mustStep(t, p, "issue:cluster/shop/orders")
	if !is.Generated || is.Login != "shop/orders" || is.Key != "orders-token" {
		t.Errorf("issue %+v: want a generated token for shop/orders beside orders-token", is)
	}
	if !before(p, "verify:web", "revoke:cluster/shop/orders") {
		t.Errorf("the leaked token is revoked before web is verified\n%s", dump(p))
	}
}
