package incident

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rekeyhq/rekey/internal/actor"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/remediate"
	"github.com/rekeyhq/rekey/internal/store"
)

// Approve records that d.Actor approves step of incident id: a plan step
// that waits for an approval, or a remediation task that does
// (rewrite-history:REPO). The one who opened the incident cannot approve
// (separation of duties), nor may anyone who started a run of it, for a
// plan step; approving twice is fine.
func Approve(ctx context.Context, d Deps, id, step string) error {
	opener, err := Opener(ctx, d.Store, id)
	if err != nil {
		return err
	}
	if strings.HasPrefix(step, remediate.RewritePrefix) {
		if _, err := d.Store.GetIncident(ctx, id); err != nil {
			return err
		}
		return remediate.Approve(ctx, d.Store, d.Audit, id, step, d.Actor, opener)
	}
	e, err := engine.New(ctx, engine.Deps{Store: d.Store, Audit: d.Audit, Actor: d.Actor}, id)
	if err != nil {
		return err
	}
	starters, err := Starters(ctx, d.Store, id)
	if err != nil {
		return err
	}
	for _, s := range starters {
		if actor.Same(d.Actor, s) {
			return errs.New("approve", errs.Permission, id,
				fmt.Sprintf("%s started a run of this incident and cannot also approve its steps; another person must", d.Actor))
		}
	}
	return e.Approve(ctx, step, d.Actor, opener)
}

// Starters are who started a run of incident id (each run.start in the
// audit log, resumed runs included), in order, without repeats.
func Starters(ctx context.Context, st store.Store, id string) ([]string, error) {
	log, err := st.AuditLog(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range log {
		if e.IncidentID == id && e.Action == "run.start" && !slices.Contains(out, e.Actor) {
			out = append(out, e.Actor)
		}
	}
	return out, nil
}
