package incident

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/store"
)

// planned is an incident whose secret is app's on db, with one consumer
// delivered by file, and Deps that load its inventory.
func planned(t *testing.T) (Deps, store.Incident) {
	t.Helper()
	d, _ := testDeps(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.env"), []byte("DATABASE_URL=postgres://app:old@db/app\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	invPath := filepath.Join(dir, "rekey.yml")
	if err := os.WriteFile(invPath, []byte(`version: 1
systems:
  - {name: db, type: postgres, admin: env:DB_ADMIN}
identities:
  - {name: app, system: db}
consumers:
  - {name: api, identity: app, deliver: {type: file, path: app.env, format: dotenv, key: DATABASE_URL}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	d.LoadInventory = func(path string) (*inventory.Inventory, error) {
		inv, rep, err := inventory.Parse(path, must(os.ReadFile(path)), inventory.Options{SkipLocal: true})
		if err == nil && !rep.OK() {
			t.Fatalf("inventory: %v", rep.Errors)
		}
		return inv, err
	}
	inc := openTest(t, d, "cc00000000000000000000000000000000000000000000000000000000000000", d.now())
	inc.Inventory, inc.Identity = invPath, store.IdentityRef{System: "db", Name: "app"}
	if err := d.Store.UpdateIncident(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	if err := d.Store.PutIdentity(context.Background(), inc.ID, store.Identity{System: "db", Name: "app", Method: "scram-sha-256",
		Inspected: true, Exists: true, CanLogin: true, Flags: []string{}}); err != nil {
		t.Fatal(err)
	}
	return d, inc
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestPlanStoresAndRefusesAStartedRun(t *testing.T) {
	ctx := context.Background()
	d, inc := planned(t)
	p, err := Plan(ctx, d, inc.ID, plan.Graceful)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[plan.Kind]bool{}
	for _, s := range p.Steps {
		kinds[s.Kind] = true
	}
	for _, k := range []plan.Kind{plan.Issue, plan.Deliver, plan.Verify, plan.Revoke} {
		if !kinds[k] {
			t.Errorf("no %s step in %+v", k, p.Steps)
		}
	}
	if sp, ok, err := d.Store.GetPlan(ctx, inc.ID); err != nil || !ok || sp.Strategy != string(plan.Graceful) {
		t.Fatalf("stored plan: %+v %v %v", sp, ok, err)
	}
	// Planning again is fine until a step has done something.
	if _, err := Plan(ctx, d, inc.ID, plan.Emergency); err != nil {
		t.Fatalf("plan again: %v", err)
	}
	p, _ = Plan(ctx, d, inc.ID, plan.Graceful)
	if err := d.Store.PutStep(ctx, inc.ID, store.Step{StepID: p.Steps[0].ID, State: engine.Done}); err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(ctx, d, inc.ID, plan.Emergency); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "has started") {
		t.Errorf("plan over a started run: %v", err)
	}
	log, _ := d.Store.AuditLog(ctx)
	n := 0
	for _, e := range log {
		if e.Action == "incident.plan" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d incident.plan entries, want 3", n)
	}

	// A step that needs no approval cannot be approved; the opener
	// (alice) approves nothing.
	if err := Approve(ctx, d, inc.ID, p.Steps[1].ID); err == nil {
		t.Error("approving a step that needs no approval")
	}
	if err := Approve(ctx, d, inc.ID, "rewrite-history:shop"); err == nil {
		t.Error("approving a task that does not exist")
	}
}

// TestReviewFactsCarryThePrincipal: a role session the review saw the
// leaked key open reaches the plan with the role it assumed, which is
// what plans the step that ends that role's sessions.
func TestReviewFactsCarryThePrincipal(t *testing.T) {
	d, inc := planned(t)
	ctx := context.Background()
	body, err := json.Marshal(review.Report{HasBaseline: true, Related: []review.Related{
		{Credential: "ASIAEXAMPLESESSION01", Kind: "session", Principal: "arn:aws:sts::123456789012:assumed-role/deployer/s1", Via: "sts:AssumeRole"},
		{Credential: "AKIAEXAMPLEBACKDOOR1", Kind: "access-key", Principal: "deploy-bot", Via: "iam:CreateAccessKey"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Store.PutReview(ctx, inc.ID, store.Review{IncidentID: inc.ID, Phase: "exposure", Created: d.now(), Body: body}); err != nil {
		t.Fatal(err)
	}
	f, err := reviewFacts(ctx, d.Store, inc.ID, "aws-iam")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range f.related {
		got[r.Name] = r.Principal
	}
	want := map[string]string{"ASIAEXAMPLESESSION01": "arn:aws:sts::123456789012:assumed-role/deployer/s1", "AKIAEXAMPLEBACKDOOR1": "deploy-bot"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("related principals %v, want %v", got, want)
	}
}

// TestPlanWaitsForTheTracing: while sources of the incident's tracing
// are pending, planning, running (which would plan) and dry runs are
// refused as a conflict naming how many are pending; a run that has
// changed systems goes on; once every source is done, planning works.
func TestPlanWaitsForTheTracing(t *testing.T) {
	ctx := context.Background()
	d, inc := planned(t)
	seqs, err := d.Store.StartTrace(ctx, inc.ID, []byte("k\nsealed"), []store.TraceSource{{Type: "dir", Path: "/srv/a"}, {Type: "git", Path: "/srv/b"}})
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error, want string) {
		t.Helper()
		if errs.KindOf(err) != errs.Conflict || !strings.Contains(err.Error(), want) {
			t.Errorf("%s while tracing: %v, want a conflict naming %q", what, err, want)
		}
	}
	_, err = Plan(ctx, d, inc.ID, plan.Graceful)
	refused("plan", err, "2 of 2 sources pending")
	_, err = Run(ctx, d, inc.ID, RunOptions{DryRun: true})
	refused("dry run", err, "2 of 2 sources pending")
	if _, _, err := d.Store.FinishTrace(ctx, inc.ID, store.TraceSource{Seq: seqs[0], State: store.TraceDone}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = Run(ctx, d, inc.ID, RunOptions{})
	refused("run", err, "1 of 2 sources pending")
	if _, ok, err := d.Store.GetPlan(ctx, inc.ID); err != nil || ok {
		t.Fatalf("a plan was stored while tracing: %v, %v", ok, err)
	}
	if _, _, err := d.Store.FinishTrace(ctx, inc.ID, store.TraceSource{Seq: seqs[1], State: store.TraceFailed, Error: "gone"}, nil); err != nil {
		t.Fatal(err)
	}
	p, err := Plan(ctx, d, inc.ID, plan.Graceful)
	if err != nil {
		t.Fatalf("plan once the tracing is done: %v", err)
	}
	// A tracing started once the run has changed a system does not stop
	// the run from going on.
	if err := d.Store.PutStep(ctx, inc.ID, store.Step{StepID: p.Steps[0].ID, State: engine.Done}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store.StartTrace(ctx, inc.ID, []byte("k\nsealed"), []store.TraceSource{{Type: "dir", Path: "/srv/c"}}); err != nil {
		t.Fatal(err)
	}
	if err := RunTracingDone(ctx, d.Store, inc.ID); err != nil {
		t.Errorf("a started run while tracing: %v", err)
	}
	if err := TracingDone(ctx, d.Store, inc.ID, "plan"); errs.KindOf(err) != errs.Conflict {
		t.Errorf("planning over it: %v", err)
	}
}

// TestEmergencyDoesNotWaitForTheTracing: containment under abuse (the
// watcher's, or a person's emergency plan) is planned and run while
// sources are still pending; other strategies wait.
func TestEmergencyDoesNotWaitForTheTracing(t *testing.T) {
	ctx := context.Background()
	d, inc := planned(t)
	if _, err := d.Store.StartTrace(ctx, inc.ID, []byte("k\nsealed"), []store.TraceSource{{Type: "dir", Path: "/srv/a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(ctx, d, inc.ID, plan.Graceful); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("graceful plan while tracing: %v, want a conflict", err)
	}
	p, err := Plan(ctx, d, inc.ID, plan.Emergency)
	if err != nil {
		t.Fatalf("emergency plan while tracing: %v", err)
	}
	if p.Strategy != plan.Emergency {
		t.Fatalf("strategy %s", p.Strategy)
	}
	if _, err := Run(ctx, d, inc.ID, RunOptions{DryRun: true}); errs.KindOf(err) == errs.Conflict {
		t.Errorf("emergency dry run while tracing: %v", err)
	}
}
