package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/broker/identity"
	"github.com/rekeyhq/rekey/internal/broker/leasetest"
	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/postgres"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// leaseWorld is a broker on the package's cluster, a consumer whose
// config an agent would write, and an incident on the role's template
// with a plan of the broker's two steps.
func leaseWorld(t *testing.T) (*leasetest.Env, Deps, string) {
	t.Helper()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "api.env")
	if err := os.WriteFile(envFile, []byte("DATABASE_URL=postgres://old:old@127.0.0.1/postgres\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := leasetest.New(t, "consumers:\n  - { name: api, identity: TEMPLATE, jit: { role: rw }, deliver: { type: file, path: "+envFile+", format: dotenv, key: DATABASE_URL } }\n")
	ctx := context.Background()
	inc, _, err := e.Store.OpenIncident(ctx, store.Incident{Fingerprint: secret.Fingerprint(strings.Repeat("ab", 32)),
		Identity: store.IdentityRef{System: "shop-db", Name: e.Template}})
	if err != nil {
		t.Fatal(err)
	}
	key := "shop-db/" + e.Template
	putPlan(t, e.Store, inc.ID, &plan.Plan{Incident: inc.ID, Strategy: plan.JIT, Steps: []plan.Step{
		{ID: "move-to-lease:api", Kind: plan.MoveToLease, Target: "api", System: "shop-db", Identity: e.Template, Consumer: "api", Role: "rw", Needs: []string{}},
		{ID: "revoke-leases:" + key, Kind: plan.RevokeLeases, Target: key, System: "shop-db", Identity: e.Template, Needs: []string{"move-to-lease:api"}},
	}})
	pg, err := postgres.New(ctx, provider.Config{System: "shop-db", Admin: secret.FromString(e.Cluster.AdminURL())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	d := testDeps(e.Store, e.Inventory, dir, inc.ID, func(context.Context, string) (provider.Provider, error) { return pg, nil })
	d.Audit = e.Audit
	d.SeenTimeout = 300 * time.Millisecond
	d.Leases = func(context.Context) (Leases, error) { return e.Leases, nil }
	return e, d, envFile
}

// issue gives the consumer a lease as its agent would: issued for a
// workload and written into its config.
func issue(t *testing.T, e *leasetest.Env, d Deps, write bool) *broker.Lease {
	t.Helper()
	ctx := context.Background()
	dec, err := e.Broker.Authorize(ctx, &identity.Workload{IssuerName: "k8s", Issuer: e.Issuer.URL, Subject: leasetest.Subject}, "rw", 0, "127.0.0.1")
	if err != nil || !dec.Allowed {
		t.Fatalf("decision: %v %+v", err, dec)
	}
	l, err := e.Leases.Issue(ctx, dec)
	if err != nil {
		t.Fatal(err)
	}
	if !write {
		return l
	}
	tg, err := d.Target(e.Inventory.ConsumerByName("api"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Write(ctx, deliver.Value{User: l.Login, Secret: l.Secret}); err != nil {
		t.Fatal(err)
	}
	return l
}

// move-to-lease waits for the consumer's agent and says what to start;
// once the config holds a lease it is done, and revoke-leases ends every
// lease of the identity, audited with the run's actor, and is done again
// when resumed.
func TestBrokerSteps(t *testing.T) {
	e, d, _ := leaseWorld(t)
	ctx := context.Background()
	en, err := New(ctx, d, mustIncident(t, d))
	if err != nil {
		t.Fatal(err)
	}
	res, err := en.Run(ctx)
	if err == nil && res.State == store.RunDone {
		t.Fatal("move-to-lease passed with no lease in the config")
	}
	if st := stepResult(res, "move-to-lease:api"); st.State != Failed || !strings.Contains(st.Error, "start its agent (rekey agent --role rw") {
		t.Fatalf("move-to-lease without a lease: %+v", st)
	}

	issue(t, e, d, false) // another workload's lease of the identity
	held := issue(t, e, d, true)
	if en, err = New(ctx, d, mustIncident(t, d)); err != nil {
		t.Fatal(err)
	}
	res, err = en.Run(ctx)
	if err != nil || res.State != store.RunDone {
		t.Fatalf("run: %v %+v", err, res)
	}
	if st := stepResult(res, "move-to-lease:api"); !strings.Contains(st.Detail, held.Login) {
		t.Fatalf("move-to-lease: %+v", st)
	}
	if st := stepResult(res, "revoke-leases:shop-db/"+e.Template); !strings.Contains(st.Detail, "2 lease(s)") {
		t.Fatalf("revoke-leases: %+v", st)
	}
	if n := len(e.Active(t)); n != 0 {
		t.Fatalf("%d leases still active", n)
	}
	if _, err := e.Connect(ctx, held.Login, string(held.Secret.Reveal())); err == nil {
		t.Fatal("a revoked lease still logs in")
	}
	all, _ := e.Store.AuditLog(ctx)
	n := 0
	for _, en := range all {
		if en.Action == broker.ActionRevoke && strings.Contains(string(en.Detail), `"by":"alice"`) {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d lease revocations audited by the run's actor, want 2", n)
	}
	// Resumed, the step finds nothing left and stays done.
	if en, err = New(ctx, d, mustIncident(t, d)); err != nil {
		t.Fatal(err)
	}
	if res, err = en.Run(ctx); err != nil || res.State != store.RunDone {
		t.Fatalf("again: %v %+v", err, res)
	}
	l, _ := d.Leases(ctx)
	if n, err := l.RevokeIdentity(ctx, provider.IdentityRef{System: "shop-db", Name: e.Template}, "alice"); err != nil || n != 0 {
		t.Fatalf("revoking again: %d %v", n, err)
	}
}

func mustIncident(t *testing.T, d Deps) string {
	t.Helper()
	incs, err := d.Store.ListIncidents(context.Background(), store.Filter{})
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents: %v %v", incs, err)
	}
	return incs[0].ID
}

func stepResult(r Result, id string) StepResult {
	for _, s := range r.Steps {
		if s.ID == id {
			return s
		}
	}
	return StepResult{}
}
