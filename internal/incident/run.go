package incident

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/rekeyhq/rekey/internal/deliver/dsn"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// Engine opens the engine on incident id's stored plan, wired as every
// caller's run must be: providers opened once per system as its
// administrator (Systems), delivery targets, the run's sealer, a masker
// that knows every admin credential and the secrets the caller holds,
// and the audit log checked before the first step. It claims nothing:
// a caller that changes systems claims first (Run, Rollback do). done
// closes the providers.
func Engine(ctx context.Context, d Deps, id string) (_ *engine.Engine, done func(), _ error) {
	ed, done, err := d.engineDeps(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	e, err := engine.New(ctx, ed, id)
	if err != nil {
		done()
		return nil, nil, err
	}
	return e, done, nil
}

func (d Deps) engineDeps(ctx context.Context, id string) (engine.Deps, func(), error) {
	inc, err := d.Store.GetIncident(ctx, id)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	inv, err := d.LoadInventory(inc.Inventory)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	if d.Sealer == nil || d.Fingerprinter == nil {
		return engine.Deps{}, nil, errs.New("run", errs.Invalid, id, "no sealing or installation key to run with")
	}
	sealer, err := d.Sealer(inc.ID)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	// A log that refuses appends must stop the run before its first step,
	// not after a step that could then not be recorded.
	if err := d.Audit.Check(ctx); err != nil {
		return engine.Deps{}, nil, err
	}
	fp, err := d.Fingerprinter()
	if err != nil {
		return engine.Deps{}, nil, err
	}
	masker := secret.NewMasker(fp)
	masker.Add(d.Held...)
	var leaked secret.Secret
	for _, h := range d.Held {
		if fp.Of(h) == inc.Fingerprint {
			leaked = h
		}
	}
	// Every admin DSN, and its password alone, before any command runs
	// (a rollback reloads consumers before it opens a system).
	systems := d.Systems(inv)
	for _, admin := range systems.AdminSecrets() {
		masker.Add(admin, secret.FromString(dsn.Parse(string(admin.Reveal())).Password))
	}
	var mu sync.Mutex
	provs := map[string]provider.Provider{}
	cleanup := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range provs {
			p.Close()
		}
	}
	ed := engine.Deps{
		Store: d.Store, Audit: d.Audit, Inventory: inv, Sealer: sealer, Actor: d.Actor, Now: d.Now, Out: d.Progress,
		Masker: masker, Leaked: leaked, DropEnv: d.DropEnv, SeenTimeout: d.SeenTimeout, Failpoint: d.Failpoint,
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
	if ed.Out == nil {
		ed.Out = io.Discard
	}
	ed.Logins = logins(inv)
	if inv.Broker != nil {
		ed.Leases = brokerLeases(d, inv, ed.Provider)
	}
	return ed, cleanup, nil
}

// RunOptions are how a run is asked for.
type RunOptions struct {
	// DryRun reports what each step would do and changes nothing (it
	// claims nothing either).
	DryRun bool
	// Resume continues a run whose step was cut off mid-way (a crash).
	// A failed or waiting run is continued without it.
	Resume bool
	// Confirm, when set, is asked once everything is checked and before
	// the first change; an error refuses the run, which changes nothing.
	Confirm func(ctx context.Context, p *plan.Plan) error
}

// RunOutcome is what a run came to: the run JSON, or the dry run's
// actions.
type RunOutcome struct {
	Result engine.Result
	DryRun []engine.Action
}

// PreflightError is a run refused by its preflight: nothing was changed.
// Problems has one line per problem, each naming its system or file.
type PreflightError struct {
	Incident string
	Problems []string
}

func (e *PreflightError) Error() string {
	return fmt.Sprintf("run %s: the preflight found %d problem(s), listed above; nothing was changed", e.Incident, len(e.Problems))
}

// Unwrap makes a PreflightError an errs.Invalid for errs.KindOf.
func (e *PreflightError) Unwrap() error {
	return errs.New("run", errs.Invalid, e.Incident, "preflight")
}

// RunTracingDone is TracingDone for a run that has not started: one
// that has changed a system goes on (resumed, approved), since stopping
// it half-way helps nobody, and what the tracing finds after is for a
// plan of its own.
func RunTracingDone(ctx context.Context, st store.Store, id string) error {
	steps, err := st.Steps(ctx, id)
	if err != nil {
		return err
	}
	if _, started := Started(steps); started {
		return nil
	}
	return TracingDone(ctx, st, id, "run")
}

// Run executes incident id's stored plan (an auto plan is built first
// when there is none): claimed, checked by Preflight, confirmed, then
// run by the engine. A rolled-back run is refused until it is planned
// again. The error of a run that waits wraps engine.ErrWaiting, of one
// whose step failed engine.ErrStepFailed; with either the outcome still
// holds the run JSON.
func Run(ctx context.Context, d Deps, id string, o RunOptions) (RunOutcome, error) {
	if !o.DryRun {
		// Before anything is read: what another worker is changing is
		// not ours to judge, let alone to overwrite.
		var release func()
		var err error
		if ctx, release, err = d.Claim(ctx, id); err != nil {
			return RunOutcome{}, err
		}
		defer release()
	}
	sp, ok, err := d.Store.GetPlan(ctx, id)
	if err != nil {
		return RunOutcome{}, err
	}
	// An emergency plan runs while the tracing goes on (BuildPlan says why).
	if !ok || sp.Strategy != string(plan.Emergency) {
		if err := RunTracingDone(ctx, d.Store, id); err != nil {
			return RunOutcome{}, err
		}
	}
	if !ok {
		if _, err := BuildPlan(ctx, d, id, plan.Auto); err != nil {
			return RunOutcome{}, err
		}
	} else if sp.RunState == store.RunRolledBack {
		return RunOutcome{}, errs.New("run", errs.Invalid, id, "the run was rolled back; plan again (rekey incident plan "+id+") before running")
	}
	ed, done, err := d.engineDeps(ctx, id)
	if err != nil {
		return RunOutcome{}, err
	}
	defer done()
	e, err := engine.New(ctx, ed, id)
	if err != nil {
		return RunOutcome{}, err
	}
	steps, err := d.Store.Steps(ctx, id)
	if err != nil {
		return RunOutcome{}, err
	}
	if problems := Preflight(ctx, d.Systems(ed.Inventory), e.Plan(), steps); len(problems) > 0 {
		return RunOutcome{}, &PreflightError{Incident: id, Problems: problems}
	}
	if o.DryRun {
		acts, err := e.DryRun(ctx)
		if err != nil {
			return RunOutcome{}, err
		}
		if err := describe(ctx, ed, e.Plan(), acts, d.now()); err != nil {
			return RunOutcome{}, err
		}
		return RunOutcome{DryRun: acts}, nil
	}
	if !o.Resume {
		for _, s := range steps {
			if s.State == engine.Running {
				// Cut off mid-way (a crash): continued knowingly.
				return RunOutcome{}, errs.New("run", errs.Invalid, id, "step "+s.StepID+" was running when its run stopped (a crash?); continue the run with --resume")
			}
		}
	}
	if o.Confirm != nil {
		if err := o.Confirm(ctx, e.Plan()); err != nil {
			return RunOutcome{}, err
		}
	}
	res, err := e.Run(ctx)
	return RunOutcome{Result: res}, err
}

// Rollback undoes incident id's run (claimed first): consumers' files
// back as they were, the logins it issued removed. The engine refuses
// once the old credential is revoked. confirm, when set, is asked before
// anything changes.
func Rollback(ctx context.Context, d Deps, id string, confirm func(context.Context) error) (engine.Result, error) {
	ctx, release, err := d.Claim(ctx, id)
	if err != nil {
		return engine.Result{}, err
	}
	defer release()
	e, done, err := Engine(ctx, d, id)
	if err != nil {
		return engine.Result{}, err
	}
	defer done()
	if confirm != nil {
		if err := confirm(ctx); err != nil {
			return engine.Result{}, err
		}
	}
	return e.Rollback(ctx)
}
