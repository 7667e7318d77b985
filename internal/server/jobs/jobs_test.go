package jobs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/server"
	"github.com/rekeyhq/rekey/internal/server/jobs"
	"github.com/rekeyhq/rekey/internal/server/runnertest"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func TestRunner(t *testing.T) {
	runnertest.Run(t, func(t *testing.T, f server.RunFuncs) server.Runner {
		r, err := jobs.New(context.Background(), jobs.Config{URL: testutil.PostgresDB(t)}, f)
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

// A second replica migrating the same database finds River's schema up
// to date.
func TestMigrateTwice(t *testing.T) {
	url := testutil.PostgresDB(t)
	for range 2 {
		r, err := jobs.Open(context.Background(), jobs.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
}

// A worker that finds the incident claimed elsewhere (a replica still
// working a rescued job, a CLI command) tries again later; a run refused
// for good (invalid) is not tried again.
func TestWorkerRetriesAClaimedIncidentOnly(t *testing.T) {
	calls := make(chan server.RunJob, 8)
	var held atomic.Bool
	held.Store(true)
	f := server.RunFuncs{
		Check: func(context.Context, server.RunJob) error { return nil },
		Exec: func(_ context.Context, job server.RunJob, _ func()) error {
			calls <- job
			switch {
			case job.Incident == "INC-held" && held.Swap(false):
				return errs.New("", errs.Conflict, "", "incident INC-held is being worked on by another rekey process")
			case job.Incident == "INC-bad":
				return errs.New("run", errs.Invalid, job.Incident, "the run was rolled back")
			}
			return nil
		},
	}
	r, err := jobs.New(context.Background(), jobs.Config{URL: testutil.PostgresDB(t)}, f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background())
	for _, id := range []string{"INC-held", "INC-bad"} {
		if err := r.Start(context.Background(), server.RunJob{Incident: id, By: auth.Principal{Name: "alice"}}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	deadline := time.After(2 * time.Minute)
	for seen["INC-held"] < 2 {
		select {
		case job := <-calls:
			seen[job.Incident]++
		case <-deadline:
			t.Fatalf("the claimed incident's run was not tried again: %v", seen)
		}
	}
	if seen["INC-bad"] > 1 {
		t.Fatalf("an invalid run was tried %d times", seen["INC-bad"])
	}
	// The invalid run's job is not queued again: starting it anew is
	// accepted (no job of it is left queued or running).
	if err := r.Start(context.Background(), server.RunJob{Incident: "INC-bad", By: auth.Principal{Name: "alice"}}); err != nil {
		t.Fatalf("start after a cancelled job: %v", err)
	}
}
