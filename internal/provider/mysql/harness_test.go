package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

const testSystem = "test-mysql"

// Environment of the tests.
const (
	// dsnEnv overrides the administrator DSN of the test server (default:
	// root without a password on 127.0.0.1:3306).
	dsnEnv = "REKEY_TEST_MYSQL_DSN"
	// noGeneralLogEnv, set to 1, keeps the tests from switching the
	// server's general log on; IdentifyLogsInAsNoOne is then skipped.
	noGeneralLogEnv = "REKEY_TEST_MYSQL_NO_GENERAL_LOG"
)

func adminDSN() string {
	if d := os.Getenv(dsnEnv); d != "" {
		return d
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// TestMain switches the server's general log on, written to the
// mysql.general_log table, for the length of the run when it is not on
// already, and puts both settings back afterwards: it is the server's own
// record of every login and failed login, which the suite checks Identify
// leaves no trace in. The harness's own connections set sql_log_off, so
// the passwords of the accounts it creates are not logged.
func TestMain(m *testing.M) {
	restore := enableGeneralLog()
	code := m.Run()
	dropFixtureDB()
	restore()
	os.Exit(code)
}

// fixture is the database whose table every identity CreateIdentity makes
// may read (CanUse's operation), created on first use and dropped when
// the run ends.
var fixture struct {
	once sync.Once
	name string
	err  error
}

func fixtureDB(t *testing.T, s *server) string {
	t.Helper()
	fixture.once.Do(func() {
		name := testutil.RandomName("rk_rot_")
		if _, err := s.db.Exec("CREATE DATABASE `" + name + "`"); err != nil {
			fixture.err = err
			return
		}
		fixture.name = name
		if _, err := s.db.Exec("CREATE TABLE `" + name + "`.orders (id INT PRIMARY KEY)"); err != nil {
			fixture.err = err
			return
		}
		_, fixture.err = s.db.Exec("INSERT INTO `" + name + "`.orders VALUES (1)")
	})
	if fixture.err != nil {
		t.Fatalf("fixture database: %v", fixture.err)
	}
	return fixture.name
}

func dropFixtureDB() {
	if fixture.name != "" && shared != nil {
		if _, err := shared.db.Exec("DROP DATABASE IF EXISTS `" + fixture.name + "`"); err != nil {
			fmt.Fprintf(os.Stderr, "mysql tests: drop database %s: %v\n", fixture.name, err)
		}
	}
}

var generalLog struct {
	on bool // the log is being written to mysql.general_log
}

func enableGeneralLog() (restore func()) {
	noop := func() {}
	if os.Getenv(noGeneralLogEnv) == "1" {
		return noop
	}
	cfg, err := mysqldrv.ParseDSN(adminDSN())
	if err != nil {
		return noop
	}
	c, err := net.DialTimeout("tcp", cfg.Addr, 2*time.Second)
	if err != nil {
		return noop
	}
	c.Close()
	cfg.Logger = &mysqldrv.NopLogger{}
	conn, err := mysqldrv.NewConnector(cfg)
	if err != nil {
		return noop
	}
	db := sql.OpenDB(conn)
	// internal/logs/mysql's live tests switch the server's logs too; the
	// two packages may run at once, so both hold this lock while theirs
	// are switched (it is per connection: keep one for the whole run).
	lock, err := db.Conn(context.Background())
	if err != nil {
		db.Close()
		return noop
	}
	var got sql.NullInt64
	if err := lock.QueryRowContext(context.Background(), "SELECT GET_LOCK('rekey.server_logs', 120)").Scan(&got); err != nil || got.Int64 != 1 {
		lock.Close()
		db.Close()
		return noop
	}
	release := func() {
		lock.ExecContext(context.Background(), "DO RELEASE_LOCK('rekey.server_logs')")
		lock.Close()
	}
	var output string
	var on int
	if err := db.QueryRow("SELECT @@global.log_output, @@global.general_log").Scan(&output, &on); err != nil {
		release()
		db.Close()
		return noop
	}
	if on == 1 && strings.Contains(strings.ToUpper(output), "TABLE") {
		generalLog.on = true
		release()
		db.Close()
		return noop
	}
	newOutput := "TABLE"
	if on == 1 && !strings.EqualFold(output, "NONE") {
		newOutput = output + ",TABLE"
	}
	if _, err := db.Exec("SET GLOBAL log_output = ?", newOutput); err != nil {
		release()
		db.Close()
		return noop
	}
	if _, err := db.Exec("SET GLOBAL general_log = 1"); err != nil {
		db.Exec("SET GLOBAL log_output = ?", output)
		release()
		db.Close()
		return noop
	}
	generalLog.on = true
	return func() {
		defer db.Close()
		defer release()
		if _, err := db.Exec("SET GLOBAL general_log = ?", on); err != nil {
			fmt.Fprintf(os.Stderr, "mysql tests: could not restore general_log=%d: %v\n", on, err)
		}
		if _, err := db.Exec("SET GLOBAL log_output = ?", output); err != nil {
			fmt.Fprintf(os.Stderr, "mysql tests: could not restore log_output=%s: %v\n", output, err)
		}
	}
}

// server is the test server, reached as its administrator.
type server struct {
	dsn string
	cfg *mysqldrv.Config
	db  *sql.DB // sql_log_off, placeholders interpolated (CREATE USER takes no parameters)
}

var (
	serverOnce sync.Once
	shared     *server
	sharedErr  error
)

// testServer skips (or fails, with REKEY_REQUIRE_SERVICES=1) when no
// server answers, and returns the one every test of the package shares.
func testServer(t *testing.T) *server {
	t.Helper()
	cfg, err := mysqldrv.ParseDSN(adminDSN())
	if err != nil {
		t.Fatalf("%s: not a DSN", dsnEnv)
	}
	testutil.NeedService(t, "mariadb", cfg.Addr)
	serverOnce.Do(func() {
		c := cfg.Clone()
		c.InterpolateParams = true
		c.Logger = &mysqldrv.NopLogger{}
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		c.Params["sql_log_off"] = "1"
		conn, err := mysqldrv.NewConnector(c)
		if err != nil {
			sharedErr = err
			return
		}
		db := sql.OpenDB(conn)
		db.SetMaxOpenConns(8)
		if err := db.Ping(); err != nil {
			sharedErr = err
			return
		}
		shared = &server{dsn: adminDSN(), cfg: cfg, db: db}
	})
	if sharedErr != nil {
		t.Fatalf("test server: %v", sharedErr)
	}
	return shared
}

func (s *server) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := s.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (s *server) query1(t *testing.T, q string, args ...any) string {
	t.Helper()
	var v sql.NullString
	if err := s.db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v.String
}

// createUser creates user@host with more (a clause after the account:
// IDENTIFIED BY ?, IDENTIFIED VIA …) and drops it when the test ends.
func (s *server) createUser(t *testing.T, user, host, more string, args ...any) {
	t.Helper()
	t.Cleanup(func() { s.drop(t, "USER", user, host) })
	s.exec(t, "CREATE USER ?@? "+more, append([]any{user, host}, args...)...)
}

func (s *server) createRole(t *testing.T, role string) {
	t.Helper()
	t.Cleanup(func() { s.drop(t, "ROLE", role, "") })
	s.exec(t, "CREATE ROLE "+role)
}

func (s *server) createDatabase(t *testing.T, name string) {
	t.Helper()
	t.Cleanup(func() {
		if _, err := s.db.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	s.exec(t, "CREATE DATABASE `"+name+"`")
}

func (s *server) drop(t *testing.T, what, user, host string) {
	var err error
	if what == "ROLE" {
		_, err = s.db.Exec("DROP ROLE IF EXISTS " + user)
	} else {
		_, err = s.db.Exec("DROP USER IF EXISTS ?@?", user, host)
	}
	if err != nil {
		t.Errorf("drop %s %s@%s: %v", what, user, host, err)
	}
}

// login opens one connection as user and keeps it until the test ends.
func (s *server) login(t *testing.T, user, password, app string) (*sql.Conn, providertest.Conn) {
	t.Helper()
	c := mysqldrv.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = user, password, "tcp", s.cfg.Addr
	c.Logger = &mysqldrv.NopLogger{}
	c.InterpolateParams = true
	if app != "" {
		c.ConnectionAttributes = "program_name:" + app
	}
	var mu sync.Mutex
	var local string
	c.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			local = nc.LocalAddr().String()
			mu.Unlock()
		}
		return nc, err
	}
	conn, err := mysqldrv.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	sc, err := db.Conn(context.Background())
	if err != nil {
		db.Close()
		t.Fatalf("log in as %s: %v", user, err)
	}
	t.Cleanup(func() {
		sc.Close()
		db.Close()
	})
	var id int64
	if err := sc.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return sc, providertest.Conn{Local: local, ID: strconv.FormatInt(id, 10)}
}

func (s *server) flavor(t *testing.T) flavor {
	return parseVersion(s.query1(t, "SELECT VERSION()"))
}

func adminConfig(s *server) provider.Config {
	return provider.Config{System: testSystem, Admin: secret.FromString(s.dsn)}
}

// harness backs the shared suite with the test server: fixtures are made
// as its administrator, sessions with the Go driver, login records read
// from mysql.general_log.
type harness struct{ s *server }

var (
	_ providertest.Harness      = harness{}
	_ providertest.LeftBehind   = harness{}
	_ providertest.LimitedAdmin = harness{}
)

func TestInspectSuite(t *testing.T) {
	providertest.RunInspect(t, harness{testServer(t)})
}

func (harness) System() string                     { return testSystem }
func (harness) Factory() provider.Factory          { return New }
func (h harness) Admin(*testing.T) provider.Config { return adminConfig(h.s) }

// Unsupported: MariaDB records a client's program name only in
// performance_schema, off by default.
func (h harness) Unsupported() []string {
	var on sql.NullInt64
	if err := h.s.db.QueryRow("SELECT @@performance_schema").Scan(&on); err == nil && on.Int64 == 1 {
		return nil
	}
	return []string{providertest.FeatureApplicationName}
}

// CreateIdentity creates name@'%' with mysql_native_password (the server
// hashes the password) and SELECT on the fixture table CanUse reads; risky
// adds CREATE USER ON *.*.
func (h harness) CreateIdentity(t *testing.T, name, password string, risky bool) {
	db := fixtureDB(t, h.s)
	h.s.createUser(t, name, "%", "IDENTIFIED BY ?", password)
	h.s.exec(t, "GRANT SELECT ON `"+db+"`.orders TO ?@'%'", name)
	if risky {
		h.s.exec(t, "GRANT CREATE USER ON *.* TO ?@'%'", name)
	}
}

func (h harness) OpenSession(t *testing.T, name, password, app string) providertest.Conn {
	_, c := h.s.login(t, name, password, app)
	return c
}

// AuthRecords counts the general log's Connect records for name: one per
// login and one more per refused login.
func (h harness) AuthRecords(t *testing.T, name string) (int, bool) {
	if !generalLog.on {
		return 0, false
	}
	n, err := strconv.Atoi(h.s.query1(t, `SELECT COUNT(*) FROM mysql.general_log
		WHERE command_type IN ('Connect', 'Change user') AND user_host LIKE CONCAT('%[', ?, '] @%')`, name))
	if err != nil {
		t.Fatal(err)
	}
	return n, true
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (h harness) Unreachable(t *testing.T) providertest.BadAdmin {
	pw := "unreach-" + testutil.RandomName("pw")
	dsn := fmt.Sprintf("root:%s@tcp(127.0.0.1:%d)/?timeout=5s", pw, freePort(t))
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: secret.FromString(dsn)}, Password: pw}
}

func (h harness) WrongAdmin(*testing.T) providertest.BadAdmin {
	pw := "wrong-" + testutil.RandomName("pw")
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/", h.s.cfg.User, pw, h.s.cfg.Addr)
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: secret.FromString(dsn)}, Password: pw}
}

// LeaveBehind uses the identity's CREATE USER to create an account: the
// server records no creator, so Inspect lists every account it could have
// created.
func (h harness) LeaveBehind(t *testing.T, name, password string) (string, string) {
	backdoor := name + "_bd"
	t.Cleanup(func() { h.s.drop(t, "USER", backdoor, "%") })
	conn, _ := h.s.login(t, name, password, "")
	if _, err := conn.ExecContext(context.Background(), "CREATE USER ?@'%' IDENTIFIED BY 'backdoor-pw'", backdoor); err != nil {
		t.Fatal(err)
	}
	return RelatedCreatedUser, backdoor
}

// LimitedAdmin can log in and list processes but not read the stored
// hashes.
func (h harness) LimitedAdmin(t *testing.T) (providertest.BadAdmin, string) {
	name, pw := testutil.RandomName("rklim"), testutil.RandomName("pw")
	h.s.createUser(t, name, "%", "IDENTIFIED BY ?", pw)
	h.s.exec(t, "GRANT PROCESS ON *.* TO ?@'%'", name)
	table := "mysql.user"
	if h.s.flavor(t).globalPriv() {
		table = "mysql.global_priv"
	}
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/", name, pw, h.s.cfg.Addr)
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: secret.FromString(dsn)}, Password: pw}, "SELECT on " + table
}

// rotateHarness adds the rotation suite's out-of-band checks.
type rotateHarness struct{ harness }

var _ providertest.RotateHarness = rotateHarness{}

func TestRotateSuite(t *testing.T) {
	providertest.RunRotate(t, rotateHarness{harness{testServer(t)}})
}

// Unsupported: MariaDB keeps one password per account (MySQL 8.0.14's
// RETAIN CURRENT PASSWORD is not there) and enforces no expiry.
func (h rotateHarness) Unsupported() []string {
	out := h.harness.Unsupported()
	var v string
	if err := h.s.db.QueryRow("SELECT VERSION()").Scan(&v); err != nil || !(&MySQL{flavor: parseVersion(v)}).dualPasswords() {
		out = append(out, providertest.FeatureDualCredential)
	}
	return append(out, providertest.FeatureExpiry)
}

// Factory is the provider itself: on a server without dual passwords
// its DualCredential answers provider.ErrUnsupported, which the suite
// checks.
func (h rotateHarness) Factory() provider.Factory { return New }

// CanUse logs in as name with a connection of its own and reads the
// fixture table CreateIdentity granted.
func (h rotateHarness) CanUse(t *testing.T, name, password string) error {
	t.Helper()
	db := fixtureDB(t, h.s)
	a, _ := parseName(name)
	c := mysqldrv.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = a.user, password, "tcp", h.s.cfg.Addr
	c.Logger = &mysqldrv.NopLogger{}
	c.Timeout = 10 * time.Second
	conn, err := mysqldrv.NewConnector(c)
	if err != nil {
		return err
	}
	sdb := sql.OpenDB(conn)
	defer sdb.Close()
	var n int
	return sdb.QueryRow("SELECT COUNT(*) FROM `" + db + "`.orders").Scan(&n)
}

func (h rotateHarness) Exists(t *testing.T, name string) bool {
	t.Helper()
	a, _ := parseName(name)
	return h.s.query1(t, "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?", a.user, a.host) != "0"
}

// SessionCount counts the process list entries of name's user, killed ones
// still leaving included.
func (h rotateHarness) SessionCount(t *testing.T, name string) int {
	t.Helper()
	a, _ := parseName(name)
	n, err := strconv.Atoi(h.s.query1(t, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", a.user))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Risky reports CREATE USER held by the account itself (mysql.user's
// column; the view over mysql.global_priv on MariaDB 10.4+).
func (h rotateHarness) Risky(t *testing.T, name string) bool {
	t.Helper()
	a, _ := parseName(name)
	return h.s.query1(t, "SELECT COALESCE(MAX(Create_user_priv), 'N') FROM mysql.user WHERE User = ? AND Host = ?", a.user, a.host) == "Y"
}
