package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/logstest"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.PostgresMain(m)) }

var capture = flag.Bool("capture", false, "copy the logs of TestLiveCluster's scenario into testdata/live.* (then run -update)")

// livePrefix is the log_line_prefix TestLiveCluster sets, and the one
// testdata/live.stderr is read with.
const livePrefix = "%m [%p] %q%u@%d/%a "

const backdoorPassword = "Sup3rS3cret!"

// TestLiveCluster runs an incident's worth of activity against a real
// server and checks what the three parsers make of its logs.
func TestLiveCluster(t *testing.T) {
	c := testutil.SharedPostgres(t)
	ctx := context.Background()
	c.Exec(t, "ALTER SYSTEM SET log_destination = 'stderr,csvlog,jsonlog'")
	c.Exec(t, "ALTER SYSTEM SET log_line_prefix = "+testutil.QuoteLiteral(livePrefix))
	c.Exec(t, "SELECT pg_reload_conf()")
	waitSetting(t, c, "log_line_prefix", livePrefix)
	files := map[string]logs.Parser{"postgresql.csv": NewCSV(), "postgresql.json": NewJSON(), "postgresql.log": mustStderr(t, livePrefix)}
	start := map[string]int{} // what earlier runs (-count) logged
	for name := range files {
		if b, err := os.ReadFile(filepath.Join(c.LogDir, name)); err == nil {
			start[name] = len(b)
		}
	}

	ordersPW, adminPW, reportPW := "orders-"+testutil.RandomName("pw"), "admin-"+testutil.RandomName("pw"), "rep-"+testutil.RandomName("pw")
	c.CreateRole(t, "orders_svc", ordersPW, "")
	c.CreateRole(t, "ops_admin", adminPW, "CREATEROLE")
	c.CreateRole(t, "reporting", reportPW, "NOLOGIN")
	c.Exec(t, "ALTER ROLE ops_admin SET log_statement = 'ddl'")
	c.Exec(t, "GRANT CREATE ON SCHEMA public TO ops_admin")

	// The application, twice.
	for i := 0; i < 2; i++ {
		conn := c.Connect(t, "orders_svc", ordersPW, "orders-api")
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		conn.Close(ctx)
	}
	// Someone guessing.
	for _, u := range []string{"orders_svc", "orders_svc", "attacker"} {
		mustFailConnect(t, c, u, "guess", "attacker")
	}
	mustFailConnect(t, c, "reporting", reportPW, "report-job")
	// The exposed admin credential makes a backdoor.
	admin := c.Connect(t, "ops_admin", adminPW, "psql")
	t.Cleanup(func() { c.DropRole(t, "backdoor") })
	for _, sql := range []string{
		"CREATE ROLE backdoor LOGIN PASSWORD '" + backdoorPassword + "'",
		"ALTER ROLE backdoor WITH ENCRYPTED PASSWORD 'Sup3rS3cret!2'",
		"GRANT pg_read_all_data TO backdoor",
		"CREATE TABLE IF NOT EXISTS scratch (id int)",
		"DROP TABLE scratch",
		"ALTER ROLE backdoor\n\tVALID UNTIL 'infinity'\n\tPASSWORD 'Sup3rS3cret!3'",
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	admin.Close(ctx)
	marker := testutil.RandomName("rekey_scenario_end_")
	c.Exec(t, "DO $$BEGIN RAISE LOG '"+marker+"'; END$$")

	for name, p := range files {
		path := filepath.Join(c.LogDir, name)
		data := waitFor(t, path, marker)[start[name]:]
		if *capture {
			out := "testdata/live" + map[string]string{".csv": ".csv", ".json": ".json", ".log": ".stderr"}[filepath.Ext(name)]
			if err := os.WriteFile(out, trimLog(data, p), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(p.Name(), func(t *testing.T) {
			res := logstest.Parse(p, path, bytes.NewReader(data))
			if res.Err != "" || res.Stats.MalformedCount != 0 {
				t.Errorf("error %q, malformed %+v", res.Err, res.Stats.Malformed)
			}
			checkScenario(t, res.Events)
		})
	}
}

// trimLog keeps the records of the scenario: from the first connection of
// orders_svc on.
func trimLog(data []byte, p logs.Parser) []byte {
	i := bytes.Index(data, []byte("connection received"))
	j := bytes.Index(data, []byte("orders_svc"))
	if i < 0 || j < 0 {
		return data
	}
	for k := j; k >= 0; k-- { // back to the record before the first orders_svc one
		if data[k] == '\n' && p.Sniff(data[k+1:]) && bytes.Contains(data[k+1:j], []byte("connection received")) {
			return data[k+1:]
		}
	}
	return data
}

func checkScenario(t *testing.T, events []logs.Event) {
	t.Helper()
	count := func(f func(e logs.Event) bool) int {
		n := 0
		for _, e := range events {
			if f(e) {
				n++
			}
		}
		return n
	}
	if n := count(func(e logs.Event) bool {
		return e.Action == "connect" && e.Outcome == logs.Success && e.Credential == "orders_svc" &&
			e.Application == "orders-api" && e.Source == "127.0.0.1" && e.Detail["database"] == "postgres"
	}); n != 2 {
		t.Errorf("%d successful connects of orders_svc from orders-api, want 2", n)
	}
	if n := count(func(e logs.Event) bool {
		return e.Action == "connect" && e.Outcome == logs.Failure && e.Credential == "orders_svc" &&
			e.Detail["sqlstate"] == "28P01" && e.Source == "127.0.0.1"
	}); n != 2 {
		t.Errorf("%d failed connects (28P01) of orders_svc, want 2", n)
	}
	if n := count(func(e logs.Event) bool {
		return e.Outcome == logs.Failure && e.Credential == "attacker" && e.Detail["sqlstate"] == "28P01"
	}); n != 1 {
		t.Errorf("%d failed connects of attacker, want 1", n)
	}
	if n := count(func(e logs.Event) bool {
		return e.Outcome == logs.Failure && e.Credential == "reporting" && e.Detail["sqlstate"] == "28000"
	}); n != 1 {
		t.Errorf("%d refused connects (28000) of reporting, want 1", n)
	}
	dur := regexp.MustCompile(`^\d+:\d\d:\d\d\.\d{3}$`)
	if n := count(func(e logs.Event) bool {
		return e.Action == "disconnect" && e.Credential == "orders_svc" && dur.MatchString(e.Detail["duration"])
	}); n != 2 {
		t.Errorf("%d disconnects of orders_svc with a duration, want 2", n)
	}
	want := map[string]string{
		"CREATE ROLE": "CREATE ROLE backdoor LOGIN PASSWORD '[REDACTED]'",
		"GRANT":       "GRANT pg_read_all_data TO backdoor",
	}
	for action, stmt := range want {
		if n := count(func(e logs.Event) bool {
			return e.Action == action && e.Credential == "ops_admin" && e.Detail["derived"] == "true" &&
				e.Detail["statement"] == stmt && e.Application == "psql"
		}); n != 1 {
			t.Errorf("%d derived %s by ops_admin with statement %q, want 1", n, action, stmt)
		}
	}
	if n := count(func(e logs.Event) bool {
		return e.Action == "ALTER ROLE" && e.Detail["derived"] == "true" && strings.Contains(e.Detail["statement"], "'[REDACTED]'")
	}); n != 2 {
		t.Errorf("%d derived ALTER ROLE with password redacted, want 2", n)
	}
	if n := count(func(e logs.Event) bool { return e.Action == "CREATE TABLE" && e.Detail["derived"] == "" }); n != 1 {
		t.Errorf("%d CREATE TABLE not derived, want 1", n)
	}
	b, _ := json.Marshal(events)
	if bytes.Contains(b, []byte(backdoorPassword)) {
		t.Errorf("the backdoor's password is in the events")
	}
	for _, e := range events {
		if e.Time.IsZero() || e.Line == 0 {
			t.Errorf("event without time or line: %+v", e)
		}
	}
}

func mustStderr(t testing.TB, prefix string) *Stderr {
	t.Helper()
	p, err := NewStderr(prefix)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustFailConnect(t *testing.T, c *testutil.PGCluster, usr, pw, app string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(c.URL(usr, pw, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = app
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err == nil {
		conn.Close(context.Background())
		t.Fatalf("%s logged in with %q", usr, pw)
	}
}

func waitSetting(t *testing.T, c *testutil.PGCluster, name, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got string
		if err := c.Pool(t).QueryRow(context.Background(), "SHOW "+name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q after reload, want %q", name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor reads path once the logging collector has written marker to it.
func waitFor(t *testing.T, path, marker string) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(marker)) {
			if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
				return b[:i+1]
			}
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q not logged within 10s (%v)", path, marker, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
