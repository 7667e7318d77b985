package mysql

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/logstest"
	"github.com/rekeyhq/rekey/internal/testutil"
)

var capture = flag.Bool("capture", false, "copy the logs of the live tests into testdata/*/live.log (then run -update)")

// dsnEnv overrides the administrator DSN of the test server (default: root
// without a password on 127.0.0.1:3306), as in internal/provider/mysql.
const dsnEnv = "REKEY_TEST_MYSQL_DSN"

// The backdoor's passwords: none may reach an event.
var backdoorPasswords = []string{"Bd-S3cret!one", "Bd-S3cret!two", "Bd-S3cret!three", "Bd-S3cret!four", "Bd-S3cret!five"}

// server is the test server, reached as its administrator on one pinned
// connection (whose statements are kept out of the general log).
type server struct {
	cfg  *mysqldrv.Config
	db   *sql.DB
	conn *sql.Conn
	loc  *time.Location // the server's time zone
	dir  string         // a directory the server can write, for its logs
}

func connectServer(t *testing.T) *server {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/"
	}
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", dsnEnv, err)
	}
	testutil.NeedService(t, "mariadb", cfg.Addr)
	cfg.Logger = &mysqldrv.NopLogger{}
	cfg.InterpolateParams = true
	conn, err := mysqldrv.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cfg: cfg, db: sql.OpenDB(conn)}
	t.Cleanup(func() { s.db.Close() })
	ctx := context.Background()
	if s.conn, err = s.db.Conn(ctx); err != nil {
		t.Fatalf("mariadb at %s: %v", cfg.Addr, err)
	}
	t.Cleanup(func() { s.conn.Close() })
	s.exec(t, "SET SESSION sql_log_off = 1")
	// Other tests switch the general log too (internal/provider/mysql):
	// take turns.
	var got sql.NullInt64
	if err := s.conn.QueryRowContext(ctx, "SELECT GET_LOCK('rekey.server_logs', 60)").Scan(&got); err != nil || got.Int64 != 1 {
		t.Fatalf("GET_LOCK rekey.server_logs: %v %v", got, err)
	}
	t.Cleanup(func() { s.conn.ExecContext(ctx, "DO RELEASE_LOCK('rekey.server_logs')") })

	var offset int
	s.queryRow(t, "SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())", &offset)
	s.loc = time.FixedZone("server", offset)

	// The server writes its logs as its own user: give it a directory of
	// ours, owned by the owner of its data directory.
	var datadir string
	s.queryRow(t, "SELECT @@datadir", &datadir)
	fi, err := os.Stat(datadir)
	if err != nil {
		t.Skipf("the server's data directory %s is not on this machine, so neither would its logs be: %v", datadir, err)
	}
	s.dir, err = os.MkdirTemp("", "rekey-mysql-logs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(s.dir) })
	if err := os.Chmod(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Chown(s.dir, int(st.Uid), int(st.Gid)); err != nil {
		if err := os.Chmod(s.dir, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *server) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := s.conn.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", firstLine(q), err)
	}
}

func (s *server) queryRow(t *testing.T, q string, dest ...any) {
	t.Helper()
	if err := s.conn.QueryRowContext(context.Background(), q).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// setGlobals sets global variables, putting back their values at cleanup
// in reverse order.
func (s *server) setGlobals(t *testing.T, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		name, val := kv[i], kv[i+1]
		var old sql.NullString
		s.queryRow(t, "SELECT @@global."+name, &old)
		t.Cleanup(func() {
			q := "SET GLOBAL " + name + " = DEFAULT"
			var args []any
			if _, err := strconv.Atoi(old.String); err == nil {
				q = "SET GLOBAL " + name + " = " + old.String
			} else if old.Valid {
				q, args = "SET GLOBAL "+name+" = ?", []any{old.String}
			}
			if _, err := s.conn.ExecContext(context.Background(), q, args...); err != nil {
				t.Errorf("restore %s = %q: %v", name, old.String, err)
			}
		})
		s.exec(t, "SET GLOBAL "+name+" = ?", val)
	}
}

func (s *server) createUser(t *testing.T, name, password, grants string) {
	t.Helper()
	t.Cleanup(func() { s.conn.ExecContext(context.Background(), "DROP USER IF EXISTS ?@'%'", name) })
	s.exec(t, "CREATE USER ?@'%' IDENTIFIED BY ?", name, password)
	for _, g := range strings.Split(grants, ";") {
		if g != "" {
			g, opt, _ := strings.Cut(g, " WITH ")
			if opt != "" {
				opt = " WITH " + opt
			}
			s.exec(t, "GRANT "+g+" TO ?@'%'"+opt, name)
		}
	}
}

// login connects as user, runs stmts and quits; with stmts nil it expects
// the login to be refused.
func (s *server) login(t *testing.T, user, password string, stmts ...string) {
	t.Helper()
	cfg := s.cfg.Clone()
	cfg.User, cfg.Passwd, cfg.DBName = user, password, ""
	cfg.InterpolateParams = false
	c, err := mysqldrv.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	db.SetMaxOpenConns(1)
	err = db.Ping()
	if stmts == nil {
		if err == nil {
			t.Fatalf("%s logged in with a wrong password", user)
		}
		return
	}
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %s: %v", user, firstLine(q), err)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// scenario is an incident's worth of activity by uniquely named users.
type scenario struct {
	app, ops, bd, bd2, role, ghost string
	start, end                     time.Time
}

func (sc *scenario) users() []string { return []string{sc.app, sc.ops, sc.bd, sc.bd2, sc.ghost} }

func runScenario(t *testing.T, s *server) *scenario {
	t.Helper()
	sc := &scenario{app: testutil.RandomName("rk_app_"), ops: testutil.RandomName("rk_ops_"),
		bd: testutil.RandomName("rk_bd_"), role: testutil.RandomName("rk_role_"), ghost: testutil.RandomName("rk_ghost_")}
	sc.bd2 = sc.bd + "_r"
	appPW, opsPW := testutil.RandomName("app-pw-"), testutil.RandomName("ops-pw-")
	s.createUser(t, sc.app, appPW, "SELECT ON mysql.help_topic")
	s.createUser(t, sc.ops, opsPW, "CREATE USER ON *.*;SELECT ON mysql.help_topic WITH GRANT OPTION")
	t.Cleanup(func() {
		s.conn.ExecContext(context.Background(), "DROP USER IF EXISTS ?@'%', ?@'%'", sc.bd, sc.bd2)
		s.conn.ExecContext(context.Background(), "DROP ROLE IF EXISTS "+sc.role)
	})
	sc.start = time.Now()
	// The application, twice.
	for i := 0; i < 2; i++ {
		s.login(t, sc.app, appPW, "SELECT 1", "SELECT name\n  FROM mysql.help_topic\n  WHERE help_topic_id = 1")
	}
	// Someone guessing.
	s.login(t, sc.app, "guess-1", nil...)
	s.login(t, sc.app, "guess-2", nil...)
	s.login(t, sc.ghost, "guess-3", nil...)
	// The exposed admin credential makes a backdoor, which sets its own
	// password.
	s.login(t, sc.ops, opsPW,
		"CREATE USER '"+sc.bd+"'@'%' IDENTIFIED BY '"+backdoorPasswords[0]+"'",
		"ALTER USER '"+sc.bd+"'@'%' IDENTIFIED BY '"+backdoorPasswords[1]+"'")
	s.login(t, sc.bd, backdoorPasswords[1], "SET PASSWORD = PASSWORD('"+backdoorPasswords[2]+"')")
	s.login(t, sc.ops, opsPW,
		"GRANT SELECT ON mysql.help_topic TO '"+sc.bd+"'@'%'",
		"CREATE ROLE "+sc.role,
		"ALTER USER "+sc.bd+"@'%'\n  IDENTIFIED VIA mysql_native_password\n  USING PASSWORD('"+backdoorPasswords[3]+"')",
		"RENAME USER '"+sc.bd+"'@'%' TO '"+sc.bd2+"'@'%'",
		"SELECT PASSWORD('"+backdoorPasswords[4]+"') AS h")
	sc.end = time.Now()
	return sc
}

// TestLiveGeneralLog turns the server's general log on into a file of
// ours, runs the scenario and checks what mysql-general makes of the file.
func TestLiveGeneralLog(t *testing.T) {
	s := connectServer(t)
	var output string
	s.queryRow(t, "SELECT @@global.log_output", &output)
	if !strings.Contains(strings.ToUpper(output), "FILE") {
		if strings.EqualFold(output, "NONE") || output == "" {
			output = "FILE"
		} else {
			output += ",FILE"
		}
	}
	path := filepath.Join(s.dir, "general.log")
	s.setGlobals(t, "general_log", "OFF", "general_log_file", path, "log_output", output, "general_log", "ON")
	// The server writes a time only when it differs from that of the last
	// record it wrote, to whichever file: a log that opens within the
	// second of the last one starts without times. Start in a new second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	sc := runScenario(t, s)
	data := waitForMarker(t, s, path)

	p := &General{Location: s.loc}
	res := logstest.Parse(p, path, bytes.NewReader(data))
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	if res.Stats.MalformedCount != 0 {
		t.Errorf("malformed: %+v", res.Stats.Malformed)
	}
	mine := filterEvents(res.Events, sc.users())
	checkScenario(t, sc, s, mine, "general")
	if *capture {
		ids := map[string]bool{}
		for _, e := range mine {
			ids[e.Detail["connection_id"]] = true
		}
		writeCapture(t, "testdata/general/live.log", keepGeneralRecords(data, ids))
	}
}

// TestLiveAuditLog installs the server_audit plugin when the server has
// it, logs the scenario into a file of ours and checks what mariadb-audit
// makes of it. The plugin and its settings are put back afterwards.
func TestLiveAuditLog(t *testing.T) {
	s := connectServer(t)
	var status sql.NullString
	err := s.conn.QueryRowContext(context.Background(),
		"SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'SERVER_AUDIT'").Scan(&status)
	if err == sql.ErrNoRows {
		if _, err := s.conn.ExecContext(context.Background(), "INSTALL SONAME 'server_audit'"); err != nil {
			t.Skipf("the server_audit plugin is not available here: %v", err)
		}
		t.Cleanup(func() {
			if _, err := s.conn.ExecContext(context.Background(), "UNINSTALL SONAME 'server_audit'"); err != nil {
				t.Errorf("UNINSTALL SONAME server_audit: %v", err)
			}
		})
	} else if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.dir, "audit.log")
	s.setGlobals(t, "server_audit_logging", "OFF", "server_audit_output_type", "file", "server_audit_file_path", path,
		"server_audit_events", "CONNECT,QUERY,TABLE", "server_audit_incl_users", "", "server_audit_excl_users", "",
		"server_audit_logging", "ON")
	sc := runScenario(t, s)
	data := waitForMarker(t, s, path)

	p := &Audit{Location: s.loc}
	res := logstest.Parse(p, path, bytes.NewReader(data))
	if res.Err != "" || res.Stats.MalformedCount != 0 {
		t.Errorf("error %q, malformed %+v", res.Err, res.Stats.Malformed)
	}
	mine := filterEvents(res.Events, sc.users())
	checkScenario(t, sc, s, mine, "audit")
	// The plugin logs after running a statement: its outcome is known.
	for _, e := range mine {
		if e.Action == "CREATE USER" && e.Outcome != logs.Success {
			t.Errorf("CREATE USER not a success: %+v", e)
		}
	}
	if n := count(mine, func(e logs.Event) bool { return e.Action == "READ" && e.Detail["table"] == "mysql.help_topic" }); n < 2 {
		t.Errorf("%d READ mysql.help_topic table events, want at least 2", n)
	}
	if *capture {
		writeCapture(t, "testdata/audit/live.log", keepAuditLines(data, sc.users()))
	}
}

// waitForMarker logs a marker through a fresh connection and returns the
// log once the server has written it.
func waitForMarker(t *testing.T, s *server, path string) []byte {
	t.Helper()
	marker := testutil.RandomName("rk_scenario_end_")
	cfg := s.cfg.Clone()
	c, err := mysqldrv.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	if _, err := db.Exec("SELECT '" + marker + "'"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(marker)) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q not logged within 10s (%v); did another test switch the log off?", path, marker, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func filterEvents(events []logs.Event, users []string) []logs.Event {
	var out []logs.Event
	for _, e := range events {
		for _, u := range users {
			if e.Credential == u {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

func count(events []logs.Event, f func(logs.Event) bool) int {
	n := 0
	for _, e := range events {
		if f(e) {
			n++
		}
	}
	return n
}

func checkScenario(t *testing.T, sc *scenario, s *server, events []logs.Event, format string) {
	t.Helper()
	if len(events) == 0 {
		t.Fatal("no event of the scenario's users")
	}
	source := events[0].Source
	if source == "" {
		t.Fatalf("event without a source: %+v", events[0])
	}
	if os.Getenv(dsnEnv) == "" && source != "127.0.0.1" && source != "localhost" {
		t.Errorf("source %q, want the client's 127.0.0.1", source)
	}
	for _, e := range events {
		// The log's times have a one-second resolution.
		if e.Time.Before(sc.start.Truncate(time.Second)) || e.Time.After(sc.end.Add(time.Second)) {
			t.Errorf("%s %s at %v, outside the scenario's %v – %v", e.Action, e.Credential, e.Time, sc.start, sc.end)
		}
		if e.Source != source || e.Line == 0 || e.Detail["connection_id"] == "" {
			t.Errorf("event without the client's source, a line or a connection id: %+v", e)
		}
	}
	connects := func(user string, o logs.Outcome) int {
		return count(events, func(e logs.Event) bool {
			return e.Action == "connect" && e.Credential == user && e.Outcome == o && e.Identity == quoteAccount(user, source)
		})
	}
	if n := connects(sc.app, logs.Success); n != 2 {
		t.Errorf("%d successful connects of the application, want 2", n)
	}
	if n := count(events, func(e logs.Event) bool { return e.Action == "disconnect" && e.Credential == sc.app }); n != 2 {
		t.Errorf("%d disconnects of the application, want 2", n)
	}
	if n := count(events, func(e logs.Event) bool { return e.Action == "SELECT" && e.Credential == sc.app }); n != 4 {
		t.Errorf("%d SELECTs of the application, want 4", n)
	}
	if n := connects(sc.app, logs.Failure); n != 2 {
		t.Errorf("%d failed connects of the application's user, want 2", n)
	}
	if n := connects(sc.ghost, logs.Failure); n != 1 {
		t.Errorf("%d failed connects of a user that does not exist, want 1", n)
	}
	if n := connects(sc.ghost, logs.Success); n != 0 {
		t.Errorf("%d successful connects of a user that does not exist", n)
	}
	for _, e := range events {
		// 1698 (no password) where the server refuses a user it does not
		// know before the client sends one, which happens now and then.
		if e.Outcome == logs.Failure && (e.Action != "connect" || e.Detail["error"] != "1045" && e.Detail["error"] != "1698") {
			t.Errorf("a failure other than a refused login: %+v", e)
		}
	}
	derived := func(action, by, user string) int {
		return count(events, func(e logs.Event) bool {
			return e.Action == action && e.Credential == by && e.Detail["derived"] == "true" && e.Detail["derived_user"] == user
		})
	}
	for _, c := range []struct{ action, by, user string }{
		{"CREATE USER", sc.ops, sc.bd},
		{"SET PASSWORD", sc.bd, sc.bd},
		{"GRANT", sc.ops, sc.bd},
		{"CREATE ROLE", sc.ops, sc.role},
		{"RENAME USER", sc.ops, sc.bd2},
	} {
		if n := derived(c.action, c.by, c.user); n != 1 {
			t.Errorf("%d derived %s of %s by %s, want 1", n, c.action, c.user, c.by)
		}
	}
	if n := derived("ALTER USER", sc.ops, sc.bd); n != 2 {
		t.Errorf("%d derived ALTER USER of %s, want 2", n, sc.bd)
	}
	if n := count(events, func(e logs.Event) bool {
		return e.Action == "CREATE USER" && e.Detail["derived_identity"] == quoteAccount(sc.bd, "%") &&
			strings.Contains(e.Detail["statement"], "IDENTIFIED BY ")
	}); n != 1 {
		t.Errorf("%d CREATE USER with the statement and the derived identity, want 1", n)
	}
	if n := count(events, func(e logs.Event) bool {
		return e.Action == "SELECT" && e.Credential == sc.ops && e.Detail["derived"] == ""
	}); n != 1 {
		t.Errorf("%d SELECT PASSWORD(…) of ops, not derived, want 1", n)
	}
	b, _ := json.Marshal(events)
	for _, pw := range backdoorPasswords {
		if bytes.Contains(b, []byte(pw)) {
			t.Errorf("%s: the backdoor's password %q is in the events", format, pw)
		}
	}
	t.Logf("%s: %d events of the scenario", format, len(events))
}

func writeCapture(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// keepGeneralRecords keeps the header lines and the records of the given
// connections (other tests use the server at the same time). A dropped
// record's time moves to the next record kept, as the server would have
// written it.
func keepGeneralRecords(data []byte, ids map[string]bool) []byte {
	g := NewGeneral()
	var out bytes.Buffer
	var h generalLine
	keep := false
	curTime, wroteTime := "", ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxRecord)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case isGeneralHeader([]byte(line)):
			keep = true
		case g.parseLine([]byte(line), &h):
			keep = ids[strconv.FormatUint(h.id, 10)]
			if h.timed {
				curTime, _, _ = strings.Cut(line, "\t")
				line = "\t" + line[len(curTime):]
			}
			if keep && curTime != wroteTime { // "\t\t" becomes "time\t"
				line = curTime + line[1:]
				wroteTime = curTime
			}
		}
		if keep {
			out.WriteString(line + "\n")
		}
	}
	return out.Bytes()
}

// keepAuditLines keeps the records of the given users.
func keepAuditLines(data []byte, users []string) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(data), "\n") {
		for _, u := range users {
			if strings.Contains(line, ","+u+",") {
				out.WriteString(line)
				break
			}
		}
	}
	return out.Bytes()
}
