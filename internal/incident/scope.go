package incident

import (
	"context"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/store"
)

// Scope computes inc's blast radius from what its incident recorded: the
// copies, identities, consumers, uses and the exposure review, read in
// one transaction. inv adds the declared consumers' details; nil shows
// them as recorded at open.
func Scope(ctx context.Context, st store.Store, inc store.Incident, inv *inventory.Inventory, now time.Time) (scope.Scope, error) {
	snap, err := st.Snapshot(ctx, inc.ID)
	if err != nil {
		return scope.Scope{}, err
	}
	snap.Incident = inc
	return ScopeOf(snap, inv, now), nil
}

// ScopeOf computes the blast radius from a snapshot of the incident
// (store.Store.Snapshot), for callers that need the incident first.
func ScopeOf(snap store.Snapshot, inv *inventory.Inventory, now time.Time) scope.Scope {
	return scope.Compute(scopeInput(snap, inv, now))
}

func scopeInput(snap store.Snapshot, inv *inventory.Inventory, now time.Time) scope.Input {
	return scope.Input{Incident: snap.Incident, Occurrences: snap.Occurrences, Identities: snap.Identities,
		Consumers: snap.Consumers, Events: snap.Events, Inventory: inv, Now: now,
		NoBaseline: scope.ExposureWithoutBaseline(snap.Reviews)}
}
