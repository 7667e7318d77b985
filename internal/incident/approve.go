package incident

import (
	"context"
	"strings"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/remediate"
)

// Approve records that d.Actor approves step of incident id: a plan step
// that waits for an approval, or a remediation task that does
// (rewrite-history:REPO). The one who opened the incident cannot approve
// (separation of duties); approving twice is fine.
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
	return e.Approve(ctx, step, d.Actor, opener)
}
