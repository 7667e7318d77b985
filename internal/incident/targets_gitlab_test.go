package incident

import (
	"context"
	"testing"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider/gitlab/gitlabtest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// TestTargetDeliversToGitLabCIVariable: a consumer that reads its secret
// from a GitLab CI/CD variable gets it there through a run's target, with
// the gitlab system's endpoint and administrator token.
func TestTargetDeliversToGitLabCIVariable(t *testing.T) {
	g := gitlabtest.New()
	t.Cleanup(g.Close)
	project := g.CreateProject("acme/api")
	src := []byte("version: 1\nsystems:\n  - { name: gl, type: gitlab, admin: env:GL_TOKEN, endpoint: \"" + g.URL + "\" }\n" +
		"  - { name: shop-db, type: postgres, admin: env:DSN }\nidentities:\n  - { name: orders_svc, system: shop-db }\n" +
		"consumers:\n  - name: ci\n    identity: orders_svc\n    deliver: { type: gitlab-ci-variable, project: acme/api, key: DB_PASSWORD, protected: true, masked: true }\n")
	token := g.RootToken()
	getenv := func(k string) string { return map[string]string{"GL_TOKEN": token, "DSN": "postgres://a@h/d"}[k] }
	inv, rep, err := inventory.Parse("inv.yml", src, inventory.Options{Getenv: getenv})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	s := Systems{Inventory: inv, Getenv: getenv}
	ctx := context.Background()
	tg, err := s.Target(inv.ConsumerByName("ci"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDelivery(ctx, tg); err != nil {
		t.Errorf("preflight of a variable not written yet: %v", err)
	}
	if err := tg.Write(ctx, deliver.Value{Secret: secret.FromString("n3w-Orders-Pa55")}); err != nil {
		t.Fatal(err)
	}
	if v := g.ProjectVariable(project.ID, "DB_PASSWORD"); v == nil || v.Value != "n3w-Orders-Pa55" || !v.Protected || !v.Masked {
		t.Errorf("variable after the delivery: %+v", v)
	}
}
