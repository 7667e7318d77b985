package cli

import (
	"context"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/rekeyhq/rekey/internal/deliver/dsn"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/logs"
	logsall "github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// openEngine opens the store and an engine on the incident's stored
// plan, claiming the incident first when the command changes systems
// (the context returned is the claim's); done releases all.
func (g *globals) openEngine(ctx context.Context, id string, claimed bool) (context.Context, *engine.Engine, func(), error) {
	st, err := g.openStore(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	release := func() {}
	if claimed {
		if ctx, release, err = g.claim(ctx, st, id); err != nil {
			st.Close()
			return nil, nil, nil, err
		}
	}
	deps, cleanup, err := g.engineDeps(ctx, st, id)
	if err != nil {
		release()
		st.Close()
		return nil, nil, nil, err
	}
	done := func() { cleanup(); release(); st.Close() }
	e, err := engine.New(ctx, deps, id)
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return ctx, e, done, nil
}

// engineDeps builds what the engine acts through from the incident's
// inventory: providers opened as each system's administrator (once, on
// first use), file targets, the sealing key and the audit log.
func (g *globals) engineDeps(ctx context.Context, st store.Store, id string) (engine.Deps, func(), error) {
	inc, err := st.GetIncident(ctx, id)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	inv, err := loadInventoryStrict(g, inc.Inventory)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	sealer, err := g.sealer(inc.ID)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	al, err := g.auditLog(st)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	// A log that refuses appends must stop the run before its first step,
	// not after a step that could then not be recorded.
	if err := al.Check(ctx); err != nil {
		return engine.Deps{}, nil, err
	}
	fp, err := g.fingerprinter()
	if err != nil {
		return engine.Deps{}, nil, err
	}
	masker := secret.NewMasker(fp)
	masker.Add(g.given.secrets...)
	// Every admin DSN, and its password alone, before any command runs
	// (a rollback reloads consumers before it opens a system).
	systems := g.systems(inv)
	for _, admin := range systems.AdminSecrets() {
		masker.Add(admin, secret.FromString(dsn.Parse(string(admin.Reveal())).Password))
	}
	var mu sync.Mutex
	provs := map[string]provider.Provider{}
	cleanup := func() {
		for _, p := range provs {
			p.Close()
		}
	}
	out := io.Discard
	if g.env.stderrIsTerminal() {
		out = g.env.Stderr
	}
	d := engine.Deps{
		Store: st, Audit: al, Inventory: inv, Sealer: sealer, Actor: g.actor(), Out: out,
		Masker: masker, DropEnv: g.given.envs,
		Provider: func(ctx context.Context, system string) (provider.Provider, error) {
			mu.Lock()
			defer mu.Unlock()
			if p := provs[system]; p != nil {
				return p, nil
			}
			p, err := systems.Open(ctx, system)
			if err != nil {
				return nil, err
			}
			provs[system] = p
			return p, nil
		},
		Target: systems.Target,
	}
	if len(inv.Logs) > 0 {
		d.Logins = func(ctx context.Context, _, login string, since time.Time) ([]logs.Event, error) {
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
	return d, cleanup, nil
}
