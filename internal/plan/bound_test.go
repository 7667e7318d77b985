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
// legacy token Secret's revoke needs no approval.
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
	p := build(t, Input{Scope: k8sScope("orders-token"), Inventory: inv(t, k8sInventory), Strategy: Emergency})
	if rev := mustStep(t, p, "revoke:cluster/shop/orders"); rev.Key != "" || rev.Approval != "" {
		t.Errorf("a token Secret's revoke %+v: want no key (every token Secret of the account) and no approval", rev)
	}
}
