// Package jobs executes the runs started through the API as River jobs
// (github.com/riverqueue/river) on the PostgreSQL store, so that any
// replica of `rekey serve` sharing the store may work them, and one that
// dies mid-run is replaced by another.
//
// A job is the run of one incident (unique per incident while queued or
// running). Its worker executes the run through the incident's claim, so
// two replicas never change one incident at once; a run waiting for an
// approval completes its job and holds none (the approval's next POST
// /run queues another). A replica killed mid-run leaves its job
// "running": the elected leader (leader.go) sees that the replica's
// liveness lock is free and makes the job available again within a
// second or two (rescue.go), and the next worker resumes the run from
// its recorded step states (the engine's write-ahead log: a credential
// sealed before the kill is delivered, not issued twice). River's own
// rescuer, after RescueAfter, remains for a job whose replica lives on
// but let it go.
//
// River keeps its tables in a schema of their own (Schema), migrated by
// rivermigrate when a replica starts.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/rekeyhq/rekey/internal/claim"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/server"
)

// Schema is where River's tables live in the store's database.
const Schema = "rekey_river"

// RescueAfter is how long a run's job may stay "running" before River
// hands it to another worker: a little longer than a dead holder's
// claim takes to free (on PostgreSQL, at once, when its connection
// ends; DefaultStale bounds the embedded store's). A job rescued from a
// replica that is still working finds the incident claimed and waits
// (Snooze) until that replica is done.
const RescueAfter = claim.DefaultStale + 5*time.Second

// Snooze is how long a worker that finds the incident claimed waits
// before trying again.
const Snooze = 5 * time.Second

// runArgs is a run's job.
type runArgs struct {
	Incident string        `json:"incident" river:"unique"`
	Job      server.RunJob `json:"job"`
}

func (runArgs) Kind() string { return "rekey.run" }

// Config is what the runner needs.
type Config struct {
	// URL is the store's postgres:// URL.
	URL string
	// Log receives River's warnings and errors (JSON lines); nil drops
	// them.
	Log *slog.Logger
	// Workers is how many runs this replica works at once (10 when 0).
	Workers int
	// TraceWorkers is how many trace jobs this replica works at once,
	// TraceTimeout their attempts' timeout (trace.go; defaults when 0).
	TraceWorkers int
	TraceTimeout time.Duration
}

// Runner is a server.Runner on River.
type Runner struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	check  func(context.Context, server.RunJob) error
	worker *runWorker
	tracer *traceWorker
	stop   context.CancelFunc
	log    *slog.Logger
	// presence is this replica's liveness and leadership (leader.go).
	presence *presence
	away     context.CancelFunc
}

var _ server.Runner = (*Runner)(nil)

// Migrate brings River's tables in Schema up to date, one replica at a
// time (a session advisory lock held on a connection of its own; River's
// migrations cannot all run in one transaction).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const lock = `hashtext('rekey river migrate')`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lock+`)`); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lock+`)`) //nolint:errcheck // the lock ends with the connection anyway
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+Schema); err != nil {
		return err
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: Schema, Logger: quiet()})
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// Open migrates River's schema and builds the runner, which works no
// job until Bind gives it the server's run functions and Work starts it.
func Open(ctx context.Context, c Config) (*Runner, error) {
	pool, err := pgxpool.New(ctx, c.URL)
	if err != nil {
		return nil, errs.E("jobs", errs.Invalid, "", err)
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, errs.E("jobs: migrate River's schema "+Schema, errs.Unreachable, "", err)
	}
	stopping, stop := context.WithCancel(context.Background())
	w := &runWorker{stopping: stopping}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	tw := newTraceWorker(c, stopping)
	river.AddWorker(workers, tw)
	log := c.Log
	if log == nil {
		log = quiet()
	}
	n := c.Workers
	if n <= 0 {
		n = 10
	}
	id := newID()
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		// The ID names the replica's liveness lock (leader.go).
		ID:                   id,
		Schema:               Schema,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: n}, TraceQueue: traceQueue(c)},
		Workers:              workers,
		RescueStuckJobsAfter: RescueAfter,
		// River rescues only a job whose attempt's timeout has passed
		// (one without a timeout, never): the run's worker sets one
		// and lets its run outlive it (runWorker.Work).
		JobTimeout: RescueAfter,
		// A run past its attempt's timeout is not stuck but long.
		JobStuckThreshold: time.Hour,
		Logger:            log,
	})
	if err != nil {
		stop()
		pool.Close()
		return nil, errs.E("jobs", errs.Invalid, "", err)
	}
	return &Runner{pool: pool, client: client, worker: w, tracer: tw, stop: stop, log: log,
		presence: newPresence(pool.Config().ConnConfig, id)}, nil
}

// Bind gives r the server's run functions (server.Config.Runner).
func (r *Runner) Bind(f server.RunFuncs) server.Runner {
	r.check, r.worker.exec = f.Check, f.Exec
	r.tracer.trace = f.Trace
	return r
}

// Work starts working jobs, once bound.
func (r *Runner) Work(ctx context.Context) error {
	if r.worker.exec == nil {
		return errs.New("jobs: start", errs.Invalid, "", "the runner has no run functions (Bind)")
	}
	// The liveness lock is held before any job is fetched: a job whose
	// worker holds none is rescued.
	conn, err := r.presence.connect(ctx)
	if err != nil {
		return errs.E("jobs: start: take this replica's liveness lock", errs.Unreachable, "", err)
	}
	if err := r.client.Start(ctx); err != nil {
		conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // failed anyway
		return errs.E("jobs: start", errs.Unreachable, "", err)
	}
	pctx, away := context.WithCancel(context.WithoutCancel(ctx))
	r.away = away
	go r.presence.run(pctx, conn)
	go r.presence.Lead(pctx, r.rescueLoop) //nolint:errcheck // rescueLoop fails never
	return nil
}

// Lead runs f whenever this replica is the elected leader, with a
// context that ends with its term, until ctx ends (leader.go). It
// returns f's error when f fails while its term goes on.
func (r *Runner) Lead(ctx context.Context, f func(context.Context) error) error {
	return r.presence.Lead(ctx, f)
}

// New is Open, Bind and Start.
func New(ctx context.Context, c Config, f server.RunFuncs) (*Runner, error) {
	r, err := Open(ctx, c)
	if err != nil {
		return nil, err
	}
	r.Bind(f)
	if err := r.Work(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// uniqueRun: one job per incident while it is queued or worked; a
// completed job (the run done, or waiting for an approval) does not stop
// the next.
var uniqueRun = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

// Start checks the run in the request (Funcs.Check: a preflight's
// problems, a claim held, are answered now) and queues it.
func (r *Runner) Start(ctx context.Context, job server.RunJob) error {
	if r.check != nil {
		if err := r.check(ctx, job); err != nil {
			return err
		}
	}
	res, err := r.client.Insert(ctx, runArgs{Incident: job.Incident, Job: job}, &river.InsertOpts{UniqueOpts: uniqueRun})
	if err != nil {
		return errs.E("jobs: queue the run", errs.Unreachable, job.Incident, err)
	}
	if res.UniqueSkippedAsDuplicate {
		return errs.New("", errs.Conflict, "", fmt.Sprintf("incident %s: a run is already queued or in progress", job.Incident))
	}
	return nil
}

// Stop stops taking jobs and cancels the runs in progress, which River
// makes available again: this or another replica resumes them.
func (r *Runner) Stop(ctx context.Context) error {
	defer r.pool.Close()
	r.stop()
	err := r.client.StopAndCancel(ctx)
	if r.away != nil {
		r.away()
		<-r.presence.stopped
	}
	return err
}

type runWorker struct {
	river.WorkerDefaults[runArgs]
	exec     func(context.Context, server.RunJob, func()) error
	stopping context.Context // ends at Stop
}

// Timeout is the attempt's timeout, after which River's rescuer may give
// the job to another worker if it is still running (RescueAfter).
func (w *runWorker) Timeout(*river.Job[runArgs]) time.Duration { return RescueAfter }

func (w *runWorker) Work(jctx context.Context, j *river.Job[runArgs]) error {
	job := j.Args.Job
	// A job worked before was cut off (its replica died or stopped):
	// its step may have been running.
	job.Resume = job.Resume || j.Attempt > 1
	// The run goes on past the attempt's timeout (the incident's claim,
	// not River, keeps a rescued copy from running it twice) and stops
	// when River cancels the job or the runner stops: a run cut off
	// mid-step is resumed by the next attempt.
	ctx, cancel := context.WithCancel(context.WithoutCancel(jctx))
	defer cancel()
	defer context.AfterFunc(jctx, func() {
		if !errors.Is(jctx.Err(), context.DeadlineExceeded) {
			cancel()
		}
	})()
	defer context.AfterFunc(w.stopping, cancel)()
	err := w.exec(ctx, job, func() {})
	switch {
	case err == nil:
		return nil
	case errs.KindOf(err) == errs.Conflict:
		// Another worker holds the incident: a replica still working a
		// job River rescued, or a CLI command. Try again after it.
		return river.JobSnooze(Snooze)
	case errs.KindOf(err) == errs.Invalid, errs.KindOf(err) == errs.NotFound, errs.KindOf(err) == errs.Permission:
		// Trying again changes nothing: the run's state says why.
		return river.JobCancel(err)
	}
	return err
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Close frees a runner that was opened but never worked.
func (r *Runner) Close() { r.stop(); r.pool.Close() }
