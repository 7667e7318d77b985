package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/server"
	"github.com/rekeyhq/rekey/internal/server/jobs"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// A trace job outlives its attempt's timeout (the timeout is when River
// may hand a dead replica's job to another, not a limit on a large
// repository); one whose incident or source is gone is not tried again.
func TestTraceJobOutlivesItsTimeout(t *testing.T) {
	var (
		mu    sync.Mutex
		calls = map[int]int{}
		ended = make(chan error, 1)
	)
	f := server.RunFuncs{
		Check: func(context.Context, server.RunJob) error { return nil },
		Exec:  func(context.Context, server.RunJob, func()) error { return nil },
		Trace: func(ctx context.Context, job server.TraceJob) error {
			mu.Lock()
			calls[job.Source]++
			mu.Unlock()
			if job.Source == 2 {
				return errs.New("store: trace source", errs.NotFound, job.Incident, "no source 2 is traced")
			}
			select {
			case <-time.After(3 * time.Second):
				ended <- nil
			case <-ctx.Done():
				ended <- ctx.Err()
			}
			return nil
		},
	}
	r, err := jobs.New(context.Background(), jobs.Config{URL: testutil.PostgresDB(t), TraceTimeout: 500 * time.Millisecond}, f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background())
	if err := r.Trace(context.Background(), []server.TraceJob{{Incident: "INC-t", Source: 1}, {Incident: "INC-t", Source: 2}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("the trace was cut off: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the trace job was never worked")
	}
	// River's first retry would come about a second after a failure.
	time.Sleep(3 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if calls[2] != 1 {
		t.Fatalf("a job whose source is gone was worked %d times", calls[2])
	}
}
