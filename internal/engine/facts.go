package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/store"
)

// storedRun reads the incident's stored plan (nil when there is none)
// and its steps' states.
func storedRun(ctx context.Context, s store.Store, incident string) (*plan.Plan, []store.Step, error) {
	sp, ok, err := s.GetPlan(ctx, incident)
	if err != nil || !ok {
		return nil, nil, err
	}
	var p plan.Plan
	if err := json.Unmarshal(sp.Body, &p); err != nil {
		return nil, nil, errs.E("stored plan", errs.Invalid, incident, err)
	}
	steps, err := s.Steps(ctx, incident)
	if err != nil {
		return nil, nil, err
	}
	return &p, steps, nil
}

// Verification is what a finished verify step proved: Consumer worked
// on Login at At, seen from Sources under Applications (empty when the
// step recorded none, as before rekey recorded them, or for a consumer a
// person confirmed).
type Verification struct {
	Consumer     string
	Login        string
	At           time.Time
	Sources      []string
	Applications []string
}

// Verified returns what the incident's run proved about its consumers:
// one Verification per verify step that finished done, in plan order.
// Without a stored plan it returns none.
func Verified(ctx context.Context, s store.Store, incident string) ([]Verification, error) {
	p, steps, err := storedRun(ctx, s, incident)
	if err != nil || p == nil {
		return nil, err
	}
	done := map[string]store.Step{}
	for _, st := range steps {
		if st.State == Done && st.Finished != nil {
			done[st.StepID] = st
		}
	}
	var out []Verification
	for _, ps := range p.Steps {
		st, ok := done[ps.ID]
		if ps.Kind != plan.Verify || !ok || ps.Consumer == "" {
			continue
		}
		v := Verification{Consumer: ps.Consumer, Login: ps.Login, At: *st.Finished}
		var res struct {
			Sources      []string `json:"sources"`
			Applications []string `json:"applications"`
		}
		if len(st.Result) > 0 && json.Unmarshal(st.Result, &res) == nil {
			v.Sources, v.Applications = res.Sources, res.Applications
		}
		out = append(out, v)
	}
	return out, nil
}

// Replacement is a login the run issued in place of the leaked
// identity's own, for a consumer.
type Replacement struct {
	System   string
	Identity string // the retired login
	Login    string
	Consumer string
}

// Replacements returns the logins the incident's run issued in place of
// an identity's login once that login is retired (its revoke step
// finished): finished issue steps whose login is a new name. A new
// password on the same login (an in-place issue) changes no login name
// and is not listed. Without a stored plan it returns none.
func Replacements(ctx context.Context, s store.Store, incident string) ([]Replacement, error) {
	p, steps, err := storedRun(ctx, s, incident)
	if err != nil || p == nil {
		return nil, err
	}
	done := map[string]bool{}
	for _, st := range steps {
		done[st.StepID] = st.State == Done
	}
	retired := map[string]bool{}
	for _, ps := range p.Steps {
		if ps.Kind == plan.Revoke && done[ps.ID] {
			retired[ps.System+"/"+ps.Identity] = true
		}
	}
	var out []Replacement
	for _, ps := range p.Steps {
		if ps.Kind != plan.Issue || !done[ps.ID] || ps.Login == ps.Identity || !retired[ps.System+"/"+ps.Identity] {
			continue
		}
		// A login shared by several consumers (graceful) is issued once,
		// for the first; the verify steps name everyone who uses it.
		var consumers []string
		for _, v := range p.Steps {
			if v.Kind == plan.Verify && v.System == ps.System && v.Login == ps.Login {
				consumers = append(consumers, v.Consumer)
			}
		}
		if len(consumers) == 0 {
			consumers = []string{ps.Consumer}
		}
		for _, c := range consumers {
			out = append(out, Replacement{System: ps.System, Identity: ps.Identity, Login: ps.Login, Consumer: c})
		}
	}
	return out, nil
}
