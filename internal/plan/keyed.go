package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

// keyRules is how a system of keys (credentials the system generates,
// each with a public id, several per principal) replaces one: their
// plans differ from a password's (keyedIdentity).
type keyRules struct {
	// limit is how many keys one principal may hold (0: no limit): IAM
	// allows two access keys per user, inactive ones included.
	limit int
	// userKey: the key's public id is part of what a consumer presents
	// (an AWS access key id), so a delivery needs user_key for it.
	userKey bool
	// suspend: a key can be made inactive, and a person can undo it
	// (emergency deactivates first, deletes once consumers are verified).
	suspend bool
	// rotate: one call replaces the key, the old one stopping at once
	// (GitLab's rotate endpoint): emergency rotates instead of revoking
	// first, so consumers wait only for their delivery.
	rotate bool
	// sessions: temporary sessions derive from the key and outlive it
	// (AWS STS), ended by a terminate step.
	sessions bool
	// copiesLive: a replacement copies the leaked key's policies from it
	// (Vault), so emergency issues first and revokes right after, without
	// waiting for the consumers.
	copiesLive bool
	// noun names one key in summaries.
	noun string
}

// keySystems lists the systems of keys. GitLab, Vault and Kubernetes
// tokens have no limit per principal and no public id a consumer
// presents; a Vault or Kubernetes token cannot be suspended, nor replaced
// in one call. A Kubernetes service account's token Secrets are its keys
// (a bound token's key names what it is bound to, see boundToken); a
// token opens no session of its own.
var keySystems = map[string]keyRules{
	"aws-iam":    {limit: 2, userKey: true, suspend: true, sessions: true, noun: "access key"},
	"gitlab":     {rotate: true, noun: "token"},
	"vault":      {copiesLive: true, noun: "token"},
	"kubernetes": {noun: "token"},
}

// isKeyed reports whether sysType is a system of keys.
func isKeyed(sysType string) bool { _, ok := keySystems[sysType]; return ok }

// PresentsKeyID reports whether a consumer of sysType presents the key's
// public id beside its secret (an AWS access key id), so that a copy of
// the secret usually sits next to the id, which changes with it.
func PresentsKeyID(sysType string) bool { return keySystems[sysType].userKey }

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
	limit := keySystems[sysType].limit
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
// keys. Graceful and emergency add a key to the same principal (in place:
// it keeps its name and policies) and split gives each consumer a
// principal of its own. Every revoke names the leaked key, never the
// whole principal, whose other keys (the new one among them) keep
// working:
//
//	graceful:  issue → deliver → verify → revoke → terminate (AWS)
//	emergency: deactivate → terminate → issue → deliver → verify → revoke (AWS)
//	           (a user at its key limit: revoke → terminate → issue → …)
//	           rotate (the old key stops) → deliver → verify → revoke (GitLab:
//	           makes sure the old one is gone, whatever a resumed rotation did)
//	           issue → revoke → deliver → verify (Vault: the replacement
//	           copies the leaked token's policies, so it is made first)
//	split:     issue (principal per consumer) → deliver → verify → revoke → terminate (AWS)
func (b *builder) keyedIdentity(id scope.Identity, key string, consumers []*inventory.Consumer, drop []string) error {
	leaked, keys := scopeKeys(b.in.Scope)
	if leaked == "" || id.Name != b.in.Scope.Identity.Name {
		return fmt.Errorf("identity %s: the leaked key's id is unknown (the scope lists no this-key), and rekey revokes one key of a principal by its id, never all of them: open the incident again so that the system is asked for it (an AWS key as KEY_ID:SECRET)", key)
	}
	sys := b.in.Inventory.SystemByName(id.System)
	rules := keySystems[sys.Type]
	if rules.userKey {
		for _, c := range consumers {
			if c.Deliver != nil && c.Deliver.UserKey == "" {
				return fmt.Errorf("consumer %s: an access key's id changes with its secret, and its delivery has no user_key to receive the new key id", c.Name)
			}
		}
	}
	b.keyed = true
	defer func() { b.keyed = false }()
	strategy := b.plan.Strategy
	approval := b.thirdPartyApproval(consumers)
	revoke := func(summary string, needs []string) string {
		st := Step{ID: "revoke:" + key, Kind: Revoke, Target: key, System: id.System, Identity: id.Name, Key: leaked,
			Needs: needs, Approval: approval, Summary: summary}
		if bound, why := b.boundToken(sys.Type, id); bound != "" {
			st.Summary = why
			if st.Approval == "" {
				st.Approval = ApprovalManual
			}
		}
		return b.add(st)
	}
	terminate := func(needs []string) []string {
		if !rules.sessions {
			return needs
		}
		return []string{b.add(Step{ID: "terminate:" + key, Kind: TerminateSessions, Target: key, System: id.System, Identity: id.Name, Key: leaked,
			Needs: needs, Summary: "end " + key + "'s temporary sessions issued until now (a deny on aws:TokenIssueTime); long-term keys, the new one included, keep working"})}
	}
	removeKey := fmt.Sprintf("revoke the leaked %s %s of %s; the principal's other %ss stay", rules.noun, leaked, key, rules.noun)
	if rules.suspend {
		removeKey = fmt.Sprintf("deactivate, then delete, the leaked %s %s of %s; the user's other keys stay", rules.noun, leaked, key)
	}

	first := b.isolate(id, key, consumers, drop)
	revoked, rotate := false, false
	if rules.rotate && strategy != Emergency && slices.ContainsFunc(b.in.Scope.Related, func(r store.Related) bool { return r.Kind == "resource" }) {
		// A project or group access token has a bot user of its own,
		// which cannot hold a second token beside it.
		b.note("%s is a project or group access token: GitLab gives its bot user no second token, so it is rotated (the leaked token stops at once) instead of replaced beside", key)
		strategy = Emergency
	}
	if strategy == Emergency {
		var cut string
		switch {
		case rules.limit > 0 && slotsFull(sys.Type, b.in.Scope) != "":
			cut, revoked = revoke(removeKey+" (now: the user has no free key slot, and consumers fail until their new key arrives)", first), true
		case rules.suspend:
			cut = b.add(Step{ID: "deactivate:" + key, Kind: Revoke, Target: key, System: id.System, Identity: id.Name, Key: leaked, Suspend: true,
				Needs: first, Approval: approval,
				Summary: fmt.Sprintf("deactivate the leaked %s %s of %s now (a person can still reactivate it; it is deleted once every consumer is verified); consumers fail until their new key arrives", rules.noun, leaked, key)})
		case rules.rotate:
			rotate = true
		case rules.copiesLive:
			// The revoke follows the issue below.
		default:
			cut, revoked = revoke(removeKey+" now (consumers fail until their new "+rules.noun+" arrives)", first), true
		}
		if cut != "" {
			first = terminate([]string{cut})
		}
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
				summary := fmt.Sprintf("create a new %s for %s beside the leaked one (the system generates it)", rules.noun, key)
				if rotate {
					summary = fmt.Sprintf("rotate the leaked %s %s of %s: the system replaces it in one call and the leaked one stops at once; consumers fail until their new %s arrives", rules.noun, leaked, key, rules.noun)
				}
				inPlace = b.add(Step{ID: "issue:" + key, Kind: Issue, Target: key, System: id.System, Identity: id.Name, Login: id.Name,
					Key: leaked, KeepKeys: keys, Generated: true, Rotate: rotate, Needs: first, Approval: rotateApproval(rotate, approval),
					Summary: summary})
			}
			issue = inPlace
		}
		verified = append(verified, b.consumer(id, key, c, login, issue, 0, drop, first))
	}
	if strategy == Emergency && rules.copiesLive && !rotate {
		needs := slices.Clone(first)
		if inPlace != "" {
			needs = append(needs, inPlace)
		}
		revoke(removeKey+" now, as soon as its replacement exists (consumers fail until it arrives)", needs)
		return nil
	}
	if len(consumers) == 0 {
		b.note("%s has no consumer in the inventory: its leaked %s is revoked without a replacement", key, rules.noun)
	}
	if revoked {
		return nil
	}
	if rotate {
		// The rotation stopped the leaked key; a revoke by its id is a
		// no-op then, and ends it should a resumed run have generated
		// the replacement beside it instead.
		revoke(removeKey+", if the rotation left it working", append(slices.Clone(first), verified...))
		return nil
	}
	rev := revoke(removeKey+", once every consumer is verified on its new "+rules.noun, append(slices.Clone(first), verified...))
	if strategy != Emergency {
		terminate([]string{rev})
	}
	return nil
}

// rotateApproval is the approval a rotation waits for: the one a revoke
// of the key would, since it revokes the key.
func rotateApproval(rotate bool, revokeApproval string) string {
	if rotate {
		return revokeApproval
	}
	return ""
}

// keyedRelated adds the steps for a credential the leaked key derived,
// on a system of keys, and reports whether it did: an access key it
// created is revoked (by its id, on its user, after a person confirms),
// and a role it assumed has every session issued until now ended, since
// a role session follows the role's policies and outlives the key.
// Sessions of the user itself end with the terminate step. A user it
// created is removed whole (its keys, password and policies with it, so
// they get no steps of their own), and a console password it gave an
// existing user is deleted, after a person confirms each.
func (b *builder) keyedRelated(main scope.Identity, r Related, roles, created map[string]bool) bool {
	term := "terminate:" + main.System + "/" + main.Name
	switch r.Kind {
	case "user":
		if r.Name == "" || r.Name == main.Name {
			return true
		}
		b.add(Step{ID: "revoke-related:" + main.System + "/user/" + r.Name, Kind: RevokeRelated, Target: main.System + "/" + r.Name,
			System: main.System, Identity: r.Name, Remove: RemoveUser, Needs: []string{term}, Approval: ApprovalManual,
			Summary: fmt.Sprintf("delete user %s with its access keys, console password, MFA devices, policies and group memberships: the leaked key created it (%s); a person confirms it is not a legitimate one first", r.Name, r.Why)})
		return true
	case "login-profile":
		user := userOf(r.Name)
		if user == "" || created[user] {
			return true
		}
		b.add(Step{ID: "revoke-related:" + main.System + "/login-profile/" + user, Kind: RevokeRelated, Target: main.System + "/" + user + "/login-profile",
			System: main.System, Identity: user, Remove: RemoveLoginProfile, Needs: []string{term}, Approval: ApprovalManual,
			Summary: fmt.Sprintf("delete the console password of user %s and end the user's temporary sessions: the leaked key created or changed it (%s); the user's keys stay; a person confirms it is not a legitimate one first", user, r.Why)})
		return true
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
		if created[user] {
			return true // removed with its user
		}
		b.add(Step{ID: "revoke-related:" + main.System + "/" + r.Name, Kind: RevokeRelated, Target: main.System + "/" + user + "/" + r.Name,
			System: main.System, Identity: user, Key: r.Name, Needs: []string{term}, Approval: ApprovalManual,
			Summary: fmt.Sprintf("deactivate, then delete, access key %s of user %s and end the user's temporary sessions: the leaked key created it (%s); a person confirms it is not a legitimate one first", r.Name, user, r.Why)})
		return true
	}
	return false
}

// leasePrefix adds, for an identity whose inventory names a
// revoke_prefix, the step that ends every lease under it once the leaked
// token is revoked. Revoking the token already ended the leases it
// created; the prefix also takes those of tokens it made as orphans, and
// of everyone else there, the replacement's consumers included, which is
// why the inventory must ask for it and a person confirms it.
func (b *builder) leasePrefix(id scope.Identity, key string, invID *inventory.Identity) {
	if invID == nil || invID.RevokePrefix == "" {
		return
	}
	var needs []string
	if b.ids["revoke:"+key] {
		needs = []string{"revoke:" + key}
	}
	prefix := strings.TrimSuffix(invID.RevokePrefix, "/") + "/"
	b.add(Step{ID: "revoke-related:" + id.System + "/prefix/" + strings.TrimSuffix(prefix, "/"), Kind: RevokeRelated, Target: id.System + "/" + prefix,
		System: id.System, Identity: id.Name, Remove: RemoveLeasePrefix, Prefix: prefix, Needs: needs, Approval: ApprovalManual,
		Summary: fmt.Sprintf("end every lease under %s (sys/leases/revoke-prefix, the inventory's revoke_prefix of %s): the leaked token's own leases ended with it, "+
			"this also ends leases of tokens it created as orphans and of every other token there, the replacement's consumers' included, which must ask for new ones; a person confirms first", prefix, key)})
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
