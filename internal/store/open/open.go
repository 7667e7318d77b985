// Package open turns a --store value into a store.Store: empty for the
// default SQLite file ($REKEY_HOME/rekey.db), a postgres:// or
// postgresql:// URL for PostgreSQL, anything else a path to an SQLite file.
//
// It is a package of its own, not store.Open, because it imports both
// implementations and they import store for its types; a registry filled
// by the implementations' init functions would hide that choice (see
// STYLE.md: explicit registries, no init side effects).
package open

import (
	"context"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/postgres"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// Open opens the store that spec names and migrates it to the newest schema.
func Open(ctx context.Context, spec string) (store.Store, error) {
	switch kind, target, err := Parse(spec); {
	case err != nil:
		return nil, err
	case kind == "postgres":
		return postgres.Open(ctx, target)
	default:
		return sqlite.Open(ctx, target)
	}
}

// Parse says which implementation spec names ("sqlite" or "postgres") and
// its target: the file path (the default one for an empty spec) or the URL.
func Parse(spec string) (kind, target string, err error) {
	const op = "store: open"
	switch {
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return "postgres", spec, nil
	case spec == "":
		p, err := store.DefaultPath()
		if err != nil {
			return "", "", errs.E(op, errs.Invalid, "", err)
		}
		return "sqlite", p, nil
	case strings.Contains(spec, "://"):
		scheme, _, _ := strings.Cut(spec, "://")
		return "", "", errs.New(op, errs.Invalid, "", "unknown store "+scheme+"://…: want a file path or a postgres:// URL")
	default:
		return "sqlite", spec, nil
	}
}
