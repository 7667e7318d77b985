package plan

import (
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

const awsInventory = `version: 1
systems:
  - name: prod
    type: aws-iam
identities:
  - name: deploy-bot
    system: prod
consumers:
  - name: api
    identity: deploy-bot
    deliver: { type: file, path: /srv/api/.env, format: dotenv, key: AWS_SECRET_ACCESS_KEY, user_key: AWS_ACCESS_KEY_ID }
  - name: worker
    identity: deploy-bot
    deliver: { type: file, path: /srv/worker/.env, format: dotenv, key: AWS_SECRET_ACCESS_KEY, user_key: AWS_ACCESS_KEY_ID }
`

const leakedKey = "AKIAEXAMPLELEAKED001"

// awsScope is a leaked key of deploy-bot, with the user's other keys as
// Inspect lists them.
func awsScope(others ...string) scope.Scope {
	s := scope.Scope{Incident: "INC-20261206-a1b2",
		Identity:  scope.Identity{Status: "identified", Name: "deploy-bot", System: "prod", Declared: true, CanLogin: true, Privileges: []scope.Privilege{}},
		Consumers: []scope.Consumer{{Name: "api", Declared: true}, {Name: "worker", Declared: true}},
		Related:   []store.Related{{Kind: "this-key", Name: leakedKey}}}
	for _, o := range others {
		s.Related = append(s.Related, store.Related{Kind: "other-key", Name: o})
	}
	return s
}

// TestKeyedGracefulAddsASecondKey: graceful on IAM adds one key to the
// same user for every consumer, revokes the leaked key by its id only
// after both consumers are verified, and never names the user alone.
func TestKeyedGracefulAddsASecondKey(t *testing.T) {
	p := build(t, Input{Scope: awsScope(), Inventory: inv(t, awsInventory), Strategy: Graceful})
	if p.Strategy != Graceful {
		t.Fatalf("strategy %s (%s)", p.Strategy, p.Reason)
	}
	is := mustStep(t, p, "issue:prod/deploy-bot")
	if is.Login != "deploy-bot" || !is.Generated || is.Key != leakedKey || is.TTL != 0 {
		t.Errorf("issue step %+v: want a key added in place to deploy-bot, beside the leaked one, without expiry", is)
	}
	rev := mustStep(t, p, "revoke:prod/deploy-bot")
	if rev.Key != leakedKey || rev.Suspend {
		t.Errorf("revoke %+v: want the leaked key by its id, deleted", rev)
	}
	for _, v := range []string{"verify:api", "verify:worker"} {
		if !before(p, v, rev.ID) {
			t.Errorf("%s does not come before the revoke\n%s", v, dump(p))
		}
	}
	if !before(p, rev.ID, "terminate:prod/deploy-bot") {
		t.Errorf("sessions are ended before the key is revoked\n%s", dump(p))
	}
	if mustStep(t, p, "deliver:api").Generated != true {
		t.Error("the delivery does not know it carries a key id")
	}
}

// TestKeyedTwoKeysTurnsGracefulIntoEmergency: a user at IAM's two keys
// has no slot for a second: the plan revokes the leaked key first and
// says why, whether graceful was asked for or chosen.
func TestKeyedTwoKeysTurnsGracefulIntoEmergency(t *testing.T) {
	for _, requested := range []Strategy{Graceful, Auto} {
		sc := awsScope("AKIAEXAMPLEOTHER0001")
		sc.Consumers = sc.Consumers[:1]
		p := build(t, Input{Scope: sc, Inventory: inv(t, awsInventory), Strategy: requested})
		if p.Strategy != Emergency || !strings.Contains(p.Reason, "already holds 2 access keys") {
			t.Fatalf("%s: strategy %s (%s): want emergency, saying the user holds two keys", requested, p.Strategy, p.Reason)
		}
		rev := mustStep(t, p, "revoke:prod/deploy-bot")
		if rev.Suspend || rev.Key != leakedKey || !before(p, rev.ID, "issue:prod/deploy-bot") {
			t.Errorf("%s: the leaked key must be deleted before the new one is created\n%s", requested, dump(p))
		}
		if p.Step("deactivate:prod/deploy-bot") != nil {
			t.Errorf("%s: a deactivated key still takes a slot; the plan must delete it\n%s", requested, dump(p))
		}
		if is := mustStep(t, p, "issue:prod/deploy-bot"); strings.Join(is.KeepKeys, ",") != leakedKey+",AKIAEXAMPLEOTHER0001" {
			t.Errorf("%s: keep keys %v", requested, is.KeepKeys)
		}
	}
	// One key: no slot problem, graceful stays graceful.
	if p := build(t, Input{Scope: awsScope(), Inventory: inv(t, awsInventory), Strategy: Graceful}); p.Strategy != Graceful {
		t.Errorf("a user with one key: strategy %s (%s)", p.Strategy, p.Reason)
	}
}

// TestKeyedEmergencyDeactivatesFirst: emergency deactivates the leaked
// key before anything else (a person can undo it), issues, and deletes
// the key once every consumer is verified.
func TestKeyedEmergencyDeactivatesFirst(t *testing.T) {
	p := build(t, Input{Scope: awsScope(), Inventory: inv(t, awsInventory), Strategy: Emergency})
	d := mustStep(t, p, "deactivate:prod/deploy-bot")
	if d.Kind != Revoke || !d.Suspend || d.Key != leakedKey || len(d.Needs) != 0 {
		t.Errorf("deactivate step %+v", d)
	}
	if !before(p, d.ID, "terminate:prod/deploy-bot") || !before(p, "terminate:prod/deploy-bot", "issue:prod/deploy-bot") {
		t.Errorf("order\n%s", dump(p))
	}
	rev := mustStep(t, p, "revoke:prod/deploy-bot")
	if rev.Suspend || !before(p, "verify:api", rev.ID) || !before(p, "verify:worker", rev.ID) {
		t.Errorf("the leaked key is deleted before the consumers are verified\n%s", dump(p))
	}
}

// TestKeyedSplitGivesEachConsumerAUser: split makes a user per consumer.
func TestKeyedSplitGivesEachConsumerAUser(t *testing.T) {
	p := build(t, Input{Scope: awsScope(), Inventory: inv(t, awsInventory), Strategy: Split})
	for _, c := range []string{"api", "worker"} {
		is := mustStep(t, p, "issue:prod/deploy-bot_"+c)
		if is.Login != "deploy-bot_"+c || !is.Generated {
			t.Errorf("issue for %s: %+v", c, is)
		}
	}
	if rev := mustStep(t, p, "revoke:prod/deploy-bot"); rev.Key != leakedKey {
		t.Errorf("revoke %+v", rev)
	}
}

// TestKeyedRefusals: without the leaked key's id a revoke would take the
// user's every key (the new one too); a consumer without user_key would
// get a secret without its key id.
func TestKeyedRefusals(t *testing.T) {
	sc := awsScope()
	sc.Related = nil
	if _, err := Build(Input{Scope: sc, Inventory: inv(t, awsInventory), Strategy: Graceful, Now: now}); err == nil || !strings.Contains(err.Error(), "leaked key's id is unknown") {
		t.Errorf("no key id: %v", err)
	}
	noUserKey := strings.Replace(awsInventory, ", user_key: AWS_ACCESS_KEY_ID }\n  - name: worker", " }\n  - name: worker", 1)
	if _, err := Build(Input{Scope: awsScope(), Inventory: inv(t, noUserKey), Strategy: Graceful, Now: now}); err == nil || !strings.Contains(err.Error(), "consumer api") || !strings.Contains(err.Error(), "user_key") {
		t.Errorf("no user_key: %v", err)
	}
}

// TestKeyedRelated: a role the leaked key assumed gets its sessions
// ended after the key is cut off, once however many sessions the review
// saw; a key the leaked one created is revoked by its id on its user,
// after a person confirms.
func TestKeyedRelated(t *testing.T) {
	p := build(t, Input{Scope: awsScope(), Inventory: inv(t, awsInventory), Strategy: Graceful, Related: []Related{
		{Name: "ASIAEXAMPLESESSION01", Kind: "session", Principal: "arn:aws:sts::123456789012:assumed-role/deployer/s1", Why: "AssumeRole"},
		{Name: "ASIAEXAMPLESESSION02", Kind: "session", Principal: "arn:aws:sts::123456789012:assumed-role/deployer/s2", Why: "AssumeRole"},
		{Name: "ASIAEXAMPLESESSION03", Kind: "session", Why: "GetSessionToken"},
		{Name: "AKIAEXAMPLEBACKDOOR1", Kind: "access-key", Principal: "deploy-bot", Why: "CreateAccessKey"},
	}})
	role := mustStep(t, p, "terminate-role:prod/deployer")
	if role.Role != "deployer" || role.Kind != TerminateSessions || !before(p, "terminate:prod/deploy-bot", role.ID) {
		t.Errorf("role step %+v\n%s", role, dump(p))
	}
	n := 0
	for _, st := range p.Steps {
		if st.Role != "" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d role steps, want one for the one role\n%s", n, dump(p))
	}
	rr := mustStep(t, p, "revoke-related:prod/AKIAEXAMPLEBACKDOOR1")
	if rr.Identity != "deploy-bot" || rr.Key != "AKIAEXAMPLEBACKDOOR1" || rr.Approval != ApprovalManual {
		t.Errorf("revoke-related %+v", rr)
	}
}

// TestKeyedRelatedUsersAndLoginProfiles: a user the leaked key created is
// removed whole by one approved step (its key and password get none of
// their own); a console password it gave an existing user is deleted by
// another, leaving that user's keys.
func TestKeyedRelatedUsersAndLoginProfiles(t *testing.T) {
	p := build(t, Input{Scope: awsScope(), Inventory: inv(t, awsInventory), Strategy: Graceful, Related: []Related{
		{Name: "AKIAEXAMPLEOPSKEY001", Kind: "access-key", Principal: "ops-backup", Why: "CreateAccessKey"},
		{Name: "ops-backup", Kind: "user", Why: "CreateUser"},
		{Name: "carol", Kind: "login-profile", Why: "CreateLoginProfile"},
	}})
	u := mustStep(t, p, "revoke-related:prod/user/ops-backup")
	if u.Remove != RemoveUser || u.Identity != "ops-backup" || u.Key != "" || u.Approval != ApprovalManual || !before(p, "terminate:prod/deploy-bot", u.ID) {
		t.Errorf("user step %+v\n%s", u, dump(p))
	}
	lp := mustStep(t, p, "revoke-related:prod/login-profile/carol")
	if lp.Remove != RemoveLoginProfile || lp.Identity != "carol" || lp.Key != "" || lp.Approval != ApprovalManual {
		t.Errorf("login-profile step %+v", lp)
	}
	n := 0
	for _, st := range p.Steps {
		if st.Kind == RevokeRelated {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d revoke-related steps, want the user's and carol's password only\n%s", n, dump(p))
	}
}
