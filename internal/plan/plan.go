// Package plan turns an incident's scope into the steps that contain and
// replace the leaked credential: a DAG whose order is the safety argument
// (nothing is revoked before every consumer holds a working replacement,
// unless the strategy is to cut an attacker off first). It is pure: the
// engine executes a plan, this package only decides it and explains why.
package plan

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
)

// Strategy is how a plan orders containment and replacement.
type Strategy string

const (
	// Auto picks one of the others from the scope (see Choose).
	Auto Strategy = "auto"
	// Graceful issues and delivers first and revokes the old credential
	// only after every consumer is verified: no consumer sees a failure.
	Graceful Strategy = "graceful"
	// Emergency revokes the old credential and kills its sessions first:
	// an attacker is cut off now, consumers recover when their
	// replacement arrives.
	Emergency Strategy = "emergency"
	// Split gives each consumer of a shared secret its own least-privilege
	// login, then revokes the shared one.
	Split Strategy = "split"
)

// Strategies lists the values --strategy takes.
var Strategies = []Strategy{Auto, Graceful, Emergency, Split, JIT}

// Kind is what a step does.
type Kind string

const (
	Isolate           Kind = "isolate"            // drop dangerous privileges, cut unexplained sessions
	Issue             Kind = "issue"              // create the replacement login
	Deliver           Kind = "deliver"            // write it where the consumer reads it, reload
	Verify            Kind = "verify"             // the consumer works with it
	Revoke            Kind = "revoke"             // the old secret stops working
	TerminateSessions Kind = "terminate-sessions" // its open sessions end
	RevokeRelated     Kind = "revoke-related"     // credentials it created
	Notify            Kind = "notify"             // a person must act (a partner, a consumer rekey cannot write to)
	WaitWindow        Kind = "wait-window"        // a partner's change window
	RemediateCopy     Kind = "remediate-copy"
	// Supply: a person creates the replacement where no API can (a GitHub
	// personal access token) and hands it to rekey with
	// `incident approve ID STEP --secret-file F`; rekey seals it at once.
	Supply Kind = "supply-secret"
	Review Kind = "review"
)

// Approval reasons: why a step waits for `rekey incident approve`.
const (
	ApprovalPolicy     = "policy"      // the inventory's policy lists the step's kind
	ApprovalThirdParty = "third-party" // revoking a credential a partner uses
	ApprovalManual     = "manual"      // a consumer rekey cannot update or verify itself
	ApprovalSecret     = "secret"      // a person hands in the new secret (supply-secret)
)

// Step is one node of the plan. The JSON names in DESIGN.md's plan shape
// (id, kind, target, needs, approval) are a contract; the rest are the
// parameters the engine executes the step with.
type Step struct {
	ID     string   `json:"id"`
	Kind   Kind     `json:"kind"`
	Target string   `json:"target"`
	Needs  []string `json:"needs"`
	// Approval is why the step waits for an approval ("" when it does not).
	Approval string `json:"approval,omitempty"`
	// Summary says what the step does, for a person reading the plan.
	Summary string `json:"summary"`

	System   string `json:"system,omitempty"`
	Identity string `json:"identity,omitempty"` // the identity being replaced
	Login    string `json:"login,omitempty"`    // the login issued, delivered, verified
	Consumer string `json:"consumer,omitempty"`
	// TTL is the issued login's lifetime (0: none).
	TTL Duration `json:"ttl,omitempty"`
	// Temporary marks a short-lived login for a partner until its window.
	Temporary bool `json:"temporary,omitempty"`
	// Drop lists privileges not carried over (isolate: removed now).
	Drop []string `json:"drop,omitempty"`
	// Window is a partner's change window (wait-window).
	Window string `json:"window,omitempty"`
	// KeepSources are the declared consumers' sources; isolate ends
	// sessions from anywhere else.
	KeepSources []string `json:"keep_sources,omitempty"`

	// Key is the public id of the one credential of Identity the step
	// acts on (an AWS access key id): revoke, revoke-related and a
	// suspending revoke touch that key only, so the principal's other
	// keys, its replacement included, keep working. Empty: the whole
	// principal.
	Key string `json:"key,omitempty"`
	// Suspend makes a revoke deactivate the key (provider.Deactivator)
	// rather than remove it: the attacker is cut off at once and a person
	// can still undo it; a later revoke step removes it.
	Suspend bool `json:"suspend,omitempty"`
	// Generated marks the issue, deliver and verify steps of a system
	// that generates its secrets (provider.Generator): the new key comes
	// with a public id that the delivery writes to user_key, and an issue
	// in place adds a key beside the leaked one instead of replacing it.
	Generated bool `json:"generated,omitempty"`
	// Rotate makes a generated issue replace the key Key in one call
	// (provider.InPlaceRotator: GitLab's rotate endpoint), the old key
	// stopping at once: emergency on a system that can.
	Rotate bool `json:"rotate,omitempty"`
	// KeepKeys are key ids the principal held when it was inspected (the
	// leaked key and its others): a resumed issue never takes one of them
	// for the orphan of an earlier attempt.
	KeepKeys []string `json:"keep_keys,omitempty"`
	// Role names a role whose sessions a terminate-sessions step ends
	// (provider.RoleSessionTerminator): one the leaked key assumed. On a
	// move-to-lease step it is the broker role the consumer moves to.
	Role string `json:"role,omitempty"`
	// Remove names what a revoke-related step on a system of keys
	// removes instead of one key: RemoveUser (a user the leaked key
	// created, with everything it holds), RemoveLoginProfile (a console
	// password it gave a user, the user's keys staying) or
	// RemoveLeasePrefix (every lease under Prefix).
	Remove string `json:"remove,omitempty"`
	// Prefix is the lease path a RemoveLeasePrefix step ends every lease
	// under (the identity's revoke_prefix).
	Prefix string `json:"prefix,omitempty"`
}

// What a revoke-related step removes (Step.Remove).
const (
	RemoveUser         = "user"
	RemoveLoginProfile = "login-profile"
	RemoveLeasePrefix  = "lease-prefix"
)

// Plan is the whole DAG, in an order that respects Needs.
type Plan struct {
	Incident string   `json:"incident"`
	Strategy Strategy `json:"strategy"`
	// Requested is what was asked for (auto, or a strategy by name).
	Requested Strategy `json:"requested"`
	Reason    string   `json:"reason"`
	Steps     []Step   `json:"steps"`
	// Notes are facts the responder should know before running it.
	Notes   []string  `json:"notes"`
	Created time.Time `json:"created"`
}

// Duration marshals as Go's duration text ("720h0m0s").
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// Input is what a plan is built from.
type Input struct {
	Scope     scope.Scope
	Inventory *inventory.Inventory
	Strategy  Strategy
	Now       time.Time
	// CanChangeLogin reports whether rekey can give consumer c a new
	// login name, not only a new password (its delivery has a user_key,
	// or its value is a DSN holding the user). Nil means "when it has a
	// user_key".
	CanChangeLogin func(c *inventory.Consumer) bool
	// TemporaryTTL is a partner's temporary login's lifetime beyond the
	// end of its next change window (default 24h).
	TemporaryTTL time.Duration
	// ReviewedSources are the sources the exposure review found using the
	// secret that no consumer explains (see Choose).
	ReviewedSources []string
	// NoBaseline is true when nothing says what use of the secret is
	// usual: no leak time, or no recorded use before it. Choose then says
	// that use no consumer explains is taken for an attacker's.
	NoBaseline bool
	// Related are credentials the review found the leaked one created or
	// changed (derived credentials): they survive its rotation.
	Related []Related
}

// Related is a derived credential, as the review names it.
type Related struct {
	// Name is the login (a role, user@host, an ACL user) or key.
	Name string
	// Kind is the review's: role, password, grant, access-key, session…
	Kind string
	// Why is the sentence the review gives (what created it, when).
	Why string
	// Principal is whom it acts as, when the log says (review.Related's
	// Principal): the assumed-role ARN of a role session, the user an
	// access key is for.
	Principal string
}

// DefaultTTL is a replacement's lifetime when the policy sets none: long
// enough not to be a chore, short enough that a forgotten credential dies.
const DefaultTTL = 30 * 24 * time.Hour

// ErrNoIdentity is why a plan cannot be built for a secret whose identity
// is unknown: there is nothing to issue from or revoke.
var ErrNoIdentity = errors.New("the secret's identity is unknown (incident scope shows why); there is nothing to rotate")

// Build makes the plan.
func Build(in Input) (*Plan, error) {
	s := in.Scope
	if s.Identity.Status != "identified" || s.Identity.Name == "" {
		return nil, ErrNoIdentity
	}
	if in.Inventory == nil {
		return nil, errors.New("the incident's inventory could not be read; a plan needs its consumers and policy")
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if in.TemporaryTTL == 0 {
		in.TemporaryTTL = 24 * time.Hour
	}
	if in.CanChangeLogin == nil {
		in.CanChangeLogin = func(c *inventory.Consumer) bool { return c.Deliver != nil && c.Deliver.UserKey != "" }
	}
	requested := cmp.Or(in.Strategy, Auto)
	if !slices.Contains(Strategies, requested) {
		return nil, fmt.Errorf("unknown strategy %q (want auto, graceful, emergency, split or jit)", requested)
	}
	strategy, reason := Choose(s, Evidence{Reviewed: in.ReviewedSources, NoBaseline: in.NoBaseline})
	if requested != Auto {
		strategy, reason = requested, "asked for with --strategy "+string(requested)
	}
	if sys := in.Inventory.SystemByName(s.Identity.System); sys != nil && strategy == Graceful {
		if why := slotsFull(sys.Type, s); why != "" {
			strategy, reason = Emergency, why+" (instead of graceful: "+reason+")"
		}
	}
	if sys := in.Inventory.SystemByName(s.Identity.System); sys != nil {
		strategy, reason = keyStrategy(sys.Type, s, strategy, reason)
	}
	b := &builder{in: in, plan: &Plan{
		Incident: s.Incident, Strategy: strategy, Requested: requested, Reason: reason,
		Steps: []Step{}, Notes: []string{}, Created: in.Now,
	}, ids: map[string]bool{}, issued: map[string]string{}}
	idents := []scope.Identity{s.Identity}
	for _, r := range s.Reuse {
		idents = append(idents, scope.Identity{Status: "identified", Name: r.Name, System: r.System})
	}
	for i, id := range idents {
		if err := b.identity(id, i > 0); err != nil {
			return nil, err
		}
	}
	b.related(s.Identity, in.Inventory.SystemByName(s.Identity.System))
	for _, c := range s.Consumers {
		if !c.Declared && c.Observed {
			b.note("%s uses the secret but is not declared in the inventory: it gets no replacement and will fail once the old credential is revoked", c.Name)
		}
	}
	if err := b.plan.Validate(); err != nil {
		return nil, err
	}
	return b.plan, nil
}

// Evidence is what the reviews add to the scope for Choose.
type Evidence struct {
	// Reviewed lists sources the log review found using the secret that
	// no consumer declares (its new-source findings); they count as the
	// scope's unexplained use does.
	Reviewed []string
	// NoBaseline: no leak time, or no use recorded before it.
	NoBaseline bool
}

// Choose is the auto strategy: an unexplained source or an over-privileged
// identity gives emergency; otherwise a shared secret gives split;
// otherwise graceful. Without a baseline, nothing can show a use to be
// usual, so every session and source no consumer explains is unexplained
// use (the scope is strict about it then) and the reason says so: "no
// baseline" is never read as "no sign of attack".
func Choose(s scope.Scope, e Evidence) (Strategy, string) {
	var srcs []string
	for _, u := range s.Unexplained {
		if !slices.Contains(srcs, u.Source) {
			srcs = append(srcs, u.Source)
		}
	}
	for _, r := range e.Reviewed {
		if !slices.Contains(srcs, r) {
			srcs = append(srcs, r)
		}
	}
	noBase := ""
	if e.NoBaseline {
		noBase = "there is no baseline (no leak time, or no recorded use before it), so use that no consumer explains is taken for an attacker's: "
	}
	switch {
	case len(srcs) > 0:
		return Emergency, noBase + "the secret is used from a source no consumer explains (" + strings.Join(srcs, ", ") + "): cut it off first"
	case s.Flags.OverPrivileged:
		return Emergency, "the identity holds privileges that can mint credentials or take over the system: cut it off first"
	}
	var strategy Strategy
	var reason string
	if s.Flags.Shared {
		strategy, reason = Split, "the secret is shared: each consumer gets a login of its own, then the shared one is revoked"
	} else {
		strategy, reason = Graceful, "no sign of use by an attacker: replace first, revoke after every consumer is verified, no downtime"
	}
	if e.NoBaseline {
		reason += " (there is no baseline to compare with, but every session and logged use comes from a declared consumer, under an application name it declares)"
	}
	return strategy, reason
}

type builder struct {
	in     Input
	plan   *Plan
	ids    map[string]bool
	issued map[string]string // system/login → its issue step
	// keyed is set while the steps of a system that generates keys
	// (keySystems) are added.
	keyed bool
}

func (b *builder) note(format string, a ...any) {
	b.plan.Notes = append(b.plan.Notes, fmt.Sprintf(format, a...))
}

func (b *builder) add(st Step) string {
	base := st.ID
	for n := 2; b.ids[st.ID]; n++ {
		st.ID = fmt.Sprintf("%s-%d", base, n)
	}
	b.ids[st.ID] = true
	if st.Needs == nil {
		st.Needs = []string{}
	}
	if st.Approval == "" && b.in.Inventory.Policy.NeedsApproval(string(st.Kind)) {
		st.Approval = ApprovalPolicy
	}
	b.plan.Steps = append(b.plan.Steps, st)
	return st.ID
}

// identity adds the steps that replace and revoke one identity's secret.
// reused is true for an identity that merely shares the secret.
func (b *builder) identity(id scope.Identity, reused bool) error {
	inv := b.in.Inventory
	sys := inv.SystemByName(id.System)
	if sys == nil {
		return fmt.Errorf("identity %s/%s: system %s is not in the inventory", id.System, id.Name, id.System)
	}
	key := id.System + "/" + id.Name
	invID := inv.IdentityByName(key)
	var consumers []*inventory.Consumer
	if invID != nil {
		consumers = inv.ConsumersOf(invID)
	}
	if IsKeySystem(sys.Type) {
		return b.keyIdentity(id, key, sys, consumers)
	}
	drop := b.drops(id, invID, reused)
	if isKeyed(sys.Type) {
		if err := b.keyedIdentity(id, key, consumers, drop); err != nil {
			return err
		}
		b.leasePrefix(id, key, invID)
		return nil
	}
	if where, ok := suppliedBy[sys.Type]; ok {
		return b.suppliedIdentity(id, key, where, consumers)
	}
	ttl := inv.Policy.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	strategy := b.plan.Strategy

	first := b.isolate(id, key, consumers, drop) // what every replacement waits for
	if strategy == Emergency {
		rev := b.add(Step{ID: "revoke:" + key, Kind: Revoke, Target: key, System: id.System, Identity: id.Name, Needs: first,
			Approval: b.thirdPartyApproval(consumers),
			Summary:  fmt.Sprintf("make the leaked secret stop working for %s now (consumers fail until their replacement arrives)", key)})
		term := b.add(Step{ID: "terminate:" + key, Kind: TerminateSessions, Target: key, System: id.System, Identity: id.Name,
			Needs: []string{rev}, Summary: "end every open session of " + key + ", the attacker's included"})
		b.revokeLeases(id, key, []string{rev})
		first = []string{term}
	}

	// Graceful replaces like for like: one new login for all consumers
	// (the alternating-users idea). Split and emergency give each consumer
	// its own. A consumer whose delivery cannot take a new login name
	// gets a new password on the old login instead: one in-place issue
	// step, shared by all such consumers.
	perConsumer := strategy != Graceful
	// How many consumers each plain login name would serve: those that
	// share one get suffixed names instead (see loginName).
	taken := map[string]int{}
	for _, c := range consumers {
		taken[loginName(sys.Type, id.Name, b.suffix(c, perConsumer), true)]++
	}
	var verified []string
	inPlaceIssue := ""
	for _, c := range consumers {
		if strategy == JIT {
			if moved := b.jitConsumer(id, c, first); moved != "" {
				verified = append(verified, moved)
				continue
			}
		}
		var login, issue string
		// A consumer rekey cannot write to is told its new login.
		if c.Deliver != nil && !b.in.CanChangeLogin(c) {
			login = id.Name
			if inPlaceIssue == "" {
				inPlaceIssue = b.add(Step{ID: "issue:" + key + ":in-place", Kind: Issue, Target: key, System: id.System,
					Identity: id.Name, Login: id.Name, TTL: Duration(ttl), Drop: drop, Needs: first,
					Summary: issueSummary(key, id.Name, true, ttl, false, drop)})
			}
			issue = inPlaceIssue
			b.note("%s: its delivery has no user_key and its value is not a DSN, so it keeps login %s with a new password: "+
				"between the password change and its reload it cannot log in", c.Name, id.Name)
		} else {
			suffix := b.suffix(c, perConsumer)
			login = loginName(sys.Type, id.Name, suffix, !perConsumer || taken[loginName(sys.Type, id.Name, suffix, true)] < 2)
		}
		verified = append(verified, b.consumer(id, key, c, login, issue, ttl, drop, first))
	}
	if len(consumers) == 0 {
		b.note("%s has no consumer in the inventory: its secret is revoked without a replacement", key)
	}
	if strategy != Emergency {
		needs := append(slices.Clone(first), verified...)
		b.revokeLeases(id, key, needs)
		if inPlaceIssue != "" {
			// The in-place password change already killed the leaked
			// secret; revoking the login would cut off its consumers.
			b.add(Step{ID: "terminate:" + key, Kind: TerminateSessions, Target: key, System: id.System, Identity: id.Name,
				Needs: needs, KeepSources: sourcesOf(consumers),
				Summary: "end the sessions still open with the leaked secret from sources no consumer declares"})
			return nil
		}
		rev := b.add(Step{ID: "revoke:" + key, Kind: Revoke, Target: key, System: id.System, Identity: id.Name, Needs: needs,
			Approval: b.thirdPartyApproval(consumers),
			Summary:  fmt.Sprintf("make the leaked secret stop working for %s, once every consumer is verified on its replacement", key)})
		b.add(Step{ID: "terminate:" + key, Kind: TerminateSessions, Target: key, System: id.System, Identity: id.Name,
			Needs: []string{rev}, Summary: "end the sessions still open with the leaked secret"})
	}
	return nil
}

// isolate adds the step that removes the identity's dangerous privileges
// now, when it holds any, and returns its id as what the replacements
// wait for.
func (b *builder) isolate(id scope.Identity, key string, consumers []*inventory.Consumer, drop []string) []string {
	if len(drop) == 0 {
		return nil
	}
	return []string{b.add(Step{
		ID: "isolate:" + key, Kind: Isolate, Target: key, System: id.System, Identity: id.Name,
		Drop: drop, KeepSources: sourcesOf(consumers),
		Summary: fmt.Sprintf("remove %s from %s now and end its sessions from sources no consumer declares; declared consumers keep working",
			strings.Join(drop, ", "), key),
	})}
}

// related adds a revoke-related step for each derived login on the
// identity's own system, after the leaked secret is cut off. A person
// confirms each first: the review can show that the leaked credential
// made or changed the login, not that nobody legitimate uses it. Derived
// credentials elsewhere (cloud keys) get a note. On a system of keys
// (keySystems), keyedRelated handles access keys and role sessions.
func (b *builder) related(main scope.Identity, sys *inventory.System) {
	key := main.System + "/" + main.Name
	roles, created := map[string]bool{}, map[string]bool{}
	for _, r := range b.in.Related {
		if r.Kind == "user" && r.Name != main.Name {
			created[r.Name] = true
		}
	}
	for _, r := range b.in.Related {
		if sys != nil && keySystems[sys.Type].sessions && b.keyedRelated(main, r, roles, created) {
			continue
		}
		switch r.Kind {
		case "role", "password", "credential":
		case "session", "federation-session":
			continue // expires by itself
		default:
			b.note("derived credential %s (%s): revoke it where it lives; rekey cannot here. %s", r.Name, r.Kind, r.Why)
			continue
		}
		if r.Name == "" || r.Name == main.Name {
			continue
		}
		b.add(Step{ID: "revoke-related:" + main.System + "/" + r.Name, Kind: RevokeRelated, Target: main.System + "/" + r.Name,
			System: main.System, Identity: r.Name, Needs: []string{"terminate:" + key}, Approval: ApprovalManual,
			Summary: fmt.Sprintf("disable login %s and end its sessions: the leaked credential created or changed it during its exposure (%s); a person confirms it is not a legitimate one first",
				r.Name, r.Why)})
	}
}

// suffix names a replacement login: the consumer's name when each gets
// its own, else one name per incident (stable, so a stored plan and a
// rebuilt one agree).
func (b *builder) suffix(c *inventory.Consumer, perConsumer bool) string {
	if perConsumer {
		return c.Name
	}
	inc := b.in.Scope.Incident
	if i := strings.LastIndexByte(inc, '-'); i >= 0 {
		inc = inc[i+1:]
	}
	return "r" + inc
}

// consumer adds issue → deliver → verify for one consumer (or issue →
// notify → wait-window → verify for one rekey cannot write to) and
// returns the verify step's id.
func (b *builder) consumer(id scope.Identity, key string, c *inventory.Consumer, login, issue string,
	ttl time.Duration, drop []string, after []string) string {
	temporary := c.ThirdParty && c.ChangeWindow != nil
	if temporary {
		_, end := c.ChangeWindow.Next(b.in.Now)
		ttl = end.Sub(b.in.Now) + b.in.TemporaryTTL
	}
	if issue == "" && b.plan.Strategy == Graceful {
		// Graceful consumers share one new login, and so its issue
		// step. Elsewhere each consumer has its own: two on one login
		// would be two issue steps, which Validate refuses.
		issue = b.issued[id.System+"/"+login]
	}
	if issue == "" {
		summary := issueSummary(key, login, false, ttl, temporary, drop)
		if b.keyed {
			noun := keySystems[b.in.Inventory.SystemByName(id.System).Type].noun
			summary = fmt.Sprintf("create principal %s with %s's policies", login, key)
			if len(drop) > 0 {
				summary += " minus " + strings.Join(drop, ", ")
			}
			summary += ", and a " + noun + " for it (the system generates it)"
		}
		issue = b.add(Step{ID: "issue:" + id.System + "/" + login, Kind: Issue, Target: id.System + "/" + login, System: id.System,
			Identity: id.Name, Login: login, Consumer: c.Name, TTL: Duration(ttl), Temporary: temporary, Drop: drop, Needs: after,
			Generated: b.keyed, Summary: summary})
		b.issued[id.System+"/"+login] = issue
	}
	var last string
	if c.Deliver != nil {
		what := "the new credential"
		if b.keyed && c.Deliver.UserKey != "" {
			what = "the new key's secret and its key id (" + c.Deliver.UserKey + ")"
		}
		where, how := deliveryPlace(c.Deliver)
		last = b.add(Step{ID: "deliver:" + c.Name, Kind: Deliver, Target: c.Name + ": " + c.Deliver.Type + " " + where,
			System: id.System, Identity: id.Name, Login: login, Consumer: c.Name, Needs: []string{issue}, Generated: b.keyed,
			Summary: fmt.Sprintf("write %s into %s (%s), then run its reload command", what, where, how)})
	} else {
		last = b.add(Step{ID: "notify:" + c.Name, Kind: Notify, Target: c.Name, System: id.System, Identity: id.Name,
			Login: login, Consumer: c.Name, Needs: []string{issue},
			Summary: fmt.Sprintf("tell %s's owner to switch to login %s (rekey cannot write to it)", c.Name, login)})
		if c.ChangeWindow != nil {
			last = b.add(Step{ID: "window:" + c.Name, Kind: WaitWindow, Target: c.Name, Consumer: c.Name, Window: c.ChangeWindow.String(),
				Needs: []string{last}, Summary: "wait for " + c.Name + "'s change window " + c.ChangeWindow.String()})
		}
	}
	v := Step{ID: "verify:" + c.Name, Kind: Verify, Target: c.Name, System: id.System, Identity: id.Name, Login: login,
		Consumer: c.Name, Needs: []string{last}, Generated: b.keyed,
		Summary: fmt.Sprintf("check %s works with login %s: its health check passes and the system shows the login in use", c.Name, login)}
	if c.Deliver == nil {
		v.Approval = ApprovalManual
		v.Summary = fmt.Sprintf("a person confirms %s now uses login %s (rekey cannot check it)", c.Name, login)
	}
	return b.add(v)
}

// deliveryPlace names where a delivery writes, and how, for summaries:
// a file's path (format and key), a Vault path, an Actions secret, a CI
// variable.
func deliveryPlace(d *inventory.Delivery) (where, how string) {
	switch d.Type {
	case inventory.DeliverVaultKV:
		return d.Mount + "/" + d.Path, "key " + d.Key + ", check-and-set"
	case inventory.DeliverGitHubActionsSecret:
		scope := d.Repo
		if scope == "" {
			scope = "org " + d.Org
		}
		return scope + " " + d.Name, "a sealed box; GitHub never returns it"
	case inventory.DeliverGitLabCIVariable:
		return d.Project + " " + d.Key, "a CI/CD variable"
	case inventory.DeliverAWSSecretsManager:
		if d.Key == "" {
			return "secret " + d.SecretID, "a new version (AWSCURRENT)"
		}
		return "secret " + d.SecretID, "key " + d.Key + " of its JSON value, a new version (AWSCURRENT)"
	case inventory.DeliverKubernetesSecret:
		how := "key " + d.Key + " by resourceVersion"
		if d.Restart != "" {
			how += ", then rollout restart " + d.Restart
		}
		return strings.TrimPrefix(d.Namespace+"/"+d.Name, "/"), how
	}
	return d.Path, strings.TrimSpace(d.Format+" "+d.Key) + ", atomically"
}

func issueSummary(key, login string, inPlace bool, ttl time.Duration, temporary bool, drop []string) string {
	var sb strings.Builder
	if inPlace {
		fmt.Fprintf(&sb, "set a new password on %s in place", key)
	} else {
		fmt.Fprintf(&sb, "create login %s with %s's privileges", login, key)
	}
	if len(drop) > 0 {
		fmt.Fprintf(&sb, " minus %s", strings.Join(drop, ", "))
	}
	if temporary {
		fmt.Fprintf(&sb, ", temporary for %s (until the partner's change window has passed)", ttl.Round(time.Hour))
	} else if ttl > 0 {
		fmt.Fprintf(&sb, ", valid for %s", ttl.Round(time.Hour))
	}
	return sb.String()
}

// drops lists the identity's dangerous privileges that the inventory does
// not keep: isolate removes them, replacements never get them.
func (b *builder) drops(id scope.Identity, invID *inventory.Identity, reused bool) []string {
	if reused {
		return nil // the scope inspected only the main identity
	}
	var out []string
	for _, p := range id.Privileges {
		if p.Via != "" || p.Kept {
			continue // a membership's privileges are dropped with the membership, if it is risky
		}
		if p.Risk == "critical" || p.CreatesCredentials {
			out = append(out, p.Name)
		}
	}
	_ = invID
	return out
}

// thirdPartyApproval: revoking what a partner uses waits for a person.
func (b *builder) thirdPartyApproval(cs []*inventory.Consumer) string {
	for _, c := range cs {
		if c.ThirdParty {
			return ApprovalThirdParty
		}
	}
	if b.in.Inventory.Policy.NeedsApproval("revoke-third-party") {
		for _, c := range b.in.Scope.Consumers {
			if c.ThirdParty {
				return ApprovalThirdParty
			}
		}
	}
	return ""
}

func sourcesOf(cs []*inventory.Consumer) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Sources...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// loginName is the replacement login for identity base and consumer, in
// the characters every system accepts unquoted and within the system's
// length limit (maxLogin). A MySQL account keeps its host part.
//
// A name that has to be cut, or that another consumer's name maps to
// (unique is false: "orders.api" and "orders-api" both read orders_api),
// ends in "_" and 8 hex digits of the SHA-256 of the consumer's name as
// the inventory writes it, so orders-api-eu and orders-api-us keep two
// logins where a plain cut would give them one. The suffix is derived
// from the name alone: a plan built again names the same logins.
func loginName(systemType, base, consumer string, unique bool) string {
	host := ""
	if systemType == "mysql" {
		if u, h, ok := strings.Cut(base, "@"); ok {
			base, host = u, "@"+h
		}
	}
	max := maxLogin(systemType)
	var sb strings.Builder
	for _, r := range strings.ToLower(consumer) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	name := base + "_" + strings.Trim(sb.String(), "_")
	if len(name) <= max && unique {
		return name + host
	}
	sum := sha256.Sum256([]byte(consumer))
	tag := "_" + hex.EncodeToString(sum[:4])
	return cutUTF8(name, max-len(tag)) + tag + host
}

// maxLogin is the longest login name, in bytes, a system takes: PostgreSQL
// cuts identifiers to NAMEDATALEN-1 (63) bytes, MySQL allows 32 characters
// in a user name (MariaDB 80: 32 fits both), Redis has no limit and 128
// keeps ACL lists readable.
func maxLogin(systemType string) int {
	switch systemType {
	case "mysql":
		return 32
	case "redis":
		return 128
	case "aws-iam":
		return 64 // IAM user names
	}
	return 63
}

// cutUTF8 returns s cut to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
