package jobs

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/server"
)

// Trace jobs: one per source of an incident's tracing, in a queue of
// their own so that a tracing of thousands of repositories does not hold
// up a run. Any replica works them; one that dies mid-source leaves the
// job running until River's rescuer makes it available again (once
// TraceTimeout and RescueAfter have passed), and the source, still
// pending, is traced again.

// TraceQueue is the trace jobs' queue.
const TraceQueue = "trace"

// TraceTimeout is one trace job's attempt's timeout, after which River's
// rescuer may give it to another worker if it is still running. A source
// is one repository or directory, traced in seconds; one that takes
// longer goes on past the timeout (traceWorker.Work), and if a rescued
// copy traces it too, the first to finish records it and the other adds
// nothing.
const TraceTimeout = time.Minute

// TraceAttempts bounds the attempts of one trace job: a source that
// cannot be read is recorded as failed at the first, so only what a
// later attempt may get past (the store unreachable, a replica stopped)
// is tried again.
const TraceAttempts = 5

// traceWorkers is how many sources a replica traces at once when
// Config.TraceWorkers is 0: tracing is git and pattern matching, and a
// few per core keep it busy while git processes start.
const traceWorkers = 4

type traceArgs struct {
	Job server.TraceJob `json:"job"`
}

func (traceArgs) Kind() string { return "rekey.trace" }

func (traceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: TraceQueue, MaxAttempts: TraceAttempts}
}

type traceWorker struct {
	river.WorkerDefaults[traceArgs]
	trace    func(context.Context, server.TraceJob) error
	stopping context.Context // ends at Stop
	timeout  time.Duration
}

func (w *traceWorker) Timeout(*river.Job[traceArgs]) time.Duration { return w.timeout }

func (w *traceWorker) Work(jctx context.Context, j *river.Job[traceArgs]) error {
	if w.trace == nil {
		return river.JobCancel(errs.New("jobs: trace", errs.Invalid, j.Args.Job.Incident, "the runner was bound without a trace function"))
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(jctx))
	defer cancel()
	// Cancelled by River or the runner's Stop, not by the timeout.
	defer context.AfterFunc(jctx, func() {
		if !errors.Is(context.Cause(jctx), context.DeadlineExceeded) {
			cancel()
		}
	})()
	defer context.AfterFunc(w.stopping, cancel)()
	job := j.Args.Job
	job.Last = j.Attempt >= j.MaxAttempts
	err := w.trace(ctx, job)
	switch k := errs.KindOf(err); {
	case err == nil:
		return nil
	case k == errs.NotFound, k == errs.Invalid, k == errs.Permission:
		// The incident or its source is gone, or the job is malformed:
		// trying again changes nothing.
		return river.JobCancel(err)
	}
	return err
}

// newTraceWorker is the trace worker for Config c.
func newTraceWorker(c Config, stopping context.Context) *traceWorker {
	return &traceWorker{stopping: stopping, timeout: cmp.Or(c.TraceTimeout, TraceTimeout)}
}

// traceQueue is the queue's configuration for Config c.
func traceQueue(c Config) river.QueueConfig {
	n := c.TraceWorkers
	if n <= 0 {
		n = traceWorkers
	}
	return river.QueueConfig{MaxWorkers: n}
}

// Trace queues jobs, in one statement however many there are.
func (r *Runner) Trace(ctx context.Context, jobs []server.TraceJob) error {
	if len(jobs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		params[i] = river.InsertManyParams{Args: traceArgs{Job: j}}
	}
	if _, err := r.client.InsertManyFast(ctx, params); err != nil {
		return errs.E("jobs: queue the tracing", errs.Unreachable, jobs[0].Incident, err)
	}
	return nil
}
