package incident

import (
	"testing"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/store"
)

func TestStarted(t *testing.T) {
	steps := func(states ...string) []store.Step {
		var out []store.Step
		for i, s := range states {
			out = append(out, store.Step{StepID: string(rune('a' + i)), State: s})
		}
		return out
	}
	for _, tc := range []struct {
		states []string
		want   string
	}{
		{nil, ""},
		{[]string{engine.Pending, engine.WaitingApproval, engine.Skipped}, ""},
		{[]string{engine.Pending, engine.Failed}, "b"},
		{[]string{engine.Done, engine.Pending}, "a"},
		{[]string{engine.Pending, engine.WaitingWindow}, "b"},
		{[]string{engine.Running}, "a"},
	} {
		s, ok := Started(steps(tc.states...))
		if ok != (tc.want != "") || s.StepID != tc.want {
			t.Errorf("Started(%v) = %q %v, want %q", tc.states, s.StepID, ok, tc.want)
		}
	}
}
