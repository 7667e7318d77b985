package provider

import (
	"context"
	"fmt"
	"sort"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Config is what a provider needs to reach its system as an administrator.
type Config struct {
	System string // the inventory's system name, for messages and refs
	// Admin is the administrator's connection string (a DSN or URL),
	// resolved from the inventory's env: or file: reference. It holds a
	// password, so it is a Secret and never appears in errors.
	Admin secret.Secret
	// Spec is the system's inventory entry. Providers of systems that are
	// places rather than a server with an administrator login (x509
	// certificates, sshd trust files) read where to look from it; the
	// others may ignore it.
	Spec *inventory.System
	// Getenv resolves the env: references Spec holds (a keystore's
	// password); nil means os.Getenv.
	Getenv func(string) string
	// Endpoint is the base URL the system's API is reached at when it is
	// not the provider's default (the inventory's endpoint:, for cloud
	// APIs: a regional, enterprise or local endpoint).
	Endpoint string
	// Region is the cloud region API calls are signed for (aws-iam).
	Region string
}

// Factory opens a provider; it fails with a clear message when the system
// is unreachable or the administrator credential is refused.
type Factory func(ctx context.Context, cfg Config) (Provider, error)

// Registry maps system types ("postgres", "mysql", "redis") to factories.
// It is built explicitly (provider/all), never by init side effects, so a
// test can build one holding only what it needs.
type Registry struct{ factories map[string]Factory }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]Factory{}} }

// Register adds a type; registering one twice is a programming error.
func (r *Registry) Register(typ string, f Factory) {
	if _, dup := r.factories[typ]; dup {
		panic("provider: type " + typ + " registered twice")
	}
	r.factories[typ] = f
}

// Types lists the registered types, sorted.
func (r *Registry) Types() []string {
	var out []string
	for t := range r.factories {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Has reports whether typ is registered.
func (r *Registry) Has(typ string) bool { _, ok := r.factories[typ]; return ok }

// Open builds the provider for a system of type typ.
func (r *Registry) Open(ctx context.Context, typ string, cfg Config) (Provider, error) {
	f, ok := r.factories[typ]
	if !ok {
		return nil, fmt.Errorf("system %s: unknown type %q (known: %v)", cfg.System, typ, r.Types())
	}
	return f(ctx, cfg)
}
