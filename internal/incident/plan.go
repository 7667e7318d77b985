package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/deliver/file"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/store"
)

// Plan decides how to contain and replace the incident's secret and
// stores the plan for Run, unless the stored plan's run has started
// (Replannable).
func Plan(ctx context.Context, d Deps, id string, strategy plan.Strategy) (*plan.Plan, error) {
	if sp, ok, err := d.Store.GetPlan(ctx, id); err != nil {
		return nil, err
	} else if ok {
		if err := Replannable(ctx, d.Store, id, sp); err != nil {
			return nil, err
		}
	}
	return BuildPlan(ctx, d, id, strategy)
}

// SystemType is the type of the inventory's system name ("" when none).
func SystemType(inv *inventory.Inventory, name string) string {
	if s := inv.SystemByName(name); s != nil {
		return s.Type
	}
	return ""
}

// Replannable refuses to replace a plan whose run has changed systems:
// its step states are what rollback and resume work from.
func Replannable(ctx context.Context, st store.Store, id string, sp store.Plan) error {
	if sp.RunState == store.RunRolledBack || sp.RunState == store.RunDone {
		return nil
	}
	steps, err := st.Steps(ctx, id)
	if err != nil {
		return err
	}
	if s, ok := Started(steps); ok {
		return errs.New("plan", errs.Invalid, id, fmt.Sprintf(
			"the stored plan's run has started (step %s is %s): finish it with `rekey incident run %s --resume` or undo it with `rekey incident rollback %s`",
			s.StepID, s.State, id, id))
	}
	return nil
}

// BuildPlan computes the plan from the incident's scope and inventory,
// stores it (replacing a stored one: Plan checks first that it may) and
// records it in the audit log.
func BuildPlan(ctx context.Context, d Deps, id string, strategy plan.Strategy) (*plan.Plan, error) {
	st := d.Store
	// Emergency containment does not wait for the tracing: revoking a
	// credential under abuse cannot be held back by a fan-out over
	// thousands of sources, and its strategy already accepts that a
	// consumer not yet known breaks; what the tracing finds later is for
	// a plan of its own.
	if strategy != plan.Emergency {
		if err := TracingDone(ctx, st, id, "plan"); err != nil {
			return nil, err
		}
	}
	inc, err := st.GetIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	if inc.Inventory == "" {
		return nil, errs.New("plan", errs.Invalid, id, "the incident has no inventory")
	}
	inv, err := d.LoadInventory(inc.Inventory)
	if err != nil {
		return nil, err
	}
	sc, err := Scope(ctx, st, inc, inv, d.now())
	if err != nil {
		return nil, err
	}
	facts, err := reviewFacts(ctx, st, id, SystemType(inv, sc.Identity.System))
	if err != nil {
		return nil, err
	}
	p, err := plan.Build(plan.Input{Scope: sc, Inventory: inv, Strategy: strategy, Now: d.now(),
		CanChangeLogin: canChangeLogin(ctx, inv), ReviewedSources: facts.sources, Related: facts.related,
		NoBaseline: inc.LeakedAt == nil || facts.noBaseline})
	if err != nil {
		return nil, errs.E("plan", errs.Invalid, id, err)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := st.PutPlan(ctx, id, store.Plan{Strategy: string(p.Strategy), Created: p.Created, Body: body}); err != nil {
		return nil, err
	}
	if _, err := d.Audit.Append(ctx, d.Actor, "incident.plan", id, map[string]any{"strategy": p.Strategy, "requested": p.Requested, "steps": len(p.Steps)}); err != nil {
		return nil, err
	}
	return p, nil
}

// planFacts is what the stored reviews add to a plan.
type planFacts struct {
	sources    []string
	related    []plan.Related
	noBaseline bool // the exposure review had no baseline
}

// reviewFacts reads what the stored reviews add to a plan: the subjects
// of the exposure review's new-source findings (use from where no
// consumer runs and the baseline never saw; without a baseline, also the
// low ones that succeeded, since nothing says they are usual), whether
// that review had a baseline, and the derived credentials of every
// review (logins the leaked credential created or changed).
func reviewFacts(ctx context.Context, st store.Store, id, sysType string) (planFacts, error) {
	var out planFacts
	rs, err := st.Reviews(ctx, id)
	if err != nil {
		return out, err
	}
	seen := map[string]bool{}
	for _, r := range rs {
		var rep review.Report
		if err := json.Unmarshal(r.Body, &rep); err != nil {
			return out, errs.E("plan", errs.Invalid, id, fmt.Errorf("stored review: %w", err))
		}
		if r.Phase == "exposure" && !rep.HasBaseline {
			out.noBaseline = true
		}
		for _, f := range rep.Findings {
			if r.Phase != "exposure" || f.Kind != review.KindNewSource || f.Severity == review.Info {
				continue
			}
			// A low one is a new address inside a network the consumer
			// already used, or a refused attempt: not a reason to cut
			// everyone off, unless there is no baseline and it succeeded.
			if f.Severity == review.Low && (rep.HasBaseline || !succeeded(f.Evidence)) {
				continue
			}
			subjects := []string{f.Subject}
			if f.Subject == "" {
				subjects = subjects[:0]
				for _, ev := range f.Evidence {
					subjects = append(subjects, ev.Source)
				}
			}
			for _, s := range subjects {
				if s != "" && !slices.Contains(out.sources, s) {
					out.sources = append(out.sources, s)
				}
			}
		}
		for _, rel := range rep.Related {
			name := strings.TrimPrefix(rel.Credential, "user:")
			if sysType == "mysql" && !strings.Contains(name, "@") {
				name += "@%"
			}
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			why := fmt.Sprintf("%s by %s from %s at %s", rel.Via, rel.CreatedBy, rel.From, rel.CreatedAt.UTC().Format(time.RFC3339))
			out.related = append(out.related, plan.Related{Name: name, Kind: rel.Kind, Principal: rel.Principal, Why: why})
		}
	}
	return out, nil
}

func succeeded(evs []review.Evidence) bool {
	return slices.ContainsFunc(evs, func(e review.Evidence) bool { return e.Outcome == "success" })
}

// canChangeLogin: a consumer can be moved to a new login when its
// delivery names where the user is, or its value is a connection string
// that holds one.
func canChangeLogin(ctx context.Context, inv *inventory.Inventory) func(c *inventory.Consumer) bool {
	return func(c *inventory.Consumer) bool {
		if c.Deliver == nil || c.Deliver.UserKey != "" {
			return true
		}
		t, err := file.FromInventory(inv, c.Deliver)
		if err != nil {
			return false
		}
		cur, err := t.Current(ctx)
		return err == nil && cur.User != ""
	}
}
