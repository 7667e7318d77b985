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

// Canary is a canary made: where, its login, and its secret (the only
// copy, for the caller to show once). KeyID is the access key id of a
// canary that is a key (AWS IAM), "" for a login with a password.
type Canary struct {
	System, Login, KeyID string
	Secret               secret.Secret
}

// CreateCanary makes login a decoy in the inventory's system (a login
// with no privilege: provider.DecoyCreator with a password rekey
// generates, or provider.DecoyGenerator where the system generates the
// secret, as AWS IAM generates access keys), records it in the store,
// and returns it. Any use of it a watcher sees (for a key canary, any
// use of its key) is a critical canary-use finding. Made again, the
// canary gets a new secret; a login of that name that is not a canary is
// refused.
func CreateCanary(ctx context.Context, d incident.Deps, inv *inventory.Inventory, system, login string) (Canary, error) {
	const op = "canary create"
	sys := inv.SystemByName(system)
	if sys == nil {
		return Canary{}, errs.New(op, errs.Invalid, system, "system "+system+" is not in the inventory "+inv.File)
	}
	if login == "" {
		return Canary{}, errs.New(op, errs.Invalid, system, "no login name")
	}
	if inv.IdentityByName(system+"/"+login) != nil {
		return Canary{}, errs.New(op, errs.Invalid, system, login+" is an identity of the inventory: a canary is a login nobody uses")
	}
	p, err := d.Systems(inv).Open(ctx, system)
	if err != nil {
		return Canary{}, err
	}
	defer p.Close()
	c := Canary{System: system, Login: login}
	switch dc := p.(type) {
	case provider.DecoyCreator:
		if c.Secret, err = secret.Generate(canaryLen); err != nil {
			return Canary{}, err
		}
		if err := dc.CreateDecoy(ctx, login, c.Secret); err != nil {
			return Canary{}, err
		}
	case provider.DecoyGenerator:
		cred, err := dc.GenerateDecoy(ctx, login)
		if err != nil {
			return Canary{}, err
		}
		c.KeyID, c.Secret = cred.KeyID, cred.Secret
	default:
		return Canary{}, errs.New(op, errs.Unsupported, system, fmt.Sprintf("a %s system cannot hold a canary here", sys.Type))
	}
	if err := d.Store.PutCanary(ctx, store.Canary{System: system, Login: login, KeyID: c.KeyID, Created: time.Now().UTC()}); err != nil {
		return Canary{}, fmt.Errorf("the canary %s exists in %s but is not recorded, so no watcher knows it; run the command again: %w", login, system, err)
	}
	detail := map[string]string{"system": system, "login": login}
	if c.KeyID != "" {
		detail["key_id"] = c.KeyID
	}
	if _, err := d.Audit.Append(ctx, d.Actor, "canary.create", "", detail); err != nil {
		return Canary{}, err
	}
	return c, nil
}
