package plan

import (
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/scope"
)

const githubInventory = `version: 1
systems:
  - { name: gh, type: github, admin: env:GH_ADMIN, org: acme }
identities:
  - name: octo
    system: gh
consumers:
  - name: api
    identity: octo
    deliver: { type: file, path: /srv/api/.env, format: dotenv, key: GITHUB_TOKEN }
  - name: ci
    identity: octo
    deliver: { type: github-actions-secret, repo: acme/api, name: GH_TOKEN }
`

func githubScope() scope.Scope {
	return scope.Scope{Incident: "INC-20261206-c3d4",
		Identity:  scope.Identity{Status: "identified", Name: "octo", System: "gh", Declared: true, CanLogin: true, Privileges: []scope.Privilege{}},
		Consumers: []scope.Consumer{{Name: "api", Declared: true}, {Name: "ci", Declared: true}}}
}

// TestSuppliedGracefulWaitsForAPerson: GitHub cannot mint a personal
// token, so no issue step: one supply-secret step waits for the secret a
// person creates (the approve command in its summary), every consumer's
// delivery follows it, and the leaked token is revoked after every
// consumer is verified.
func TestSuppliedGracefulWaitsForAPerson(t *testing.T) {
	p := build(t, Input{Scope: githubScope(), Inventory: inv(t, githubInventory), Strategy: Graceful})
	sup := mustStep(t, p, "supply:gh/octo")
	if sup.Kind != Supply || sup.Approval != ApprovalSecret || sup.Login != "octo" ||
		!strings.Contains(sup.Summary, "rekey incident approve INC-20261206-c3d4 supply:gh/octo --secret-file F") {
		t.Errorf("supply step %+v", sup)
	}
	for _, st := range p.Steps {
		if st.Kind == Issue {
			t.Errorf("an issue step for a token no API can create: %+v", st)
		}
	}
	rev := mustStep(t, p, "revoke:gh/octo")
	// Each delivery names its place: a file's path, a repository's secret.
	if d := mustStep(t, p, "deliver:ci"); !strings.Contains(d.Summary, "into acme/api GH_TOKEN") || !strings.Contains(d.Target, "acme/api GH_TOKEN") {
		t.Errorf("deliver:ci does not name the Actions secret: %q %q", d.Target, d.Summary)
	}
	if d := mustStep(t, p, "deliver:api"); !strings.Contains(d.Summary, "into /srv/api/.env (dotenv GITHUB_TOKEN, atomically)") {
		t.Errorf("deliver:api summary %q", d.Summary)
	}
	for _, c := range []string{"api", "ci"} {
		if d := mustStep(t, p, "deliver:"+c); d.Login != "octo" || !before(p, sup.ID, d.ID) {
			t.Errorf("deliver:%s %+v does not deliver the supplied secret", c, d)
		}
		if !before(p, "verify:"+c, rev.ID) {
			t.Errorf("verify:%s does not come before the revoke\n%s", c, dump(p))
		}
	}
}

// TestSuppliedEmergencyRevokesFirst: emergency revokes the leaked token
// before a person supplies the new one.
func TestSuppliedEmergencyRevokesFirst(t *testing.T) {
	p := build(t, Input{Scope: githubScope(), Inventory: inv(t, githubInventory), Strategy: Emergency})
	if !before(p, "revoke:gh/octo", "supply:gh/octo") || !before(p, "supply:gh/octo", "deliver:api") {
		t.Errorf("emergency order\n%s", dump(p))
	}
	n := 0
	for _, st := range p.Steps {
		if st.Kind == Revoke {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d revoke steps, want 1\n%s", n, dump(p))
	}
}
