package cli

import (
	"context"
	"os"
	"syscall"
	"time"

	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	logsall "github.com/rekeyhq/rekey/internal/logs/all"
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
		Logins: logins,
	}
	if g.env.stderrIsTerminal() {
		d.Progress = g.env.Stderr
	}
	if t := g.env.Getenv("REKEY_SEEN_TIMEOUT"); t != "" {
		if v, err := time.ParseDuration(t); err == nil {
			d.SeenTimeout = v
		}
	}
	// A test hook: REKEY_FAILPOINT=STEP/PHASE kills the process with
	// SIGKILL at that step boundary, as a crash would. The crash tests of
	// the CLI use it; nothing else sets it.
	if fp := g.env.Getenv("REKEY_FAILPOINT"); fp != "" {
		d.Failpoint = func(step, phase string) {
			if step+"/"+phase == fp {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	return d, nil
}

// logins reads the successful logins of a login in inv's logs, for the
// engine's verify of consumers that hold no session open.
func logins(inv *inventory.Inventory) func(ctx context.Context, system, login string, since time.Time) ([]logs.Event, error) {
	return func(ctx context.Context, _, login string, since time.Time) ([]logs.Event, error) {
		files, err := expandLogs(logSpecs(nil, "", inv))
		if err != nil {
			return nil, nil // a log not there (yet) is no evidence either way
		}
		var out []logs.Event
		_, err = eachEvent(ctx, files, logsall.Parsers, func(e logs.Event) error {
			if e.Credential == login && e.Action == "connect" && e.Outcome == logs.Success && !e.Time.Before(since) {
				out = append(out, e)
			}
			return nil
		}, func(string) {}, 1)
		return out, err
	}
}

// openDeps opens the store and builds deps over it; done closes it.
func (g *globals) openDeps(ctx context.Context) (incident.Deps, func(), error) {
	st, err := g.openStore(ctx)
	if err != nil {
		return incident.Deps{}, nil, err
	}
	d, err := g.deps(st)
	if err != nil {
		st.Close()
		return incident.Deps{}, nil, err
	}
	return d, func() { st.Close() }, nil
}

// recordedInventory is the incident's inventory for reading what it
// recorded: the file at its path, else the copy the store kept when it was
// opened (the file moved, changed into something invalid, or this is
// another machine), else nil, saying so and what goes without it (lost).
func (g *globals) recordedInventory(ctx context.Context, st store.Store, inc store.Incident, lost string) *inventory.Inventory {
	if inc.Inventory == "" {
		return nil
	}
	opts := inventory.Options{SkipLocal: true, Getenv: g.env.Getenv}
	if inv, rep, err := inventory.Load(inc.Inventory, opts); err == nil && rep.OK() {
		return inv
	}
	if c, ok, err := st.GetInventory(ctx, inc.ID); err == nil && ok {
		if inv, rep, err := inventory.Parse(c.Path, c.Body, opts); err == nil && rep.OK() {
			tablef(g.env.Stderr, "rekey: inventory %s is no longer readable as it was; using the copy kept when the incident was opened (%s)\n",
				inc.Inventory, c.Saved.UTC().Format(time.RFC3339))
			return inv
		}
	}
	tablef(g.env.Stderr, "rekey: inventory %s is no longer readable as it was; %s\n", inc.Inventory, lost)
	return nil
}
