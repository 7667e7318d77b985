package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// TraceJob is one source of an incident's tracing (incident.TraceSource):
// who opened the incident with it (the audit log names them) and the
// source's number.
type TraceJob struct {
	Incident string         `json:"incident"`
	Source   int            `json:"source"`
	By       auth.Principal `json:"by"`
	// Last is set by the runner on the job's last attempt: an error is
	// then recorded as the source's failure, not left pending for ever.
	Last bool `json:"-"`
}

// traceFunc is this server's trace job: incident.TraceSource with the
// principal's dependencies, waking the incident's event streams.
func (s *Server) traceFunc() func(context.Context, TraceJob) error {
	return func(ctx context.Context, job TraceJob) error {
		d, err := s.deps(ctx, job.By)
		if err != nil {
			return err
		}
		defer s.hub.Poke()
		err = incident.TraceSource(ctx, d, job.Incident, job.Source)
		if err != nil && job.Last && ctx.Err() == nil {
			if gerr := incident.GiveUpTraceSource(ctx, d, job.Incident, job.Source, err); gerr == nil {
				return nil
			}
		}
		return err
	}
}

// localTracer works trace jobs on this process's goroutines, a few at a
// time, until stop: the embedded store's runner (and NewLocalRunner's).
// A job that fails for a reason a later attempt may get past (the store
// busy) is tried again, up to traceAttempts times; a source that cannot
// be read is not an error (incident.TraceSource records it).
type localTracer struct {
	f       func(context.Context, TraceJob) error
	workers int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	queue   []TraceJob
	wake    chan struct{}
	started bool
}

// traceAttempts bounds the tries of one local trace job.
const traceAttempts = 3

func newLocalTracer(f func(context.Context, TraceJob) error) *localTracer {
	ctx, cancel := context.WithCancel(context.Background())
	// Tracing is git and pattern matching: one worker per core keeps
	// them all busy without queueing git processes on each other.
	return &localTracer{f: f, workers: max(2, runtime.GOMAXPROCS(0)), ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
}

func (t *localTracer) trace(jobs []TraceJob) error {
	if t.f == nil {
		return errNoTracer
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return errShuttingDown
	}
	t.queue = append(t.queue, jobs...)
	if !t.started {
		t.started = true
		for range t.workers {
			t.wg.Go(t.work)
		}
	}
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return nil
}

func (t *localTracer) next() (TraceJob, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.queue) == 0 {
		return TraceJob{}, false
	}
	job := t.queue[0]
	t.queue = t.queue[1:]
	if len(t.queue) > 0 {
		// Another worker may be asleep: pass the wake-up on.
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
	return job, true
}

func (t *localTracer) work() {
	for {
		job, ok := t.next()
		if !ok {
			select {
			case <-t.wake:
				continue
			case <-t.ctx.Done():
				return
			}
		}
		for attempt := 1; attempt <= traceAttempts && t.ctx.Err() == nil; attempt++ {
			job.Last = attempt == traceAttempts
			if err := t.f(t.ctx, job); err == nil {
				break
			}
			select {
			case <-time.After(time.Duration(attempt) * time.Second):
			case <-t.ctx.Done():
			}
		}
	}
}

// stop ends the jobs in progress and drops the queued ones (their sources
// stay pending) and waits for the workers until ctx ends.
func (t *localTracer) stop(ctx context.Context) error {
	t.cancel()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r serverRunner) Trace(_ context.Context, jobs []TraceJob) error { return r.t.trace(jobs) }

func (l *localRunner) Trace(_ context.Context, jobs []TraceJob) error { return l.t.trace(jobs) }

var (
	errNoTracer     = errors.New("this runner was built without a trace function")
	errShuttingDown = &apiError{Status: http.StatusServiceUnavailable, Kind: "unavailable", Message: "the server is shutting down"}
)

// traceSources checks the sources of POST /api/v1/incidents, relative
// paths taken from the inventory's directory.
func (s *Server) traceSources(req []traceSource) ([]inventory.Source, error) {
	if len(req) == 0 {
		return nil, nil
	}
	if len(req) > maxTraceSources {
		return nil, invalid("%d sources: at most %d in one request", len(req), maxTraceSources)
	}
	srcs := make([]inventory.Source, len(req))
	for i, r := range req {
		srcs[i] = inventory.Source{Type: r.Type, Path: r.Path, History: r.History}
	}
	dir := ""
	if s.cfg.InventoryPath != "" {
		dir = filepath.Dir(s.cfg.InventoryPath)
	}
	return incident.CheckTraceSources(srcs, dir)
}

// maxTraceSources bounds one request's sources (and its body, with
// maxBody): an organisation's repositories, not an unbounded list.
const maxTraceSources = 10000

// startTracing records srcs as the incident's pending sources and queues
// one job each, answering with the tracing's progress.
func (s *Server) startTracing(ctx context.Context, d incident.Deps, p auth.Principal, id string, sec secret.Secret, srcs []inventory.Source) (*incident.Tracing, error) {
	seqs, err := incident.StartTracing(ctx, d, id, sec, srcs)
	if err != nil {
		return nil, err
	}
	jobs := make([]TraceJob, len(seqs))
	for i, n := range seqs {
		jobs[i] = TraceJob{Incident: id, Source: n, By: p}
	}
	if err := s.runner.Trace(ctx, jobs); err != nil {
		// No job will trace them: recorded as failed, not pending for
		// ever; the client may send them again.
		for _, n := range seqs {
			_ = incident.GiveUpTraceSource(context.WithoutCancel(ctx), d, id, n, fmt.Errorf("not queued: %w", err))
		}
		return nil, err
	}
	return incident.TracingOf(ctx, d.Store, id)
}

// ResumeTracing queues a job for every source still pending in the open
// incidents, worked as the incident's opener: what an in-process runner
// had queued when its process stopped. A runner whose jobs outlive the
// process (package jobs) needs none of it.
func (s *Server) ResumeTracing(ctx context.Context) (int, error) {
	d, err := s.deps(ctx, auth.Principal{Name: "rekey serve", Role: auth.Responder})
	if err != nil {
		return 0, err
	}
	st := d.Store
	incs, err := st.ListIncidents(ctx, store.Filter{State: store.Open})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, inc := range incs {
		pending, err := st.TraceSources(ctx, inc.ID, store.TracePending)
		if err != nil {
			return n, err
		}
		if len(pending) == 0 {
			continue
		}
		by, err := opener(ctx, st, inc.ID)
		if err != nil {
			return n, err
		}
		jobs := make([]TraceJob, len(pending))
		for i, src := range pending {
			jobs[i] = TraceJob{Incident: inc.ID, Source: src.Seq, By: by}
		}
		if err := s.runner.Trace(ctx, jobs); err != nil {
			return n, err
		}
		n += len(jobs)
	}
	return n, nil
}

// opener is who opened incident id (incident.Opener), as the principal its
// resumed trace jobs run as (the audit log names them, as it did for the
// first ones).
func opener(ctx context.Context, st store.Store, id string) (auth.Principal, error) {
	by, err := incident.Opener(ctx, st, id)
	if err != nil {
		return auth.Principal{}, err
	}
	return auth.Principal{Name: cmp.Or(by, "rekey serve"), Role: auth.Responder}, nil
}
