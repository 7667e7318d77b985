package incident

import (
	"context"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// Close ends incident id for reason: it is recorded in the audit log and
// the report, and the next Open of the same secret starts a new incident.
// It claims the incident first, so a run that is going on (its worker
// holds the claim) refuses it with who runs it. Closing a closed incident
// is an error that says when it was closed.
func Close(ctx context.Context, d Deps, id, reason string) (store.Incident, error) {
	const op = "incident close"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return store.Incident{}, errs.New(op, errs.Invalid, id, "give the reason with --reason TEXT: the report and the audit log keep it")
	}
	inc, err := d.Store.GetIncident(ctx, id)
	if err != nil {
		return store.Incident{}, err
	}
	if inc.State == store.Closed {
		msg := "the incident is already closed"
		if inc.ClosedAt != nil {
			msg += " (at " + inc.ClosedAt.UTC().Format(time.RFC3339) + ")"
		}
		return inc, errs.New(op, errs.Invalid, id, msg)
	}
	ctx, release, err := d.Claim(ctx, id)
	if err != nil {
		return store.Incident{}, err
	}
	defer release()
	if err := d.Audit.Check(ctx); err != nil {
		return store.Incident{}, err
	}
	at := d.now().UTC()
	if _, err := d.Audit.Append(ctx, d.Actor, "incident.close", id, map[string]string{"reason": reason}); err != nil {
		return store.Incident{}, err
	}
	if err := d.Store.CloseIncident(ctx, id, at); err != nil {
		return store.Incident{}, err
	}
	return d.Store.GetIncident(ctx, id)
}
