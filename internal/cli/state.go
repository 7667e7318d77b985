package cli

import (
	"context"
	"path/filepath"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/open"
)

// home is $REKEY_HOME as the command's environment gives it (tests give
// their own), else ~/.rekey.
func (g *globals) home() (string, error) {
	h, err := secret.Home(g.env.Getenv)
	if err != nil {
		return "", errs.E("rekey home", errs.NotFound, "", err)
	}
	return h, nil
}

// fingerprinter loads (or creates) the installation key.
func (g *globals) fingerprinter() (*secret.Fingerprinter, error) {
	home, err := g.home()
	if err != nil {
		return nil, err
	}
	key, err := secret.LoadOrCreateKey(home, secret.InstallationKeyFile)
	if err != nil {
		return nil, errs.E("installation key", errs.Permission, "", err)
	}
	return secret.NewFingerprinter(key)
}

// openStore opens --store, else $REKEY_STORE, else the SQLite file in
// $REKEY_HOME.
func (g *globals) openStore(ctx context.Context) (store.Store, error) {
	spec := g.store
	if spec == "" {
		spec = g.env.Getenv("REKEY_STORE")
	}
	if spec == "" {
		home, err := g.home()
		if err != nil {
			return nil, err
		}
		spec = filepath.Join(home, store.DBFile)
	}
	return open.Open(ctx, spec)
}
