package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/store"
)

// needsOf says what a step kind does in its system, for Preflight.
var needsOf = map[plan.Kind][]provider.Need{
	plan.Isolate:           {provider.NeedRotate, provider.NeedTerminate},
	plan.Issue:             {provider.NeedRotate},
	plan.Revoke:            {provider.NeedRotate},
	plan.RevokeRelated:     {provider.NeedRotate},
	plan.TerminateSessions: {provider.NeedTerminate},
	plan.RevokeLeases:      {provider.NeedRotate, provider.NeedTerminate},
}

// Preflight checks, before a run changes anything (and before a dry
// run), what the steps still to run will need: every system they touch
// is reached as its administrator and, where its provider can tell
// (provider.Preflighter), holds the privileges those steps need; every
// consumer's delivery target is read as the delivery will read it. It
// returns one line per problem, each naming the system or file; none
// means go. Steps done (or skipped) need nothing more.
func Preflight(ctx context.Context, s Systems, p *plan.Plan, steps []store.Step) []string {
	finished := map[string]bool{}
	for _, st := range steps {
		finished[st.StepID] = st.State == engine.Done || st.State == engine.Skipped
	}
	var problems []string
	type sysNeeds struct {
		req provider.PreflightRequest
	}
	systems := map[string]*sysNeeds{}
	var order []string
	for _, st := range p.Steps {
		if finished[st.ID] {
			continue
		}
		if st.Kind == plan.Deliver {
			problems = append(problems, checkTarget(ctx, s, st)...)
			continue
		}
		if st.System == "" {
			continue
		}
		sn := systems[st.System]
		if sn == nil {
			sn = &sysNeeds{req: provider.PreflightRequest{Steps: map[provider.Need][]string{}}}
			systems[st.System] = sn
			order = append(order, st.System)
		}
		for _, n := range needsOf[st.Kind] {
			if !slices.Contains(sn.req.Needs, n) {
				sn.req.Needs = append(sn.req.Needs, n)
			}
			sn.req.Steps[n] = append(sn.req.Steps[n], st.ID)
		}
	}
	for _, name := range order {
		problems = append(problems, checkSystem(ctx, s, name, systems[name].req)...)
	}
	return problems
}

func checkSystem(ctx context.Context, s Systems, name string, req provider.PreflightRequest) []string {
	prov, err := s.Open(ctx, name)
	if err != nil {
		return []string{systemLine(name, err)}
	}
	defer prov.Close()
	pf, ok := prov.(provider.Preflighter)
	if !ok || len(req.Needs) == 0 {
		return nil
	}
	res, err := pf.Preflight(ctx, req)
	if errors.Is(err, provider.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return []string{systemLine(name, err)}
	}
	var out []string
	for _, pr := range res.Problems {
		out = append(out, "system "+name+": "+pr)
	}
	return out
}

func checkTarget(ctx context.Context, s Systems, st plan.Step) []string {
	c := s.Inventory.ConsumerByName(st.Consumer)
	if c == nil {
		return []string{fmt.Sprintf("step %s: consumer %s is not in the inventory", st.ID, st.Consumer)}
	}
	t, err := s.Target(c)
	if err == nil {
		err = checkDelivery(ctx, t)
	}
	if err != nil {
		return []string{"consumer " + c.Name + ": " + oneLine(err)}
	}
	return nil
}

// systemLine is err as a problem of system name, which it names once.
func systemLine(name string, err error) string {
	line := oneLine(err)
	if strings.HasPrefix(line, "system "+name+":") {
		return line
	}
	return "system " + name + ": " + line
}
