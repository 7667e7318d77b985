package jobs_test

import (
	"context"
	"testing"

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
