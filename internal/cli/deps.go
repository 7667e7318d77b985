package cli

import (
	"context"

	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/store"
)

// deps is what the incident workflow works through for this command.
func (g *globals) deps(st store.Store) (incident.Deps, error) {
	al, err := g.auditLog(st)
	if err != nil {
		return incident.Deps{}, err
	}
	return incident.Deps{
		Store: st, Audit: al, Actor: g.actor(),
		LoadInventory: func(path string) (*inventory.Inventory, error) { return loadInventoryStrict(g, path) },
		Claim:         func(ctx context.Context, id string) (context.Context, func(), error) { return g.claim(ctx, st, id) },
	}, nil
}

// openDeps opens the store and builds deps over it; done closes it.
func (g *globals) openDeps(ctx context.Context) (incident.Deps, func(), error) {
	st, err := g.openStore(ctx)
	if err != nil {
		return incident.Deps{}, nil, err
	}
	d, err := g.deps(st)
	if err != nil {
		st.Close()
		return incident.Deps{}, nil, err
	}
	return d, func() { st.Close() }, nil
}
