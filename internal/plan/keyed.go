package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
)

// keyLimit lists the systems whose credentials are keys the system
// generates, each with a public id, several per principal, and how many
// one principal may hold: IAM allows two access keys per user, inactive
// ones included. Their plans differ from a password's (keyedIdentity).
var keyLimit = map[string]int{"aws-iam": 2}

// scopeKeys are the key ids the inspection listed for the identity: the
// leaked one ("this-key") and its others ("other-key").
func scopeKeys(s scope.Scope) (leaked string, all []string) {
	for _, r := range s.Related {
		switch r.Kind {
		case "this-key":
			leaked = r.Name
		case "other-key":
		default:
			continue
		}
		all = append(all, r.Name)
	}
	return leaked, all
}

// slotsFull says why a graceful rotation cannot add a key beside the
// leaked one, or "" when it can: the principal already holds as many keys
// as its system allows (the provider's Inspect lists them; its Generate
// would refuse a third).
func slotsFull(sysType string, s scope.Scope) string {
	limit := keyLimit[sysType]
	if limit == 0 {
		return ""
	}
	if _, keys := scopeKeys(s); len(keys) >= limit {
		return fmt.Sprintf("user %s already holds %d access keys (%s), the most %s allows, so no new key can be created beside the leaked one: "+
			"the leaked key is revoked first, then a new one is created and delivered",
			s.Identity.Name, len(keys), strings.Join(keys, ", "), sysType)
	}
	return ""
}

// keyedIdentity adds the steps that replace a leaked key of a system of
// keys. Graceful and emergency add a key to the same user (in place: the
// user keeps its name and policies) and split gives each consumer a user
// of its own. Every revoke names the leaked key, never the whole user,
// whose other keys (the new one among them) keep working:
//
//	graceful:  issue → deliver → verify → revoke (Inactive, then delete) → terminate
//	emergency: deactivate → terminate → issue → deliver → verify → revoke
//	           (a user at its key limit: revoke → terminate → issue → …)
//	split:     issue (user per consumer) → deliver → verify → revoke → terminate
func (b *builder) keyedIdentity(id scope.Identity, key string, consumers []*inventory.Consumer, drop []string) error {
	leaked, keys := scopeKeys(b.in.Scope)
	if leaked == "" || id.Name != b.in.Scope.Identity.Name {
		return fmt.Errorf("identity %s: the leaked key's id is unknown (the scope lists no this-key), and rekey revokes one key of a user by its id, never all of them: open the incident with KEY_ID:SECRET", key)
	}
	for _, c := range consumers {
		if c.Deliver != nil && c.Deliver.UserKey == "" {
			return fmt.Errorf("consumer %s: an access key's id changes with its secret, and its delivery has no user_key to receive the new key id", c.Name)
		}
	}
	b.keyed = true
	defer func() { b.keyed = false }()
	strategy := b.plan.Strategy
	approval := b.thirdPartyApproval(consumers)
	sys := b.in.Inventory.SystemByName(id.System)
	revoke := func(summary string, needs []string) string {
		return b.add(Step{ID: "revoke:" + key, Kind: Revoke, Target: key, System: id.System, Identity: id.Name, Key: leaked,
			Needs: needs, Approval: approval, Summary: summary})
	}
	terminate := func(needs []string) string {
		return b.add(Step{ID: "terminate:" + key, Kind: TerminateSessions, Target: key, System: id.System, Identity: id.Name, Key: leaked,
			Needs: needs, Summary: "end " + key + "'s temporary sessions issued until now (a deny on aws:TokenIssueTime); long-term keys, the new one included, keep working"})
	}
	removeKey := fmt.Sprintf("deactivate, then delete, the leaked access key %s of %s; the user's other keys stay", leaked, key)

	first := b.isolate(id, key, consumers, drop)
	revoked := false
	if strategy == Emergency {
		var cut string
		if slotsFull(sys.Type, b.in.Scope) != "" {
			cut, revoked = revoke(removeKey+" (now: the user has no free key slot, and consumers fail until their new key arrives)", first), true
		} else {
			cut = b.add(Step{ID: "deactivate:" + key, Kind: Revoke, Target: key, System: id.System, Identity: id.Name, Key: leaked, Suspend: true,
				Needs: first, Approval: approval,
				Summary: fmt.Sprintf("deactivate the leaked access key %s of %s now (a person can still reactivate it; it is deleted once every consumer is verified); consumers fail until their new key arrives", leaked, key)})
		}
		first = []string{terminate([]string{cut})}
	}

	perConsumer := strategy == Split
	taken := map[string]int{}
	for _, c := range consumers {
		taken[loginName(sys.Type, id.Name, c.Name, true)]++
	}
	var verified []string
	inPlace := ""
	for _, c := range consumers {
		login, issue := id.Name, ""
		if perConsumer {
			login = loginName(sys.Type, id.Name, c.Name, taken[loginName(sys.Type, id.Name, c.Name, true)] < 2)
		} else {
			if inPlace == "" {
				inPlace = b.add(Step{ID: "issue:" + key, Kind: Issue, Target: key, System: id.System, Identity: id.Name, Login: id.Name,
					Key: leaked, KeepKeys: keys, Generated: true, Needs: first,
					Summary: fmt.Sprintf("create a new access key for %s beside the leaked one (the system generates it; it has no expiry)", key)})
			}
			issue = inPlace
		}
		verified = append(verified, b.consumer(id, key, c, login, issue, 0, drop, first))
	}
	if len(consumers) == 0 {
		b.note("%s has no consumer in the inventory: its leaked key is revoked without a replacement", key)
	}
	if revoked {
		return nil
	}
	rev := revoke(removeKey+", once every consumer is verified on its new key", append(slices.Clone(first), verified...))
	if strategy != Emergency {
		terminate([]string{rev})
	}
	return nil
}

// keyedRelated adds the steps for a credential the leaked key derived,
// on a system of keys, and reports whether it did: an access key it
// created is revoked (by its id, on its user, after a person confirms),
// and a role it assumed has every session issued until now ended, since
// a role session follows the role's policies and outlives the key.
// Sessions of the user itself end with the terminate step.
func (b *builder) keyedRelated(main scope.Identity, r Related, roles map[string]bool) bool {
	term := "terminate:" + main.System + "/" + main.Name
	switch r.Kind {
	case "session", "federation-session":
		role := assumedRole(r.Principal)
		if role == "" || roles[role] {
			return true
		}
		roles[role] = true
		b.add(Step{ID: "terminate-role:" + main.System + "/" + role, Kind: TerminateSessions, Target: main.System + "/role/" + role,
			System: main.System, Identity: main.Name, Role: role, Needs: []string{term},
			Summary: fmt.Sprintf("end every session of role %s issued until now (a deny on aws:TokenIssueTime on the role): the leaked key assumed it (%s); sessions issued later work", role, r.Why)})
		return true
	case "access-key":
		leaked, _ := scopeKeys(b.in.Scope)
		if r.Name == "" || r.Name == leaked {
			return true
		}
		user := userOf(r.Principal)
		if user == "" {
			user = main.Name
		}
		b.add(Step{ID: "revoke-related:" + main.System + "/" + r.Name, Kind: RevokeRelated, Target: main.System + "/" + user + "/" + r.Name,
			System: main.System, Identity: user, Key: r.Name, Needs: []string{term}, Approval: ApprovalManual,
			Summary: fmt.Sprintf("deactivate, then delete, access key %s of user %s and end the user's temporary sessions: the leaked key created it (%s); a person confirms it is not a legitimate one first", r.Name, user, r.Why)})
		return true
	}
	return false
}

// assumedRole is the role of an assumed-role ARN
// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), "" for anything else.
func assumedRole(arn string) string {
	_, rest, ok := strings.Cut(arn, ":assumed-role/")
	if !ok {
		return ""
	}
	role, _, _ := strings.Cut(rest, "/")
	return role
}

// userOf is the user name of a user ARN (arn:aws:iam::ACCOUNT:user/PATH/NAME)
// or a bare name; "" for another principal.
func userOf(principal string) string {
	if !strings.HasPrefix(principal, "arn:") {
		return principal
	}
	_, rest, ok := strings.Cut(principal, ":user/")
	if !ok {
		return ""
	}
	return rest[strings.LastIndexByte(rest, '/')+1:]
}
