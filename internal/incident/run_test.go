package incident

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/postgres"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// runnable is planned's incident with what a run needs besides its
// systems: a postgres registry, keys made for the test, env from env.
func runnable(t *testing.T, env map[string]string) (Deps, store.Incident, *int) {
	t.Helper()
	d, inc := planned(t)
	claims := 0
	claim := d.Claim
	d.Claim = func(ctx context.Context, id string) (context.Context, func(), error) {
		claims++
		return claim(ctx, id)
	}
	d.Registry = provider.NewRegistry()
	d.Registry.Register("postgres", postgres.New)
	d.Getenv = func(k string) string { return env[k] }
	key := func() []byte { return randomKey(t) }
	runs := t.TempDir()
	d.Sealer = func(id string) (*secret.Sealer, error) {
		s, err := secret.NewSealer(key())
		if err != nil {
			return nil, err
		}
		return s.ForRun(runs, id), nil
	}
	d.Fingerprinter = func() (*secret.Fingerprinter, error) { return secret.NewFingerprinter(key()) }
	return d, inc, &claims
}

// A run whose preflight finds a problem is refused, claimed but with
// nothing changed, and names the problem; the auto plan it built first
// stays. A dry run is refused the same way and claims nothing.
func TestRunRefusedByPreflight(t *testing.T) {
	ctx := context.Background()
	d, inc, claims := runnable(t, nil) // DB_ADMIN unset
	confirmed := false
	_, err := Run(ctx, d, inc.ID, RunOptions{Confirm: func(context.Context, *plan.Plan) error { confirmed = true; return nil }})
	var pe *PreflightError
	if !errors.As(err, &pe) || errs.KindOf(err) != errs.Invalid || len(pe.Problems) != 1 ||
		!strings.Contains(pe.Problems[0], "system db") || !strings.Contains(pe.Problems[0], "DB_ADMIN") {
		t.Fatalf("run: %v (%+v)", err, pe)
	}
	if confirmed || *claims != 1 {
		t.Errorf("confirmed %v, claims %d", confirmed, *claims)
	}
	if sp, ok, err := d.Store.GetPlan(ctx, inc.ID); err != nil || !ok || sp.Strategy == "" {
		t.Errorf("no auto plan stored: %+v %v %v", sp, ok, err)
	}
	if steps, _ := d.Store.Steps(ctx, inc.ID); len(steps) != 0 {
		t.Errorf("steps recorded: %+v", steps)
	}
	if _, err := Run(ctx, d, inc.ID, RunOptions{DryRun: true}); !errors.As(err, &pe) || *claims != 1 {
		t.Errorf("dry run: %v, claims %d", err, *claims)
	}
}

// With the system reachable as its administrator the preflight passes,
// and Confirm is asked before anything changes: a refusal leaves no step
// started and the consumer's file as it was. The dry run lists every
// step of the plan Confirm was shown.
func TestRunAsksBeforeChanging(t *testing.T) {
	admin := testutil.PostgresURL(t)
	ctx := context.Background()
	d, inc, claims := runnable(t, map[string]string{"DB_ADMIN": admin})
	var shown *plan.Plan
	refused := errors.New("not confirmed")
	_, err := Run(ctx, d, inc.ID, RunOptions{Confirm: func(_ context.Context, p *plan.Plan) error { shown = p; return refused }})
	if !errors.Is(err, refused) || shown == nil || len(shown.Steps) == 0 || *claims != 1 {
		t.Fatalf("run: %v, plan %+v, claims %d", err, shown, *claims)
	}
	if steps, _ := d.Store.Steps(ctx, inc.ID); len(steps) != 0 {
		t.Errorf("steps recorded after a refusal: %+v", steps)
	}
	env := filepath.Join(filepath.Dir(inc.Inventory), "app.env")
	if b, _ := os.ReadFile(env); string(b) != "DATABASE_URL=postgres://app:old@db/app\n" {
		t.Errorf("app.env changed: %q", b)
	}
	out, err := Run(ctx, d, inc.ID, RunOptions{DryRun: true, Confirm: func(context.Context, *plan.Plan) error {
		t.Error("a dry run asked to confirm")
		return nil
	}})
	if err != nil || len(out.DryRun) != len(shown.Steps) || out.Result.Incident != "" || *claims != 1 {
		t.Errorf("dry run: %v, %d actions for %d steps, claims %d", err, len(out.DryRun), len(shown.Steps), *claims)
	}
	// The admin DSN never reaches what the dry run reports; the issue and
	// revoke steps show the SQL they would send, the password masked.
	said := map[plan.Kind]string{}
	for _, a := range out.DryRun {
		if strings.Contains(a.What+a.Change, admin) {
			t.Errorf("admin DSN in %+v", a)
		}
		said[a.Kind] += a.Change
	}
	if s := said[plan.Issue]; !strings.Contains(s, "statements:\n  CREATE ROLE") || !strings.Contains(s, "PASSWORD '"+provider.Masked+"'") || !strings.Contains(s, `IN ROLE "app"`) {
		t.Errorf("issue statements: %q", s)
	}
	if s := said[plan.Revoke]; !strings.Contains(s, `ALTER ROLE "app" NOLOGIN PASSWORD NULL`) {
		t.Errorf("revoke statements: %q", s)
	}
}

// Rollback claims and asks before it changes anything; a rolled-back run
// is not run again until it is planned again.
func TestRollbackThenRunRefused(t *testing.T) {
	ctx := context.Background()
	d, inc, claims := runnable(t, nil)
	if _, err := Plan(ctx, d, inc.ID, plan.Graceful); err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(ctx, d, inc.ID, func(context.Context) error { return errors.New("no") }); err == nil || *claims != 1 {
		t.Fatalf("refused rollback: %v, claims %d", err, *claims)
	}
	if sp, _, _ := d.Store.GetPlan(ctx, inc.ID); sp.RunState == store.RunRolledBack {
		t.Fatal("a refused rollback rolled back")
	}
	res, err := Rollback(ctx, d, inc.ID, nil)
	if err != nil || res.State != store.RunRolledBack {
		t.Fatalf("rollback: %+v %v", res, err)
	}
	if _, err := Run(ctx, d, inc.ID, RunOptions{}); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "rolled back; plan again") {
		t.Errorf("run after rollback: %v", err)
	}
	if _, err := Plan(ctx, d, inc.ID, plan.Graceful); err != nil {
		t.Fatalf("plan again: %v", err)
	}
	if _, err := Run(ctx, d, inc.ID, RunOptions{DryRun: true}); errs.KindOf(err) != errs.Invalid || strings.Contains(err.Error(), "rolled back") {
		t.Errorf("after planning again the run is refused only by its preflight: %v", err)
	}
}

// randomKey is a key made for one test.
func randomKey(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
