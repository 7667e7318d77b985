package incident

import (
	"context"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

// Scope computes inc's blast radius from what its incident recorded: the
// copies, identities, consumers, uses and the exposure review. inv adds
// the declared consumers' details; nil shows them as recorded at open.
func Scope(ctx context.Context, st store.Store, inc store.Incident, inv *inventory.Inventory, now time.Time) (scope.Scope, error) {
	id := inc.ID
	occ, err := st.Occurrences(ctx, id)
	if err != nil {
		return scope.Scope{}, err
	}
	ids, err := st.Identities(ctx, id)
	if err != nil {
		return scope.Scope{}, err
	}
	cons, err := st.Consumers(ctx, id)
	if err != nil {
		return scope.Scope{}, err
	}
	events, err := st.Events(ctx, id)
	if err != nil {
		return scope.Scope{}, err
	}
	revs, err := st.Reviews(ctx, id)
	if err != nil {
		return scope.Scope{}, err
	}
	return scope.Compute(scope.Input{Incident: inc, Occurrences: occ, Identities: ids, Consumers: cons, Events: events, Inventory: inv, Now: now,
		NoBaseline: scope.ExposureWithoutBaseline(revs)}), nil
}
