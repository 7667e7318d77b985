package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/deliver/file"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/postgres"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.PostgresMain(m)) }

// world is one shared-password incident on the package's cluster: a role
// with a table it may read, consumers that read their dotenv file on every
// loop, an incident with a stored plan, and the engine's dependencies.
type world struct {
	t         testing.TB
	c         *testutil.PGCluster
	role      string
	password  string
	dir       string
	st        store.Store
	inc       store.Incident
	inv       *inventory.Inventory
	deps      Deps
	consumers map[string]*testutil.PGConsumer
	risky     bool
	related   []plan.Related
	stop      context.CancelFunc
	wg        sync.WaitGroup
}

type worldOpts struct {
	consumers []string
	strategy  plan.Strategy
	health    map[string]string // consumer → health command (default: its status file says ok)
	policy    string
	// risky gives the identity CREATEROLE, which the scope reports as a
	// privilege that creates credentials (not kept).
	risky bool
	// related are derived credentials the plan is given.
	related []plan.Related
}

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	c := testutil.SharedPostgres(t)
	w := &world{t: t, c: c, role: testutil.RandomName("orders_"), password: "Leaked-" + testutil.RandomName("pw"),
		dir: t.TempDir(), consumers: map[string]*testutil.PGConsumer{}}
	attrs := ""
	if o.risky {
		attrs = "CREATEROLE"
	}
	c.CreateRole(t, w.role, w.password, attrs)
	w.risky = o.risky
	table := w.role + "_orders"
	c.Exec(t, fmt.Sprintf("CREATE TABLE %s (id int); INSERT INTO %s VALUES (1); GRANT SELECT ON %s TO %s",
		table, table, table, testutil.QuoteIdent(w.role)))
	t.Cleanup(func() {
		// Roles the run issued are members of the identity: drop them first.
		rows := w.query(fmt.Sprintf("SELECT rolname FROM pg_roles WHERE rolname LIKE '%s%%' ORDER BY length(rolname) DESC", w.role))
		for _, r := range rows {
			c.Exec(t, "DROP OWNED BY "+testutil.QuoteIdent(r)+"; DROP ROLE IF EXISTS "+testutil.QuoteIdent(r))
		}
		c.Exec(t, "DROP TABLE IF EXISTS "+table)
	})

	var yml strings.Builder
	fmt.Fprintf(&yml, "version: 1\nsystems:\n  - name: shop-db\n    type: postgres\n    admin: env:SHOP_DB_ADMIN\n")
	fmt.Fprintf(&yml, "identities:\n  - name: %s\n    system: shop-db\n    owner: { team: orders, contact: \"#orders\" }\nconsumers:\n", w.role)
	for _, name := range o.consumers {
		env := filepath.Join(w.dir, name+".env")
		status := filepath.Join(w.dir, name+".status")
		url := c.URL(w.role, w.password, "postgres")
		if err := os.WriteFile(env, []byte("# "+name+" settings\nPORT=8080\nDATABASE_URL="+url+"\nLOG_LEVEL=info\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		health := o.health[name]
		if health == "" {
			health = "grep -q '^ok' " + status
		}
		fmt.Fprintf(&yml, "  - name: %s\n    identity: %s\n    deliver: { type: file, path: %s, format: dotenv, key: DATABASE_URL }\n    health: %q\n    sources: [\"app:%s\"]\n",
			name, w.role, env, health, name)
		w.consumers[name] = &testutil.PGConsumer{File: env, Key: "DATABASE_URL", Status: status, App: name,
			Query: "SELECT count(*) FROM " + table, Interval: 20 * time.Millisecond}
	}
	yml.WriteString(o.policy)
	inv, rep, err := inventory.Parse(filepath.Join(w.dir, "inventory.yml"), []byte(yml.String()),
		inventory.Options{Getenv: func(string) string { return c.AdminURL() }})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v\n%s", err, rep.Errors, yml.String())
	}
	w.inv = inv

	st, err := sqlite.Open(context.Background(), filepath.Join(w.dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	fp := sha256.Sum256([]byte(w.password))
	w.inc, _, err = st.OpenIncident(context.Background(), store.Incident{Fingerprint: secret.Fingerprint(hex.EncodeToString(fp[:])),
		Identity: store.IdentityRef{System: "shop-db", Name: w.role}})
	if err != nil {
		t.Fatal(err)
	}
	w.related = o.related
	w.storePlan(o.strategy)

	var mu sync.Mutex
	provs := map[string]provider.Provider{}
	t.Cleanup(func() {
		for _, p := range provs {
			p.Close()
		}
	})
	w.deps = testDeps(st, inv, w.dir, w.inc.ID, func(ctx context.Context, system string) (provider.Provider, error) {
		mu.Lock()
		defer mu.Unlock()
		if p := provs[system]; p != nil {
			return p, nil
		}
		p, err := postgres.New(ctx, provider.Config{System: system, Admin: secret.FromString(c.AdminURL())})
		if err == nil {
			provs[system] = p
		}
		return p, err
	})
	return w
}

// testDeps are what the engine tests share: the store, an audit log with
// its witness, a run's sealer, file targets and short waits.
func testDeps(st store.Store, inv *inventory.Inventory, dir, incident string,
	prov func(context.Context, string) (provider.Provider, error)) Deps {
	base, _ := secret.NewSealer(make([]byte, 32))
	return Deps{
		Store: st, Audit: audit.New(st, filepath.Join(dir, "audit.witness")), Inventory: inv,
		Sealer: base.ForRun(filepath.Join(dir, secret.RunKeyDir), incident), Actor: "alice", Provider: prov,
		Target:      func(c *inventory.Consumer) (deliver.Target, error) { return file.FromInventory(inv, c.Deliver) },
		HealthRetry: deliver.Retry{Deadline: 5 * time.Second, Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		SeenTimeout: 5 * time.Second,
	}
}

// putPlan stores p as the incident's plan.
func putPlan(t testing.TB, st store.Store, incident string, p *plan.Plan) {
	t.Helper()
	body, _ := json.Marshal(p)
	if err := st.PutPlan(context.Background(), incident, store.Plan{Strategy: string(p.Strategy), Body: body}); err != nil {
		t.Fatal(err)
	}
}

func (w *world) storePlan(strategy plan.Strategy) {
	w.t.Helper()
	var cs []scope.Consumer
	for name := range w.consumers {
		cs = append(cs, scope.Consumer{Name: name, Declared: true})
	}
	sc := scope.Scope{Incident: w.inc.ID,
		Identity:  scope.Identity{Status: "identified", Name: w.role, System: "shop-db", Declared: true, CanLogin: true, Privileges: []scope.Privilege{}},
		Consumers: cs, Flags: scope.Flags{Shared: len(cs) > 1}}
	if w.risky {
		sc.Identity.Privileges = append(sc.Identity.Privileges, scope.Privilege{Name: "CREATEROLE", Risk: "high", CreatesCredentials: true})
		sc.Flags.OverPrivileged = true
	}
	p, err := plan.Build(plan.Input{Scope: sc, Inventory: w.inv, Strategy: strategy, Related: w.related,
		CanChangeLogin: func(*inventory.Consumer) bool { return true }})
	if err != nil {
		w.t.Fatal(err)
	}
	putPlan(w.t, w.st, w.inc.ID, p)
}

func (w *world) startConsumers() {
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	for _, c := range w.consumers {
		w.wg.Add(1)
		go func() { defer w.wg.Done(); c.Run(ctx) }()
	}
	w.t.Cleanup(w.stopConsumers)
	// Every consumer is up on the leaked secret before the response starts.
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range w.consumers {
		for c.OK.Load() == 0 {
			if time.Now().After(deadline) {
				w.t.Fatalf("consumer %s never worked: %s", c.File, c.LastError())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (w *world) stopConsumers() {
	if w.stop != nil {
		w.stop()
		w.wg.Wait()
		w.stop = nil
	}
}

func (w *world) engine() *Engine {
	w.t.Helper()
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *world) query(q string) []string {
	w.t.Helper()
	conn := w.c.Connect(w.t, "postgres", w.c.AdminPassword(), "engine-test")
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// login tries a fresh connection as user/password.
func (w *world) login(user, password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, w.c.URL(user, password, "postgres"))
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func TestSplitRotationWithoutDowntime(t *testing.T) {
	w := newWorld(t, worldOpts{consumers: []string{"orders-api", "billing", "reports"}, strategy: plan.Split})
	w.startConsumers()

	// An attacker holds a session with the leaked password and keeps
	// trying new ones.
	attacker := w.c.Connect(t, w.role, w.password, "attacker")

	// What someone copying the store mid-run would get: every sealed blob.
	captured := map[string][]byte{}
	var capturing sync.Mutex // steps of one wave run at once
	w.deps.Failpoint = func(string, string) {
		capturing.Lock()
		defer capturing.Unlock()
		names, err := w.st.SealedNames(context.Background(), w.inc.ID)
		if err != nil {
			t.Error(err)
		}
		for _, n := range names {
			if b, ok, err := w.st.Sealed(context.Background(), w.inc.ID, n); err == nil && ok {
				captured[n] = b
			}
		}
	}
	res, err := w.engine().Run(context.Background())
	if err != nil {
		t.Fatalf("run: %v\n%+v", err, res)
	}
	if res.State != store.RunDone {
		t.Fatalf("run state %s", res.State)
	}
	time.Sleep(200 * time.Millisecond) // a few more loops on the new logins
	w.stopConsumers()

	logins := map[string]bool{}
	for name, c := range w.consumers {
		if n := c.Fail.Load(); n != 0 {
			t.Errorf("consumer %s saw %d failures (last: %s)", name, n, c.LastError())
		}
		if c.Login() == w.role {
			t.Errorf("consumer %s still uses the shared login", name)
		}
		logins[c.Login()] = true
	}
	if len(logins) != 3 {
		t.Errorf("consumers hold logins %v, want one each", logins)
	}
	if err := w.login(w.role, w.password); err == nil {
		t.Error("the leaked password still authenticates")
	}
	if _, err := attacker.Exec(context.Background(), "SELECT 1"); err == nil {
		t.Error("the attacker's open session survived")
	}
	// Nothing left sealed: every new secret was delivered and wiped, and
	// the originals kept for rollback went with the revoke.
	if names, _ := w.st.SealedNames(context.Background(), w.inc.ID); len(names) != 0 {
		t.Errorf("still sealed after the run: %v", names)
	}
	// Wiped means gone: not in the database's files, and a copy taken
	// before the wipe no longer opens, because the run's key went with
	// the last secret.
	if len(captured) < 3 {
		t.Fatalf("captured %d sealed blobs during the run, want at least one per new login", len(captured))
	}
	var files []byte
	for _, f := range []string{"rekey.db", "rekey.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(w.dir, f))
		files = append(files, b...)
	}
	for slot, blob := range captured {
		if bytes.Contains(files, []byte(base64.StdEncoding.EncodeToString(blob))) {
			t.Errorf("%s: the wiped blob is still in rekey.db or rekey.db-wal", slot)
		}
		if _, err := w.deps.Sealer.Open(blob, w.inc.ID+"/"+slot); !errors.Is(err, secret.ErrUnseal) {
			t.Errorf("%s: a copy taken during the run still opens after it: %v", slot, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(w.dir, secret.RunKeyDir)); len(ents) != 0 {
		t.Errorf("run keys left after the run: %v", ents)
	}
	leases, _ := w.st.Leases(context.Background(), store.LeaseFilter{IncidentID: w.inc.ID})
	if len(leases) != 3 {
		t.Fatalf("%d leases, want 3", len(leases))
	}
	for _, l := range leases {
		if l.Expires == nil || !l.Enforced || l.State != store.LeaseActive {
			t.Errorf("lease %+v: want an enforced expiry", l)
		}
	}
	rep, err := w.deps.Audit.Verify(context.Background())
	if err != nil || !rep.OK() || rep.Entries < 20 {
		t.Errorf("audit: %+v %v", rep, err)
	}
	// A second run (or --resume after the end) does nothing more.
	res, err = w.engine().Run(context.Background())
	if err != nil || res.State != store.RunDone {
		t.Errorf("second run: %v %s", err, res.State)
	}
}

func TestFailedVerifyHoldsBackTheRevoke(t *testing.T) {
	w := newWorld(t, worldOpts{consumers: []string{"orders-api", "billing"}, strategy: plan.Split,
		health: map[string]string{"billing": "echo billing: /healthz answered 503 >&2; exit 1"}})
	w.deps.HealthRetry = deliver.Retry{Deadline: 300 * time.Millisecond, Initial: 50 * time.Millisecond}
	w.startConsumers()
	res, err := w.engine().Run(context.Background())
	if !errors.Is(err, ErrStepFailed) || !strings.Contains(err.Error(), "billing") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("run error %v: want a failed step naming billing and its output", err)
	}
	if res.State != store.RunFailed {
		t.Errorf("run state %s", res.State)
	}
	for _, s := range res.Steps {
		if s.Kind == plan.Revoke && s.State != Pending {
			t.Errorf("revoke is %s after a failed verify", s.State)
		}
	}
	if err := w.login(w.role, w.password); err != nil {
		t.Errorf("the old credential stopped working before every consumer was verified: %v", err)
	}

	// The fix: billing's health check passes now. --resume finishes.
	w.inv.ConsumerByName("billing").Health = "true"
	res, err = w.engine().Run(context.Background())
	if err != nil || res.State != store.RunDone {
		t.Fatalf("resume after the fix: %v %s", err, res.State)
	}
	if err := w.login(w.role, w.password); err == nil {
		t.Error("the leaked password still works after the resumed run")
	}
}

// crash is what the failpoint panics with.
type crash struct{ at string }

// crashAt runs the incident's plan until the failpoint at returns true
// and "kills" the run there: a panic out of the failpoint leaves the
// store exactly as a killed process would. The run must reach it.
func crashAt(t *testing.T, d Deps, incident string, at func(id, phase string) bool) {
	t.Helper()
	d.Failpoint = func(id, phase string) {
		if at(id, phase) {
			panic(crash{id + "/" + phase})
		}
	}
	e, err := New(context.Background(), d, incident)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
		}
	}()
	e.Run(context.Background())
	t.Fatal("the run did not reach the failpoint")
}

// TestCrashAtEveryBoundaryResumes kills the run (a panic out of the
// failpoint leaves the store exactly as a killed process would) before
// and after every step's side effect, then resumes: the plan finishes,
// with one login per consumer, each consumer on a working secret, and
// nothing left sealed. The CLI test does the same with SIGKILL.
func TestCrashAtEveryBoundaryResumes(t *testing.T) {
	probe := newWorld(t, worldOpts{consumers: []string{"api", "billing"}, strategy: plan.Split})
	type boundary struct {
		step  int
		phase string
	}
	var points []boundary
	for i := range probe.engine().Plan().Steps {
		points = append(points, boundary{i, "before"}, boundary{i, "after"})
	}
	for _, b := range points {
		kind := probe.engine().Plan().Steps[b.step].Kind
		t.Run(fmt.Sprintf("%d-%s-%s", b.step, kind, b.phase), func(t *testing.T) {
			w := newWorld(t, worldOpts{consumers: []string{"api", "billing"}, strategy: plan.Split})
			w.startConsumers()
			point := w.engine().Plan().Steps[b.step].ID + "/" + b.phase
			crashAt(t, w.deps, w.inc.ID, func(id, phase string) bool { return id+"/"+phase == point })
			res, err := w.engine().Run(context.Background())
			if err != nil || res.State != store.RunDone {
				t.Fatalf("resume after a crash at %s: %v %+v", point, err, res)
			}
			time.Sleep(100 * time.Millisecond)
			w.stopConsumers()
			issued := w.query(fmt.Sprintf("SELECT rolname FROM pg_roles WHERE rolname LIKE '%s\\_%%' ORDER BY 1", w.role))
			if len(issued) != 2 {
				t.Errorf("issued logins %v, want exactly one per consumer", issued)
			}
			for name, c := range w.consumers {
				if c.Login() == w.role || c.Fail.Load() > 0 {
					t.Errorf("consumer %s: login %s, %d failures (%s)", name, c.Login(), c.Fail.Load(), c.LastError())
				}
			}
			if names, _ := w.st.SealedNames(context.Background(), w.inc.ID); len(names) != 0 {
				t.Errorf("still sealed: %v", names)
			}
			if err := w.login(w.role, w.password); err == nil {
				t.Error("the leaked password still works")
			}
		})
	}
}
