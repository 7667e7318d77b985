package watcher

import (
	"context"
	"fmt"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// canaryLen is a canary password's length: as long as the passwords rekey
// issues, so it looks like the real thing.
const canaryLen = 32

// CreateCanary makes login a decoy in the inventory's system (a login
// with no privilege, provider.DecoyCreator), records it in the store, and
// returns its secret: the only copy, for the caller to show once. Any use
// of it a watcher sees is a critical canary-use finding. Made again, the
// canary gets a new secret; a login of that name that is not a canary is
// refused.
func CreateCanary(ctx context.Context, d incident.Deps, inv *inventory.Inventory, system, login string) (secret.Secret, error) {
	const op = "canary create"
	sys := inv.SystemByName(system)
	if sys == nil {
		return secret.Secret{}, errs.New(op, errs.Invalid, system, "system "+system+" is not in the inventory "+inv.File)
	}
	if login == "" {
		return secret.Secret{}, errs.New(op, errs.Invalid, system, "no login name")
	}
	if inv.IdentityByName(system+"/"+login) != nil {
		return secret.Secret{}, errs.New(op, errs.Invalid, system, login+" is an identity of the inventory: a canary is a login nobody uses")
	}
	p, err := d.Systems(inv).Open(ctx, system)
	if err != nil {
		return secret.Secret{}, err
	}
	defer p.Close()
	dc, ok := p.(provider.DecoyCreator)
	if !ok {
		return secret.Secret{}, errs.New(op, errs.Unsupported, system, fmt.Sprintf("a %s system cannot hold a canary here", sys.Type))
	}
	s, err := secret.Generate(canaryLen)
	if err != nil {
		return secret.Secret{}, err
	}
	if err := dc.CreateDecoy(ctx, login, s); err != nil {
		return secret.Secret{}, err
	}
	if err := d.Store.PutCanary(ctx, store.Canary{System: system, Login: login, Created: time.Now().UTC()}); err != nil {
		return secret.Secret{}, fmt.Errorf("the canary %s exists in %s but is not recorded, so no watcher knows it; run the command again: %w", login, system, err)
	}
	if _, err := d.Audit.Append(ctx, d.Actor, "canary.create", "", map[string]string{"system": system, "login": login}); err != nil {
		return secret.Secret{}, err
	}
	return s, nil
}
