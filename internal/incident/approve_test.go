package incident

import (
	"context"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
)

// Whoever started an incident's run cannot approve its steps; someone
// else gets past that rule (to the next check: this incident has no plan).
func TestTheRunnerCannotApprove(t *testing.T) {
	ctx := context.Background()
	d, _ := testDeps(t)
	inc := openTest(t, d, "cc00000000000000000000000000000000000000000000000000000000000000", d.now())
	if _, err := d.Audit.Append(ctx, "Carol", "run.start", inc.ID, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	d.Actor = "carol"
	if err := Approve(ctx, d, inc.ID, "revoke:db/app"); errs.KindOf(err) != errs.Permission {
		t.Fatalf("the runner approving: %v, want a permission error", err)
	}
	d.Actor = "dave"
	if err := Approve(ctx, d, inc.ID, "revoke:db/app"); err == nil || errs.KindOf(err) == errs.Permission {
		t.Fatalf("another approving: %v", err)
	}
}
