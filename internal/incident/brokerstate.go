package incident

import (
	"context"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/store"
)

// IdentityState answers the broker's question at every credential
// request (broker.IdentityState): is an incident open on this identity,
// and how risky is it. It reads the store each time: an incident opened
// a second ago counts.
type IdentityState struct {
	Store store.Store
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// State reports whether an open incident's identity is identity
// (system/name), with the highest risk score among them.
func (s IdentityState) State(ctx context.Context, identity string) (bool, int, error) {
	incs, err := s.Store.ListIncidents(ctx, store.Filter{State: store.Open})
	if err != nil {
		return false, 0, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	under, risk := false, 0
	for _, inc := range incs {
		if inc.Identity.IsZero() || inc.Identity.System+"/"+inc.Identity.Name != identity {
			continue
		}
		under = true
		sc, err := Scope(ctx, s.Store, inc, nil, now())
		if err != nil {
			return false, 0, err
		}
		risk = max(risk, sc.Risk.Score)
	}
	return under, risk, nil
}

// brokerLeases builds the broker's leases service for a run's
// revoke-leases and move-to-lease steps, on the run's own connections.
func brokerLeases(d Deps, inv *inventory.Inventory, open func(context.Context, string) (provider.Provider, error)) func(context.Context) (engine.Leases, error) {
	return func(ctx context.Context) (engine.Leases, error) {
		return Leases(ctx, d.Store, d.Audit, inv, open)
	}
}

// Leases is the broker's leases service over inv's broker roles, with
// each role's system opened (as administrator) through open.
func Leases(ctx context.Context, st store.Store, log *audit.Log, inv *inventory.Inventory, open func(context.Context, string) (provider.Provider, error)) (*broker.Leases, error) {
	systems := map[string]provider.Provider{}
	if inv.Broker != nil {
		for _, r := range inv.Broker.Roles {
			if systems[r.System] != nil {
				continue
			}
			p, err := open(ctx, r.System)
			if err != nil {
				return nil, err
			}
			systems[r.System] = p
		}
	}
	return broker.NewLeases(broker.LeaseConfig{Inventory: inv, Store: st, Audit: log, Systems: systems})
}
