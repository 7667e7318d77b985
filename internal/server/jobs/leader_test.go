package jobs

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/server"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// working is a runner over url whose runs wait for their context and are
// reported on calls.
func working(t *testing.T, url string, calls chan<- server.RunJob) *Runner {
	t.Helper()
	f := server.RunFuncs{
		Check: func(context.Context, server.RunJob) error { return nil },
		Exec: func(ctx context.Context, job server.RunJob, _ func()) error {
			calls <- job
			<-ctx.Done()
			return ctx.Err()
		},
	}
	r, err := New(context.Background(), Config{URL: url}, f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// One replica leads at a time; when its session ends (Stop, or the
// server breaking it) another leads.
func TestLeaderMovesWhenItsReplicaGoes(t *testing.T) {
	url := testutil.PostgresDB(t)
	var mu sync.Mutex
	leading := map[*Runner]bool{}
	overlap := false
	follow := func(r *Runner) {
		go r.Lead(context.Background(), func(ctx context.Context) error {
			mu.Lock()
			leading[r] = true
			for o, on := range leading {
				if o != r && on {
					overlap = true
				}
			}
			mu.Unlock()
			<-ctx.Done()
			mu.Lock()
			leading[r] = false
			mu.Unlock()
			return ctx.Err()
		})
	}
	calls := make(chan server.RunJob, 8)
	a, b := working(t, url, calls), working(t, url, calls)
	defer a.Stop(context.Background())
	defer b.Stop(context.Background())
	follow(a)
	follow(b)
	leader := func() *Runner {
		deadline := time.Now().Add(time.Minute)
		for {
			mu.Lock()
			var l []*Runner
			for r, on := range leading {
				if on {
					l = append(l, r)
				}
			}
			mu.Unlock()
			if len(l) == 1 {
				return l[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d leaders", len(l))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	first := leader()
	other := a
	if first == a {
		other = b
	}
	// The leader's session is broken by the server: its term ends and
	// the other replica leads.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid::bigint = $1 AND objid::bigint = $2`, int64(uint64(leaderKey)>>32), int64(uint64(leaderKey)&0xffffffff)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		moved := leading[other] && !leading[first]
		mu.Unlock()
		if moved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("leadership did not move when the leader's session ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Error("two replicas led at once")
	}
}

// A job left running by a replica that is gone (no liveness lock) is
// worked again, as a resumed run; one whose replica lives is left alone.
func TestRescueJobsOfGoneReplicas(t *testing.T) {
	url := testutil.PostgresDB(t)
	calls := make(chan server.RunJob, 8)
	// The jobs are queued by a runner that works none of them.
	q, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	q.Bind(server.RunFuncs{})
	defer q.Close()
	for _, id := range []string{"INC-gone", "INC-alive"} {
		if err := q.Start(context.Background(), server.RunJob{Incident: id}); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// The live replica is this connection, holding its liveness lock.
	if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_lock($1)`, liveKey("rekey-alive")); err != nil {
		t.Fatal(err)
	}
	// Attempted an hour from now: River's own rescuer, which goes by
	// the attempt's age, leaves them be; only a replica's liveness
	// tells.
	for _, by := range [][2]string{{"INC-gone", "rekey-gone"}, {"INC-alive", "rekey-alive"}} {
		if _, err := conn.Exec(context.Background(), `UPDATE `+Schema+`.river_job SET state = 'running', attempt = 1,
			attempted_at = now() + interval '1 hour', attempted_by = ARRAY[$2] WHERE args->>'incident' = $1`, by[0], by[1]); err != nil {
			t.Fatal(err)
		}
	}
	r := working(t, url, calls)
	defer r.Stop(context.Background())
	select {
	case job := <-calls:
		if job.Incident != "INC-gone" || !job.Resume {
			t.Fatalf("rescued %+v, want INC-gone resumed", job)
		}
	case <-time.After(time.Minute):
		t.Fatal("the job of the replica that is gone was not rescued")
	}
	// A few of the leader's passes later the live replica's job is
	// still its own.
	time.Sleep(3 * RescueEvery)
	var state string
	if err := conn.QueryRow(context.Background(), `SELECT state::text FROM `+Schema+`.river_job WHERE args->>'incident' = 'INC-alive'`).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "running" {
		t.Fatalf("the live replica's job is %s", state)
	}
	select {
	case job := <-calls:
		t.Fatalf("%s was worked again while its replica lives", job.Incident)
	default:
	}
}
