package incident

import (
	"context"
	"fmt"

	"github.com/rekeyhq/rekey/internal/actor"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/remediate"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Approve records that d.Actor approves step of incident id: a plan step
// that waits for an approval, or a remediation task that does
// (rewrite-history:REPO). Separation of duties: whoever opened the
// incident, or started or continued its run, cannot approve (an
// errs.Permission error; the server answers 403). This is the one rule
// the CLI and the server share. Approving twice is fine.
func Approve(ctx context.Context, d Deps, id, step string) error {
	opener, err := Opener(ctx, d.Store, id)
	if err != nil {
		return err
	}
	if err := separate(ctx, d, id, opener); err != nil {
		return err
	}
	if remediate.WaitsForApproval(step) {
		if _, err := d.Store.GetIncident(ctx, id); err != nil {
			return err
		}
		return remediate.Approve(ctx, d.Store, d.Audit, id, step, d.Actor, opener)
	}
	e, err := engine.New(ctx, engine.Deps{Store: d.Store, Audit: d.Audit, Actor: d.Actor}, id)
	if err != nil {
		return err
	}
	return e.Approve(ctx, step, d.Actor, opener)
}

// ApproveSecret approves a supply-secret step of incident id with the new
// secret d.Actor created where no API can (a GitHub personal access
// token): separation of duties as for Approve, then the secret is sealed
// under the run's key before the approval is recorded. The secret is
// never stored otherwise, nor audited, nor echoed.
func ApproveSecret(ctx context.Context, d Deps, id, step string, s secret.Secret) error {
	opener, err := Opener(ctx, d.Store, id)
	if err != nil {
		return err
	}
	if err := separate(ctx, d, id, opener); err != nil {
		return err
	}
	e, done, err := Engine(ctx, d, id)
	if err != nil {
		return err
	}
	defer done()
	return e.ApproveSecret(ctx, step, d.Actor, opener, s)
}

// MayApprove returns the errs.Permission error Approve would refuse
// d.Actor with for separation of duties in incident id, nil when they may
// approve: what the web UI asks before it offers an Approve button.
func MayApprove(ctx context.Context, d Deps, id string) error {
	opener, err := Opener(ctx, d.Store, id)
	if err != nil {
		return err
	}
	return separate(ctx, d, id, opener)
}

// separate refuses d.Actor when they opened incident id, or when the
// audit log says they started (or continued) a run of it: the one who
// pressed "run" is the second pair of eyes no more than the opener is.
// Names are compared by actor.Same. It runs before anything about the
// step is looked at, so the refusal does not depend on the step.
func separate(ctx context.Context, d Deps, id, opener string) error {
	if actor.Same(d.Actor, opener) {
		return errs.New("approve", errs.Permission, id,
			fmt.Sprintf("%s opened this incident and cannot also approve its steps; another person must", d.Actor))
	}
	log, err := d.Store.AuditLog(ctx)
	if err != nil {
		return err
	}
	for _, e := range log {
		if e.IncidentID == id && e.Action == "run.start" && actor.Same(e.Actor, d.Actor) {
			return errs.New("approve", errs.Permission, id,
				fmt.Sprintf("%s started this incident's run and cannot also approve its steps; another person must", d.Actor))
		}
	}
	return nil
}
