package server

import (
	"context"
	"errors"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
)

// RunJob is one run started through the API: the incident, who started
// it (the audit log names them, and they cannot approve its steps), and
// whether it continues a run cut off mid-step.
type RunJob struct {
	Incident string         `json:"incident"`
	By       auth.Principal `json:"by"`
	Resume   bool           `json:"resume"`
}

// Runner executes the runs started through the API after the request
// that started them: on this process's goroutines (NewLocalRunner, the
// embedded store's), or as jobs any replica sharing the store may work
// (package jobs, on PostgreSQL). Either way the incident's claim keeps
// two workers from executing one run.
type Runner interface {
	// Start hands job over. It returns nil once the run is under way or
	// queued; an error of kind errs.Conflict when a run of the incident
	// is already under way or queued; any other refusal (a preflight's
	// problems, a run to be resumed) as RunFuncs gave it.
	Start(ctx context.Context, job RunJob) error
	// Trace queues trace jobs (TraceJob), each worked until it returns
	// nil, a few attempts at most: RunFuncs.Trace records a source that
	// cannot be read and finds one finished already, so a job worked
	// twice changes nothing.
	Trace(ctx context.Context, jobs []TraceJob) error
	// Stop stops taking runs and ends the ones in progress (each is
	// continued later, as after a crash), waiting for them until ctx
	// ends.
	Stop(ctx context.Context) error
}

// RunFuncs are what a Runner runs with, given by the server.
type RunFuncs struct {
	// Check refuses, in the request, a run that could not start:
	// another worker holds the incident, the preflight finds problems,
	// a run cut off mid-step is started without Resume. It changes
	// nothing. A Runner that executes in the request's process may skip
	// it (Exec refuses the same way before calling started).
	Check func(ctx context.Context, job RunJob) error
	// Exec executes the run until it is done, waits for an approval,
	// fails, or ctx ends; started is called once the run passed its
	// checks and is about to change systems.
	Exec func(ctx context.Context, job RunJob, started func()) error
	// Trace works one trace job.
	Trace func(ctx context.Context, job TraceJob) error
}

// errChecked stops a checking run at its Confirm: everything was
// checked and nothing changed.
var errChecked = errors.New("checked")

// runFuncs are this server's runs: incident.Run with the principal's
// dependencies, claimed in the store, its steps woken in the event hub.
func (s *Server) runFuncs() RunFuncs {
	return RunFuncs{
		Check: func(ctx context.Context, job RunJob) error {
			d, err := s.deps(ctx, job.By)
			if err != nil {
				return err
			}
			if d.Claim == nil {
				return errors.New("the server was built without claims")
			}
			// A run another replica has just finished is still letting go.
			claim := d.Claim
			d.Claim = func(cctx context.Context, id string) (context.Context, func(), error) {
				return s.claimSettled(cctx, cctx, incident.Deps{Claim: claim}, id)
			}
			_, err = incident.Run(ctx, d, job.Incident, incident.RunOptions{Resume: job.Resume,
				Confirm: func(context.Context, *plan.Plan) error { return errChecked }})
			if errors.Is(err, errChecked) {
				return nil
			}
			return err
		},
		Exec: func(ctx context.Context, job RunJob, started func()) error {
			d, err := s.deps(ctx, job.By)
			if err != nil {
				return err
			}
			if d.Claim == nil {
				return errors.New("the server was built without claims")
			}
			d.Progress = s.hub
			defer s.hub.Poke()
			return s.execRun(ctx, d, job.Incident, job.Resume, started)
		},
		Trace: s.traceFunc(),
	}
}

// serverRunner is the server's own runner on the embedded store: a run
// goes the way of its rollbacks and remediations (detached), reserved in
// this process and claimed before the answer, waiting a moment for an
// operation that is only finishing.
type serverRunner struct {
	s *Server
	t *localTracer
}

func (r serverRunner) Start(rctx context.Context, job RunJob) error {
	return r.s.detached(rctx, job.Incident, "run", job.By, func(ctx context.Context, d incident.Deps, started func()) error {
		return r.s.execRun(ctx, d, job.Incident, job.Resume, started)
	})
}

// Stop stops the tracer; the server's Shutdown ends what detached
// started.
func (r serverRunner) Stop(ctx context.Context) error { return r.t.stop(ctx) }

// NewLocalRunner executes runs on this process's goroutines, one at a
// time per incident, until Stop.
func NewLocalRunner(f RunFuncs) Runner {
	return &localRunner{rs: newRuns(), f: f, t: newLocalTracer(f.Trace)}
}

type localRunner struct {
	rs *runs
	f  RunFuncs
	t  *localTracer
}

func (l *localRunner) Start(rctx context.Context, job RunJob) error {
	if err := l.rs.reserve(job.Incident, "run", job.By.Name, time.Now()); err != nil {
		return err
	}
	return handOff(rctx, func(started func()) error { return l.f.Exec(l.rs.ctx, job, started) },
		func() { l.rs.release(job.Incident) })
}

func (l *localRunner) Stop(ctx context.Context) error {
	terr := l.t.stop(ctx)
	if err := l.rs.stop(ctx); err != nil {
		return err
	}
	return terr
}
