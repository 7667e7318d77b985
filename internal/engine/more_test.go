package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/postgres"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func TestEmergencyCutsOffFirstThenConsumersRecover(t *testing.T) {
	w := newWorld(t, worldOpts{consumers: []string{"orders-api", "billing"}, strategy: plan.Emergency})
	w.startConsumers()
	attacker := w.c.Connect(t, w.role, w.password, "attacker")

	// Time to contain: from the start of the run until the leaked secret
	// is refused, watched from outside by a prober.
	start := time.Now()
	dead := make(chan time.Duration, 1)
	go func() {
		for time.Since(start) < 30*time.Second {
			if w.login(w.role, w.password) != nil {
				dead <- time.Since(start)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		dead <- -1
	}()
	res, err := w.engine().Run(context.Background())
	if err != nil || res.State != store.RunDone {
		t.Fatalf("run: %v %+v", err, res)
	}
	contained := <-dead
	if contained < 0 {
		t.Fatal("the leaked password kept working")
	}
	t.Logf("time to contain: %s (run took %s)", contained, time.Since(start))
	if _, err := attacker.Exec(context.Background(), "SELECT 1"); err == nil {
		t.Error("the attacker's session survived")
	}
	time.Sleep(200 * time.Millisecond)
	w.stopConsumers()
	for name, c := range w.consumers {
		// Emergency trades availability for containment: failures are
		// expected, but each consumer must be back on a login of its own.
		if c.Login() == w.role {
			t.Errorf("%s still on the leaked login", name)
		}
		t.Logf("%s: %d failures, outages %v", name, c.Fail.Load(), c.Outages())
	}
	// The revoke ran before any replacement was issued.
	var revoked, firstIssue time.Time
	for _, s := range res.Steps {
		if s.Kind == plan.Revoke {
			revoked = *s.Finished
		}
		if s.Kind == plan.Issue && (firstIssue.IsZero() || s.Started.Before(firstIssue)) {
			firstIssue = *s.Started
		}
	}
	if !revoked.Before(firstIssue) {
		t.Errorf("revoke finished %s, first issue started %s", revoked, firstIssue)
	}
}

func TestApprovalBySomeoneElse(t *testing.T) {
	w := newWorld(t, worldOpts{consumers: []string{"api"}, strategy: plan.Graceful, policy: "policy:\n  approve: [revoke]\n"})
	w.startConsumers()
	_, err := w.engine().Run(context.Background())
	if !errors.Is(err, ErrWaiting) || !strings.Contains(err.Error(), "revoke:") {
		t.Fatalf("run: %v, want it waiting for the revoke's approval", err)
	}
	if err := w.login(w.role, w.password); err != nil {
		t.Fatalf("the old secret stopped working while the revoke waits: %v", err)
	}
	e := w.engine()
	revoke := ""
	for _, st := range e.Plan().Steps {
		if st.Kind == plan.Revoke {
			revoke = st.ID
		}
	}
	// The opener under another spelling of her name is still the opener.
	for _, as := range []string{"alice", "alice ", "Alice", " ALICE\t", "ａｌｉｃｅ", "alice\u00a0"} {
		if err := e.Approve(context.Background(), revoke, as, "alice"); errs.KindOf(err) != errs.Permission {
			t.Fatalf("the opener approved their own incident as %q: %v", as, err)
		}
	}
	// A Cyrillic look-alike is refused as a name, and a blank one too.
	for _, as := range []string{"аlice", "   "} {
		if err := e.Approve(context.Background(), revoke, as, "alice"); errs.KindOf(err) != errs.Invalid {
			t.Fatalf("approval as %q: %v, want an invalid name", as, err)
		}
	}
	if st, _ := w.st.Steps(context.Background(), w.inc.ID); slices.ContainsFunc(st, func(s store.Step) bool { return s.ApprovedBy != "" }) {
		t.Fatal("a refused approval was recorded")
	}
	if err := e.Approve(context.Background(), "verify:api", "bob", "alice"); errs.KindOf(err) != errs.Invalid {
		t.Errorf("approving a step that needs none: %v", err)
	}
	if err := e.Approve(context.Background(), revoke, "bob", "alice"); err != nil {
		t.Fatal(err)
	}
	res, err := w.engine().Run(context.Background())
	if err != nil || res.State != store.RunDone {
		t.Fatalf("after the approval: %v %s", err, res.State)
	}
	log, _ := w.st.AuditLog(context.Background())
	approved := false
	for _, a := range log {
		approved = approved || a.Action == "step.approved" && a.Actor == "bob"
	}
	if !approved {
		t.Error("the approval is not in the audit log with its actor")
	}
}

func TestRollbackBeforeRevokeRestoresConsumers(t *testing.T) {
	w := newWorld(t, worldOpts{consumers: []string{"api", "billing"}, strategy: plan.Split,
		health: map[string]string{"billing": "exit 1"}})
	w.deps.HealthRetry.Deadline = 200 * time.Millisecond
	before := map[string][]byte{}
	for name, c := range w.consumers {
		b, _ := os.ReadFile(c.File)
		before[name] = b
	}
	w.startConsumers()
	if _, err := w.engine().Run(context.Background()); !errors.Is(err, ErrStepFailed) {
		t.Fatalf("run: %v", err)
	}
	res, err := w.engine().Rollback(context.Background())
	if err != nil || res.State != store.RunRolledBack {
		t.Fatalf("rollback: %v %s", err, res.State)
	}
	time.Sleep(150 * time.Millisecond)
	w.stopConsumers()
	for name, c := range w.consumers {
		b, _ := os.ReadFile(c.File)
		if string(b) != string(before[name]) {
			t.Errorf("%s's file after rollback:\n%s\nwant\n%s", name, b, before[name])
		}
		if c.Login() != w.role {
			t.Errorf("%s is on %s after rollback", name, c.Login())
		}
	}
	if issued := w.query("SELECT rolname FROM pg_roles WHERE rolname LIKE '" + w.role + "\\_%'"); len(issued) != 0 {
		t.Errorf("logins left after rollback: %v", issued)
	}
	if names, _ := w.st.SealedNames(context.Background(), w.inc.ID); len(names) != 0 {
		t.Errorf("still sealed after rollback: %v", names)
	}
	leases, _ := w.st.Leases(context.Background(), store.LeaseFilter{IncidentID: w.inc.ID, State: store.LeaseActive})
	if len(leases) != 0 {
		t.Errorf("active leases after rollback: %v", leases)
	}
	if err := w.login(w.role, w.password); err != nil {
		t.Errorf("the original credential does not work after rollback: %v", err)
	}
}

func TestRollbackAfterRevokeIsRefused(t *testing.T) {
	w := newWorld(t, worldOpts{consumers: []string{"api"}, strategy: plan.Emergency})
	w.startConsumers()
	if _, err := w.engine().Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.engine().Rollback(context.Background()); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("rollback after the revoke: %v", err)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	w := newWorld(t, worldOpts{consumers: []string{"api", "billing"}, strategy: plan.Split})
	files := map[string][]byte{}
	for name, c := range w.consumers {
		files[name], _ = os.ReadFile(c.File)
	}
	acts, err := w.engine().DryRun(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, a := range acts {
		text.WriteString(string(a.Kind) + " " + a.Target + ": " + a.What + "\n" + a.Change + "\n")
	}
	for _, want := range []string{"DATABASE_URL (url): user, password", "create login " + w.role + "_api", "api.env:3"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("dry run does not say %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), w.password) || strings.Contains(text.String(), "placeholder") {
		t.Errorf("dry run shows a secret:\n%s", text.String())
	}
	for name, c := range w.consumers {
		if b, _ := os.ReadFile(c.File); string(b) != string(files[name]) {
			t.Errorf("dry run changed %s", c.File)
		}
	}
	if steps, _ := w.st.Steps(context.Background(), w.inc.ID); len(steps) != 0 {
		t.Errorf("dry run wrote step states: %v", steps)
	}
	if issued := w.query("SELECT rolname FROM pg_roles WHERE rolname LIKE '" + w.role + "\\_%'"); len(issued) != 0 {
		t.Errorf("dry run created logins: %v", issued)
	}
}

func TestIsolateDropsPrivilegeAndCutsOnlyUndeclaredSessions(t *testing.T) {
	w := newWorld(t, worldOpts{consumers: []string{"api", "billing"}, strategy: plan.Split, risky: true})
	w.startConsumers()
	attacker := w.c.Connect(t, w.role, w.password, "exfil")
	iso := ""
	for _, st := range w.engine().Plan().Steps {
		if st.Kind == plan.Isolate {
			iso = st.ID
		}
	}
	if iso == "" {
		t.Fatal("no isolate step for an identity with CREATEROLE")
	}
	// Stop right after the isolation to look at the world then.
	d := w.deps
	d.Failpoint = func(id, phase string) {
		if id == iso && phase == "after" {
			panic(crash{iso})
		}
	}
	e, err := New(context.Background(), d, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { recover() }()
		e.Run(context.Background())
	}()
	if _, err := attacker.Exec(context.Background(), "SELECT 1"); err == nil {
		t.Error("the session from an undeclared application survived the isolation")
	}
	if got := w.query("SELECT rolcreaterole::text FROM pg_roles WHERE rolname = '" + w.role + "'"); len(got) != 1 || got[0] != "false" {
		t.Errorf("CREATEROLE after isolation: %v", got)
	}
	time.Sleep(100 * time.Millisecond)
	for name, c := range w.consumers {
		if c.Fail.Load() != 0 {
			t.Errorf("declared consumer %s failed during the isolation: %s", name, c.LastError())
		}
	}
	res, err := w.engine().Run(context.Background())
	if err != nil || res.State != store.RunDone {
		t.Fatalf("resume: %v %s", err, res.State)
	}
	if got := w.query("SELECT rolname FROM pg_roles WHERE rolname LIKE '" + w.role + "\\_%' AND rolcreaterole"); len(got) != 0 {
		t.Errorf("replacements with CREATEROLE: %v", got)
	}
}

// TestBackdoorLoginIsRevokedAfterApproval: a role the leaked credential
// created during its exposure (the review's derived credential) is
// disabled and its session ended, once a person confirms.
func TestBackdoorLoginIsRevokedAfterApproval(t *testing.T) {
	c := testutil.SharedPostgres(t)
	backdoor := testutil.RandomName("backup_admin_")
	w := newWorld(t, worldOpts{consumers: []string{"api"}, strategy: plan.Split, risky: true,
		related: []plan.Related{{Name: backdoor, Kind: "role", Why: "CREATE ROLE during the exposure"}}})
	// The attacker, logged in with the leaked password, made itself a
	// login of its own, and keeps a session open with it.
	leaked := c.Connect(t, w.role, w.password, "exfil")
	if _, err := leaked.Exec(context.Background(), "CREATE ROLE "+backdoor+" LOGIN PASSWORD 'Backd00r-pass'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Exec(t, "DROP ROLE IF EXISTS "+backdoor) })
	session := c.Connect(t, backdoor, "Backd00r-pass", "exfil")
	w.startConsumers()

	_, err := w.engine().Run(context.Background())
	if !errors.Is(err, ErrWaiting) || !strings.Contains(err.Error(), "revoke-related:") {
		t.Fatalf("run: %v, want it waiting for the confirmation of the revoke-related step", err)
	}
	if err := w.login(backdoor, "Backd00r-pass"); err != nil {
		t.Fatalf("the backdoor was disabled before anyone confirmed: %v", err)
	}
	step := "revoke-related:shop-db/" + backdoor
	if err := w.engine().Approve(context.Background(), step, "bob", "alice"); err != nil {
		t.Fatal(err)
	}
	if res, err := w.engine().Run(context.Background()); err != nil || res.State != store.RunDone {
		t.Fatalf("after the confirmation: %v %s", err, res.State)
	}
	if err := w.login(backdoor, "Backd00r-pass"); err == nil {
		t.Error("the backdoor login still works")
	}
	if _, err := session.Exec(context.Background(), "SELECT 1"); err == nil {
		t.Error("the backdoor's session survived")
	}
}

// TestVerifyByConnectionLog: a consumer that connects only now and then
// holds no session to see; a successful login of the new credential in
// the server's connection log after rekey's own check verifies it.
func TestVerifyByConnectionLog(t *testing.T) {
	c := testutil.SharedPostgres(t)
	// The health check is the consumer's own brief job: it logs in with
	// what its file now holds, runs one query and leaves; it returns only
	// once the server no longer lists its backend, which outlives the
	// client for a moment and was seen as an open session of the login.
	health := func(w *world) string {
		env := filepath.Join(w.dir, "api.env")
		return "pid=$(psql \"$(sed -n 's/^DATABASE_URL=//p' " + env + ")\" -Atqc 'select pg_backend_pid()') && " +
			"until [ \"$(psql '" + c.AdminURL() + "' -Atqc \"select count(*) from pg_stat_activity where pid = $pid\")\" = 0 ]; do sleep 0.02; done"
	}
	logins := func(ctx context.Context, _, login string, since time.Time) ([]logs.Event, error) {
		c.LogRecords(t) // the server has flushed its log
		files, _ := filepath.Glob(filepath.Join(c.LogDir, "*.csv"))
		var out []logs.Event
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				return nil, err
			}
			_, err = postgres.NewCSV().Parse(ctx, f, fh, func(e logs.Event) error {
				if e.Credential == login && e.Action == "connect" && e.Outcome == logs.Success && !e.Time.Before(since) {
					out = append(out, e)
				}
				return nil
			})
			fh.Close()
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for _, withLog := range []bool{false, true} {
		t.Run(map[bool]string{false: "without the log", true: "with the log"}[withLog], func(t *testing.T) {
			w := newWorld(t, worldOpts{consumers: []string{"api"}, strategy: plan.Graceful})
			w.inv.ConsumerByName("api").Health = health(w)
			w.inv.ConsumerByName("api").Sources = nil // any source will do
			w.deps.SeenTimeout = 1500 * time.Millisecond
			if withLog {
				w.deps.Logins = logins
			}
			res, err := w.engine().Run(context.Background())
			if !withLog {
				if !errors.Is(err, ErrStepFailed) || !strings.Contains(err.Error(), "no session of login") {
					t.Fatalf("without a session or a log, verify must fail: %v", err)
				}
				return
			}
			if err != nil || res.State != store.RunDone {
				t.Fatalf("run: %v %+v", err, res)
			}
			for _, s := range res.Steps {
				if s.Kind == plan.Verify && !strings.Contains(s.Detail, "the connection log shows login") {
					t.Errorf("verify detail %q", s.Detail)
				}
			}
		})
	}
}
