package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/github"
	"github.com/rekeyhq/rekey/internal/provider/github/githubtest"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// TestSupplyStepTakesTheSecretAPersonCreated: a GitHub personal token
// cannot be minted, so the plan waits at a supply-secret step; approving
// it without a secret is refused, approving with one seals it (never in
// the step's result or the audit log), and the run delivers it and
// verifies it against the test server.
func TestSupplyStepTakesTheSecretAPersonCreated(t *testing.T) {
	g := githubtest.New()
	t.Cleanup(g.Close)
	g.AddOrg("acme")
	g.AddUser("octo")
	leaked := g.ClassicToken("octo", time.Time{}, "repo")
	admin := g.ClassicToken("root", time.Time{}, "repo", "admin:org")
	dir := t.TempDir()
	env := filepath.Join(dir, "api.env")
	if err := os.WriteFile(env, []byte("GITHUB_TOKEN="+leaked+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "version: 1\nsystems:\n  - { name: gh, type: github, admin: env:GH_ADMIN, endpoint: \"" + g.URL + "\", org: acme }\n" +
		"identities:\n  - { name: octo, system: gh }\nconsumers:\n  - name: api\n    identity: octo\n" +
		"    deliver: { type: file, path: " + env + ", format: dotenv, key: GITHUB_TOKEN }\n    health: \"true\"\n"
	inv, rep, err := inventory.Parse(filepath.Join(dir, "inventory.yml"), []byte(yml), inventory.Options{Getenv: func(string) string { return admin }})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fp := sha256.Sum256([]byte(leaked))
	inc, _, err := st.OpenIncident(ctx, store.Incident{Fingerprint: secret.Fingerprint(hex.EncodeToString(fp[:])), Identity: store.IdentityRef{System: "gh", Name: "octo"}})
	if err != nil {
		t.Fatal(err)
	}
	sc := scope.Scope{Incident: inc.ID, Identity: scope.Identity{Status: "identified", Name: "octo", System: "gh", Declared: true, CanLogin: true, Privileges: []scope.Privilege{}},
		Consumers: []scope.Consumer{{Name: "api", Declared: true}}}
	p, err := plan.Build(plan.Input{Scope: sc, Inventory: inv, Strategy: plan.Graceful})
	if err != nil {
		t.Fatal(err)
	}
	supply := p.Step("supply:gh/octo")
	if supply == nil || supply.Kind != plan.Supply || supply.Approval != plan.ApprovalSecret || p.Step("issue:gh/octo") != nil {
		t.Fatalf("plan has no supply-secret step waiting for a secret, or issues one: %+v", p.Steps)
	}
	if v := p.Step("verify:api"); v == nil || p.Step("revoke:gh/octo") == nil || !slicesHas(p.Step("revoke:gh/octo").Needs, "verify:api") {
		t.Fatalf("graceful: the revoke must wait for the consumer's verify: %+v", p.Steps)
	}
	putPlan(t, st, inc.ID, p)
	prov, err := github.New(ctx, provider.Config{System: "gh", Admin: secret.FromString(admin), Endpoint: g.URL, Spec: inv.SystemByName("gh")})
	if err != nil {
		t.Fatal(err)
	}
	d := testDeps(st, inv, dir, inc.ID, func(context.Context, string) (provider.Provider, error) { return prov, nil })
	e, err := New(ctx, d, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(ctx); !errors.Is(err, ErrWaiting) {
		t.Fatalf("run before the secret is handed in: %v, want waiting", err)
	}
	if err := e.Approve(ctx, "supply:gh/octo", "bob", "alice"); errs.KindOf(err) != errs.Invalid {
		t.Errorf("approving a supply step without its secret: %v, want Invalid", err)
	}
	fresh := g.ClassicToken("octo", time.Time{}, "repo")
	if err := e.ApproveSecret(ctx, "verify:api", "bob", "alice", secret.FromString(fresh)); err == nil {
		t.Error("a secret was taken for a step that takes none")
	}
	if err := e.ApproveSecret(ctx, "supply:gh/octo", "alice", "alice", secret.FromString(fresh)); errs.KindOf(err) != errs.Permission {
		t.Errorf("the opener handing in the secret: %v, want Permission", err)
	}
	if names, _ := st.SealedNames(ctx, inc.ID); len(names) != 0 {
		t.Fatalf("a refused approval sealed %v", names)
	}
	if err := e.ApproveSecret(ctx, "supply:gh/octo", "bob", "alice", secret.FromString(fresh)); err != nil {
		t.Fatal(err)
	}
	if names, _ := st.SealedNames(ctx, inc.ID); len(names) != 1 {
		t.Fatalf("sealed after the approval: %v, want the new secret", names)
	}
	// GitHub revokes another's personal token only by its value: without
	// it the revoke says how to give it; with it, the credentials
	// revocation API is called.
	e, _ = New(ctx, d, inc.ID)
	if _, err := e.Run(ctx); !errors.Is(err, ErrStepFailed) {
		t.Fatalf("run without the leaked secret: %v, want the revoke to fail", err)
	}
	if steps, _ := st.Steps(ctx, inc.ID); !slicesHasStep(steps, "revoke:gh/octo", "rekey respond --secret-file") {
		t.Errorf("the failed revoke does not say how to give the leaked secret: %+v", steps)
	}
	d.Leaked = secret.FromString(leaked)
	e, _ = New(ctx, d, inc.ID)
	if res, err := e.Run(ctx); err != nil || res.State != store.RunDone {
		t.Fatalf("run with the leaked secret: %v %+v", err, res)
	}
	if !g.Revoked(leaked) {
		t.Error("the leaked token still works")
	}
	b, _ := os.ReadFile(env)
	if string(b) != "GITHUB_TOKEN="+fresh+"\n" {
		t.Errorf("the consumer holds %q, want the supplied token", b)
	}
	steps, _ := st.Steps(ctx, inc.ID)
	for _, s := range steps {
		if strings.HasPrefix(s.StepID, "supply:") || strings.HasPrefix(s.StepID, "deliver:") || strings.HasPrefix(s.StepID, "verify:") {
			if s.State != Done {
				t.Errorf("step %s is %s: %s", s.StepID, s.State, s.Error)
			}
			if strings.Contains(string(s.Result), fresh) {
				t.Errorf("step %s's result holds the secret", s.StepID)
			}
		}
	}
	log, _ := st.AuditLog(ctx)
	for _, a := range log {
		if strings.Contains(string(a.Detail), fresh) {
			t.Errorf("the audit log holds the secret: %s %s", a.Action, a.Detail)
		}
	}
}

func slicesHas(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// slicesHasStep reports whether step id's error holds want.
func slicesHasStep(steps []store.Step, id, want string) bool {
	for _, s := range steps {
		if s.StepID == id {
			return strings.Contains(s.Error, want)
		}
	}
	return false
}
