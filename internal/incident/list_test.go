package incident

import (
	"context"
	"reflect"
	"testing"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/store"
)

func TestShowNamesItsOwnOpener(t *testing.T) {
	ctx := context.Background()
	d, _ := testDeps(t)
	a := openTest(t, d, "aa00000000000000000000000000000000000000000000000000000000000000", d.now())
	d.Actor = "bob"
	b := openTest(t, d, "bb00000000000000000000000000000000000000000000000000000000000000", d.now())
	// A later entry of a's naming another actor does not change who opened it.
	if _, err := d.Audit.Append(ctx, "carol", "incident.open", a.ID, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{a.ID: "alice", b.ID: "bob"} {
		s, err := Show(ctx, d, id)
		if err != nil || s.OpenedBy != want {
			t.Errorf("Show(%s): opened by %q, %v; want %s", id, s.OpenedBy, err, want)
		}
	}
	if who, err := Opener(ctx, d.Store, "INC-20261206-0000"); who != "" || err != nil {
		t.Errorf("an incident the log does not name: %q, %v", who, err)
	}
}

// readCounter counts the store reads a summary or a scope could make.
type readCounter struct {
	store.Store
	calls map[string]int
}

func (r *readCounter) Snapshot(ctx context.Context, id string, with ...store.SnapshotPart) (store.Snapshot, error) {
	r.calls["Snapshot"]++
	return r.Store.Snapshot(ctx, id, with...)
}

func (r *readCounter) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	r.calls["GetIncident"]++
	return r.Store.GetIncident(ctx, id)
}

func (r *readCounter) Occurrences(ctx context.Context, id string) ([]store.Occurrence, error) {
	r.calls["Occurrences"]++
	return r.Store.Occurrences(ctx, id)
}

func (r *readCounter) Identities(ctx context.Context, id string) ([]store.Identity, error) {
	r.calls["Identities"]++
	return r.Store.Identities(ctx, id)
}

func (r *readCounter) Consumers(ctx context.Context, id string) ([]store.Consumer, error) {
	r.calls["Consumers"]++
	return r.Store.Consumers(ctx, id)
}

func (r *readCounter) Events(ctx context.Context, id string) ([]store.Event, error) {
	r.calls["Events"]++
	return r.Store.Events(ctx, id)
}

func (r *readCounter) IncidentAudit(ctx context.Context, id string) ([]store.AuditEntry, error) {
	r.calls["IncidentAudit"]++
	return r.Store.IncidentAudit(ctx, id)
}

func (r *readCounter) GetPlan(ctx context.Context, id string) (store.Plan, bool, error) {
	r.calls["GetPlan"]++
	return r.Store.GetPlan(ctx, id)
}

func (r *readCounter) Reviews(ctx context.Context, id string) ([]store.Review, error) {
	r.calls["Reviews"]++
	return r.Store.Reviews(ctx, id)
}

// Show and Scope read the incident and its records in one transaction
// (one Snapshot), not one read each, and compute what the records say.
func TestShowAndScopeReadOneSnapshot(t *testing.T) {
	ctx := context.Background()
	d, _ := testDeps(t)
	inc := openTest(t, d, "cc00000000000000000000000000000000000000000000000000000000000000", d.now())
	inc.Identity = store.IdentityRef{System: "shop-db", Name: "orders_svc"}
	if err := d.Store.UpdateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	if err := d.Store.PutIdentity(ctx, inc.ID, store.Identity{System: "shop-db", Name: "orders_svc", Inspected: true, Exists: true, CanLogin: true,
		Privileges: []store.Privilege{{Name: "CREATEROLE", Risk: "high", CreatesCredentials: true}}}); err != nil {
		t.Fatal(err)
	}
	rc := &readCounter{Store: d.Store, calls: map[string]int{}}
	d.Store = rc
	s, err := Show(ctx, d, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.Identity != "shop-db/orders_svc" || s.Risk == 0 || s.OpenedBy != "alice" {
		t.Errorf("summary %+v: want the identity, a risk from its privileges, opened by alice", s)
	}
	if len(rc.calls) != 1 || rc.calls["Snapshot"] != 1 {
		t.Errorf("Show read %v, want one Snapshot", rc.calls)
	}
	clear(rc.calls)
	// Without a plan, the detail of GET /incidents/{id} is that one read.
	if det, err := ShowDetail(ctx, d, inc.ID); err != nil || det.OpenedBy != "alice" || det.Run != nil {
		t.Errorf("detail %+v, %v: want opened by alice and no run", det, err)
	}
	if len(rc.calls) != 1 || rc.calls["Snapshot"] != 1 {
		t.Errorf("ShowDetail read %v, want one Snapshot", rc.calls)
	}
	clear(rc.calls)
	sc, err := Scope(ctx, rc, inc, nil, d.now())
	if err != nil {
		t.Fatal(err)
	}
	if sc.Risk.Score != s.Risk || sc.Identity.Name != "orders_svc" {
		t.Errorf("scope risk %d, identity %+v; want the summary's risk %d and orders_svc", sc.Risk.Score, sc.Identity, s.Risk)
	}
	if len(rc.calls) != 1 || rc.calls["Snapshot"] != 1 {
		t.Errorf("Scope read %v, want one Snapshot", rc.calls)
	}
}

func (r *readCounter) Steps(ctx context.Context, id string) ([]store.Step, error) {
	r.calls["Steps"]++
	return r.Store.Steps(ctx, id)
}

// With a plan, GET /incidents/{id}'s detail reads the snapshot and the
// steps only (the incident and plan come with the snapshot), and its run
// is what the engine's Status says.
func TestShowDetailWithAPlanReadsTheStepsOnly(t *testing.T) {
	ctx := context.Background()
	d, inc := planned(t)
	if _, err := Plan(ctx, d, inc.ID, plan.Graceful); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(ctx, engine.Deps{Store: d.Store}, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rc := &readCounter{Store: d.Store, calls: map[string]int{}}
	d.Store = rc
	det, err := ShowDetail(ctx, d, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if det.Run == nil || !reflect.DeepEqual(*det.Run, want) || len(want.Steps) == 0 {
		t.Errorf("run %+v, want the engine's status %+v (with steps)", det.Run, want)
	}
	if len(rc.calls) != 2 || rc.calls["Snapshot"] != 1 || rc.calls["Steps"] != 1 {
		t.Errorf("ShowDetail read %v, want one Snapshot and the steps", rc.calls)
	}
}
