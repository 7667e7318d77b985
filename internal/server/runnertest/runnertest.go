// Package runnertest is the conformance suite every server.Runner passes:
// the in-process runner and the River one (package jobs).
package runnertest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/server"
)

// New builds the runner under test over f.
type New func(t *testing.T, f server.RunFuncs) server.Runner

// fake is a run that says it started and waits to be let go.
type fake struct {
	mu      sync.Mutex
	execs   []server.RunJob
	entered chan server.RunJob
	release chan struct{}
}

func (f *fake) funcs() server.RunFuncs {
	return server.RunFuncs{
		Check: func(context.Context, server.RunJob) error { return nil },
		Exec: func(ctx context.Context, job server.RunJob, started func()) error {
			f.mu.Lock()
			f.execs = append(f.execs, job)
			f.mu.Unlock()
			started()
			f.entered <- job
			select {
			case <-f.release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.execs)
}

const bound = 2 * time.Minute

func waitEntered(t *testing.T, f *fake) server.RunJob {
	t.Helper()
	select {
	case job := <-f.entered:
		return job
	case <-time.After(bound):
		t.Fatal("the run was never executed")
	}
	return server.RunJob{}
}

// Run runs the suite.
func Run(t *testing.T, newRunner New) {
	t.Run("executes once, one at a time per incident", func(t *testing.T) {
		f := &fake{entered: make(chan server.RunJob, 4), release: make(chan struct{})}
		r := newRunner(t, f.funcs())
		ctx := context.Background()
		job := server.RunJob{Incident: "INC-r1", By: auth.Principal{Name: "alice", Role: auth.Role("responder")}}
		if err := r.Start(ctx, job); err != nil {
			t.Fatalf("start: %v", err)
		}
		got := waitEntered(t, f)
		if got.Incident != job.Incident || got.By.Name != "alice" {
			t.Fatalf("executed %+v, want %+v", got, job)
		}
		if err := r.Start(ctx, job); errs.KindOf(err) != errs.Conflict {
			t.Fatalf("a second start while the run goes on: %v, want a conflict", err)
		}
		// Another incident is not held up.
		other := server.RunJob{Incident: "INC-r2", By: job.By}
		if err := r.Start(ctx, other); err != nil {
			t.Fatalf("another incident: %v", err)
		}
		waitEntered(t, f)
		close(f.release)
		// Once done, the incident's run may be started again (a run
		// continued after an approval).
		deadline := time.Now().Add(bound)
		for {
			err := r.Start(ctx, job)
			if err == nil {
				break
			}
			if errs.KindOf(err) != errs.Conflict || time.Now().After(deadline) {
				t.Fatalf("start after the run ended: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		waitEntered(t, f)
		if n := f.count(); n != 3 {
			t.Fatalf("%d executions, want 3", n)
		}
		sctx, cancel := context.WithTimeout(ctx, bound)
		defer cancel()
		if err := r.Stop(sctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
	})
	t.Run("traces every source, a failed job again", func(t *testing.T) {
		var (
			mu   sync.Mutex
			seen = map[int]int{}
			bad  []server.TraceJob
		)
		f := server.RunFuncs{
			Check: func(context.Context, server.RunJob) error { return nil },
			Exec:  func(context.Context, server.RunJob, func()) error { return nil },
			Trace: func(_ context.Context, job server.TraceJob) error {
				mu.Lock()
				defer mu.Unlock()
				if job.Incident != "INC-t1" || job.By.Name != "alice" {
					bad = append(bad, job)
				}
				seen[job.Source]++
				if job.Source == 3 && seen[3] == 1 {
					return errors.New("the store is busy")
				}
				return nil
			},
		}
		r := newRunner(t, f)
		var jobs []server.TraceJob
		for i := 1; i <= 40; i++ {
			jobs = append(jobs, server.TraceJob{Incident: "INC-t1", Source: i, By: auth.Principal{Name: "alice", Role: auth.Role("responder")}})
		}
		if err := r.Trace(context.Background(), jobs); err != nil {
			t.Fatalf("trace: %v", err)
		}
		deadline := time.Now().Add(bound)
		for {
			mu.Lock()
			n, again := len(seen), seen[3]
			mu.Unlock()
			if n == len(jobs) && again >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %d of %d sources traced, the failed one %d time(s)", bound, n, len(jobs), again)
			}
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("jobs changed on the way: %+v", bad)
		}
		sctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		if err := r.Stop(sctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
	})
	t.Run("stop ends the runs in progress", func(t *testing.T) {
		f := &fake{entered: make(chan server.RunJob, 4), release: make(chan struct{})}
		r := newRunner(t, f.funcs())
		if err := r.Start(context.Background(), server.RunJob{Incident: "INC-r3", By: auth.Principal{Name: "alice"}}); err != nil {
			t.Fatal(err)
		}
		waitEntered(t, f)
		sctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		if err := r.Stop(sctx); err != nil {
			t.Fatalf("stop with a run in progress: %v", err)
		}
	})
}
