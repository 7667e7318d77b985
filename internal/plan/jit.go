package plan

import (
	"fmt"
	"strings"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
)

// JIT moves every consumer that declares jit: {role} onto leases of that
// role from the broker (its rekey agent requests, delivers and renews
// them), gives the others a login of their own as split does, and then
// disables the static identity: after it, no consumer holds a long-lived
// password of the identity.
const JIT Strategy = "jit"

// Step kinds of the broker.
const (
	// MoveToLease is done once the consumer's config holds an active
	// lease of its jit role (Step.Role), put there by its agent.
	MoveToLease Kind = "move-to-lease"
	// RevokeLeases ends every lease issued from the identity (leases of
	// the broker roles whose like it is) and their sessions.
	RevokeLeases Kind = "revoke-leases"
)

// jitConsumer adds the step that moves c onto leases and returns its id,
// or "" (with a note saying why) when c cannot be moved.
func (b *builder) jitConsumer(id scope.Identity, c *inventory.Consumer, after []string) string {
	r, why := b.leaseRole(id, c)
	if r == nil {
		b.note("%s could not be moved onto leases: %s; it gets a login of its own instead", c.Name, why)
		return ""
	}
	st := Step{ID: "move-to-lease:" + c.Name, Kind: MoveToLease, Target: c.Name, System: id.System, Identity: id.Name,
		Consumer: c.Name, Role: r.Name, Needs: after,
		Summary: fmt.Sprintf("move %s onto leases of role %s (logins like %s, %s each, renewed by its agent: rekey agent --role %s --consumer %s); done once its config holds an active lease",
			c.Name, r.Name, r.Like, r.TTL, r.Name, c.Name)}
	if c.Deliver == nil {
		st.Approval = ApprovalManual
		st.Summary = fmt.Sprintf("a person confirms %s now gets its credential as leases of role %s from its agent (rekey cannot read its config)", c.Name, r.Name)
	}
	return b.add(st)
}

// leaseRole is c's jit role when c can be moved onto its leases, or why
// not.
func (b *builder) leaseRole(id scope.Identity, c *inventory.Consumer) (*inventory.BrokerRole, string) {
	if c.JIT == nil {
		return nil, "it declares no jit: {role: NAME}"
	}
	r := b.in.Inventory.Broker.RoleByName(c.JIT.Role)
	switch {
	case r == nil:
		return nil, fmt.Sprintf("its jit role %s is not in the inventory's broker: section", c.JIT.Role)
	case r.System != id.System:
		return nil, fmt.Sprintf("its jit role %s issues logins in %s, not in %s", r.Name, r.System, id.System)
	case r.Like == id.Name:
		// The default policy refuses leases of an identity under
		// incident, and revoke-leases ends them.
		return nil, fmt.Sprintf("its jit role %s copies %s/%s, the identity under incident, whose leases are refused and ended while the incident is open (give the role a template identity of its own)",
			r.Name, id.System, id.Name)
	}
	return r, ""
}

// revokeLeases adds the step that ends every lease issued from the
// identity, when a broker role copies it: those leases are logins with
// its privileges, held by workloads the incident has not cleared.
func (b *builder) revokeLeases(id scope.Identity, key string, needs []string) {
	var roles []string
	if br := b.in.Inventory.Broker; br != nil {
		for _, r := range br.Roles {
			if r.System == id.System && r.Like == id.Name {
				roles = append(roles, r.Name)
			}
		}
	}
	if len(roles) == 0 {
		return
	}
	b.add(Step{ID: "revoke-leases:" + key, Kind: RevokeLeases, Target: key, System: id.System, Identity: id.Name, Needs: needs,
		Summary: fmt.Sprintf("end every lease issued from %s (role %s) and its sessions; new ones are refused while the incident is open",
			key, strings.Join(roles, ", "))})
}
