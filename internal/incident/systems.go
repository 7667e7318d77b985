package incident

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// Systems opens the inventory's systems as their administrators: the one
// place that turns an inventory entry into a provider, so that identify,
// the engine, lease renewal and preflight reach a system the same way.
type Systems struct {
	Registry  *provider.Registry
	Inventory *inventory.Inventory
	// Getenv resolves the inventory's env: references.
	Getenv func(string) string
}

// Config is the provider configuration of sys: its administrator
// credential resolved (none for a system without one: an aws-iam system
// on the SDK's default chain, x509 and ssh places), and what API systems
// and places need from the inventory entry.
func (s Systems) Config(sys *inventory.System) (provider.Config, error) {
	cfg := provider.Config{System: sys.Name, Endpoint: sys.Endpoint, Region: sys.Region, Spec: sys, Getenv: s.Getenv}
	if sys.Admin.IsZero() {
		return cfg, nil
	}
	admin, err := sys.Admin.Resolve(s.Getenv)
	if err != nil {
		return provider.Config{}, errs.E("system "+sys.Name, errs.Invalid, "", err)
	}
	cfg.Admin = admin
	return cfg, nil
}

// Open opens the provider of the system named name.
func (s Systems) Open(ctx context.Context, name string) (provider.Provider, error) {
	sys := s.Inventory.SystemByName(name)
	if sys == nil {
		return nil, errs.New("system", errs.NotFound, name, "system "+name+" is not in the inventory")
	}
	return s.open(ctx, sys)
}

func (s Systems) open(ctx context.Context, sys *inventory.System) (provider.Provider, error) {
	if !s.Registry.Has(sys.Type) {
		return nil, errs.New("system "+sys.Name, errs.Unsupported, "", fmt.Sprintf("no %s provider in this build of rekey", sys.Type))
	}
	cfg, err := s.Config(sys)
	if err != nil {
		return nil, err
	}
	return s.Registry.Open(ctx, sys.Type, cfg)
}

// AdminSecrets are the administrator credentials that resolve here, for
// a Masker: they must never be printed or stored.
func (s Systems) AdminSecrets() []secret.Secret {
	var out []secret.Secret
	for _, sys := range s.Inventory.Systems {
		if sys.Admin.IsZero() {
			continue
		}
		if admin, err := sys.Admin.Resolve(s.Getenv); err == nil {
			out = append(out, admin)
		}
	}
	return out
}

// Leaked is the secret an incident is about, as it was given.
type Leaked struct {
	Secret secret.Secret
	// KeyID is the public id given with the secret (an AWS access key
	// id); "" for a plain secret.
	KeyID string
	// UseLeaked allows a system that can prove the secret only by a
	// request made with it (AWS sts:GetCallerIdentity, GitHub GET /user)
	// to make one; Used is called with each system that was so asked,
	// for the audit log.
	UseLeaked bool
	Used      func(system string)
}

// Identify asks every system of the inventory whose secret l is, and
// inspects each identity that matches. A system that holds key ids
// (provider.KeyIdentifier) is asked by the key id when one was given, so
// the leaked key itself signs nothing. A system that cannot be searched
// is recorded under scope.SystemWide with the reason. say reports
// progress.
func (s Systems) Identify(ctx context.Context, l Leaked, say func(string, ...any)) []store.Identity {
	var out []store.Identity
	failed := func(sys string, err error) {
		out = append(out, store.Identity{System: sys, Name: scope.SystemWide, InspectError: oneLine(err)})
	}
	for i := range s.Inventory.Systems {
		sys := &s.Inventory.Systems[i]
		say("searching %s (%s)", sys.Name, sys.Type)
		p, err := s.open(ctx, sys)
		if err != nil {
			failed(sys.Name, err)
			continue
		}
		var matches []provider.Match
		ki, byKey := p.(provider.KeyIdentifier)
		li, byUse := p.(provider.LeakedIdentifier)
		switch {
		case byKey && l.KeyID != "":
			l.used(sys.Name)
			matches, err = ki.IdentifyKey(ctx, provider.IdentifyRequest{KeyID: l.KeyID, Secret: l.Secret, UseLeaked: l.UseLeaked})
		case byUse && l.UseLeaked:
			l.used(sys.Name)
			matches, err = li.IdentifyUsingLeaked(ctx, l.Secret)
		default:
			matches, err = p.Identify(ctx, l.Secret)
		}
		if err != nil {
			failed(sys.Name, err)
			p.Close()
			continue
		}
		for _, m := range matches {
			out = append(out, inspect(ctx, p, sys.Name, m))
		}
		p.Close()
	}
	return out
}

// used reports system to l.Used when the leaked secret may be used on it.
func (l Leaked) used(system string) {
	if l.UseLeaked && l.Used != nil {
		l.Used(system)
	}
}

// inspect records one matching identity with what the system says of it.
func inspect(ctx context.Context, p provider.Provider, system string, m provider.Match) store.Identity {
	now := time.Now().UTC()
	rec := store.Identity{System: system, Name: m.Ref.Name, Method: m.Method, InspectedAt: &now, Flags: []string{}}
	id, err := p.Inspect(ctx, provider.IdentityRef{System: system, Name: m.Ref.Name, Key: m.Ref.Key})
	if err != nil {
		rec.InspectError = oneLine(err)
		return rec
	}
	rec.Inspected, rec.Exists, rec.CanLogin, rec.ValidUntil = true, id.Exists, id.CanLogin, id.ValidUntil
	for _, pr := range id.Privileges {
		rec.Privileges = append(rec.Privileges, store.Privilege{Name: pr.Name, Risk: string(pr.Risk), Via: pr.Via, CreatesCredentials: pr.CreatesCredentials})
	}
	for _, se := range id.Sessions {
		rec.Sessions = append(rec.Sessions, store.Session{ID: se.ID, Client: se.Client, Application: se.Application, Started: se.Started, Database: se.Database})
	}
	for _, r := range id.Related {
		rec.Related = append(rec.Related, store.Related{Kind: r.Kind, Name: r.Name, Detail: r.Detail})
	}
	return rec
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
