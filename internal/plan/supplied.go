package plan

import (
	"fmt"
	"slices"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
)

// suppliedBy lists the systems whose replacement no API can create, with
// where a person creates it: GitHub has no API to mint a personal access
// token (its App installation tokens are not what leaks from a person).
var suppliedBy = map[string]string{
	"github": "GitHub's settings (Developer settings, Personal access tokens), with the repositories and permissions the review keeps",
}

// suppliedIdentity adds the steps that replace a secret a person must
// create: a supply-secret step waits until the new secret is handed in
// (and sealed), then it is delivered and verified as any other:
//
//	graceful, split: supply → deliver → verify → revoke
//	emergency:       revoke → supply → deliver → verify
//
// Split cannot give each consumer a credential of its own without a
// person creating each one, so it is graceful here, and the plan says so.
func (b *builder) suppliedIdentity(id scope.Identity, key, where string, consumers []*inventory.Consumer) error {
	leaked, _ := scopeKeys(b.in.Scope)
	first := []string{}
	revoke := func(summary string, needs []string) string {
		return b.add(Step{ID: "revoke:" + key, Kind: Revoke, Target: key, System: id.System, Identity: id.Name, Key: leaked,
			Needs: needs, Approval: b.thirdPartyApproval(consumers), Summary: summary})
	}
	if b.plan.Strategy == Emergency {
		first = []string{revoke("revoke the leaked secret of "+key+" now (consumers fail until a person supplies the new one and it is delivered)", nil)}
	}
	if b.plan.Strategy == Split {
		b.note("%s: no API creates its credentials, so each consumer cannot get one of its own without a person creating each: one new secret is supplied for all", key)
	}
	supply := b.add(Step{ID: "supply:" + key, Kind: Supply, Target: key, System: id.System, Identity: id.Name, Login: id.Name,
		Needs: first, Approval: ApprovalSecret,
		Summary: fmt.Sprintf("a person creates the replacement for %s in %s and hands it to rekey: `rekey incident approve %s supply:%s --secret-file F` (sealed at once; never an argument)",
			key, where, b.plan.Incident, key)})
	var verified []string
	for _, c := range consumers {
		verified = append(verified, b.consumer(id, key, c, id.Name, supply, 0, nil, []string{supply}))
	}
	if len(consumers) == 0 {
		b.note("%s has no consumer in the inventory: the supplied secret is only checked against the system", key)
	}
	if b.plan.Strategy != Emergency {
		revoke("revoke the leaked secret of "+key+", once every consumer is verified on the new one", append([]string{supply}, slices.Clone(verified)...))
	}
	return nil
}
