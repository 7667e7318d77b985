package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// TestApproveSupplyStepTakesTheSecretFromAFileOrStdin: the person who
// created a replacement no API can mint hands it in with approve
// --secret-file (or --secret-stdin); it is sealed for the step's login,
// never printed nor audited; the opener cannot, and a step that takes no
// secret refuses one.
func TestApproveSupplyStepTakesTheSecretFromAFileOrStdin(t *testing.T) {
	dir, _, env, o, _ := certIncident(t)
	home := env["REKEY_HOME"]

	// The plan of a system whose replacement a person creates (a GitHub
	// personal token); the x509 incident only carries it here.
	p := plan.Plan{Incident: o.ID, Strategy: plan.Graceful, Requested: plan.Graceful, Notes: []string{}, Steps: []plan.Step{
		{ID: "supply:gh/octo", Kind: plan.Supply, Target: "gh/octo", System: "gh", Identity: "octo", Login: "octo", Needs: []string{}, Approval: plan.ApprovalSecret},
		{ID: "revoke:gh/octo", Kind: plan.Revoke, Target: "gh/octo", System: "gh", Identity: "octo", Needs: []string{"supply:gh/octo"}, Approval: plan.ApprovalPolicy},
	}}
	body, _ := json.Marshal(p)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(home, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutPlan(ctx, o.ID, store.Plan{Strategy: "graceful", Body: body}); err != nil {
		t.Fatal(err)
	}

	const fresh = "github_pat_11AAAAFRESHtokenSuppliedByAPerson0123456789"
	file := filepath.Join(dir, "new-token")
	keytest.WriteFile(t, file, []byte(fresh+"\n"), 0o600)
	sealed := func() []string {
		names, err := st.SealedNames(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	var printed strings.Builder
	for _, c := range []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{[]string{"supply:gh/octo", "--as", "bob"}, "", 2, "--secret-file F or --secret-stdin"},
		{[]string{"revoke:gh/octo", "--secret-file", file, "--as", "bob"}, "", 2, "takes no secret"},
		{[]string{"supply:gh/octo", "--secret-file", file}, "", 2, "opened this incident"},
	} {
		r := run(t, env, c.stdin, append([]string{"incident", "approve", o.ID}, c.args...)...)
		printed.WriteString(r.stdout + r.stderr)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("approve %v: exit %d %q, want %d naming %q", c.args, r.code, r.stderr, c.code, c.want)
		}
		if n := sealed(); len(n) != 0 {
			t.Fatalf("a refused approval sealed %v", n)
		}
	}
	r := run(t, env, "", "incident", "approve", o.ID, "supply:gh/octo", "--secret-file", file, "--as", "bob")
	printed.WriteString(r.stdout + r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, "supply:gh/octo approved by bob") {
		t.Fatalf("approve with the secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := sealed(); len(n) != 1 || n[0] != "login:gh/octo" {
		t.Errorf("sealed %v, want the supplied secret for login gh/octo", n)
	}
	// Handed in again (stdin): the first one sealed stays.
	r = run(t, env, "other-token-value-123456", "incident", "approve", o.ID, "supply:gh/octo", "--secret-stdin", "--as", "carol")
	printed.WriteString(r.stdout + r.stderr)
	if r.code != 0 {
		t.Errorf("approving again: exit %d %s", r.code, r.stderr)
	}
	log, _ := st.AuditLog(ctx)
	for _, a := range log {
		printed.Write(a.Detail)
	}
	if strings.Contains(printed.String(), fresh) || strings.Contains(printed.String(), "FRESHtoken") {
		t.Error("the supplied secret was printed or audited")
	}
	if steps, _ := st.Steps(ctx, o.ID); len(steps) == 0 || steps[0].ApprovedBy != "bob" {
		t.Errorf("steps after the approval: %+v", steps)
	}
}
