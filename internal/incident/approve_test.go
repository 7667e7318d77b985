package incident

import (
	"context"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/plan"
)

// TestApproveRefusesOpenerAndRunner: alice opened the incident and
// Carol started its run; neither approves, under any spelling of her
// name, while dave gets past separation of duties (to the step check).
func TestApproveRefusesOpenerAndRunner(t *testing.T) {
	ctx := context.Background()
	d, inc := planned(t)
	p, err := Plan(ctx, d, inc.ID, plan.Graceful)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Audit.Append(ctx, "Carol", "run.start", inc.ID, map[string]string{"strategy": "graceful"}); err != nil {
		t.Fatal(err)
	}
	step := p.Steps[len(p.Steps)-1].ID
	for who, want := range map[string]string{"alice": "opened", "carol ": "started this incident's run", "ＣＡＲＯＬ": "started"} {
		d.Actor = who
		if err := MayApprove(ctx, d, inc.ID); errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), want) {
			t.Errorf("MayApprove(%q) = %v, want the refusal Approve gives", who, err)
		}
		for _, s := range []string{step, "rewrite-history:shop"} {
			err := Approve(ctx, d, inc.ID, s)
			if errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), want) {
				t.Errorf("%q approving %s: %v, want a permission error (%s)", who, s, err, want)
			}
		}
	}
	d.Actor = "dave"
	if err := MayApprove(ctx, d, inc.ID); err != nil {
		t.Errorf("MayApprove(dave) = %v", err)
	}
	if err := Approve(ctx, d, inc.ID, step); err == nil || errs.KindOf(err) == errs.Permission {
		t.Errorf("dave approving a step that needs no approval: %v, want the step refused, not dave", err)
	}
	// A run of another incident does not bar carol from this one.
	other := openTest(t, d, "dd00000000000000000000000000000000000000000000000000000000000000", d.now())
	d.Actor = "carol"
	if err := Approve(ctx, d, other.ID, "rewrite-history:shop"); errs.KindOf(err) == errs.Permission {
		t.Errorf("carol refused on an incident she did not run: %v", err)
	}
}
