package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// TestSecondWorkerIsRefusedWhileARunIsInProgress: while one rekey process
// runs an incident (held in its consumers' health checks), a second run
// --resume and a rollback are refused with who holds it, exit 2, and
// change no step; the first run then finishes (issue 10.4).
func TestSecondWorkerIsRefusedWhileARunIsInProgress(t *testing.T) {
	w := newRotationWorld(t, false)
	gate := filepath.Join(w.dir, "go-on")
	inv := filepath.Join(w.dir, "rekey.yml")
	b, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	// Every consumer's health check waits for the gate, so that once all
	// verify steps are running the first run can make no progress while
	// the second worker is refused (holding one consumer let the others'
	// verify steps finish in the middle of the comparison).
	held := strings.ReplaceAll(string(b), `health: "grep`,
		fmt.Sprintf(`health: "while [ ! -e %s ]; do sleep 0.05; done; grep`, gate))
	if held == string(b) {
		t.Fatal("the inventory has no health check to hold")
	}
	if err := os.WriteFile(inv, []byte(held), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, w.env, "", "incident", "plan", w.id, "--strategy", "split"); r.code != 0 {
		t.Fatalf("plan: %s", r.stderr)
	}

	first := exec.Command(os.Args[0], "--as", "alice", "incident", "run", w.id, "--yes")
	first.Env = append(os.Environ(), "REKEY_TEST_AS_REKEY=1")
	for k, v := range w.env {
		first.Env = append(first.Env, k+"="+v)
	}
	var out strings.Builder
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	finished := make(chan struct{})
	var firstErr error
	go func() { firstErr = first.Wait(); close(finished) }()
	t.Cleanup(func() {
		os.WriteFile(gate, nil, 0o644)
		first.Process.Kill()
		<-finished
	})

	db := filepath.Join(w.env["REKEY_HOME"], store.DBFile)
	steps := func() []store.Step {
		st, err := sqlite.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		s, err := st.Steps(context.Background(), w.id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// A step has a row only once it started: wait for every
		// consumer's verify to be running, not for the rows there are.
		waiting := 0
		for _, s := range steps() {
			if strings.HasPrefix(s.StepID, "verify:") && s.State == "running" {
				waiting++
			}
		}
		if waiting == len(consumerNames) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first run never reached every consumer's health check:\n%s", out.String())
		}
	}
	before := steps()

	want := fmt.Sprintf("incident %s is being worked on by alice (pid %d on ", w.id, first.Process.Pid)
	for _, args := range [][]string{
		{"--as", "bob", "incident", "run", w.id, "--resume", "--yes"},
		{"--as", "bob", "incident", "rollback", w.id, "--yes"},
		{"--as", "bob", "incident", "remediate", w.id, "--secret-env", "LEAKED"},
	} {
		r := run(t, w.env, "", args...)
		if r.code != 2 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, ") since ") {
			t.Errorf("%s while a run is in progress: exit %d, %q; want 2 and %q", args[3], r.code, r.stderr, want)
		}
	}
	if diff := cmp.Diff(before, steps()); diff != "" {
		t.Errorf("the refused commands changed step states (-before +after):\n%s", diff)
	}
	if !w.oldPasswordWorks() {
		t.Error("the leaked password stopped working: something revoked it mid-run")
	}

	os.WriteFile(gate, nil, 0o644)
	select {
	case <-finished:
		if firstErr != nil {
			t.Fatalf("the first run: %v\n%s", firstErr, out.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the first run did not finish:\n%s", out.String())
	}
	// Released: the next command goes ahead.
	if r := run(t, w.env, "", "incident", "run", w.id, "--resume", "--yes"); r.code != 0 {
		t.Errorf("resume after the run ended: %d %s", r.code, r.stderr)
	}
}
