package incident

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/store"
)

// Preflight names each problem once with its system or consumer, and
// skips the steps a run already finished.
func TestPreflightLines(t *testing.T) {
	dir := t.TempDir()
	inv, rep, err := inventory.Parse(filepath.Join(dir, "rekey.yml"), []byte(`version: 1
systems:
  - {name: db, type: postgres, admin: env:DB_ADMIN}
identities:
  - {name: app, system: db}
consumers:
  - {name: api, identity: app, deliver: {type: file, path: api.env, format: dotenv, key: DATABASE_URL}}
  - {name: web, identity: app, deliver: {type: file, path: web.env, format: dotenv, key: DATABASE_URL}}
`), inventory.Options{SkipLocal: true})
	if err != nil || !rep.OK() {
		t.Fatal(err, rep)
	}
	if err := os.WriteFile(filepath.Join(dir, "web.env"), []byte("DATABASE_URL=postgres://app:pw@db/app\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := provider.NewRegistry()
	reg.Register("postgres", func(context.Context, provider.Config) (provider.Provider, error) {
		t.Fatal("a system whose admin does not resolve was opened")
		return nil, nil
	})
	s := Systems{Registry: reg, Inventory: inv, Getenv: func(string) string { return "" }}
	p := &plan.Plan{Steps: []plan.Step{
		{ID: "issue:db/app", Kind: plan.Issue, System: "db"},
		{ID: "deliver:api", Kind: plan.Deliver, Consumer: "api"},
		{ID: "deliver:web", Kind: plan.Deliver, Consumer: "web"},
		{ID: "revoke:db/app", Kind: plan.Revoke, System: "db"},
		{ID: "notify:partner", Kind: plan.Notify},
	}}
	got := Preflight(context.Background(), s, p, nil)
	if len(got) != 2 || !strings.HasPrefix(got[0], "consumer api: ") || !strings.Contains(got[0], "api.env") ||
		!strings.HasPrefix(got[1], "system db: ") || strings.Count(got[1], "system db") != 1 || !strings.Contains(got[1], "DB_ADMIN") {
		t.Errorf("problems %q", got)
	}
	// Once the deliveries and the system's steps are done, nothing is left to check.
	var done []store.Step
	for _, st := range p.Steps {
		done = append(done, store.Step{StepID: st.ID, State: engine.Done})
	}
	if got := Preflight(context.Background(), s, p, done); len(got) != 0 {
		t.Errorf("after the run: %q", got)
	}
}
