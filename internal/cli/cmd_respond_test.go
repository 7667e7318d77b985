package cli

import (
	"io/fs"
	"os"
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
	// It writes its report into /dev/null, which stays a device.
	r = run(t, w.env, "", "respond", "--secret-env", "LEAKED", "--inventory", inv, "--yes", "--report", "/dev/null")
	if fi, err := os.Lstat("/dev/null"); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Fatalf("/dev/null after respond --report /dev/null: %v %v", fi.Mode(), err)
	}
	if r.code != 0 || !strings.Contains(r.stdout, "keeping the stored split plan: its run has finished") {
		t.Errorf("respond after completion: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// A link in the report's place, pointing out of its directory, is
	// neither followed nor replaced; nor is a directory.
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(w.dir, "linked-report.md")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{{link, "symbolic link"}, {w.dir, "directory"}} {
		r = run(t, w.env, "", "respond", "--secret-env", "LEAKED", "--inventory", inv, "--yes", "--report", c.path)
		if r.code != 2 || !strings.Contains(r.stderr, c.path+": is a "+c.want) {
			t.Errorf("--report %s: %d %q", c.path, r.code, r.stderr)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&fs.ModeSymlink == 0 {
		t.Error("the link was replaced")
	}
}
