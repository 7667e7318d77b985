package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/broker/leasetest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/server/jobs"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// replica is one `rekey serve` process (the test binary standing in for
// rekey) with a $REKEY_HOME of its own.
type replica struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

// startReplica starts a replica over env, with an empty $REKEY_HOME of
// its own; extra holds more environment
// entries (K=V) and serve's flags (--flag).
func startReplica(t *testing.T, env map[string]string, extra ...string) *replica {
	t.Helper()
	// An empty home: the replica anchors its audit witness from the
	// others' in the shared keys directory by itself.
	home := t.TempDir()
	args := []string{"serve", "--listen", "127.0.0.1:0", "--inventory", env["REKEY_TEST_INVENTORY"]}
	var more []string
	for _, x := range extra {
		if strings.HasPrefix(x, "--") {
			args = append(args, x)
		} else {
			more = append(more, x)
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "REKEY_TEST_AS_REKEY=1", "REKEY_HOME="+home)
	for k, v := range env {
		if k != "REKEY_HOME" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, more...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, done: make(chan struct{})}
	t.Cleanup(func() { cmd.Process.Kill(); <-r.done })
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() {
		cmd.Wait()
		t.Fatalf("serve printed nothing")
	}
	addr, ok := strings.CutPrefix(sc.Text(), "listening on ")
	if !ok {
		cmd.Wait()
		t.Fatalf("serve's first line: %q", sc.Text())
	}
	r.addr = addr
	// Drained to the end, or a full pipe would stop the server.
	go func() {
		for sc.Scan() {
			r.mu.Lock()
			r.log.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(r.done)
	}()
	return r
}

func (r *replica) stderr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

func (r *replica) call(t *testing.T, method, path, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+r.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Two replicas on one PostgreSQL store with the shared keys, both serving
// from the start: a run started on A, the replica working it killed with
// SIGKILL at a step boundary (a failpoint both replicas are given, which
// only the first to reach it dies at) or mid-step (during a consumer's
// health check, which the test lets run long), the other replica
// finishes the run (the leader rescues the dead replica's job; the
// engine resumes from the recorded step states) without issuing a second
// login; the audit chain verifies and the survivor's API shows the run
// done. The failover (kill to the run's job worked again) is logged.
func TestServeReplicasFinishARunWhoseReplicaDied(t *testing.T) {
	t.Run("step-boundary", func(t *testing.T) { replicaFailover(t, false) })
	t.Run("mid-step", func(t *testing.T) { replicaFailover(t, true) })
}

func replicaFailover(t *testing.T, midStep bool) {
	w := newRotationWorldUnopened(t, "", false)
	w.env["REKEY_STORE"] = testutil.PostgresDB(t)
	keys := filepath.Join(t.TempDir(), "keys")
	w.env["REKEY_KEYS"] = "file:" + keys
	w.env["REKEY_TEST_INVENTORY"] = w.inventory
	// Mid-step: the first consumer's health check (in its verify step)
	// writes the pid of the replica running it, then takes seconds.
	mark := filepath.Join(w.dir, "health.pid")
	if midStep {
		b, err := os.ReadFile(w.inventory)
		if err != nil {
			t.Fatal(err)
		}
		name := consumerNames[0]
		check := fmt.Sprintf(`health: "grep -q '^ok' %s/status"`, name)
		slow := fmt.Sprintf(`health: "[ -e %s ] || echo $PPID > %s; sleep 2; grep -q '^ok' %s/status"`, mark, mark, name)
		if !bytes.Contains(b, []byte(check)) {
			t.Fatalf("no %s in the inventory", check)
		}
		if err := os.WriteFile(w.inventory, bytes.Replace(b, []byte(check), []byte(slow), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, w.env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", w.inventory)
	if r.code != 0 {
		t.Fatalf("open: %d %s", r.code, r.stderr)
	}
	w.id = strings.TrimSpace(r.stdout)
	r = run(t, w.env, "", "incident", "plan", w.id, "--strategy", "split", "--format", "json")
	if r.code != 0 {
		t.Fatalf("plan: %s", r.stderr)
	}
	var p struct{ Steps []struct{ ID string } }
	json.Unmarshal([]byte(r.stdout), &p)
	step := ""
	for _, s := range p.Steps {
		if strings.HasPrefix(s.ID, "deliver:") {
			step = s.ID
			break
		}
	}
	if step == "" {
		t.Fatalf("no deliver step in %+v", p.Steps)
	}
	r = run(t, w.env, "", "token", "create", "--name", "alice", "--role", "admin", "--format", "json")
	if r.code != 0 {
		t.Fatalf("token: %s", r.stderr)
	}
	var tok struct{ Token string }
	json.Unmarshal([]byte(r.stdout), &tok)

	var extra []string
	if !midStep {
		extra = []string{"REKEY_FAILPOINT=" + step + "/after", "REKEY_FAILPOINT_ONCE=" + filepath.Join(w.dir, "failpoint.once")}
	}
	a := startReplica(t, w.env, extra...)
	b := startReplica(t, w.env, extra...)
	if code, body := a.call(t, "POST", "/api/v1/incidents/"+w.id+"/run", tok.Token, "{}"); code != http.StatusAccepted {
		t.Fatalf("run on A: %d %s\n%s", code, body, a.stderr())
	}
	var dead, alive *replica
	var killed time.Time
	if midStep {
		deadline := time.Now().Add(3 * time.Minute)
		for dead == nil {
			if pid, err := os.ReadFile(mark); err == nil && strings.TrimSpace(string(pid)) != "" {
				for _, x := range []*replica{a, b} {
					if strings.TrimSpace(string(pid)) == fmt.Sprint(x.cmd.Process.Pid) {
						dead = x
					}
				}
				if dead == nil {
					t.Fatalf("the health check ran under pid %s, neither replica's", pid)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the slow health check never ran\njobs: %s\nA: %s\nB: %s", riverJobs(t, w.env["REKEY_STORE"]), a.stderr(), b.stderr())
			}
			time.Sleep(20 * time.Millisecond)
		}
		killed = time.Now()
		dead.cmd.Process.Kill()
		<-dead.done
	} else {
		select {
		case <-a.done:
			dead = a
		case <-b.done:
			dead = b
		case <-time.After(3 * time.Minute):
			t.Fatalf("no replica was killed at %s/after\njobs: %s\nA: %s\nB: %s", step, riverJobs(t, w.env["REKEY_STORE"]), a.stderr(), b.stderr())
		}
		killed = time.Now()
	}
	alive = a
	if dead == a {
		alive = b
	}
	if ws, ok := dead.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the replica ended with %v, not SIGKILL\n%s", dead.cmd.ProcessState, dead.stderr())
	}
	if failover, ok := resumedAfter(t, w.env["REKEY_STORE"], w.id, killed); ok {
		t.Logf("failover: the run's job was worked again %v after the kill", failover.Round(time.Millisecond))
	}

	var state string
	deadline := time.Now().Add(3 * time.Minute)
	for {
		code, body := alive.call(t, "GET", "/api/v1/incidents/"+w.id+"/run", tok.Token, "")
		var res struct{ State string }
		if code == http.StatusOK && json.Unmarshal(body, &res) == nil {
			state = res.State
		}
		if state == "done" || state == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never finished on the survivor: %q\njobs: %s\n%s", body, riverJobs(t, w.env["REKEY_STORE"]), alive.stderr())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if state != "done" {
		_, body := alive.call(t, "GET", "/api/v1/incidents/"+w.id+"/run", tok.Token, "")
		t.Fatalf("the run on the survivor: %s\n%s", body, alive.stderr())
	}
	time.Sleep(200 * time.Millisecond)
	reports := w.stopConsumers()
	for name, rep := range reports {
		if rep.Fail != 0 {
			t.Errorf("consumer %s: %d failures (%s)", name, rep.Fail, rep.LastErr)
		}
	}
	conn := w.pg.Connect(t, "postgres", w.pg.AdminPassword(), "check")
	var n int
	conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", w.role+"\\_%").Scan(&n)
	if n != len(consumerNames) {
		t.Errorf("%d issued roles, want exactly %d (no duplicate, no orphan)", n, len(consumerNames))
	}
	if w.oldPasswordWorks() {
		t.Error("the leaked password still authenticates")
	}
	r = run(t, w.env, "", "audit", "verify")
	if r.code != 0 {
		t.Errorf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(keys, secret.RunKeyDir)); len(ents) != 0 {
		t.Errorf("run keys left after the run: %v", ents)
	}
}

// resumedAfter is how long after killed the incident's run job was
// fetched again (River's attempted_at of its next attempt), polled for a
// minute; ok is false when it was not seen.
func resumedAfter(t *testing.T, dsn, incident string, killed time.Time) (time.Duration, bool) {
	conn, err := pgxConnect(context.Background(), dsn)
	if err != nil {
		t.Logf("failover not measured: %v", err)
		return 0, false
	}
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var at time.Time
		err := conn.QueryRow(context.Background(), `SELECT attempted_at FROM rekey_river.river_job
			WHERE args->>'incident' = $1 AND attempt > 1 ORDER BY id DESC LIMIT 1`, incident).Scan(&at)
		if err == nil {
			return at.Sub(killed), true
		}
	}
	return 0, false
}

// A replica whose keys are not the ones the store was first used with
// refuses to start, with one line naming the key.
func TestServeRefusesOtherKeys(t *testing.T) {
	dsn := testutil.PostgresDB(t)
	first := startReplica(t, map[string]string{"REKEY_STORE": dsn, "REKEY_KEYS": "file:" + filepath.Join(t.TempDir(), "keys")})
	first.cmd.Process.Signal(syscall.SIGTERM)
	<-first.done
	r := run(t, map[string]string{"REKEY_STORE": dsn, "REKEY_KEYS": "file:" + filepath.Join(t.TempDir(), "other")}, "", "serve", "--listen", "127.0.0.1:0")
	msg := strings.TrimSpace(r.stderr)
	if r.code != 2 || !strings.Contains(msg, "installation key") || !strings.Contains(msg, "not the one this store was first used with") || strings.Contains(msg, "\n") {
		t.Fatalf("serve with other keys: %d %q", r.code, r.stderr)
	}
}

// riverJobs describes River's jobs and leader, for a failure's message.
func riverJobs(t *testing.T, dsn string) string {
	conn, err := pgxConnect(context.Background(), dsn)
	if err != nil {
		return err.Error()
	}
	defer conn.Close(context.Background())
	var out strings.Builder
	rows, err := conn.Query(context.Background(), `SELECT id, state::text, attempt, coalesce(attempted_by::text, ''), coalesce(errors::text, '') FROM rekey_river.river_job`)
	if err != nil {
		return err.Error()
	}
	for rows.Next() {
		var id int64
		var state, by, errsText string
		var attempt int
		rows.Scan(&id, &state, &attempt, &by, &errsText)
		fmt.Fprintf(&out, "job %d %s attempt %d by %s errors %s; ", id, state, attempt, by, errsText)
	}
	var leader string
	conn.QueryRow(context.Background(), `SELECT leader_id FROM rekey_river.river_leader`).Scan(&leader)
	return out.String() + "leader " + leader
}

// The lease reaper runs on the elected leader only, and moves: a lease
// issued through replica A, the leader, expires while A is dead (SIGKILL)
// and replica B, which could not lead while A did (nor reap: A stopped
// with SIGSTOP still leads), reaps it.
func TestServeReplicasReapLeasesOfADeadLeader(t *testing.T) {
	e := leasetest.New(t, "")
	dsn := testutil.PostgresDB(t)
	env := map[string]string{"REKEY_STORE": dsn, "REKEY_KEYS": "file:" + filepath.Join(t.TempDir(), "keys"),
		"SHOP_DB_ADMIN_DSN": e.Cluster.AdminURL(), "REKEY_TEST_INVENTORY": e.InventoryPath}
	a := startReplica(t, env)
	conn, err := pgxConnect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	awaitLeader(t, conn, a)
	b := startReplica(t, env)

	req, _ := http.NewRequest("POST", "http://"+a.addr+"/broker/v1/credentials", strings.NewReader(`{"role":"brief","ttl":"2s"}`))
	req.Header.Set("Authorization", "Bearer "+e.Token(t, leasetest.Subject))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var lease struct {
		Login  string `json:"login"`
		Secret string `json:"secret"`
	}
	err = json.NewDecoder(resp.Body).Decode(&lease)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || lease.Login == "" {
		t.Fatalf("credentials through A: %d %+v %v\n%s", resp.StatusCode, lease, err, a.stderr())
	}
	// Stopped before the lease expires, A cannot reap it, yet its
	// sessions, and its leadership, live on: B, which does not lead,
	// leaves the expired lease alone for many of its reaper's passes.
	admin := e.Cluster.Connect(t, "postgres", e.Cluster.AdminPassword(), "check")
	roleGone := func() bool {
		var n int
		admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", lease.Login).Scan(&n)
		return n == 0
	}
	a.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(2*time.Second + 5*broker.DefaultReapInterval)
	if roleGone() {
		t.Fatal("a replica that does not lead reaped a lease")
	}
	a.cmd.Process.Kill()
	<-a.done
	for deadline := time.Now().Add(2 * time.Minute); !roleGone(); time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the lease issued through A was never reaped by B\n%s", b.stderr())
		}
	}
	if c, err := e.Connect(t.Context(), lease.Login, lease.Secret); err == nil {
		c.Close(t.Context())
		t.Fatal("the reaped lease's login still logs in")
	}
}

// awaitLeader waits until a replica of the store conn is on leads: the
// first one started, r.
func awaitLeader(t *testing.T, conn *pgx.Conn, r *replica) {
	t.Helper()
	k := uint64(jobs.LeaderKey())
	leads := func() bool {
		var n int
		conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid::bigint = $1 AND objid::bigint = $2`, int64(k>>32), int64(k&0xffffffff)).Scan(&n)
		return n == 1
	}
	for deadline := time.Now().Add(time.Minute); !leads(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first replica never led\n%s", r.stderr())
		}
	}
}

// The watcher (serve --watch) follows on the leader only, and the next
// leader continues from the offsets the old one stored: lines appended
// while the leader A is stopped (SIGSTOP: it still leads) are not read
// by B; once A is killed, B reads them from where A stopped.
func TestServeReplicasWatchOnTheLeader(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.csv")
	line := func(i int) string {
		return fmt.Sprintf("2026-01-01 00:00:%02d.000 UTC,\"svc\",\"shop\",%d,\"127.0.0.1:5000\",x,1,\"idle\",2026-01-01 00:00:00 UTC,1/1,0,LOG,00000,\"connection authorized: user=svc database=shop\",,,,,,,,,\"app\",client backend,,0\n", i%60, 1000+i)
	}
	var first strings.Builder
	for i := range 40 {
		first.WriteString(line(i))
	}
	if err := os.WriteFile(logPath, []byte(first.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "rekey.yml")
	if err := os.WriteFile(inv, []byte(fmt.Sprintf("version: 1\nlogs:\n  - { type: postgres-csv, path: %s }\nwatch:\n  trigger: [canary-use]\n", logPath)), 0o644); err != nil {
		t.Fatal(err)
	}
	dsn := testutil.PostgresDB(t)
	env := map[string]string{"REKEY_STORE": dsn, "REKEY_KEYS": "file:" + filepath.Join(dir, "keys"), "REKEY_TEST_INVENTORY": inv}
	conn, err := pgxConnect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	offset := func() int64 {
		var n int64
		conn.QueryRow(context.Background(), `SELECT coalesce(max(byte_off), 0) FROM watch_offsets WHERE path = $1`, logPath).Scan(&n)
		return n
	}
	reaches := func(r *replica, want int64) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); offset() != want; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the stored offset is %d, want %d\n%s", offset(), want, r.stderr())
			}
		}
	}
	a := startReplica(t, env, "--watch")
	awaitLeader(t, conn, a)
	b := startReplica(t, env, "--watch")
	reaches(a, int64(first.Len()))

	a.cmd.Process.Signal(syscall.SIGSTOP)
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var more strings.Builder
	for i := 40; i < 60; i++ {
		more.WriteString(line(i))
	}
	f.WriteString(more.String())
	f.Close()
	time.Sleep(5 * time.Second)
	if got := offset(); got != int64(first.Len()) {
		t.Fatalf("a replica that does not lead read on: offset %d, want %d", got, first.Len())
	}
	a.cmd.Process.Kill()
	<-a.done
	reaches(b, int64(first.Len()+more.Len()))
}

// Replicas started with empty homes on a store with history anchor their
// audit witness from the witnesses in the shared keys directory (no
// `rekey audit reanchor` by hand), each recording an audit.anchor entry
// naming the witness it anchored at; the log verifies. A new replica then
// refuses to start, one line and exit 2, when DIR holds no witness, and
// when the log was cut below a replica's witness.
func TestServeReplicasAnchorFromTheSharedWitnesses(t *testing.T) {
	dsn := testutil.PostgresDB(t)
	keys := filepath.Join(t.TempDir(), "keys")
	env := map[string]string{"REKEY_STORE": dsn, "REKEY_KEYS": "file:" + keys, "REKEY_HOME": t.TempDir()}
	if r := run(t, env, "", "token", "create", "--name", "alice", "--role", "admin"); r.code != 0 {
		t.Fatalf("token create: %d %s", r.code, r.stderr)
	}
	witnesses := filepath.Join(keys, "witnesses")
	if ents, err := os.ReadDir(witnesses); err != nil || len(ents) != 1 {
		t.Fatalf("the CLI's witness in the keys directory: %v %v", ents, err)
	}
	a := startReplica(t, env)
	b := startReplica(t, env)
	conn, err := pgxConnect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	type entry struct {
		seq    int64
		hash   string
		detail map[string]string
	}
	var anchors []entry
	rows, err := conn.Query(context.Background(), `SELECT seq, hash, detail FROM audit_log WHERE action = 'audit.anchor' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e entry
		var d string
		if err := rows.Scan(&e.seq, &e.hash, &d); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal([]byte(d), &e.detail)
		anchors = append(anchors, e)
	}
	rows.Close()
	if len(anchors) != 2 {
		t.Fatalf("%d audit.anchor entries, want one per replica: %+v\nA: %s\nB: %s", len(anchors), anchors, a.stderr(), b.stderr())
	}
	// The second replica anchored at the first one's anchor, its freshest
	// witness, by the name the first keeps it under.
	first := fmt.Sprintf("%d:%s", anchors[0].seq, anchors[0].hash)
	if anchors[1].detail["witness"] != first {
		t.Fatalf("the second replica anchored at %q, want the first's %s", anchors[1].detail["witness"], first)
	}
	if got, err := os.ReadFile(filepath.Join(witnesses, anchors[1].detail["from_witness"])); err != nil || strings.Fields(string(got))[1] != anchors[0].hash {
		t.Fatalf("from_witness %q: %q %v", anchors[1].detail["from_witness"], got, err)
	}
	if ents, _ := os.ReadDir(witnesses); len(ents) != 3 {
		t.Fatalf("witnesses in the keys directory: %v, want the CLI's and both replicas'", ents)
	}
	r := run(t, env, "", "audit", "verify", "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"shared_witnesses": 3`) {
		t.Fatalf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, x := range []*replica{a, b} {
		x.cmd.Process.Signal(syscall.SIGTERM)
		<-x.done
	}

	count := func() int {
		var n int
		conn.QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&n)
		return n
	}
	refused := func(want string) {
		t.Helper()
		before := count()
		r := run(t, map[string]string{"REKEY_STORE": dsn, "REKEY_KEYS": "file:" + keys}, "", "serve", "--listen", "127.0.0.1:0")
		msg := strings.TrimSpace(r.stderr)
		if r.code != 2 || !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
			t.Fatalf("a new replica: %d %q, want exit 2 and one line with %q", r.code, r.stderr, want)
		}
		if count() != before {
			t.Fatal("the refused replica appended to the audit log")
		}
	}
	// No witness anywhere: the log's history cannot be vouched for.
	aside := witnesses + ".aside"
	if err := os.Rename(witnesses, aside); err != nil {
		t.Fatal(err)
	}
	refused("rekey audit reanchor --yes")
	if err := os.Rename(aside, witnesses); err != nil {
		t.Fatal(err)
	}
	// The second replica's anchor entry, which its witness names, cut off.
	if _, err := conn.Exec(context.Background(), `DELETE FROM audit_log WHERE seq >= $1`, anchors[1].seq); err != nil {
		t.Fatal(err)
	}
	refused("entries were deleted")
	// The CLI, whose own witness the cut spared, sees it through the
	// replicas' witnesses.
	if r := run(t, env, "", "audit", "verify"); r.code != 1 || !strings.Contains(r.stdout, "entries were deleted") {
		t.Fatalf("audit verify after the cut: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
