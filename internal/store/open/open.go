// Package open turns a --store value into a store.Store: empty for the
// default SQLite file ($REKEY_HOME/rekey.db), a postgres:// or
// postgresql:// URL or a libpq keyword string ("host=… dbname=…") for
// PostgreSQL, anything else a path to an SQLite file. A value holding
// "password=" is never taken for a file name: a mistyped DSN must not
// become a file named with its password.
//
// It is a package of its own, not store.Open, because it imports both
// implementations and they import store for its types; a registry filled
// by the implementations' init functions would hide that choice (see
// STYLE.md: explicit registries, no init side effects).
package open

import (
	"context"
	"regexp"
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
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"), keywordDSN.MatchString(spec):
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
	case strings.Contains(strings.ToLower(spec), "password="):
		// Not echoed: the value holds a password.
		return "", "", errs.New(op, errs.Invalid, "--store", `holds "password=" but is neither a postgres:// URL nor a "key=value …" connection string; refusing to take it for a file name`)
	default:
		return "sqlite", spec, nil
	}
}

// keywordDSN is a libpq keyword/value connection string: it starts with
// one of libpq's keywords and "=", e.g. "host=db user=rekey dbname=rekey".
// A file path rarely starts so, and when one must, "./host=x" still names
// a file.
var keywordDSN = regexp.MustCompile(`^\s*(host|hostaddr|port|dbname|user|password|passfile|service|sslmode|connect_timeout|application_name|options|target_session_attrs)\s*=`)
