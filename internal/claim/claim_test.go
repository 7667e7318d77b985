package claim_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/claim"
	"github.com/rekeyhq/rekey/internal/claim/claimtest"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/open"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// holdEnv makes the test binary a claim holder (see TestMain): it claims
// the incident in the store named by the variable, says so, and waits to
// be killed.
const holdEnv = "REKEY_CLAIMTEST_HOLD"

func TestMain(m *testing.M) {
	if where := os.Getenv(holdEnv); where != "" {
		hold(where)
		return
	}
	os.Exit(m.Run())
}

func hold(where string) {
	ctx := context.Background()
	st, err := open.Open(ctx, where)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	cl, err := claim.For(st, claim.Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if _, err := cl.Claim(ctx, "INC-held", "carol"); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("held")
	select {}
}

func openAt(t *testing.T, where string, o claim.Options) (store.Store, claim.Claimer) {
	t.Helper()
	st, err := open.Open(context.Background(), where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cl, err := claim.For(st, o)
	if err != nil {
		t.Fatal(err)
	}
	return st, cl
}

func harness(newDB func(t *testing.T) string, die func(t *testing.T, where string, c *claim.Claim)) claimtest.Harness {
	return claimtest.Harness{
		New: newDB,
		Open: func(t *testing.T, where string, o claim.Options) claim.Claimer {
			_, cl := openAt(t, where, o)
			return cl
		},
		Die: die,
	}
}

func sqliteDB(t *testing.T) string { return filepath.Join(t.TempDir(), "rekey.db") }

func postgresDB(t *testing.T) string { return testutil.PostgresDB(t) }

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// sqliteDie leaves what a crashed holder leaves: its row, naming a pid
// that no longer runs.
func sqliteDie(t *testing.T, where string, c *claim.Claim) {
	st, _ := openAt(t, where, claim.Options{})
	if _, err := st.(store.Raw).DB().Exec(`UPDATE claims SET pid = $1 WHERE incident_id = $2`, deadPID(t), c.Incident); err != nil {
		t.Fatal(err)
	}
}

// postgresDie ends the session holding c's advisory lock, as the server
// does when the holder's process or network dies.
func postgresDie(t *testing.T, where string, c *claim.Claim) {
	st, _ := openAt(t, where, claim.Options{})
	key := uint64(claim.LockKey(c.Incident))
	var ended bool
	err := st.(store.Raw).DB().QueryRow(`SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1`,
		int64(key>>32), int64(key&0xffffffff)).Scan(&ended)
	if err != nil || !ended {
		t.Fatalf("terminate the holder's session: %v %v", ended, err)
	}
}

func TestSQLite(t *testing.T) { claimtest.Run(t, harness(sqliteDB, sqliteDie)) }

func TestPostgres(t *testing.T) { claimtest.Run(t, harness(postgresDB, postgresDie)) }

// TestSQLiteStaleHeartbeat: a holder whose process may be alive (another
// host, a reused pid) but whose heartbeat stopped 15 s ago has lost it.
func TestSQLiteStaleHeartbeat(t *testing.T) {
	where := sqliteDB(t)
	_, a := openAt(t, where, claim.Options{Host: "elsewhere"})
	c, err := a.Claim(context.Background(), "INC-1", "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	later := func(d time.Duration) claim.Options {
		return claim.Options{Now: func() time.Time { return time.Now().Add(d) }}
	}
	_, b := openAt(t, where, later(10*time.Second))
	if _, err := b.Claim(context.Background(), "INC-1", "bob"); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("a 10 s old heartbeat was taken over: %v", err)
	}
	_, b = openAt(t, where, later(claim.DefaultStale+time.Second))
	d, err := b.Claim(context.Background(), "INC-1", "bob")
	if err != nil {
		t.Fatalf("a stale heartbeat was not taken over: %v", err)
	}
	defer d.Release()
	if d.Previous == nil || d.Previous.Actor != "alice" || d.Previous.Host != "elsewhere" {
		t.Errorf("previous %+v", d.Previous)
	}
}

// TestSQLiteDeadPIDOnAnotherHost: a pid is only checked on its own host.
func TestSQLiteDeadPIDOnAnotherHost(t *testing.T) {
	where := sqliteDB(t)
	_, a := openAt(t, where, claim.Options{Host: "elsewhere", PID: deadPID(t)})
	c, err := a.Claim(context.Background(), "INC-1", "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	_, b := openAt(t, where, claim.Options{})
	if _, err := b.Claim(context.Background(), "INC-1", "bob"); errs.KindOf(err) != errs.Conflict {
		t.Fatalf("another host's claim was taken over by its pid: %v", err)
	}
}

// TestProcessKilled: a real process holds the claim; a second one is
// refused with the holder's pid; once the holder is killed (SIGKILL: no
// release), the claim is free at once.
func TestProcessKilled(t *testing.T) {
	for name, newDB := range map[string]func(*testing.T) string{"sqlite": sqliteDB, "postgres": postgresDB} {
		t.Run(name, func(t *testing.T) {
			where := newDB(t)
			_, cl := openAt(t, where, claim.Options{})
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), holdEnv+"="+where)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			line, _ := bufio.NewReader(out).ReadString('\n')
			if strings.TrimSpace(line) != "held" {
				t.Fatalf("holder: %q", line)
			}
			_, err = cl.Claim(context.Background(), "INC-held", "dave")
			if want := fmt.Sprintf("being worked on by carol (pid %d on ", cmd.Process.Pid); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("while carol's process holds it: %v, want %q", err, want)
			}
			cmd.Process.Kill()
			cmd.Wait()
			var c *claim.Claim
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				c, err = cl.Claim(context.Background(), "INC-held", "dave")
				if err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil {
				t.Fatalf("after the holder was killed: %v", err)
			}
			defer c.Release()
			if c.Previous == nil || c.Previous.PID != cmd.Process.Pid {
				t.Errorf("previous %+v, want carol's pid %d", c.Previous, cmd.Process.Pid)
			}
		})
	}
}
