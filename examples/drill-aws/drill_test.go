package drillaws

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/cli"
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
}
