package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/store"
)

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
	sp, ok, err := s.GetPlan(ctx, incident)
	if err != nil || !ok {
		return nil, err
	}
	var p plan.Plan
	if err := json.Unmarshal(sp.Body, &p); err != nil {
		return nil, errs.E("verified", errs.Invalid, incident, err)
	}
	steps, err := s.Steps(ctx, incident)
	if err != nil {
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
