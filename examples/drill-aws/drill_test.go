package drillaws

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/cli"
	"github.com/rekeyhq/rekey/internal/store"
)

// TestMain lets the test binary stand in for rekey and for the consumers'
// health checks, so the drill runs them as separate processes.
func TestMain(m *testing.M) {
	if os.Getenv("DRILL_AS_REKEY") == "1" {
		os.Exit(cli.Main(context.Background(), cli.Env{Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
	}
	if spec := os.Getenv("DRILL_CHECK"); spec != "" {
		os.Exit(Check(spec))
	}
	os.Exit(m.Run())
}

func TestDrillAWS(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	self := os.Args[0]
	var log strings.Builder
	out, err := Run(context.Background(), Options{
		Rekey: func(args ...string) *exec.Cmd {
			cmd := exec.Command(self, args...)
			cmd.Env = append(os.Environ(), "DRILL_AS_REKEY=1")
			return cmd
		},
		Check: func(spec string) string {
			return "env DRILL_AS_REKEY= DRILL_CHECK='" + spec + "' '" + self + "' -test.run='^$'"
		},
		Out: &log,
	})
	if out != nil {
		out.Print(&log)
	}
	t.Log(log.String())
	if err != nil {
		t.Fatal(err)
	}
	if out.FirstExit != 3 || out.Waiting == "" {
		t.Errorf("the first respond exited %d waiting at %q, want 3 at the backdoor's revoke-related step", out.FirstExit, out.Waiting)
	}
	if !out.LeakedRefused || !out.BackdoorRefused {
		t.Errorf("STS refuses the leaked key: %v, the backdoor: %v; want both refused", out.LeakedRefused, out.BackdoorRefused)
	}
	if !out.PasswordRemoved {
		t.Errorf("backup-svc's console password, which the leaked key created, survived its approved removal")
	}
	if !out.APIRestarted {
		t.Errorf("the api's Deployment was not restarted after its Secret changed")
	}
	var ids []string
	for _, name := range []string{"api", "worker"} {
		c := out.Consumers[name]
		if !c.Works || c.KeyID == "" {
			t.Errorf("consumer %s holds key %q, working: %v", name, c.KeyID, c.Works)
		}
		ids = append(ids, c.KeyID)
	}
	if ids[0] != ids[1] {
		t.Errorf("the consumers hold different keys %v: one new key was to be shared", ids)
	}
	if !strings.Contains(out.Report, out.Incident) || !strings.Contains(out.Report, "T1078.004") {
		t.Errorf("the report does not name the incident and ATT&CK T1078.004")
	}
	// The cloud-specific actions: the revoke-older-sessions deny on the
	// user and the backdoor key's deletion a second person approved.
	for _, step := range []string{"terminate:aws/deploy-bot", out.Waiting} {
		if step == "" || !strings.Contains(out.Report, step) {
			t.Errorf("the report does not name the step %q", step)
		}
	}
	checkCopies(t, out)
}

// checkCopies: scope found the key pair at HEAD in both CI files and the
// Terraform file and, only in history, in the settings file a later
// commit took it out of; the report names each; remediation put the
// HEAD fixes on a branch that holds neither the secret nor the leaked
// key's id (each task saying both were replaced) and left the history
// rewrite and the merges to a person, as for the PostgreSQL drill.
func checkCopies(t *testing.T, out *Outcome) {
	t.Helper()
	want := map[string]struct {
		class  string
		atHead bool
	}{
		".github/workflows/deploy.yml": {"ci", true},
		".gitlab-ci.yml":               {"ci", true},
		"terraform/main.tf":            {"iac", true},
		"deploy/settings.env":          {"history", false},
	}
	found, lines := map[string]bool{}, map[string]int{}
	for _, c := range out.Copies {
		for rel, w := range want {
			if strings.HasSuffix(c.Path, "/repo/"+rel) {
				found[rel], lines[rel] = true, c.Line
				if c.Class != w.class || c.AtHead != w.atHead || (!c.AtHead && c.Commit == "") {
					t.Errorf("copy %s: class %s, at HEAD %v, commit %q; want %s, at HEAD %v", rel, c.Class, c.AtHead, c.Commit, w.class, w.atHead)
				}
			}
		}
	}
	open := func(kind, location string) bool {
		return slices.ContainsFunc(out.Tasks, func(t store.Task) bool {
			return t.Kind == kind && t.State != store.TaskDone && strings.HasSuffix(t.Location, location)
		})
	}
	for rel, w := range want {
		if !found[rel] {
			t.Errorf("scope did not find the copy in %s: %+v", rel, out.Copies)
		}
		if !strings.Contains(out.Report, rel) {
			t.Errorf("the report does not name the copy in %s", rel)
		}
		if w.atHead && !open("working-tree", fmt.Sprintf("/repo/%s:%d", rel, lines[rel])) {
			t.Errorf("no open working-tree task for %s: %+v", rel, out.Tasks)
		}
	}
	if !open("history", "/repo") {
		t.Errorf("no history rewrite waiting for approval: %+v", out.Tasks)
	}
	if len(out.BranchCopies) > 0 {
		t.Errorf("branch %s still holds the secret in %v", out.Branch, out.BranchCopies)
	}
	if len(out.BranchKeyIDs) > 0 {
		t.Errorf("branch %s still holds the leaked key's id in %v: merged, CI would pair the new secret with it", out.Branch, out.BranchKeyIDs)
	}
	for _, rel := range []string{".github/workflows/deploy.yml", ".gitlab-ci.yml", "terraform/main.tf"} {
		i := slices.IndexFunc(out.Tasks, func(t store.Task) bool {
			return t.Kind == "working-tree" && strings.HasSuffix(t.Location, fmt.Sprintf("/repo/%s:%d", rel, lines[rel]))
		})
		if i < 0 || !strings.Contains(out.Tasks[i].Action, "the leaked key's id") {
			t.Errorf("the task for %s does not say the key id beside the secret was replaced too", rel)
			if i >= 0 {
				t.Logf("its action: %s", out.Tasks[i].Action)
			}
		}
	}
}
