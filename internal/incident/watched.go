package incident

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// WatchActor is who the audit log says opened and contained what the
// watcher acted on.
const WatchActor = "watch"

// IdentityKey is the key an incident opened without its secret is stored
// under: the watcher sees an identity misused, never the secret. It takes
// the place of the secret's fingerprint (the store keeps one open
// incident per key, which makes two watchers opening the same identity
// at once get one incident) until `incident open` of the secret joins it
// (OpenOrJoin). A plain hash of public names: it hides nothing and needs
// no key; a secret's fingerprint is keyed, so the two never meet.
func IdentityKey(ref store.IdentityRef) secret.Fingerprint {
	h := sha256.Sum256([]byte("rekey: incident keyed by identity\x00" + ref.System + "\x00" + ref.Name))
	return secret.Fingerprint(hex.EncodeToString(h[:]))
}

// OpenOrJoin opens the incident of the secret inc describes, whose
// identification found idents: the open incident of that secret when
// there is one (existing); else an open incident the watcher opened for
// one of those identities, which takes the secret (existing and joined);
// else a new one.
func OpenOrJoin(ctx context.Context, st store.Store, inc store.Incident, idents []store.Identity) (_ store.Incident, existing, joined bool, _ error) {
	open, err := st.ListIncidents(ctx, store.Filter{State: store.Open, Fingerprint: inc.Fingerprint})
	if err != nil {
		return store.Incident{}, false, false, err
	}
	if len(open) > 0 {
		return open[0], true, false, nil
	}
	for _, id := range idents {
		if id.Name == scope.SystemWide {
			continue
		}
		key := IdentityKey(store.IdentityRef{System: id.System, Name: id.Name})
		ws, err := st.ListIncidents(ctx, store.Filter{State: store.Open, Fingerprint: key})
		if err != nil {
			return store.Incident{}, false, false, err
		}
		for _, w := range ws {
			err := st.SetIncidentSecret(ctx, w.ID, key, inc.Fingerprint, inc.Preview)
			if errs.KindOf(err) == errs.Conflict {
				continue // closed or joined meanwhile: the store's answer below is the truth
			}
			if err != nil {
				return store.Incident{}, false, false, err
			}
			got, err := st.GetIncident(ctx, w.ID)
			return got, true, true, err
		}
	}
	got, existing, err := st.OpenIncident(ctx, inc)
	return got, existing, false, err
}

// Watched is what the watcher knows when a finding opens an incident.
type Watched struct {
	Identity store.IdentityRef
	// Inventory and its bytes as read: the incident's copy.
	Inventory     *inventory.Inventory
	InventoryBody []byte
	// Why is the finding's one-line summary, kept in the incident's notes.
	Why string
	// Kind is the finding's kind, for the audit log.
	Kind string
	// Key is the id of the key the finding names, for systems of keys
	// (an AWS access key id; "" for a login): the identity is inspected
	// with it as the key in question, which is the key a plan revokes.
	Key string
}

// OpenForIdentity returns the open incident of w.Identity (opened is
// false), or opens one keyed by it (IdentityKey), as d.Actor: the
// inventory's copy kept, the identity inspected as its system's
// administrator (a system that cannot be reached is recorded with the
// reason), its declared consumers recorded. Any open incident whose
// identity is w.Identity is found, whoever opened it and with or without
// its secret. One found without its identity stored (its opener stopped
// before, or is still at it) is set up here as well: every step is a
// put, and two watchers doing it put the same.
func OpenForIdentity(ctx context.Context, d Deps, w Watched) (_ store.Incident, opened bool, _ error) {
	st := d.Store
	open, err := st.ListIncidents(ctx, store.Filter{State: store.Open})
	if err != nil {
		return store.Incident{}, false, err
	}
	for _, inc := range open {
		if inc.Identity == w.Identity {
			ids, err := st.Identities(ctx, inc.ID)
			if err != nil || len(ids) > 0 {
				return inc, false, err
			}
			inc, err = setUp(ctx, d, inc, w)
			return inc, false, err
		}
	}
	inc, existing, err := st.OpenIncident(ctx, store.Incident{
		Fingerprint: IdentityKey(w.Identity), Created: d.now().UTC(), Inventory: w.Inventory.File,
		Identity: w.Identity, Notes: w.Why,
	})
	if err != nil || existing {
		return inc, false, err
	}
	if _, err := d.Audit.Append(ctx, d.Actor, "incident.open", inc.ID, map[string]string{
		"identity": w.Identity.System + "/" + w.Identity.Name, "finding": w.Kind, "inventory": w.Inventory.File}); err != nil {
		return inc, true, err
	}
	inc, err = setUp(ctx, d, inc, w)
	return inc, true, err
}

// setUp stores what an incident opened for an identity holds besides the
// identity's name: the inventory's copy, the identity as inspected, its
// consumers, and the incident's kind. The identity is stored after the
// inventory's copy and before the rest, and its presence is what marks
// an incident as set up.
func setUp(ctx context.Context, d Deps, inc store.Incident, w Watched) (store.Incident, error) {
	st := d.Store
	if err := st.PutInventory(ctx, inc.ID, store.InventoryCopy{Path: w.Inventory.File, Body: w.InventoryBody}); err != nil {
		return inc, err
	}
	ident := store.Identity{System: w.Identity.System, Name: w.Identity.Name, Flags: []string{}}
	if p, err := d.Systems(w.Inventory).Open(ctx, w.Identity.System); err != nil {
		ident.InspectError = oneLine(err)
	} else {
		ident = inspect(ctx, p, w.Identity.System, provider.Match{Ref: provider.IdentityRef{System: w.Identity.System, Name: w.Identity.Name, Key: w.Key}})
		p.Close()
	}
	sc := scope.Compute(scope.Input{Incident: inc, Identities: []store.Identity{ident}, Inventory: w.Inventory, Now: d.now()})
	var cons []store.Consumer
	for _, c := range sc.Consumers {
		cons = append(cons, store.Consumer{Name: c.Name, Identity: w.Identity.Name, Declared: c.Declared, Observed: c.Observed, Sources: c.Sources, ThirdParty: c.ThirdParty})
	}
	if err := st.PutConsumers(ctx, inc.ID, cons); err != nil {
		return inc, err
	}
	if sys := w.Inventory.SystemByName(w.Identity.System); sys != nil {
		inc.Kind = sys.Type + " credential"
		if err := st.UpdateIncident(ctx, inc); err != nil {
			return inc, err
		}
	}
	// Last: the mark that the incident is set up.
	return inc, st.PutIdentity(ctx, inc.ID, ident)
}
