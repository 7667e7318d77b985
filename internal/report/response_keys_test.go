package report

import (
	"slices"
	"testing"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/store"
)

// A key generated beside the leaked one revokes nothing (its revoke step
// does); a key rotated in one call, and a password set in place, do.
func TestResponseCountsOnlyIssuesThatKillTheLeakedSecret(t *testing.T) {
	steps := []plan.Step{
		{ID: "issue:aws/bot", Kind: plan.Issue, Login: "bot", Identity: "bot", Generated: true},
		{ID: "issue:gl/ci", Kind: plan.Issue, Login: "ci", Identity: "ci", Generated: true, Rotate: true},
		{ID: "issue:db/app", Kind: plan.Issue, Login: "app", Identity: "app"},
		{ID: "issue:db/app_r1", Kind: plan.Issue, Login: "app_r1", Identity: "app"},
	}
	states := map[string]store.Step{}
	for _, s := range steps {
		states[s.ID] = store.Step{StepID: s.ID, State: engine.Done}
	}
	r := response(&storedRun{plan: &plan.Plan{Steps: steps}}, states, nil)
	var got []string
	for _, s := range r.Revoked {
		got = append(got, s.ID)
	}
	if want := []string{"issue:gl/ci", "issue:db/app"}; !slices.Equal(got, want) {
		t.Errorf("revoked by issue steps: %v, want %v", got, want)
	}
}
