package drill

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/cli"
)

// TestMain lets the test binary stand in for rekey and for the consumer
// processes, so the drill runs them as separate processes as make drill
// does.
func TestMain(m *testing.M) {
	if os.Getenv("DRILL_AS_REKEY") == "1" {
		// As cmd/rekey: SIGTERM stops rekey serve the way an operator does.
		ctx, stop := cli.SignalContext(context.Background(), os.Stderr)
		code := cli.Main(ctx, cli.Env{Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
		stop()
		os.Exit(code)
	}
	if spec := os.Getenv("DRILL_CONSUMER"); spec != "" {
		os.Exit(RunConsumer(spec))
	}
	os.Exit(m.Run())
}

func TestDrill(t *testing.T) {
	out := runDrill(t, ViaCLI)
	checkOutcome(t, out)
}

// The same drill through rekey serve's API, as a team: the run waits for
// the revoke's approval, which the incident's opener (an admin, whose role
// may approve) and the run's starter may not give (403) and the approver
// gives; the incident ends closed, with the CLI drill's outcome.
func TestDrillViaAPI(t *testing.T) {
	out := runDrill(t, ViaAPI)
	checkOutcome(t, out)
	for name, want := range map[string]string{adminName: "opened this incident", responderName: "cannot approve"} {
		if r := out.Refused[name]; r.Status != 403 || !strings.Contains(r.Message, want) {
			t.Errorf("%s approving: %d %q, want 403 %q", name, r.Status, r.Message, want)
		}
	}
	// Each person acted under their token's name.
	for action, want := range map[string]string{"incident.open": adminName, "incident.plan": responderName, "run.start": responderName,
		"step.approved": approverName, "incident.close": responderName} {
		if got := strings.Join(out.Actors[action], ","); got != want {
			t.Errorf("the audit log's %s is by %q, want %q", action, got, want)
		}
	}
	if len(out.ApprovedBy) != 1 || out.ApprovedBy[0] != approverName {
		t.Errorf("approved by %v, want [%s]", out.ApprovedBy, approverName)
	}
	if !out.Closed {
		t.Error("the incident is not closed")
	}
}

// runDrill runs the drill with the test binary standing in for rekey and
// the consumers.
func runDrill(t *testing.T, via string) *Outcome {
	t.Helper()
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
		Consumer: func(spec string) *exec.Cmd {
			cmd := exec.Command(self, "-test.run=^$")
			cmd.Env = append(os.Environ(), "DRILL_CONSUMER="+spec)
			return cmd
		},
		Out: &log,
		Via: via,
	})
	if out != nil {
		out.Print(&log)
	}
	t.Log(log.String())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkOutcome asserts what every response must achieve.
func checkOutcome(t *testing.T, out *Outcome) {
	t.Helper()
	// The attacker was connected before the response: auto chooses
	// emergency, which cuts it off first.
	if out.Strategy != "emergency" {
		t.Errorf("strategy %s, want emergency", out.Strategy)
	}
	for _, class := range []string{"history", "ci", "iac", "chat", "ticket"} {
		if out.CopyClasses[class] == 0 {
			t.Errorf("no copy found in %s: %v", class, out.CopyClasses)
		}
	}
	if out.CutOff < 0 || out.CutOff > 30*time.Second || out.AttackerAfter != 0 || out.AttackerSession {
		t.Errorf("attacker: cut off after %s, %d logins after, session survived %v", out.CutOff, out.AttackerAfter, out.AttackerSession)
	}
	if out.OldPasswordWorks {
		t.Error("the leaked password still works")
	}
	for name, c := range out.Consumers {
		if c.OK == 0 || c.Login == "" || c.Login == "shop_app" {
			t.Errorf("consumer %s ends on login %q after %d good requests", name, c.Login, c.OK)
		}
	}
	// What rotation cannot clean: a branch to merge for CI and IaC, the
	// history rewrite (waiting for an approval), the chat message and the
	// ticket comment, each with why it remains.
	remaining := strings.Join(out.Remaining, "\n")
	for _, want := range []string{"working-tree", "history", "chat #deploys", "ticket OPS-42"} {
		if !strings.Contains(remaining, want) {
			t.Errorf("remaining copies lack %q:\n%s", want, remaining)
		}
	}
	if !strings.Contains(out.Report, out.Incident) {
		t.Errorf("the report does not name the incident")
	}
}

// The outcome reads as sentences, not as Go values.
func TestOutcomePrintIsReadable(t *testing.T) {
	o := &Outcome{Incident: "INC-20261206-abcd", Strategy: "emergency", Copies: 4,
		CopyClasses: map[string]int{"history": 1, "code": 2, "chat": 1},
		Consumers:   map[string]ConsumerOutcome{"billing": {OK: 10, Login: "billing_x"}}}
	var b strings.Builder
	o.Print(&b)
	out := b.String()
	if !strings.Contains(out, "copies found:        4 (code 2, chat 1, history 1)") {
		t.Errorf("copies line:\n%s", out)
	}
	if strings.Contains(out, "map[") || strings.Contains(out, "{") {
		t.Errorf("a Go value in the summary:\n%s", out)
	}
}
