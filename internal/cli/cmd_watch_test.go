package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/open"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// watchProc is `rekey watch` running in this process, as a person would
// run it in a terminal's foreground (quiet: stderr is not a terminal).
type watchProc struct {
	cancel context.CancelFunc
	done   chan struct{}
	code   int
	stderr lockedBuffer
}

func (w *watchProc) errText() string { return w.stderr.String() }

func startWatch(t testing.TB, env map[string]string, args ...string) *watchProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watchProc{cancel: cancel, done: make(chan struct{})}
	no := false
	var out bytes.Buffer
	go func() {
		defer close(w.done)
		w.code = Main(ctx, Env{Args: append([]string{"watch"}, args...), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &w.stderr,
			Getenv: func(k string) string { return env[k] }, Terminal: &no})
	}()
	t.Cleanup(w.stop)
	return w
}

// stop interrupts it, as SIGINT does (Main's context ends), and waits.
func (w *watchProc) stop() {
	w.cancel()
	<-w.done
}

// eventually polls cond with a generous bound: outcomes are awaited,
// never timed.
func eventually(t *testing.T, what string, w *watchProc, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; watch said:\n%s", what, w.errText())
		}
		select {
		case <-w.done:
			t.Fatalf("watch stopped (exit %d) before %s:\n%s", w.code, what, w.errText())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type listed struct {
	ID       string `json:"id"`
	OpenedBy string `json:"opened_by"`
	Identity string `json:"identity"`
}

func incidentsOf(t *testing.T, env map[string]string) []listed {
	t.Helper()
	r := run(t, env, "", "incident", "list", "--format", "json")
	if r.code != 0 {
		t.Fatalf("incident list: %d %s", r.code, r.stderr)
	}
	var out []listed
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("incident list: %v\n%s", err, r.stdout)
	}
	return out
}

func loginWorks(pg *testutil.PGCluster, user, password string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.URL(user, password, "postgres"))
	if err != nil {
		return false
	}
	c.Close(context.Background())
	return true
}

// TestWatchCanaryEndToEnd: a canary made with `rekey canary create` in a
// password-auth cluster whose csv log `rekey watch` follows; someone
// tries it with a wrong password, then logs in with it → an incident
// opened by watch for the canary, both attempts its evidence, and (canary-use being in auto_contain) the
// emergency plan run at once: the canary no longer logs in. Stopped and
// started again, watch re-reads nothing: the incident stays the only one
// and its evidence is not repeated.
func TestWatchCanaryEndToEnd(t *testing.T) {
	pg := testutil.SharedPostgres(t)
	dir := t.TempDir()
	role, canary := testutil.RandomName("shop_"), testutil.RandomName("backup_admin_")
	pg.CreateRole(t, role, "Svc-"+testutil.RandomName("pw"), "")
	t.Cleanup(func() { pg.DropRole(t, canary) })
	inv := fmt.Sprintf(`version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: %s, system: shop-db, owner: { team: shop, contact: "#shop-oncall" } }
logs:
  - { type: postgres-csv, path: %s }
watch:
  trigger: [canary-use, use-after-revocation]
  auto_contain: [canary-use]
`, role, filepath.Join(pg.LogDir, "postgresql.csv"))
	invPath := filepath.Join(dir, "rekey.yml")
	if err := os.WriteFile(invPath, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"REKEY_HOME": filepath.Join(dir, "home"), "SHOP_DB_ADMIN_DSN": pg.AdminURL(), "REKEY_ACTOR": "alice"}

	r := run(t, env, "", "canary", "create", "--system", "shop-db", "--name", canary, "--inventory", invPath, "--format", "json")
	if r.code != 0 {
		t.Fatalf("canary create: %d %s", r.code, r.stderr)
	}
	var made struct{ System, Login, Secret string }
	if err := json.Unmarshal([]byte(r.stdout), &made); err != nil || made.System != "shop-db" || made.Login != canary || len(made.Secret) < 20 {
		t.Fatalf("canary create printed %q (%v)", r.stdout, err)
	}
	if strings.Contains(r.stderr, made.Secret) {
		t.Error("the canary's secret is on stderr")
	}

	w := startWatch(t, env, "--inventory", invPath)
	if loginWorks(pg, canary, "a guess") {
		t.Fatal("the canary logs in with a wrong password")
	}
	if !loginWorks(pg, canary, made.Secret) {
		t.Fatal("the canary cannot log in with its secret")
	}
	inc := watchIncident(t, env, w, "shop-db/"+canary)
	bothOutcomes(t, env, w, inc.ID, canary, "")
	eventually(t, "the canary cut off by the automatic containment", w, func() bool { return !loginWorks(pg, canary, made.Secret) })
	eventually(t, "the run recorded done", w, func() bool {
		st := openTestStore(t, env)
		defer st.Close()
		sp, ok, err := st.GetPlan(context.Background(), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return ok && sp.RunState == store.RunDone && sp.Strategy == "emergency"
	})
	w.stop()
	if w.code != 0 {
		t.Fatalf("watch exited %d after an interrupt:\n%s", w.code, w.errText())
	}

	scope := run(t, env, "", "incident", "scope", inc.ID, "--format", "json")
	if !strings.Contains(scope.stdout, `"connect"`) && !strings.Contains(scope.stdout, canary) {
		t.Errorf("the scope holds no evidence of the canary's use:\n%s", scope.stdout)
	}
	audit := auditTrail(t, env)
	for _, a := range []string{"alice canary.create", "watch incident.open " + inc.ID, "watch watch.finding " + inc.ID, "watch watch.contain " + inc.ID, "watch watch.contained " + inc.ID} {
		if !strings.Contains(audit, a) {
			t.Errorf("the audit log has no %s:\n%s", a, audit)
		}
	}

	// A restart re-reads nothing: no log line is judged twice (the
	// refused logins of the checks above are new lines, read once; one
	// line may hold two findings, canary-use and use-after-revocation).
	w2 := startWatch(t, env, "--inventory", invPath)
	pg.LogRecords(t) // a record written now: the follower has passed the old ones once it sees it
	time.Sleep(3 * time.Second)
	w2.stop()
	seen := map[string]bool{}
	for _, line := range strings.Split(auditTrail(t, env), "\n") {
		if !strings.Contains(line, " watch.finding ") {
			continue
		}
		var d struct {
			File, Kind string
			Line       int
		}
		if err := json.Unmarshal([]byte(line[strings.Index(line, "{"):]), &d); err != nil || d.File == "" || d.Line == 0 {
			t.Fatalf("a watch.finding without its evidence: %s (%v)", line, err)
		}
		at := fmt.Sprintf("%s:%d %s", d.File, d.Line, d.Kind)
		if seen[at] {
			t.Errorf("%s was judged twice: read again after the restart: %s", at, line)
		}
		seen[at] = true
	}
	if n := len(incidentsOf(t, env)); n != 1 {
		t.Errorf("%d incidents after a restart, want 1", n)
	}
	if strings.Contains(w.errText()+w2.errText(), made.Secret) {
		t.Error("watch printed the canary's secret")
	}
}

// bothOutcomes waits for the incident's evidence to hold a refused and a
// successful use of credential (the refused one of action, when given).
func bothOutcomes(t *testing.T, env map[string]string, w *watchProc, id, credential, action string) {
	t.Helper()
	eventually(t, "both uses of "+credential+", refused and successful, in the incident's evidence", w, func() bool {
		st := openTestStore(t, env)
		defer st.Close()
		evs, err := st.Events(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var failed, ok bool
		for _, e := range evs {
			failed = failed || e.Credential == credential && e.Outcome == "failure" && (action == "" || e.Action == action)
			ok = ok || e.Credential == credential && e.Outcome == "success"
		}
		return failed && ok
	})
}

func openTestStore(t testing.TB, env map[string]string) store.Store {
	t.Helper()
	st, err := open.Open(context.Background(), filepath.Join(env["REKEY_HOME"], store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// auditTrail lists the audit log's entries, one "actor action incident"
// a line, after checking its chain.
func auditTrail(t *testing.T, env map[string]string) string {
	t.Helper()
	if r := run(t, env, "", "audit", "verify"); r.code != 0 {
		t.Fatalf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	st := openTestStore(t, env)
	defer st.Close()
	log, err := st.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range log {
		fmt.Fprintf(&b, "%s %s %s %s\n", e.Actor, e.Action, e.IncidentID, e.Detail)
	}
	return b.String()
}

// leakedWorld is the rotation proof's world (a role, three consumer
// processes, an inventory) whose inventory also has the cluster's csv log
// and watch: with these trigger and auto_contain kinds, and whose role's
// statements are logged, as an audited production database's are.
func leakedWorld(t *testing.T, trigger, contain string) *rotationWorld {
	t.Helper()
	pg := testutil.SharedPostgres(t)
	extra := fmt.Sprintf("logs:\n  - { type: postgres-csv, path: %s }\nwatch:\n  trigger: [%s]\n  auto_contain: [%s]\n",
		filepath.Join(pg.LogDir, "postgresql.csv"), trigger, contain)
	w := newRotationWorldUnopened(t, extra, false)
	pg.Exec(t, "ALTER ROLE "+testutil.QuoteIdent(w.role)+" SET log_statement = 'all'")
	return w
}

// attackerAddr is where the attacker connects from: any 127/8 address
// binds on Linux.
const attackerAddr = "127.0.0.2"

// misuse logs in with the leaked password from attackerAddr, as an
// application no consumer declares, and tries to make itself a login of
// its own.
func (w *rotationWorld) misuse() {
	w.t.Helper()
	allowFrom(w.t, w.pg, attackerAddr)
	cfg, err := pgx.ParseConfig(w.pg.URL(w.role, w.password, "postgres"))
	if err != nil {
		w.t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "exfil"
	cfg.DialFunc = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(attackerAddr)}}).DialContext
	var conn *pgx.Conn
	// pg_reload_conf is asynchronous: the new pg_hba.conf line takes a
	// moment to apply.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if conn, err = pgx.ConnectConfig(context.Background(), cfg); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		w.t.Fatalf("attacker: connect from %s: %v", attackerAddr, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE ROLE "+testutil.QuoteIdent(w.role+"_backdoor")+" LOGIN PASSWORD 'x'"); err == nil {
		w.t.Fatal("the leaked role may create roles: the test expects a refusal")
	}
}

// allowFrom lets password logins from addr reach the cluster, whose
// pg_hba.conf allows 127.0.0.1 only; the line stays for the package's
// other tests (it opens nothing beyond this machine).
func allowFrom(t *testing.T, pg *testutil.PGCluster, addr string) {
	t.Helper()
	hba := filepath.Join(pg.DataDir, "pg_hba.conf")
	b, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	line := "host all all " + addr + "/32 scram-sha-256\n"
	if strings.Contains(string(b), line) {
		return
	}
	if err := os.WriteFile(hba, append(b, line...), 0o600); err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, "SELECT pg_reload_conf()")
}

func (w *rotationWorld) watchIncident(wp *watchProc) listed {
	w.t.Helper()
	return watchIncident(w.t, w.env, wp, "shop-db/"+w.role)
}

// watchIncident waits for the incident of identity ("system/name") and
// checks that watch opened it.
func watchIncident(t *testing.T, env map[string]string, wp *watchProc, identity string) listed {
	t.Helper()
	var inc listed
	eventually(t, "an incident opened by watch for "+identity, wp, func() bool {
		for _, i := range incidentsOf(t, env) {
			if i.Identity == identity {
				inc = i
				return true
			}
		}
		return false
	})
	if inc.OpenedBy != "watch" {
		t.Errorf("the incident was opened by %q, want watch", inc.OpenedBy)
	}
	return inc
}

// TestWatchContainsALeakedLoginEndToEnd: an attacker with the leaked
// password holds a session and runs a sensitive statement; `rekey watch`,
// following the csv log, opens an incident for the role and (with
// sensitive-action in auto_contain) runs the emergency plan without a
// person: the password is revoked, the attacker's session ended, and the
// three consumers recover on logins of their own.
func TestWatchContainsALeakedLoginEndToEnd(t *testing.T) {
	w := leakedWorld(t, "sensitive-action, canary-use", "sensitive-action")
	wp := startWatch(t, w.env, "--inventory", w.inventory)
	w.attack()
	w.misuse()
	inc := w.watchIncident(wp)
	eventually(t, "the emergency run done", wp, func() bool {
		st := openTestStore(t, w.env)
		defer st.Close()
		sp, ok, err := st.GetPlan(context.Background(), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return ok && sp.RunState == store.RunDone && sp.Strategy == "emergency"
	})
	wp.stop()
	w.stopAttack()
	reports := w.stopConsumers()
	w.checkContained(reports)
	audit := auditTrail(t, w.env)
	if !strings.Contains(audit, "watch watch.contain "+inc.ID+` {"automatic":true`) {
		t.Errorf("the containment is not audited as automatic:\n%s", audit)
	}
	if !strings.Contains(audit, `"kind":"sensitive-action","line":`) || !strings.Contains(audit, `"source":"`+attackerAddr+`"`) {
		t.Errorf("no sensitive-action finding from %s in the audit log:\n%s", attackerAddr, audit)
	}
	if strings.Contains(wp.errText(), w.password) {
		t.Error("watch printed the leaked password")
	}
}

// TestIncidentOpenJoinsWhatWatchOpened: watch opened an incident for the
// role (it never held the password); a responder who then opens the
// incident of the leaked password gets that incident (existing: true),
// audited as a join, and opening it again finds it by the secret.
func TestIncidentOpenJoinsWhatWatchOpened(t *testing.T) {
	w := leakedWorld(t, "sensitive-action", "")
	wp := startWatch(t, w.env, "--inventory", w.inventory)
	w.misuse()
	inc := w.watchIncident(wp)
	wp.stop()
	for i := range 2 {
		r := run(t, w.env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", w.inventory, "--format", "json")
		if r.code != 0 {
			t.Fatalf("open: %d %s", r.code, r.stderr)
		}
		var got openResult
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != inc.ID || !got.Existing || got.Identity == nil || got.Identity.Name != w.role {
			t.Errorf("open %d: %+v, want the watch incident %s, existing", i+1, got, inc.ID)
		}
	}
	audit := auditTrail(t, w.env)
	if strings.Count(audit, "alice incident.join "+inc.ID) != 1 || strings.Contains(audit, "alice incident.open") {
		t.Errorf("want one join by alice and no second incident:\n%s", audit)
	}
	if n := len(incidentsOf(t, w.env)); n != 1 {
		t.Errorf("%d incidents, want 1", n)
	}
}

// redisDo runs one command on the test Redis as user (with password; ""
// for the default user) and returns the error reply, if any.
func redisDo(t *testing.T, user, password string, args ...string) error {
	t.Helper()
	nc, err := net.DialTimeout("tcp", "127.0.0.1:6379", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	send := func(args ...string) error {
		fmt.Fprintf(nc, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(nc, "$%d\r\n%s\r\n", len(a), a)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "-") {
			return errors.New(strings.TrimSpace(line[1:]))
		}
		if strings.HasPrefix(line, "$") && line != "$-1\r\n" {
			r.ReadString('\n')
		}
		return nil
	}
	if user != "" {
		if err := send("AUTH", user, password); err != nil {
			return err
		}
	}
	return send(args...)
}

// TestWatchRedisCanaryEndToEnd: Redis writes no log of logins, so watch
// reads its ACL LOG. A canary ACL user made by `rekey canary create` that
// someone authenticates as and tries a command with is a canary-use
// finding; with canary-use in auto_contain the user is turned off.
func TestWatchRedisCanaryEndToEnd(t *testing.T) {
	testutil.NeedService(t, "redis", "127.0.0.1:6379")
	dir := t.TempDir()
	canary := testutil.RandomName("rk_canary_")
	t.Cleanup(func() { redisDo(t, "", "", "ACL", "DELUSER", canary) })
	inv := `version: 1
systems:
  - { name: cache, type: redis, admin: env:CACHE_ADMIN_URL }
watch:
  trigger: [canary-use]
  auto_contain: [canary-use]
`
	invPath := filepath.Join(dir, "rekey.yml")
	if err := os.WriteFile(invPath, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"REKEY_HOME": filepath.Join(dir, "home"), "CACHE_ADMIN_URL": "redis://127.0.0.1:6379/0", "REKEY_ACTOR": "alice"}
	r := run(t, env, "", "canary", "create", "--system", "cache", "--name", canary, "--inventory", invPath)
	if r.code != 0 {
		t.Fatalf("canary create: %d %s", r.code, r.stderr)
	}
	pw := strings.TrimSpace(r.stdout)
	w := startWatch(t, env, "--inventory", invPath)
	if err := redisDo(t, canary, pw, "GET", "customers"); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("the canary's GET: %v, want NOPERM", err)
	}
	watchIncident(t, env, w, "cache/"+canary)
	eventually(t, "the canary turned off", w, func() bool { return redisDo(t, canary, pw, "PING") != nil })
	w.stop()
	if w.code != 0 {
		t.Errorf("watch exited %d:\n%s", w.code, w.errText())
	}
}

// Usage and input errors exit 2 with one line saying what is wrong.
func TestWatchAndCanaryInputErrors(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "rekey.yml")
	writeFiles(t, dir, map[string]string{"rekey.yml": `version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:DSN }
identities:
  - { name: orders_svc, system: shop-db }
`})
	env := map[string]string{"REKEY_HOME": filepath.Join(dir, "home")}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"watch"}, "--inventory FILE is required"},
		{[]string{"watch", "--inventory", inv}, "nothing to follow"},
		{[]string{"canary", "create", "--system", "shop-db", "--inventory", inv}, "--system NAME and --name LOGIN are required"},
		{[]string{"canary", "create", "--system", "nope", "--name", "decoy", "--inventory", inv}, "system nope is not in the inventory"},
		{[]string{"canary", "create", "--system", "shop-db", "--name", "orders_svc", "--inventory", inv}, "orders_svc is an identity of the inventory"},
		{[]string{"canary", "create", "--system", "shop-db", "--name", "decoy", "--inventory", inv, "--format", "yaml"}, "--format"},
	} {
		r := run(t, env, "", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
}
