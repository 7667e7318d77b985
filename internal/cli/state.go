package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/keycheck"
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

// keyDir is where the installation, sealing and audit keys and the runs'
// keys live: --keys file:DIR, else $REKEY_KEYS, else $REKEY_HOME.
// Replicas of one store are given the same DIR (a copy of it, or a
// shared mount: see docs/operations.md).
func (g *globals) keyDir() (string, error) {
	spec := g.keys
	if spec == "" {
		spec = g.env.Getenv("REKEY_KEYS")
	}
	if spec == "" {
		return g.home()
	}
	dir, ok := strings.CutPrefix(spec, "file:")
	if !ok || dir == "" {
		return "", usagef("--keys %q: want file:DIR, a directory holding the shared keys", spec)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", usagef("--keys %q: %v", spec, err)
	}
	return abs, nil
}

// fingerprinter loads (or creates) the installation key.
func (g *globals) fingerprinter() (*secret.Fingerprinter, error) {
	dir, err := g.keyDir()
	if err != nil {
		return nil, err
	}
	key, err := secret.LoadOrCreateKey(dir, secret.InstallationKeyFile)
	if err != nil {
		return nil, errs.E("installation key", errs.Permission, "", err)
	}
	return secret.NewFingerprinter(key)
}

// findingsFingerprinter is the fingerprinter of scan and trace, which
// store nothing: the installation key when this installation has one (so
// that fingerprints match its incidents'), else a key made for this run
// alone, so that a plain scan leaves $REKEY_HOME as it found it.
func (g *globals) findingsFingerprinter() (*secret.Fingerprinter, error) {
	dir, err := g.keyDir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, secret.InstallationKeyFile)); err == nil {
		return g.fingerprinter()
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	defer clear(key)
	return secret.NewFingerprinter(key)
}

// storeSpec is --store, else $REKEY_STORE, else the SQLite file in
// $REKEY_HOME.
func (g *globals) storeSpec() (string, error) {
	spec := g.store
	if spec == "" {
		spec = g.env.Getenv("REKEY_STORE")
	}
	if spec == "" {
		home, err := g.home()
		if err != nil {
			return "", err
		}
		spec = filepath.Join(home, store.DBFile)
	}
	return spec, nil
}

// openStore opens the store storeSpec names.
func (g *globals) openStore(ctx context.Context) (store.Store, error) {
	spec, err := g.storeSpec()
	if err != nil {
		return nil, err
	}
	return open.Open(ctx, spec)
}

// actor is who the audit log names: the name of the caller's token when
// actAs authenticated one, else --as, else $REKEY_ACTOR, else the login
// name.
func (g *globals) actor() string {
	if g.who != "" {
		return g.who
	}
	if g.as != "" {
		return g.as
	}
	if a := g.env.Getenv("REKEY_ACTOR"); a != "" {
		return a
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// auditLog is the store's audit log, with this installation's witness
// and the MAC key: --audit-key, else $REKEY_AUDIT_KEY (both must exist),
// else audit.key in keyDir (created on first append).
func (g *globals) auditLog(st store.Store) (*audit.Log, error) {
	home, err := g.home()
	if err != nil {
		return nil, err
	}
	spec, err := g.storeSpec()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, errs.E("rekey home", errs.Permission, home, err)
	}
	key, create := g.auditKey, false
	if key == "" {
		key = g.env.Getenv("REKEY_AUDIT_KEY")
	}
	if key == "" {
		dir, err := g.keyDir()
		if err != nil {
			return nil, err
		}
		key, create = filepath.Join(dir, audit.KeyFile), true
	}
	witness := audit.WitnessPath(home, spec)
	l := audit.New(st, witness).WithKey(key, create)
	if dir, ok, err := g.sharedKeyDir(); err != nil {
		return nil, err
	} else if ok {
		l = l.WithSharedWitnesses(filepath.Join(dir, audit.WitnessDir), witnessName(witness))
	}
	return l, nil
}

// sharedKeyDir is keyDir when --keys or $REKEY_KEYS names one apart from
// $REKEY_HOME: the directory replicas share, where each also keeps its
// audit witness.
func (g *globals) sharedKeyDir() (string, bool, error) {
	if g.keys == "" && g.env.Getenv("REKEY_KEYS") == "" {
		return "", false, nil
	}
	dir, err := g.keyDir()
	if err != nil {
		return "", false, err
	}
	home, err := g.home()
	if err != nil {
		return "", false, err
	}
	if h, err := filepath.Abs(home); err == nil && h == dir {
		return "", false, nil
	}
	return dir, true, nil
}

// witnessName names this installation's witness among the replicas' in
// the shared directory: the host, for whoever reads the directory, and a
// hash of the local witness's path, which tells apart two homes on one
// host and stays the same across restarts.
func witnessName(witness string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, strings.TrimLeft(host, "."))
	abs, err := filepath.Abs(witness)
	if err != nil {
		abs = witness
	}
	h := sha256.Sum256([]byte(abs))
	return host + "-" + hex.EncodeToString(h[:4])
}

// sealer loads (or creates) the sealing key and returns the Sealer of
// incident's run, whose own key lives in runs/ beside it (keyDir) until
// the run's secrets are wiped: with --keys, every replica reaches it.
func (g *globals) sealer(incident string) (*secret.Sealer, error) {
	home, err := g.keyDir()
	if err != nil {
		return nil, err
	}
	key, err := secret.LoadOrCreateKey(home, secret.SealKeyFile)
	if err != nil {
		return nil, errs.E("sealing key", errs.Permission, "", err)
	}
	x, err := secret.NewSealer(key)
	if err != nil {
		return nil, errs.E("sealing key", errs.Invalid, "", err)
	}
	return x.ForRun(filepath.Join(home, secret.RunKeyDir), incident), nil
}

// checkKeys makes sure this process holds the keys the store was first
// used with (package keycheck), creating them in keyDir when there are
// none yet, so that a replica given other keys refuses to start before it
// writes anything with them.
func (g *globals) checkKeys(ctx context.Context, st store.Store) error {
	dir, err := g.keyDir()
	if err != nil {
		return err
	}
	var keys []keycheck.Key
	for _, k := range []struct{ name, file string }{{"installation", secret.InstallationKeyFile}, {"seal", secret.SealKeyFile}} {
		b, err := secret.LoadOrCreateKey(dir, k.file)
		if err != nil {
			return errs.E(k.name+" key", errs.Permission, filepath.Join(dir, k.file), err)
		}
		keys = append(keys, keycheck.Key{Name: k.name, Path: filepath.Join(dir, k.file), Bytes: b})
	}
	auditKey := g.auditKey
	if auditKey == "" {
		auditKey = g.env.Getenv("REKEY_AUDIT_KEY")
	}
	var b []byte
	if auditKey != "" {
		b, err = secret.LoadKey(auditKey)
	} else {
		auditKey = filepath.Join(dir, audit.KeyFile)
		b, err = secret.LoadOrCreateKey(dir, audit.KeyFile)
	}
	if err != nil {
		return errs.E("audit key", errs.Permission, auditKey, err)
	}
	keys = append(keys, keycheck.Key{Name: "audit", Path: auditKey, Bytes: b})
	defer func() {
		for _, k := range keys {
			clear(k.Bytes)
		}
	}()
	return keycheck.Check(ctx, st, keys, time.Now())
}
