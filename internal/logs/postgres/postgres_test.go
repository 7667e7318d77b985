package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/logstest"
)

// stderrInputs are the stderr fixtures and the log_line_prefix each was
// written with.
var stderrInputs = map[string]string{
	"testdata/live.stderr": livePrefix, // TestLiveCluster -capture
	"testdata/app.stderr":  "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
}

func TestCSVConformance(t *testing.T) {
	logstest.Run(t, NewCSV(), logstest.Cases(t, "testdata/*.csv"))
}

func TestJSONConformance(t *testing.T) {
	logstest.Run(t, NewJSON(), logstest.Cases(t, "testdata/*.json"))
}

func TestStderrConformance(t *testing.T) {
	for in, prefix := range stderrInputs {
		t.Run(in, func(t *testing.T) {
			logstest.Run(t, mustStderr(t, prefix), []logstest.Case{{Input: in}})
		})
	}
}

func FuzzCSV(f *testing.F)  { logstest.Fuzz(f, NewCSV(), logstest.Cases(f, "testdata/*.csv")) }
func FuzzJSON(f *testing.F) { logstest.Fuzz(f, NewJSON(), logstest.Cases(f, "testdata/*.json")) }
func FuzzStderr(f *testing.F) {
	logstest.Fuzz(f, mustStderr(f, livePrefix), []logstest.Case{{Input: "testdata/live.stderr"}})
}

func BenchmarkCSV(b *testing.B)  { logstest.Benchmark(b, NewCSV(), "testdata/live.csv") }
func BenchmarkJSON(b *testing.B) { logstest.Benchmark(b, NewJSON(), "testdata/live.json") }
func BenchmarkStderr(b *testing.B) {
	logstest.Benchmark(b, mustStderr(b, livePrefix), "testdata/live.stderr")
}

// TestNoSecretInEvents checks that no password of the fixtures reaches an
// event, however it was spelt.
func TestNoSecretInEvents(t *testing.T) {
	secrets := []string{"Sup3rS3cret!", "Fdw-Pa55", "Hidd3n", "Dbl1nkPw"}
	inputs := map[string]logs.Parser{"testdata/live.csv": NewCSV(), "testdata/live.json": NewJSON()}
	for in, prefix := range stderrInputs {
		inputs[in] = mustStderr(t, prefix)
	}
	for in, p := range inputs {
		res := logstest.Parse(p, in, bytes.NewReader(readFile(t, in)))
		b, _ := json.Marshal(res)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s: %q is in the events", in, s)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct {
		in, want, tag string
		derived       bool
	}{
		{"CREATE ROLE backdoor LOGIN PASSWORD 'Sup3rS3cret!'", "CREATE ROLE backdoor LOGIN PASSWORD '[REDACTED]'", "CREATE ROLE", true},
		{"create user x with encrypted password 'a''b' valid until 'infinity'", "create user x with encrypted password '[REDACTED]' valid until 'infinity'", "CREATE USER", true},
		{"ALTER USER x PASSWORD E'it\\'s'", "ALTER USER x PASSWORD '[REDACTED]'", "ALTER ROLE", true},
		{"ALTER ROLE x PASSWORD $p$sec'ret$p$", "ALTER ROLE x PASSWORD '[REDACTED]'", "ALTER ROLE", true},
		{"ALTER ROLE x PASSWORD 'unterminated", "ALTER ROLE x PASSWORD '[REDACTED]'", "ALTER ROLE", true},
		{"ALTER ROLE x PASSWORD NULL", "ALTER ROLE x PASSWORD NULL", "ALTER ROLE", true},
		{"ALTER ROLE x WITH LOGIN", "ALTER ROLE x WITH LOGIN", "ALTER ROLE", true},
		{"ALTER ROLE x NOLOGIN", "ALTER ROLE x NOLOGIN", "ALTER ROLE", false},
		{"ALTER ROLE x SET log_statement = 'password'", "ALTER ROLE x SET log_statement = 'password'", "ALTER ROLE", false},
		{"GRANT admin TO mallory", "GRANT admin TO mallory", "GRANT", true},
		{"GRANT SELECT ON orders TO mallory", "GRANT SELECT ON orders TO mallory", "GRANT", false},
		{"CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'u', password 'p')", "CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'u', password '[REDACTED]')", "CREATE USER MAPPING", true},
		{"SELECT 'password' AS x -- PASSWORD 'no'", "SELECT 'password' AS x -- PASSWORD 'no'", "SELECT", false},
		{"SELECT dblink_connect('host=h password=abc user=u')", "SELECT dblink_connect('host=h password=[REDACTED] user=u')", "SELECT", false},
		{"/* c */ CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql", "/* c */ CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql", "CREATE FUNCTION", false},
		{"SELECT 1; CREATE ROLE b PASSWORD 'x'", "SELECT 1; CREATE ROLE b PASSWORD '[REDACTED]'", "SELECT", true},
		{"CREATE MATERIALIZED VIEW v AS SELECT 1", "CREATE MATERIALIZED VIEW v AS SELECT 1", "CREATE MATERIALIZED VIEW", false},
		{`CREATE TABLE "login" (password text)`, `CREATE TABLE "login" (password text)`, "CREATE TABLE", false},
	} {
		got, tag, derived := Redact(c.in)
		if c.tag == "ALTER ROLE" && strings.HasPrefix(c.in, "ALTER USER") {
			c.tag = "ALTER USER"
		}
		if got != c.want || tag != c.tag || derived != c.derived {
			t.Errorf("Redact(%q) = %q, %q, %v; want %q, %q, %v", c.in, got, tag, derived, c.want, c.tag, c.derived)
		}
	}
}

func TestNewStderrRejects(t *testing.T) {
	for _, p := range []string{"%m %", "%m %Z ", "%-"} {
		if _, err := NewStderr(p); err == nil {
			t.Errorf("NewStderr(%q) accepted", p)
		}
	}
	for _, p := range []string{DefaultPrefix, "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ", "%n %r %c %s %v %x %e %b %P %Q %i %L %% %-10u %5p "} {
		if _, err := NewStderr(p); err != nil {
			t.Errorf("NewStderr(%q): %v", p, err)
		}
	}
}

// TestStderrAttributesByPID: with the default prefix, which has no %u, a
// statement is attributed to the user its session authorized as.
func TestStderrAttributesByPID(t *testing.T) {
	in := strings.Join([]string{
		"2026-11-20 10:00:00.001 UTC [77] LOG:  connection received: host=10.1.1.1 port=5000",
		"2026-11-20 10:00:00.002 UTC [77] LOG:  connection authorized: user=ops database=shop application_name=psql",
		"2026-11-20 10:00:01.000 UTC [77] LOG:  statement: CREATE ROLE b LOGIN PASSWORD 'pw'",
		"2026-11-20 10:00:02.000 UTC [77] LOG:  disconnection: session time: 0:00:01.998 user=ops database=shop host=10.1.1.1 port=5000",
		"2026-11-20 10:00:03.000 UTC [77] LOG:  statement: SELECT 1",
		"",
	}, "\n")
	res := logstest.Parse(mustStderr(t, DefaultPrefix), "x", strings.NewReader(in))
	if len(res.Events) != 3 {
		t.Fatalf("%d events, want 3 (the statement after the disconnection has no user): %+v", len(res.Events), res.Events)
	}
	e := res.Events[1]
	if e.Credential != "ops" || e.Source != "10.1.1.1" || e.Application != "psql" || e.Detail["derived"] != "true" || e.Line != 3 {
		t.Errorf("statement event %+v", e)
	}
	if res.Events[0].Source != "10.1.1.1" {
		t.Errorf("connect event without the received host: %+v", res.Events[0])
	}
}

func TestSniffTellsFormatsApart(t *testing.T) {
	stderr := mustStderr(t, livePrefix)
	parsers := []logs.Parser{NewCSV(), NewJSON(), stderr}
	for in, want := range map[string]string{"testdata/live.csv": "postgres-csv", "testdata/live.json": "postgres-json", "testdata/live.stderr": "postgres-stderr"} {
		if p := logs.Detect(readFile(t, in), parsers); p == nil || p.Name() != want {
			t.Errorf("Detect(%s) = %v, want %s", in, p, want)
		}
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := logstest.Repeat(readFile(t, "testdata/live.csv"), 8<<20)
	_, err := NewCSV().Parse(ctx, "x", big, func(logs.Event) error { return nil })
	if err != context.Canceled {
		t.Errorf("Parse with a canceled context returned %v", err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	rc, err := logs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
