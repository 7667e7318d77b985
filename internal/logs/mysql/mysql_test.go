package mysql

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/logstest"
)

// auditParser reads the syslog fixture, whose times have no year, as 2026.
func auditParser() *Audit { return &Audit{Year: 2026} }

func TestGeneralConformance(t *testing.T) {
	logstest.Run(t, NewGeneral(), logstest.Cases(t, "testdata/general/*"))
}

func TestAuditConformance(t *testing.T) {
	logstest.Run(t, auditParser(), logstest.Cases(t, "testdata/audit/*"))
}

func FuzzGeneral(f *testing.F) {
	logstest.Fuzz(f, NewGeneral(), logstest.Cases(f, "testdata/general/*"))
}
func FuzzAudit(f *testing.F) { logstest.Fuzz(f, auditParser(), logstest.Cases(f, "testdata/audit/*")) }

func BenchmarkGeneral(b *testing.B) { logstest.Benchmark(b, NewGeneral(), "testdata/general/live.log") }
func BenchmarkAudit(b *testing.B)   { logstest.Benchmark(b, auditParser(), "testdata/audit/live.log") }

// TestNoSecretInEvents checks that no password literal of the fixtures
// reaches an event, however it was spelt.
func TestNoSecretInEvents(t *testing.T) {
	secrets := append([]string{"Repl-Pa55word", "Hash-Not-A-Secret", "Syslog-Pa55!"}, backdoorPasswords...)
	found := map[string]bool{}
	for glob, p := range map[string]logs.Parser{"testdata/general/*": NewGeneral(), "testdata/audit/*": auditParser()} {
		for _, c := range logstest.Cases(t, glob) {
			data := readFile(t, c.Input)
			res := logstest.Parse(p, c.Input, bytes.NewReader(data))
			b, _ := json.Marshal(res)
			for _, s := range secrets {
				if bytes.Contains(data, []byte(s)) {
					found[s] = true
				}
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s: %q is in the events", c.Input, s)
				}
			}
		}
	}
	for _, s := range secrets { // else the test proves nothing
		if !found[s] {
			t.Errorf("no fixture holds %q", s)
		}
	}
}

func TestAnalyze(t *testing.T) {
	for _, c := range []struct {
		in, want, tag string
		derived       bool
		user, host    string
		self          bool
	}{
		{"CREATE USER 'bd'@'%' IDENTIFIED BY 'S3cret!'", "CREATE USER 'bd'@'%' IDENTIFIED BY '[REDACTED]'", "CREATE USER", true, "bd", "%", false},
		{"create user if not exists bd@localhost identified by \"a\\\"b\" password expire never", "create user if not exists bd@localhost identified by '[REDACTED]' password expire never", "CREATE USER", true, "bd", "localhost", false},
		{"CREATE OR REPLACE USER `b``d`@`10.0.0.%` IDENTIFIED BY PASSWORD '*0123456789ABCDEF'", "CREATE OR REPLACE USER `b``d`@`10.0.0.%` IDENTIFIED BY PASSWORD '[REDACTED]'", "CREATE USER", true, "b`d", "10.0.0.%", false},
		{"CREATE USER a IDENTIFIED BY 'x', b@'h' IDENTIFIED BY 'y'", "CREATE USER a IDENTIFIED BY '[REDACTED]', b@'h' IDENTIFIED BY '[REDACTED]'", "CREATE USER", true, "a", "%", false},
		{"ALTER USER 'u'@'%' IDENTIFIED BY 'new' REPLACE 'old' RETAIN CURRENT PASSWORD", "ALTER USER 'u'@'%' IDENTIFIED BY '[REDACTED]' REPLACE '[REDACTED]' RETAIN CURRENT PASSWORD", "ALTER USER", true, "u", "%", false},
		{"ALTER USER u IDENTIFIED WITH caching_sha2_password AS '$A$005$hash'", "ALTER USER u IDENTIFIED WITH caching_sha2_password AS '[REDACTED]'", "ALTER USER", true, "u", "%", false},
		{"ALTER USER u@'%'\n  IDENTIFIED VIA ed25519 USING PASSWORD('pw') OR unix_socket", "ALTER USER u@'%'\n  IDENTIFIED VIA ed25519 USING PASSWORD('[REDACTED]') OR unix_socket", "ALTER USER", true, "u", "%", false},
		{"ALTER USER u IDENTIFIED VIA mysql_native_password USING '*ABCDEF'", "ALTER USER u IDENTIFIED VIA mysql_native_password USING '[REDACTED]'", "ALTER USER", true, "u", "%", false},
		{"ALTER USER u ACCOUNT UNLOCK", "ALTER USER u ACCOUNT UNLOCK", "ALTER USER", true, "u", "%", false},
		{"ALTER USER u WITH MAX_QUERIES_PER_HOUR 10", "ALTER USER u WITH MAX_QUERIES_PER_HOUR 10", "ALTER USER", false, "", "", false},
		{"ALTER USER CURRENT_USER() IDENTIFIED BY 'x'", "ALTER USER CURRENT_USER() IDENTIFIED BY '[REDACTED]'", "ALTER USER", true, "", "", true},
		{"SET PASSWORD = PASSWORD('pw')", "SET PASSWORD = PASSWORD('[REDACTED]')", "SET PASSWORD", true, "", "", true},
		{"SET PASSWORD FOR 'u'@'h' = 'pw'", "SET PASSWORD FOR 'u'@'h' = '[REDACTED]'", "SET PASSWORD", true, "u", "h", false},
		{"set password for u = old_password('pw')", "set password for u = old_password('[REDACTED]')", "SET PASSWORD", true, "u", "%", false},
		{"SET PASSWORD FOR u = _utf8mb4'pw' 'more'", "SET PASSWORD FOR u = '[REDACTED]' '[REDACTED]'", "SET PASSWORD", true, "u", "%", false},
		{"GRANT ALL ON *.* TO 'u'@'%' IDENTIFIED BY 'pw' WITH GRANT OPTION", "GRANT ALL ON *.* TO 'u'@'%' IDENTIFIED BY '[REDACTED]' WITH GRANT OPTION", "GRANT", true, "u", "%", false},
		{"GRANT admin TO mallory", "GRANT admin TO mallory", "GRANT", true, "mallory", "%", false},
		{"CREATE ROLE IF NOT EXISTS auditor", "CREATE ROLE IF NOT EXISTS auditor", "CREATE ROLE", true, "auditor", "", false},
		{"RENAME USER 'a'@'%' TO 'b'@'10.1.1.1'", "RENAME USER 'a'@'%' TO 'b'@'10.1.1.1'", "RENAME USER", true, "b", "10.1.1.1", false},
		{"UPDATE mysql.user SET authentication_string = PASSWORD('pw') WHERE User = 'root'", "UPDATE mysql.user SET authentication_string = PASSWORD('[REDACTED]') WHERE User = 'root'", "UPDATE", true, "", "", false},
		{"INSERT INTO `mysql`.`global_priv` VALUES ('%', 'x', '{}')", "INSERT INTO `mysql`.`global_priv` VALUES ('%', 'x', '{}')", "INSERT", true, "", "", false},
		{"SELECT PASSWORD(CONCAT('pa', 'ss')) AS h", "SELECT PASSWORD(CONCAT('[REDACTED]', '[REDACTED]')) AS h", "SELECT", false, "", "", false},
		{"CHANGE MASTER TO MASTER_USER='r', MASTER_PASSWORD = 'pw'", "CHANGE MASTER TO MASTER_USER='r', MASTER_PASSWORD = '[REDACTED]'", "CHANGE MASTER", false, "", "", false},
		{"CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'r', PASSWORD 'pw')", "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'r', PASSWORD '[REDACTED]')", "CREATE SERVER", false, "", "", false},
		{"CREATE USER 'u'@'%' IDENTIFIED BY 'unterminated", "CREATE USER 'u'@'%' IDENTIFIED BY '[REDACTED]'", "CREATE USER", true, "u", "%", false},
		{"CREATE USER 'u'@'%' IDENTIFIED BY <secret>", "CREATE USER 'u'@'%' IDENTIFIED BY <secret>", "CREATE USER", true, "u", "%", false},
		{"SELECT 'identified by' AS x FROM t ORDER BY 'password' -- PASSWORD('no')", "SELECT 'identified by' AS x FROM t ORDER BY 'password' -- PASSWORD('no')", "SELECT", false, "", "", false},
		{"/*!40101 SET PASSWORD FOR u = 'pw' */", "/*!40101 SET PASSWORD FOR u = '[REDACTED]' */", "SET PASSWORD", true, "u", "%", false},
		{"SELECT 1; CREATE USER b IDENTIFIED BY 'x'", "SELECT 1; CREATE USER b IDENTIFIED BY '[REDACTED]'", "SELECT", true, "b", "%", false},
		{"CREATE DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW v AS SELECT 1", "CREATE DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW v AS SELECT 1", "CREATE VIEW", false, "", "", false},
		{"create temporary table t (password varchar(10))", "create temporary table t (password varchar(10))", "CREATE TABLE", false, "", "", false},
		{"(SELECT 1) UNION (SELECT 2)", "(SELECT 1) UNION (SELECT 2)", "SELECT", false, "", "", false},
		{"DROP USER u", "DROP USER u", "DROP USER", false, "", "", false},
		{"", "", "", false, "", "", false},
	} {
		st := Analyze(c.in)
		want := Statement{Redacted: c.want, Tag: c.tag, Derived: c.derived, DerivedUser: c.user, DerivedHost: c.host, Self: c.self}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Errorf("Analyze(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}

func parseString(t *testing.T, p logs.Parser, in string) logstest.Result {
	t.Helper()
	res := logstest.Parse(p, "x", strings.NewReader(in))
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	return res
}

func summary(events []logs.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, fmt.Sprintf("%d %s %s %s %s", e.Line, e.Action, e.Outcome, e.Credential, e.Source))
	}
	return out
}

// TestGeneralConnectWaitsForRefusal: MariaDB logs a Connect before it
// checks the password; a refusal logged after another connection's
// records still makes it a failure, and events keep the file's order.
func TestGeneralConnectWaitsForRefusal(t *testing.T) {
	in := "261126  4:07:47\t   10 Connect\tmallory@10.9.9.9 on  using TCP/IP\n" +
		"\t\t   11 Connect\tapp@10.0.0.1 on shop using TCP/IP\n" +
		"\t\t   11 Query\tSELECT 1\n" +
		"261126  4:07:48\t   10 Connect\tAccess denied for user 'mallory'@'10.9.9.9' (using password: YES)\n" +
		"\t\t   11 Quit\t\n" +
		"\t\t   12 Connect\tidle@10.0.0.2 on  using TCP/IP\n"
	res := parseString(t, NewGeneral(), in)
	want := []string{
		"4 connect failure mallory 10.9.9.9",
		"2 connect success app 10.0.0.1",
		"3 SELECT unknown app 10.0.0.1",
		"5 disconnect success app 10.0.0.1",
		"6 connect success idle 10.0.0.2", // nothing followed: a success at the end
	}
	if diff := cmp.Diff(want, summary(res.Events)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if e := res.Events[0]; e.Detail["error"] != "1045" || e.Identity != "'mallory'@'10.9.9.9'" || e.Time.Second() != 48 {
		t.Errorf("refusal %+v", e)
	}
	if e := res.Events[1]; e.Detail["database"] != "shop" || e.Detail["connection_type"] != "TCP/IP" || e.Time.Second() != 47 {
		t.Errorf("connect %+v", e)
	}
}

// TestGeneralConnectWindow: a Connect that nothing follows is emitted as a
// success after connectWindow records, not held to the end.
func TestGeneralConnectWindow(t *testing.T) {
	var b strings.Builder
	b.WriteString("261126  4:07:47\t    1 Connect\tpool@10.0.0.1 on  using TCP/IP\n")
	for i := 0; i < connectWindow+10; i++ {
		fmt.Fprintf(&b, "\t\t    2 Query\tSELECT %d\n", i)
	}
	seen := 0
	_, err := NewGeneral().Parse(context.Background(), "x", strings.NewReader(b.String()), func(e logs.Event) error {
		if e.Credential == "pool" {
			seen = 1
		}
		return nil
	})
	if err != nil || seen != 1 {
		t.Fatalf("err %v, pool's connect emitted: %d", err, seen)
	}
}

func TestGeneralDatabaseRefusal(t *testing.T) {
	in := "261126  4:07:47\t   20 Connect\tzz_a@127.0.0.1 on nosuchdb using TCP/IP\n" +
		"\t\t   20 Init DB\tAccess denied for user 'zz_a'@'%' to database 'nosuchdb'\n" +
		"\t\t   21 Connect\tzz_a@127.0.0.1 on  using TCP/IP\n" +
		"\t\t   21 Query\tSELECT 1\n" +
		"\t\t   21 Init DB\tAccess denied for user 'zz_a'@'%' to database 'secret'\n" +
		"\t\t   21 Quit\t\n"
	res := parseString(t, NewGeneral(), in)
	want := []string{
		"2 connect failure zz_a 127.0.0.1",
		"3 connect success zz_a 127.0.0.1",
		"4 SELECT unknown zz_a 127.0.0.1",
		"6 disconnect success zz_a 127.0.0.1", // a refused USE is no failed login
	}
	if diff := cmp.Diff(want, summary(res.Events)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if e := res.Events[0]; e.Detail["error"] != "1044" || e.Identity != "'zz_a'@'%'" || e.Detail["database"] != "nosuchdb" {
		t.Errorf("refusal %+v", e)
	}
}

// TestGeneralRestart: connection ids start again when the server does.
func TestGeneralRestart(t *testing.T) {
	in := "261126  4:07:47\t    5 Connect\tapp@10.0.0.1 on  using TCP/IP\n" +
		"\t\t    5 Query\tSELECT 1\n" +
		"/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-0+deb12u1-log (Debian 12). started with:\n" +
		"Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\n" +
		"Time\t\t    Id Command\tArgument\n" +
		"261126  4:09:00\t    5 Query\tSELECT 2\n" +
		"\t\t    5 Query\tGRANT ALL ON *.* TO 'x'@'%'\n"
	res := parseString(t, NewGeneral(), in)
	want := []string{
		"1 connect success app 10.0.0.1",
		"2 SELECT unknown app 10.0.0.1",
		"7 GRANT unknown  ", // unattributed, but derived: kept
	}
	if diff := cmp.Diff(want, summary(res.Events)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if res.Stats.MalformedCount != 0 || res.Stats.Records != 4 {
		t.Errorf("stats %+v", res.Stats)
	}
}

func TestGeneralConnectForms(t *testing.T) {
	for _, c := range []struct{ arg, user, host, as, db, via string }{
		{"root@127.0.0.1 on  using TCP/IP", "root", "127.0.0.1", "", "", "TCP/IP"},
		{"app@10.0.0.1 on shop using SSL/TLS", "app", "10.0.0.1", "", "shop", "SSL/TLS"},
		{"guest@localhost as anonymous on test", "guest", "localhost", "anonymous", "test", ""},
		{"a@b@host.example on ", "a@b", "host.example", "", "", ""},
	} {
		u, h, as, db, via, ok := parseConnect(c.arg)
		if !ok || u != c.user || h != c.host || as != c.as || db != c.db || via != c.via {
			t.Errorf("parseConnect(%q) = %q %q %q %q %q %v", c.arg, u, h, as, db, via, ok)
		}
	}
	if _, _, _, _, _, ok := parseConnect("Host 'x' is blocked"); ok {
		t.Error("parseConnect accepted a message")
	}
}

func TestBoundedMap(t *testing.T) {
	m := newBoundedMap[int, int](3)
	for i := 1; i <= 5; i++ {
		m.put(i, i)
	}
	if m.len() != 3 {
		t.Fatalf("len %d, want 3", m.len())
	}
	for i, want := range map[int]bool{1: false, 2: false, 3: true, 4: true, 5: true} {
		if _, ok := m.get(i); ok != want {
			t.Errorf("get(%d) = %v, want %v", i, ok, want)
		}
	}
	m.del(4)
	m.put(6, 6)
	m.put(7, 7) // evicts 3, the oldest left
	if _, ok := m.get(3); ok || m.len() != 3 {
		t.Errorf("after eviction: len %d, 3 kept %v", m.len(), ok)
	}
	m.put(5, 50) // a new put of a key is the newest
	m.put(8, 8)
	if v, ok := m.get(5); !ok || v != 50 {
		t.Errorf("get(5) = %d, %v", v, ok)
	}
}

func TestAuditForms(t *testing.T) {
	for _, c := range []struct {
		name, line string
		want       string
		detail     map[string]string
		at         time.Time
	}{
		{"file", "20261126 04:00:10,vm,app,10.0.0.1,24,0,CONNECT,shop,,0", "connect success app 10.0.0.1",
			map[string]string{"connection_id": "24", "database": "shop", "server_host": "vm"}, time.Date(2026, 11, 26, 4, 0, 10, 0, time.UTC)},
		{"rds epoch", "1653053459680124,c731-instance-1,admin,52.94.133.136,35,698024,WRITE,testdb,test2,0", "WRITE unknown admin 52.94.133.136",
			map[string]string{"connection_id": "35", "database": "testdb", "server_host": "c731-instance-1", "table": "testdb.test2"}, time.UnixMicro(1653053459680124).UTC()},
		{"mariadb 12 host:port", "20261126 04:00:10,vm,app,10.0.0.1:51234,24,7,QUERY,shop,'DELETE FROM t',1142", "DELETE failure app 10.0.0.1",
			map[string]string{"connection_id": "24", "database": "shop", "server_host": "vm", "port": "51234", "statement": "DELETE FROM t", "error": "1142"}, time.Date(2026, 11, 26, 4, 0, 10, 0, time.UTC)},
		{"ipv6", "20261126 04:00:10,vm,app,::1,24,0,FAILED_CONNECT,,,1045", "connect failure app ::1",
			map[string]string{"connection_id": "24", "server_host": "vm", "error": "1045"}, time.Date(2026, 11, 26, 4, 0, 10, 0, time.UTC)},
		{"rfc3339 syslog with pri", "<86>2026-11-26T04:09:18.402213+01:00 db1 mysql-server_auditing[881]:  db1,ops,10.0.0.9,205,0,CHANGEUSER,,,0", "connect success ops 10.0.0.9",
			map[string]string{"connection_id": "205", "server_host": "db1", "command": "Change user"}, time.Date(2026, 11, 26, 3, 9, 18, 402213000, time.UTC)},
		{"rename", "20261126 04:00:10,vm,app,h,24,9,RENAME,shop,t|shop.t2,", "RENAME unknown app h",
			map[string]string{"connection_id": "24", "database": "shop", "server_host": "vm", "table": "shop.t|shop.t2"}, time.Date(2026, 11, 26, 4, 0, 10, 0, time.UTC)},
		{"escapes", `20261126 04:00:10,vm,app,h,24,9,QUERY,,'SELECT \'a\\\'\nFROM x',0`, "SELECT success app h",
			map[string]string{"connection_id": "24", "server_host": "vm", "statement": "SELECT 'a\\'\nFROM x"}, time.Date(2026, 11, 26, 4, 0, 10, 0, time.UTC)},
	} {
		res := parseString(t, auditParser(), c.line+"\n")
		if len(res.Events) != 1 {
			t.Errorf("%s: %d events, malformed %+v", c.name, len(res.Events), res.Stats.Malformed)
			continue
		}
		e := res.Events[0]
		if got := summary(res.Events)[0]; got != "1 "+c.want {
			t.Errorf("%s: %q, want %q", c.name, got, "1 "+c.want)
		}
		if diff := cmp.Diff(c.detail, e.Detail); diff != "" {
			t.Errorf("%s: detail (-want +got):\n%s", c.name, diff)
		}
		if !e.Time.Equal(c.at) {
			t.Errorf("%s: time %v, want %v", c.name, e.Time, c.at)
		}
	}
}

// TestAuditRefusedConnection: the DISCONNECT the plugin writes after a
// FAILED_CONNECT is no session ending.
func TestAuditRefusedConnection(t *testing.T) {
	in := "20261126 04:07:47,vm,app,10.0.0.1,202,0,FAILED_CONNECT,,,1045\n" +
		"20261126 04:07:47,vm,app,10.0.0.1,202,0,DISCONNECT,,,0\n" +
		"20261126 04:07:48,vm,app,10.0.0.1,203,0,CONNECT,,,0\n" +
		"20261126 04:07:49,vm,app,10.0.0.1,203,0,DISCONNECT,,,0\n"
	res := parseString(t, auditParser(), in)
	want := []string{"1 connect failure app 10.0.0.1", "3 connect success app 10.0.0.1", "4 disconnect success app 10.0.0.1"}
	if diff := cmp.Diff(want, summary(res.Events)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if res.Stats.Records != 4 {
		t.Errorf("records %d, want 4", res.Stats.Records)
	}
}

func TestAuditSyslogYear(t *testing.T) {
	a := NewAudit()
	now := time.Now().UTC()
	ahead := now.AddDate(0, 0, 3)
	line := ahead.Format("Jan _2 15:04:05") + " db1 mysql-server_auditing:  db1,app,h,1,0,CONNECT,,,0\n"
	res := parseString(t, a, line)
	if len(res.Events) != 1 || res.Events[0].Time.Year() != ahead.Year()-1 {
		t.Errorf("a syslog date ahead of now is last year's: %+v", res.Events)
	}
}

func TestMalformed(t *testing.T) {
	gen := parseString(t, NewGeneral(), "\tcontinuation without a record\n261126  4:07:47\t    5 Quit\t\n")
	if gen.Stats.MalformedCount != 1 || gen.Stats.Malformed[0].Line != 1 {
		t.Errorf("general: %+v", gen.Stats)
	}
	aud := parseString(t, auditParser(), "20261126 04:00:10,vm,app,h,24,9,QUERY,,'unterminated,0\n"+
		"Nov 26 04:09:13 db1 CRON[3312]: (root) CMD (true)\n20261126 04:00:10,vm,app,h,x,9,QUERY,,'',0\n")
	if aud.Stats.MalformedCount != 2 || aud.Stats.Records != 1 || len(aud.Events) != 0 {
		t.Errorf("audit: %+v", aud.Stats)
	}
}

// TestSniffTellsFormatsApart: each parser accepts its fixtures and refuses
// the other's and those of the other parsers.
func TestSniffTellsFormatsApart(t *testing.T) {
	parsers := []logs.Parser{NewGeneral(), auditParser()}
	inputs := map[string]string{}
	for _, glob := range []string{"testdata/general/*", "testdata/audit/*"} {
		for _, c := range logstest.Cases(t, glob) {
			inputs[c.Input] = map[bool]string{true: "mysql-general", false: "mariadb-audit"}[strings.Contains(glob, "general")]
		}
	}
	for _, glob := range []string{"../postgres/testdata/*", "../cloudtrail/testdata/*"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			inputs[f] = ""
		}
	}
	if len(inputs) < 8 {
		t.Fatalf("only %d inputs", len(inputs))
	}
	for in, want := range inputs {
		head := readFile(t, in)
		if len(head) > logs.HeadSize {
			head = head[:logs.HeadSize]
		}
		got := ""
		for _, p := range parsers {
			if p.Sniff(head) {
				if got != "" {
					t.Errorf("%s: both %s and %s accept it", in, got, p.Name())
				}
				got = p.Name()
			}
		}
		if got != want {
			t.Errorf("Sniff(%s) = %q, want %q", in, got, want)
		}
	}
	// A general log without its header (rotated by copytruncate).
	if !NewGeneral().Sniff([]byte("261126  4:07:47\t   20 Connect\tzz_a@127.0.0.1 on  using TCP/IP\n")) {
		t.Error("a headerless general log is refused")
	}
	if NewGeneral().Sniff([]byte("\t\t   20 Connect\tzz_a@127.0.0.1 on  using TCP/IP\n")) {
		t.Error("a line without a time is enough for Sniff")
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for in, p := range map[string]logs.Parser{"testdata/general/live.log": NewGeneral(), "testdata/audit/live.log": auditParser()} {
		big := logstest.Repeat(readFile(t, in), 8<<20)
		if _, err := p.Parse(ctx, "x", big, func(logs.Event) error { return nil }); err != context.Canceled {
			t.Errorf("%s: Parse with a canceled context returned %v", p.Name(), err)
		}
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

// FuzzAnalyze checks that no SQL makes Analyze panic, and that a literal
// it redacts stays redacted when the result is analyzed again.
func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{"CREATE USER 'u'@'%' IDENTIFIED BY 'pw'", "SET PASSWORD FOR u = PASSWORD('x')",
		"/*!40101 SET PASSWORD = 'x' */", "ALTER USER u IDENTIFIED VIA ed25519 USING PASSWORD('x')", "GRANT r TO `a`@`b`",
		"select _utf8mb4'x' 'y' # c\n-- d\n/* e */", "CREATE DEFINER=u@h VIEW v AS SELECT 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st := Analyze(s)
		if again := Analyze(st.Redacted); again.Redacted != st.Redacted {
			t.Errorf("Analyze(%q) = %q, which redacts further to %q", s, st.Redacted, again.Redacted)
		}
	})
}
