package plan

import (
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

func tokenInventory(sysType string) string {
	return `version: 1
systems:
  - { name: sys, type: ` + sysType + `, admin: env:ADMIN, endpoint: "https://sys.example.com" }
identities:
  - name: ci-bot
    system: sys
consumers:
  - name: api
    identity: ci-bot
    deliver: { type: file, path: /srv/api/.env, format: dotenv, key: TOKEN }
`
}

func tokenScope(related ...store.Related) scope.Scope {
	return scope.Scope{Incident: "INC-20261206-e5f6",
		Identity:  scope.Identity{Status: "identified", Name: "ci-bot", System: "sys", Declared: true, CanLogin: true, Privileges: []scope.Privilege{}},
		Consumers: []scope.Consumer{{Name: "api", Declared: true}},
		Related:   append([]store.Related{{Kind: "this-key", Name: "42"}}, related...)}
}

// TestTokenSystemsNeedNoUserKeyAndHaveNoLimit: GitLab and Vault tokens
// are keys a consumer presents without an id, so a delivery without
// user_key is planned; a principal holding many tokens stays graceful (a
// token is added beside); and neither gets AWS's terminate step.
func TestTokenSystemsNeedNoUserKeyAndHaveNoLimit(t *testing.T) {
	for _, typ := range []string{"gitlab", "vault"} {
		others := []store.Related{{Kind: "other-key", Name: "7"}, {Kind: "other-key", Name: "8"}, {Kind: "other-key", Name: "9"}}
		p := build(t, Input{Scope: tokenScope(others...), Inventory: inv(t, tokenInventory(typ)), Strategy: Graceful})
		is := mustStep(t, p, "issue:sys/ci-bot")
		if !is.Generated || is.Rotate || is.Key != "42" {
			t.Errorf("%s: issue %+v, want a token generated beside token 42", typ, is)
		}
		rev := mustStep(t, p, "revoke:sys/ci-bot")
		if rev.Key != "42" || !before(p, "verify:api", rev.ID) {
			t.Errorf("%s: revoke %+v, want token 42 after the verify", typ, rev)
		}
		if d := mustStep(t, p, "deliver:api"); strings.Contains(d.Summary, "key id") {
			t.Errorf("%s: the delivery speaks of a key id: %s", typ, d.Summary)
		}
		for _, st := range p.Steps {
			if st.Kind == TerminateSessions {
				t.Errorf("%s: a terminate step %s (tokens have no sessions of their own)", typ, st.ID)
			}
		}
	}
}

// TestGitLabProjectTokenRotates: a project access token cannot get a
// second token beside it, so graceful becomes a rotation, with a note.
func TestGitLabProjectTokenRotates(t *testing.T) {
	p := build(t, Input{Scope: tokenScope(store.Related{Kind: "resource", Name: "project acme/api"}), Inventory: inv(t, tokenInventory("gitlab")), Strategy: Graceful})
	if is := mustStep(t, p, "issue:sys/ci-bot"); !is.Rotate {
		t.Errorf("issue %+v, want a rotation", is)
	}
	if !strings.Contains(strings.Join(p.Notes, " "), "rotated") {
		t.Errorf("notes %v do not say why", p.Notes)
	}
}

// TestVaultRevokePrefixOnlyWhenConfigured: the inventory's revoke_prefix
// adds one person-approved step ending the leases under it, after the
// leaked token's revoke, in both strategies; without it there is none.
func TestVaultRevokePrefixOnlyWhenConfigured(t *testing.T) {
	for _, strategy := range []Strategy{Graceful, Emergency} {
		p := build(t, Input{Scope: tokenScope(), Inventory: inv(t, tokenInventory("vault")), Strategy: strategy})
		for _, st := range p.Steps {
			if st.Remove == RemoveLeasePrefix {
				t.Errorf("%s without revoke_prefix: step %s", strategy, st.ID)
			}
		}
		withPrefix := strings.Replace(tokenInventory("vault"), "    system: sys\n", "    system: sys\n    revoke_prefix: database/creds/app\n", 1)
		p = build(t, Input{Scope: tokenScope(), Inventory: inv(t, withPrefix), Strategy: strategy})
		st := mustStep(t, p, "revoke-related:sys/prefix/database/creds/app")
		if st.Remove != RemoveLeasePrefix || st.Prefix != "database/creds/app/" || st.Approval != ApprovalManual || !before(p, "revoke:sys/ci-bot", st.ID) {
			t.Errorf("%s: prefix step %+v\n%s", strategy, st, dump(p))
		}
	}
}
