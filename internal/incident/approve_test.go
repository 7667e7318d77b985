package incident

import (
	"context"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/plan"
)

// Whoever started a run of the incident (as the audit log records it)
// cannot approve its steps, whatever the case or spacing of the name;
// someone else reaches the step's own checks.
func TestStarterCannotApprove(t *testing.T) {
	ctx := context.Background()
	d, inc := planned(t)
	p, err := Plan(ctx, d, inc.ID, plan.Graceful)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"carol", "carol", "erin"} {
		if _, err := d.Audit.Append(ctx, who, "run.start", inc.ID, map[string]string{"strategy": "graceful"}); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := Starters(ctx, d.Store, inc.ID); err != nil || strings.Join(s, ",") != "carol,erin" {
		t.Fatalf("starters: %q %v", s, err)
	}
	step := p.Steps[0].ID
	for _, as := range []string{"carol", " Carol", "erin"} {
		d.Actor = as
		if err := Approve(ctx, d, inc.ID, step); errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "started a run of this incident") {
			t.Errorf("approve as %q: %v", as, err)
		}
	}
	d.Actor = "dave"
	if err := Approve(ctx, d, inc.ID, step); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "does not wait for an approval") {
		t.Errorf("approve as dave: %v", err)
	}
}
