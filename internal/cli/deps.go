package cli

import (
	"context"
	"os"
	"syscall"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider/all"
	"github.com/rekeyhq/rekey/internal/store"
)

// deps is what the incident workflow works through for this command.
func (g *globals) deps(st store.Store) (incident.Deps, error) {
	al, err := g.auditLog(st)
	if err != nil {
		return incident.Deps{}, err
	}
	d := incident.Deps{
		Store: st, Audit: al, Actor: g.actor(),
		LoadInventory: func(path string) (*inventory.Inventory, error) { return loadInventoryStrict(g, path) },
		Claim:         func(ctx context.Context, id string) (context.Context, func(), error) { return g.claim(ctx, st, id) },
		Registry:      all.Registry(), Getenv: g.env.Getenv,
		Sealer: g.sealer, Fingerprinter: g.fingerprinter,
		Held: g.given.secrets, DropEnv: g.given.envs,
		Say: g.progress(), Warn: g.warnLine,
	}
	if g.env.stderrIsTerminal() {
		d.Progress = g.env.Stderr
	}
	if d.Home, err = g.home(); err != nil {
		return incident.Deps{}, err
	}
	if t := g.env.Getenv("REKEY_SEEN_TIMEOUT"); t != "" {
		if v, err := time.ParseDuration(t); err == nil {
			d.SeenTimeout = v
		}
	}
	// A test hook: REKEY_FAILPOINT=STEP/PHASE kills the process with
	// SIGKILL at that step boundary, as a crash would. The crash tests of
	// the CLI use it; nothing else sets it. With REKEY_FAILPOINT_ONCE=FILE
	// only the process that creates FILE dies there (replicas given the
	// same failpoint: the one working the run dies, the next goes on).
	if fp := g.env.Getenv("REKEY_FAILPOINT"); fp != "" {
		once := g.env.Getenv("REKEY_FAILPOINT_ONCE")
		d.Failpoint = func(step, phase string) {
			if step+"/"+phase == fp && firstAt(once) {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	return d, nil
}

// openDeps opens the store and builds deps over it; done closes it.
func (g *globals) openDeps(ctx context.Context) (incident.Deps, func(), error) {
	return g.openDepsFor(ctx, nil)
}

// openDepsAs is openDeps for a command that changes an incident: once
// the store holds tokens, the caller's token names the actor and must
// grant need (see actAs).
func (g *globals) openDepsAs(ctx context.Context, need auth.Capability) (incident.Deps, func(), error) {
	return g.openDepsFor(ctx, &need)
}

func (g *globals) openDepsFor(ctx context.Context, need *auth.Capability) (incident.Deps, func(), error) {
	st, err := g.openStore(ctx)
	if err != nil {
		return incident.Deps{}, nil, err
	}
	if need != nil {
		if err := g.actAs(ctx, st, *need); err != nil {
			st.Close()
			return incident.Deps{}, nil, err
		}
	}
	d, err := g.deps(st)
	if err != nil {
		st.Close()
		return incident.Deps{}, nil, err
	}
	return d, func() { st.Close() }, nil
}

// recordedInventory is the incident's inventory for reading what it
// recorded (incident.Deps.RecordedInventory).
func (g *globals) recordedInventory(ctx context.Context, st store.Store, inc store.Incident, lost string) *inventory.Inventory {
	return incident.Deps{Store: st, Getenv: g.env.Getenv, Warn: g.warnLine}.RecordedInventory(ctx, inc, lost)
}

// firstAt reports whether this process is the first to reach a
// failpoint marked by the file path (always, without one).
func firstAt(path string) bool {
	if path == "" {
		return true
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
