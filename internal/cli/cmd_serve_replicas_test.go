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

	"github.com/rekeyhq/rekey/internal/secret"
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

func startReplica(t *testing.T, env map[string]string, extra ...string) *replica {
	t.Helper()
	home := t.TempDir()
	if env["REKEY_TEST_INVENTORY"] != "" {
		// A new machine joining a store with history anchors its audit
		// witness first (docs/operations.md).
		henv := map[string]string{"REKEY_HOME": home}
		for k, v := range env {
			if k != "REKEY_HOME" {
				henv[k] = v
			}
		}
		if r := run(t, henv, "", "audit", "reanchor", "--yes"); r.code != 0 {
			t.Fatalf("audit reanchor: %d %s", r.code, r.stderr)
		}
	}
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--inventory", env["REKEY_TEST_INVENTORY"])
	cmd.Env = append(os.Environ(), "REKEY_TEST_AS_REKEY=1", "REKEY_HOME="+home)
	for k, v := range env {
		if k != "REKEY_HOME" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, extra...)
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

// Two replicas on one PostgreSQL store with the shared keys: a run
// started on A, A killed at a step boundary, B finishes the run (River
// rescues A's job; the engine resumes from the recorded step states)
// without issuing a second login; the audit chain verifies and B's API
// shows the run done.
func TestServeReplicasFinishARunWhoseReplicaDied(t *testing.T) {
	w := newRotationWorldUnopened(t, "", false)
	w.env["REKEY_STORE"] = testutil.PostgresDB(t)
	keys := filepath.Join(t.TempDir(), "keys")
	w.env["REKEY_KEYS"] = "file:" + keys
	w.env["REKEY_TEST_INVENTORY"] = w.inventory
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

	a := startReplica(t, w.env, "REKEY_FAILPOINT="+step+"/after")
	if code, b := a.call(t, "POST", "/api/v1/incidents/"+w.id+"/run", tok.Token, "{}"); code != http.StatusAccepted {
		t.Fatalf("run on A: %d %s\n%s", code, b, a.stderr())
	}
	select {
	case <-a.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("A was never killed at %s/after\n%s", step, a.stderr())
	}
	if ws, ok := a.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("A ended with %v, not SIGKILL at %s/after\n%s", a.cmd.ProcessState, step, a.stderr())
	}

	b := startReplica(t, w.env)
	var state string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, body := b.call(t, "GET", "/api/v1/incidents/"+w.id+"/run", tok.Token, "")
		var res struct{ State string }
		if code == http.StatusOK && json.Unmarshal(body, &res) == nil {
			state = res.State
		}
		if state == "done" || state == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never finished on B: %q\njobs: %s\n%s", body, riverJobs(t, w.env["REKEY_STORE"]), b.stderr())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if state != "done" {
		_, body := b.call(t, "GET", "/api/v1/incidents/"+w.id+"/run", tok.Token, "")
		t.Fatalf("the run on B: %s\n%s", body, b.stderr())
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
