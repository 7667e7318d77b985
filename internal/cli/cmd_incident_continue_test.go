package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// A run whose step failed is continued by run itself once the cause is
// fixed: no --resume needed, and the failed step is tried again.
func TestRunContinuesAFailedRun(t *testing.T) {
	w := newRotationWorld(t, false)
	defer w.stopConsumers()
	gate := filepath.Join(w.dir, "reload-ok")
	w.setCommand("reports", "reload", "test -e "+gate)
	if r := run(t, w.env, "", "incident", "plan", w.id, "--strategy", "graceful"); r.code != 0 {
		t.Fatalf("plan: %s", r.stderr)
	}
	r := run(t, w.env, "", "incident", "run", w.id, "--yes", "--format", "json")
	if r.code != 1 {
		t.Fatalf("run: exit %d, want 1 (reports' reload fails)\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, w.env, "", "incident", "run", w.id, "--yes", "--format", "json")
	if r.code != 0 {
		t.Fatalf("run again: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		State string
		Steps []struct{ ID, State string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.State != "done" {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	for _, s := range res.Steps {
		if s.State != "done" {
			t.Errorf("step %s is %s", s.ID, s.State)
		}
	}
	if w.oldPasswordWorks() {
		t.Error("the leaked password still works")
	}
}
