package incident

import (
	"context"
	"strings"

	"github.com/rekeyhq/rekey/internal/actor"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/remediate"
)

// Approve records that d.Actor approves step of incident id: a plan step
// that waits for an approval, or a remediation task that does
// (rewrite-history:REPO). The one who opened the incident cannot approve
// (separation of duties), nor can one who started its run approve a plan
// step; approving twice is fine.
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
	if err := separated(ctx, d, id, opener); err != nil {
		return err
	}
	e, err := engine.New(ctx, engine.Deps{Store: d.Store, Audit: d.Audit, Actor: d.Actor}, id)
	if err != nil {
		return err
	}
	return e.Approve(ctx, step, d.Actor, opener)
}

// separated refuses d.Actor when they opened incident id or the audit log
// shows them starting its run: whoever opened or pressed run does not
// also sign off on it. It comes before the plan is read, so the refusal
// does not depend on the plan's state.
func separated(ctx context.Context, d Deps, id, opener string) error {
	if actor.Same(d.Actor, opener) {
		return errs.New("approve", errs.Permission, id, d.Actor+" opened this incident and cannot also approve its steps; another person must")
	}
	log, err := d.Store.AuditLog(ctx)
	if err != nil {
		return err
	}
	for _, e := range log {
		if e.IncidentID == id && e.Action == "run.start" && actor.Same(e.Actor, d.Actor) {
			return errs.New("approve", errs.Permission, id, d.Actor+" started this incident's run and cannot also approve its steps; another person must")
		}
	}
	return nil
}
