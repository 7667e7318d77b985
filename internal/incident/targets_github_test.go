package incident

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/github"
	"github.com/rekeyhq/rekey/internal/provider/github/githubtest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// githubSystems is an inventory whose consumer ci reads its secret from
// the Actions secret DB_PASSWORD of acme/api, written by the github
// system's administrator token (the env variable GH_TOKEN).
func githubSystems(t *testing.T, g *githubtest.Server, token string) Systems {
	t.Helper()
	src := []byte("version: 1\nsystems:\n  - { name: gh, type: github, admin: env:GH_TOKEN, endpoint: \"" + g.URL + "\", org: acme }\n" +
		"  - { name: shop-db, type: postgres, admin: env:DSN }\nidentities:\n  - { name: orders_svc, system: shop-db }\n" +
		"consumers:\n  - name: ci\n    identity: orders_svc\n    deliver: { type: github-actions-secret, repo: acme/api, name: DB_PASSWORD }\n")
	getenv := func(k string) string { return map[string]string{"GH_TOKEN": token, "DSN": "postgres://a@h/d"}[k] }
	inv, rep, err := inventory.Parse("inv.yml", src, inventory.Options{Getenv: getenv})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	reg := provider.NewRegistry()
	reg.Register(github.Type, github.New)
	return Systems{Registry: reg, Inventory: inv, Getenv: getenv}
}

// TestTargetDeliversToGitHubActionsSecret: a consumer that reads its
// secret from an Actions secret gets it there through a run's target,
// written by the github system's administrator (the test server opens
// the sealed box); preflight reads the target before and after the
// secret exists (GitHub never returns its value, which is no problem).
func TestTargetDeliversToGitHubActionsSecret(t *testing.T) {
	g := githubtest.New()
	t.Cleanup(g.Close)
	g.AddOrg("acme")
	g.AddRepo("acme/api")
	s := githubSystems(t, g, g.ClassicToken("root", time.Time{}, "repo", "admin:org"))
	ctx := context.Background()
	step := plan.Step{ID: "deliver:ci", Kind: plan.Deliver, Consumer: "ci"}
	if p := checkTarget(ctx, s, step); len(p) != 0 {
		t.Errorf("preflight of a secret not written yet: %v", p)
	}
	tg, err := s.Target(s.Inventory.ConsumerByName("ci"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Write(ctx, deliver.Value{Secret: secret.FromString("n3w-Orders-Pa55")}); err != nil {
		t.Fatal(err)
	}
	if v, ok := g.Secret("acme/api", "DB_PASSWORD"); !ok || string(v) != "n3w-Orders-Pa55" {
		t.Errorf("GitHub holds %q (%v) after the delivery", v, ok)
	}
	if p := checkTarget(ctx, s, step); len(p) != 0 {
		t.Errorf("preflight of a secret GitHub holds (and never returns): %v", p)
	}
}

// TestPreflightRefusesGitHubAdminWithoutRepoScope: an administrator
// token that may not write the repository's secrets is one line naming
// the consumer and GitHub's refusal, before anything is written.
func TestPreflightRefusesGitHubAdminWithoutRepoScope(t *testing.T) {
	g := githubtest.New()
	t.Cleanup(g.Close)
	g.AddOrg("acme")
	g.AddRepo("acme/api")
	s := githubSystems(t, g, g.ClassicToken("dev", time.Time{}, "read:user"))
	p := checkTarget(context.Background(), s, plan.Step{ID: "deliver:ci", Kind: plan.Deliver, Consumer: "ci"})
	if len(p) != 1 || !strings.HasPrefix(p[0], "consumer ci: github-actions-secret repo acme/api DB_PASSWORD") {
		t.Fatalf("preflight problems = %q, want one line naming the consumer and the target", p)
	}
	if _, ok := g.Secret("acme/api", "DB_PASSWORD"); ok {
		t.Error("preflight wrote the secret")
	}
}

// TestIdentifyUsesTheLeakedTokenOnlyWhenAllowed: GitHub names a classic
// token's owner only to a request made with it, so without UseLeaked the
// token is never sent as a credential and its owner stays unknown; with
// it, one GET /user names the owner and the system is reported for the
// audit log.
func TestIdentifyUsesTheLeakedTokenOnlyWhenAllowed(t *testing.T) {
	g := githubtest.New()
	t.Cleanup(g.Close)
	g.AddOrg("acme")
	g.AddUser("octo")
	s := githubSystems(t, g, g.ClassicToken("root", time.Time{}, "repo", "admin:org"))
	leaked := g.ClassicToken("octo", time.Time{}, "repo")
	ctx := context.Background()
	var used []string
	quiet := func(string, ...any) {}
	for _, id := range s.Identify(ctx, Leaked{Secret: secret.FromString(leaked), Used: func(sys string) { used = append(used, sys) }}, quiet) {
		if id.System == "gh" && id.Name == "octo" {
			t.Errorf("the owner was named without UseLeaked: %+v", id)
		}
	}
	if n := g.Requests(leaked); n != 0 || len(used) != 0 {
		t.Errorf("without UseLeaked: %d request(s) made with the leaked token, reported %v", n, used)
	}
	var found bool
	for _, id := range s.Identify(ctx, Leaked{Secret: secret.FromString(leaked), UseLeaked: true, Used: func(sys string) { used = append(used, sys) }}, quiet) {
		found = found || (id.System == "gh" && id.Name == "octo")
	}
	if !found || g.Requests(leaked) != 1 || strings.Join(used, ",") != "gh" {
		t.Errorf("with UseLeaked: owner found %v after %d request(s) with the token, reported %v; want octo, one request, gh", found, g.Requests(leaked), used)
	}
}
