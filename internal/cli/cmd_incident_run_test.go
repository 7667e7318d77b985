package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// runConsumerProcess is the consumer workload of the end-to-end tests, run
// as its own process (see testutil.RunConsumerProcess).
func runConsumerProcess(spec string) int {
	return testutil.RunConsumerProcess(spec, os.Getenv("REKEY_TEST_QUERY"))
}

// rotationWorld is the proof setup of the rotation issue: a role whose
// password three consumer processes share, an inventory, an incident
// opened for the leaked password, and an attacker using it from a source
// no consumer declares.
type rotationWorld struct {
	t        *testing.T
	pg       *testutil.PGCluster
	role     string
	password string
	dir      string
	env      map[string]string
	// inventory is the inventory file's path.
	inventory string
	id        string
	procs     map[string]*exec.Cmd
	reports   map[string]string

	att *testutil.PGAttacker
}

var consumerNames = []string{"orders-api", "billing", "reports"}

// newRotationWorld builds the world; with attacked, the attacker is
// connected before the incident is opened, so the scope sees it.
func newRotationWorld(t *testing.T, attacked bool) *rotationWorld {
	t.Helper()
	w := newRotationWorldUnopened(t, "", attacked)
	r := run(t, w.env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", w.inventory)
	if r.code != 0 {
		t.Fatalf("open: %d %s", r.code, r.stderr)
	}
	w.id = strings.TrimSpace(r.stdout)
	return w
}

// newRotationWorldUnopened is the world before anyone opens an incident;
// extra is appended to its inventory.
func newRotationWorldUnopened(t *testing.T, extra string, attacked bool) *rotationWorld {
	t.Helper()
	pg := testutil.SharedPostgres(t)
	w := &rotationWorld{t: t, pg: pg, role: testutil.RandomName("shop_"), dir: t.TempDir(),
		procs: map[string]*exec.Cmd{}, reports: map[string]string{}}
	w.password = "Leaked-" + testutil.RandomName("pw") + "-Xq7"
	pg.CreateRole(t, w.role, w.password, "")
	table := w.role + "_orders"
	pg.Exec(t, fmt.Sprintf("CREATE TABLE %s (id int); INSERT INTO %s VALUES (1); GRANT SELECT ON %s TO %s", table, table, table, w.role))
	t.Cleanup(func() {
		conn := pg.Connect(t, "postgres", pg.AdminPassword(), "cleanup")
		rows, _ := conn.Query(context.Background(), "SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY length(rolname) DESC", w.role+"%")
		names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, r := range names {
			pg.Exec(t, "DROP OWNED BY "+testutil.QuoteIdent(r)+"; DROP ROLE IF EXISTS "+testutil.QuoteIdent(r))
		}
		pg.Exec(t, "DROP TABLE IF EXISTS "+table)
	})
	var inv strings.Builder
	fmt.Fprintf(&inv, "version: 1\nsystems:\n  - name: shop-db\n    type: postgres\n    admin: env:SHOP_DB_ADMIN_DSN\n")
	fmt.Fprintf(&inv, "identities:\n  - name: %s\n    system: shop-db\n    owner: { team: shop, contact: \"#shop-oncall\" }\nconsumers:\n", w.role)
	for _, name := range consumerNames {
		d := filepath.Join(w.dir, name)
		os.MkdirAll(d, 0o755)
		env := filepath.Join(d, ".env")
		content := fmt.Sprintf("# %s\nAPP_ENV=production\nDATABASE_URL=%s\nWORKERS=4\n", name, pg.URL(w.role, w.password, "postgres"))
		if err := os.WriteFile(env, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&inv, "  - name: %s\n    identity: %s\n    deliver: { type: file, path: %s/.env, format: dotenv, key: DATABASE_URL }\n    health: \"grep -q '^ok' %s/status\"\n    sources: [\"app:%s\"]\n",
			name, w.role, name, name, name)
	}
	inv.WriteString(extra)
	w.inventory = filepath.Join(w.dir, "rekey.yml")
	if err := os.WriteFile(w.inventory, []byte(inv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env = map[string]string{
		"REKEY_HOME":        filepath.Join(w.dir, "home"),
		"SHOP_DB_ADMIN_DSN": pg.AdminURL(),
		"LEAKED":            w.password,
		"REKEY_ACTOR":       "alice",
	}
	w.startConsumers(table)
	if attacked {
		w.attack()
	}
	return w
}

func (w *rotationWorld) startConsumers(table string) {
	for _, name := range consumerNames {
		d := filepath.Join(w.dir, name)
		w.reports[name] = filepath.Join(d, "report.json")
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(),
			"REKEY_TEST_PGCONSUMER="+strings.Join([]string{filepath.Join(d, ".env"), filepath.Join(d, "status"), w.reports[name], name}, "|"),
			"REKEY_TEST_QUERY=SELECT count(*) FROM "+table)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			w.t.Fatal(err)
		}
		w.procs[name] = cmd
	}
	w.t.Cleanup(func() { w.stopConsumers() })
	deadline := time.Now().Add(15 * time.Second)
	for _, name := range consumerNames {
		for {
			b, _ := os.ReadFile(filepath.Join(w.dir, name, "status"))
			if strings.HasPrefix(string(b), "ok") {
				break
			}
			if time.Now().After(deadline) {
				w.t.Fatalf("consumer %s never came up: %q", name, b)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (w *rotationWorld) stopConsumers() map[string]testutil.ConsumerReport {
	out := map[string]testutil.ConsumerReport{}
	for name, cmd := range w.procs {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		var r testutil.ConsumerReport
		b, err := os.ReadFile(w.reports[name])
		if err == nil {
			json.Unmarshal(b, &r)
		}
		out[name] = r
		delete(w.procs, name)
	}
	return out
}

// attack holds a session with the leaked password and tries a new login
// every 50 ms, from an application no consumer declares.
func (w *rotationWorld) attack() {
	w.att = &testutil.PGAttacker{URL: w.pg.URL(w.role, w.password, "postgres") + "&application_name=exfil"}
	if err := w.att.Start(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	w.att.Mark(time.Now())
	w.t.Cleanup(w.att.Close)
}

func (w *rotationWorld) attackerLoginsAfter() int64 {
	if w.att == nil {
		return 0
	}
	return w.att.LoginsAfterCutOff()
}

func (w *rotationWorld) stopAttack() {
	if w.att != nil {
		w.att.Stop()
	}
}

// rekeyProcess runs rekey as a separate process (the test binary standing
// in for it), with extra environment.
func (w *rotationWorld) rekeyProcess(extra []string, args ...string) (int, string) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "REKEY_TEST_AS_REKEY=1")
	for k, v := range w.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal()), string(out)
		}
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return 0, string(out)
}

func (w *rotationWorld) oldPasswordWorks() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, w.pg.URL(w.role, w.password, "postgres"))
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

// checkContained asserts the end state every strategy must reach.
func (w *rotationWorld) checkContained(reports map[string]testutil.ConsumerReport) {
	t := w.t
	t.Helper()
	if w.oldPasswordWorks() {
		t.Error("the leaked password still authenticates")
	}
	if w.att != nil {
		if w.att.SessionAlive(context.Background()) {
			t.Error("the attacker's open session survived")
		}
	}
	if n := w.attackerLoginsAfter(); n > 0 {
		t.Errorf("the attacker logged in %d time(s) after being cut off", n)
	}
	logins := map[string]bool{}
	for name, r := range reports {
		if r.Login == w.role || r.Login == "" {
			t.Errorf("consumer %s ends on login %q", name, r.Login)
		}
		logins[r.Login] = true
	}
	if len(logins) != len(consumerNames) {
		t.Errorf("consumers hold logins %v: want one each", logins)
	}
	r := run(t, w.env, "", "audit", "verify")
	if r.code != 0 {
		t.Errorf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Every secret sealed for the run is wiped, and the run's key with it.
	if ents, _ := os.ReadDir(filepath.Join(w.env["REKEY_HOME"], secret.RunKeyDir)); len(ents) != 0 {
		t.Errorf("run keys left after the run: %v", ents)
	}
}

func TestRotationSplitEndToEnd(t *testing.T) {
	w := newRotationWorld(t, true)
	r := run(t, w.env, "", "incident", "plan", w.id, "--strategy", "split", "--format", "json")
	if r.code != 0 {
		t.Fatalf("plan: %d %s", r.code, r.stderr)
	}
	r = run(t, w.env, "", "incident", "run", w.id, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "DATABASE_URL (url): user, password") {
		t.Fatalf("dry run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, w.password) {
		t.Fatal("the dry run shows the leaked password")
	}
	// The statements each issue would send, the new password masked.
	if !strings.Contains(r.stdout, "    CREATE ROLE ") || !strings.Contains(r.stdout, "PASSWORD '********'") {
		t.Errorf("dry run without its statements:\n%s", r.stdout)
	}
	r = run(t, w.env, "", "incident", "run", w.id)
	if r.code != 2 || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("run without --yes off a terminal: %d %s", r.code, r.stderr)
	}
	// An audit log that would refuse the run's entries stops it before
	// its first step: nothing is done that could not be recorded.
	witness := audit.WitnessPath(w.env["REKEY_HOME"], filepath.Join(w.env["REKEY_HOME"], store.DBFile))
	if err := os.Rename(witness, witness+".away"); err != nil {
		t.Fatal(err)
	}
	r = run(t, w.env, "", "incident", "run", w.id, "--yes")
	if r.code != 2 || !strings.Contains(r.stderr, "reanchor") {
		t.Fatalf("run on a log without witness: %d %s", r.code, r.stderr)
	}
	var issued int
	if err := w.pg.Pool(t).QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", w.role+`\_%`).Scan(&issued); err != nil || issued != 0 {
		t.Fatalf("the refused run issued %d login(s) (%v)", issued, err)
	}
	if err := os.Rename(witness+".away", witness); err != nil {
		t.Fatal(err)
	}
	r = run(t, w.env, "", "incident", "run", w.id, "--yes", "--format", "json")
	if r.code != 0 {
		t.Fatalf("run: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		State string
		Steps []struct{ ID, State string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.State != "done" {
		t.Fatalf("run JSON: %v %s", err, r.stdout)
	}
	time.Sleep(300 * time.Millisecond)
	w.stopAttack()
	reports := w.stopConsumers()
	for name, rep := range reports {
		if rep.Fail != 0 || rep.OK == 0 {
			t.Errorf("consumer %s: %d ok, %d failed (last: %s): split must cause no failure", name, rep.OK, rep.Fail, rep.LastErr)
		}
	}
	w.checkContained(reports)
	if strings.Contains(r.stdout+r.stderr, w.password) {
		t.Error("the run's output holds the leaked password")
	}
	r = run(t, w.env, "", "leases", "--format", "json")
	var leases []struct{ Login, State string }
	if json.Unmarshal([]byte(r.stdout), &leases); len(leases) != 3 {
		t.Errorf("leases: %s", r.stdout)
	}

	// The review after rotation takes the rotation time from the run and
	// finds the attacker still trying the dead password.
	w.pg.LogRecords(t) // the server has flushed its log
	r = run(t, w.env, "", "incident", "review", w.id, "--logs", filepath.Join(w.pg.LogDir, "*.csv"), "--format", "json")
	if r.code != 0 {
		t.Fatalf("incident review: %d %s", r.code, r.stderr)
	}
	var rev struct {
		Windows struct {
			After *struct{ Start time.Time } `json:"after"`
		}
		Findings []struct{ Kind, Severity, Summary string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rev); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rev.Findings {
		found = found || f.Kind == "use-after-revocation"
		if strings.Contains(f.Summary, "still uses the old secret") {
			t.Errorf("a consumer the run proved on its new login is blamed: %s", f.Summary)
		}
	}
	if !found {
		t.Errorf("the review after rotation does not report the attacker's use after revocation:\n%s", r.stdout)
	}
	// What the review weighs: each consumer's verify step recorded its
	// login and where the system saw it.
	st, err := sqlite.Open(context.Background(), filepath.Join(w.env["REKEY_HOME"], store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	proven, err := engine.Verified(context.Background(), st, w.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(proven) != len(consumerNames) {
		t.Fatalf("verified consumers: %+v", proven)
	}
	for _, v := range proven {
		if v.Login == w.role || !strings.HasPrefix(v.Login, w.role) || v.At.IsZero() || !slices.Contains(v.Applications, v.Consumer) {
			t.Errorf("verification of %s: %+v, want its new login and its application seen", v.Consumer, v)
		}
	}
}

func TestRotationEmergencyEndToEnd(t *testing.T) {
	w := newRotationWorld(t, true)
	start := time.Now()
	w.att.Mark(start)
	r := run(t, w.env, "", "incident", "run", w.id, "--yes") // no plan: auto, and the attacker makes it emergency
	if r.code != 0 {
		t.Fatalf("run: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	took := time.Since(start)
	if !strings.Contains(r.stdout, "(emergency)") {
		t.Errorf("auto did not choose emergency with an attacker connected:\n%s", r.stdout)
	}
	time.Sleep(300 * time.Millisecond)
	w.stopAttack()
	reports := w.stopConsumers()
	w.checkContained(reports)
	t.Logf("emergency: run took %s; the attacker's new logins failed from %s after the start", took, w.att.CutOff())
	for name, rep := range reports {
		t.Logf("consumer %s: %d ok, %d failed, recovered after %v", name, rep.OK, rep.Fail, rep.Outages)
	}
}

// TestRotationSurvivesSIGKILL kills the rekey process with SIGKILL at step
// boundaries of a split run and resumes it: the rotation completes with
// no consumer failure, one login per consumer, nothing left sealed.
func TestRotationSurvivesSIGKILL(t *testing.T) {
	for _, point := range []string{"issue:0/after", "deliver:1/before", "verify:2/after", "revoke:0/before", "terminate:0/after"} {
		t.Run(strings.ReplaceAll(point, "/", "-"), func(t *testing.T) {
			w := newRotationWorld(t, false)
			r := run(t, w.env, "", "incident", "plan", w.id, "--strategy", "split", "--format", "json")
			if r.code != 0 {
				t.Fatalf("plan: %s", r.stderr)
			}
			var p struct{ Steps []struct{ ID, Kind string } }
			json.Unmarshal([]byte(r.stdout), &p)
			kind, nth := point[:strings.Index(point, ":")], int(point[strings.Index(point, ":")+1]-'0')
			phase := point[strings.Index(point, "/")+1:]
			step := ""
			for _, s := range p.Steps {
				if strings.HasPrefix(s.ID, kind+":") {
					if nth == 0 {
						step = s.ID
						break
					}
					nth--
				}
			}
			if step == "" {
				t.Fatalf("no step for %s in %+v", point, p.Steps)
			}
			code, out := w.rekeyProcess([]string{"REKEY_FAILPOINT=" + step + "/" + phase}, "incident", "run", w.id, "--yes")
			if code != -int(syscall.SIGKILL) {
				t.Fatalf("rekey was not killed at %s/%s: exit %d\n%s", step, phase, code, out)
			}
			r = run(t, w.env, "", "incident", "run", w.id)
			if r.code != 2 || !strings.Contains(r.stderr, "--resume") {
				t.Errorf("a second run without --resume: %d %s", r.code, r.stderr)
			}
			r = run(t, w.env, "", "incident", "run", w.id, "--resume", "--yes")
			if r.code != 0 {
				t.Fatalf("resume: %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			time.Sleep(200 * time.Millisecond)
			reports := w.stopConsumers()
			for name, rep := range reports {
				if rep.Fail != 0 {
					t.Errorf("consumer %s: %d failures (%s)", name, rep.Fail, rep.LastErr)
				}
			}
			w.checkContained(reports)
			conn := w.pg.Connect(t, "postgres", w.pg.AdminPassword(), "check")
			var n int
			conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", w.role+"\\_%").Scan(&n)
			if n != len(consumerNames) {
				t.Errorf("%d issued roles, want exactly %d (no duplicate, no orphan)", n, len(consumerNames))
			}
		})
	}
}

func pgxConnect(ctx context.Context, url string) (*pgx.Conn, error) { return pgx.Connect(ctx, url) }

// TestPlanHeedsTheExposureReview: an attacker who connected after the
// incident was opened is not in the scope, but the log review finds it,
// and auto then plans an emergency.
func TestPlanHeedsTheExposureReview(t *testing.T) {
	w := newRotationWorld(t, false)
	r := run(t, w.env, "", "incident", "plan", w.id, "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"strategy": "split"`) || !strings.Contains(r.stdout, "no baseline") {
		t.Fatalf("plan before the review (no leak time: it must say it has no baseline): %d %s %s", r.code, r.stdout, r.stderr)
	}
	w.attack()
	time.Sleep(200 * time.Millisecond)
	w.pg.LogRecords(t)
	r = run(t, w.env, "", "incident", "review", w.id, "--logs", filepath.Join(w.pg.LogDir, "*.csv"), "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, "new-source") {
		t.Fatalf("review: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, w.env, "", "incident", "plan", w.id, "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"strategy": "emergency"`) || !strings.Contains(r.stdout, "no consumer explains") ||
		!strings.Contains(r.stdout, `application \"exfil\"`) || !strings.Contains(r.stdout, "no baseline") {
		t.Errorf("plan after the review found an unexplained source: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestAutoWithoutBaselineCutsOffAnUndeclaredProgramOnAConsumersHost: the
// consumers declare their host (127.0.0.1) and their application names;
// an attacker reads rows from the same host under another name. There is
// no leak time, so no baseline says that session is usual: auto plans an
// emergency and says why, where the host alone used to explain it.
func TestAutoWithoutBaselineCutsOffAnUndeclaredProgramOnAConsumersHost(t *testing.T) {
	w := newRotationWorld(t, true)
	invPath := filepath.Join(w.dir, "rekey.yml")
	b, err := os.ReadFile(invPath)
	if err != nil {
		t.Fatal(err)
	}
	inv := string(b)
	for _, name := range consumerNames {
		inv = strings.ReplaceAll(inv, `sources: ["app:`+name+`"]`, `sources: ["127.0.0.1", "app:`+name+`"]`)
	}
	if err := os.WriteFile(invPath, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, w.env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", invPath, "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"leaked_at": null`) {
		t.Fatalf("open again: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, w.env, "", "incident", "plan", w.id, "--format", "json")
	var p struct{ Strategy, Reason string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &p) != nil {
		t.Fatalf("plan: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if p.Strategy != "emergency" || !strings.Contains(p.Reason, "no baseline") || !strings.Contains(p.Reason, "127.0.0.1") {
		t.Errorf("plan %s: %s; want emergency, saying there is no baseline and naming the source", p.Strategy, p.Reason)
	}
}
