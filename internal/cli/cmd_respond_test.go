package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRespondResumesAndNeedsConfirmation: a responder who stops at the
// confirmation (no terminal, no --yes) leaves an open incident with
// nothing changed; running respond again for the same secret resumes that
// incident and completes it.
func TestRespondResumesAndNeedsConfirmation(t *testing.T) {
	w := newRotationWorld(t, false)
	inv := filepath.Join(w.dir, "rekey.yml")
	r := run(t, w.env, "", "respond", "--secret-env", "LEAKED", "--inventory", inv)
	if r.code != 2 || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("respond without --yes off a terminal: %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "resuming the open incident "+w.id) || !strings.Contains(r.stdout, "== 4 plan") {
		t.Errorf("respond did not resume %s up to the plan:\n%s", w.id, r.stdout)
	}
	if !w.oldPasswordWorks() {
		t.Fatal("an unconfirmed respond changed the system")
	}
	report := filepath.Join(w.dir, "report.md")
	r = run(t, w.env, "", "respond", "--secret-env", "LEAKED", "--inventory", inv, "--yes", "--report", report)
	if r.code != 0 {
		t.Fatalf("respond --yes: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, stage := range []string{"== 5 run", "== 6 remediate", "== 7 review", "== 8 report", "the response to " + w.id + " is complete"} {
		if !strings.Contains(r.stdout, stage) {
			t.Errorf("respond output lacks %q:\n%s", stage, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "(split): done") {
		t.Errorf("a shared secret with no attacker should be split:\n%s", r.stdout)
	}
	reports := w.stopConsumers()
	for name, rep := range reports {
		if rep.Fail != 0 {
			t.Errorf("consumer %s: %d failures (%s)", name, rep.Fail, rep.LastErr)
		}
	}
	w.checkContained(reports)
	if strings.Contains(r.stdout+r.stderr, w.password) {
		t.Error("respond printed the leaked password")
	}
	// A third run finds everything done and changes nothing.
	r = run(t, w.env, "", "respond", "--secret-env", "LEAKED", "--inventory", inv, "--yes", "--report", report)
	if r.code != 0 || !strings.Contains(r.stdout, "keeping the stored split plan: its run has finished") {
		t.Errorf("respond after completion: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
