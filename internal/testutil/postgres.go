package testutil

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PGCluster is a throw-away PostgreSQL cluster with password (SCRAM) auth,
// listening on 127.0.0.1, logging every connection to csv and json files.
// Its superuser is "postgres" with a random password that exists only for
// the test run.
type PGCluster struct {
	Port    int
	Version int    // server major version
	DataDir string // owned by the postgres system user when the tests run as root
	LogDir  string // DataDir/log: postgresql.csv and postgresql.json
	Bin     string // the directory holding initdb, pg_ctl, postgres

	root     string // the temporary directory holding everything
	password string
	cred     *syscall.Credential // nil when the tests are not root
	exited   chan error          // receives when the server process ends

	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
}

// errNoPostgres marks a machine without PostgreSQL binaries: a skip, unless
// services are required.
var errNoPostgres = errors.New("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")

// requireServices reports whether a missing service fails the test
// (REKEY_REQUIRE_SERVICES=1, as in CI) instead of skipping it. NeedService
// checks a running server; a cluster this package starts needs binaries.
func requireServices() bool { return os.Getenv(RequireServicesEnv) == "1" }

// StartPostgres starts a cluster for this test alone and stops it, removing
// its files, in t.Cleanup. Packages with many tests share one cluster with
// SharedPostgres instead.
func StartPostgres(t testing.TB) *PGCluster {
	t.Helper()
	c, err := startPostgres()
	if err != nil {
		missingPostgres(t, err)
	}
	t.Cleanup(c.stop)
	return c
}

func missingPostgres(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errNoPostgres) && !requireServices() {
		t.Skipf("postgres: %v (set REKEY_REQUIRE_SERVICES=1 to make this a failure)", err)
	}
	t.Fatalf("postgres: %v", err)
}

var shared struct {
	sync.Mutex
	inMain  bool
	started bool
	c       *PGCluster
	err     error
}

// PostgresMain runs a package's tests and then stops the cluster that
// SharedPostgres started, if any. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testutil.PostgresMain(m)) }
func PostgresMain(m *testing.M) int {
	shared.Lock()
	shared.inMain = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.c != nil {
		shared.c.stop()
		shared.c = nil
	}
	return code
}

// SharedPostgres returns the package's cluster, starting it on first use (a
// package whose tests all skip never pays for it). The package's TestMain
// must run through PostgresMain, which stops it after the last test.
func SharedPostgres(t testing.TB) *PGCluster {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.inMain {
		t.Fatal("testutil.SharedPostgres needs TestMain to call testutil.PostgresMain(m)")
	}
	if !shared.started {
		shared.started = true
		shared.c, shared.err = startPostgres()
	}
	if shared.err != nil {
		missingPostgres(t, shared.err)
	}
	return shared.c
}

// pgBinGlob is where Debian's packages put each server version.
var pgBinGlob = "/usr/lib/postgresql/*/bin"

// pgBinDir finds the newest installed server version's bin directory.
func pgBinDir() (string, int, error) {
	dirs, _ := filepath.Glob(pgBinGlob)
	best, bestVer := "", 0
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err != nil {
			continue
		}
		if v > bestVer {
			best, bestVer = d, v
		}
	}
	if best == "" {
		return "", 0, errNoPostgres
	}
	return best, bestVer, nil
}

func startPostgres() (*PGCluster, error) {
	bin, ver, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	c := &PGCluster{Bin: bin, Version: ver}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run it as the postgres
		// system user, in a directory that user owns.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres system user to run the server as: %w", err)
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("postgres system user has a non-numeric uid/gid %q/%q", u.Uid, u.Gid)
		}
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	// t.TempDir is mode 0700 and owned by the test's user, which the
	// postgres user cannot enter; and a short path keeps the socket path
	// under its 107-byte limit.
	c.root, err = os.MkdirTemp("", "rekey-pg-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			c.stop()
		}
	}()
	if err := os.Chmod(c.root, 0o755); err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(c.root, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	c.DataDir = filepath.Join(c.root, "data")
	c.LogDir = filepath.Join(c.DataDir, "log")
	c.password = randomHex(16)

	pwfile := filepath.Join(c.root, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(pwfile, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	err = c.run("initdb", "-D", c.DataDir, "-U", "postgres", "--pwfile="+pwfile,
		"--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
	_ = os.Remove(pwfile)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(c.root, "sock")
	if err := os.Mkdir(sock, 0o755); err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(sock, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	dest := "csvlog,jsonlog"
	if ver < 15 {
		dest = "csvlog,stderr"
	}
	// A port picked free can be taken before the server binds it: retry.
	var startErr error
	for attempt := 0; attempt < 3; attempt++ {
		c.Port, err = freePort()
		if err != nil {
			return nil, err
		}
		conf := strings.Join([]string{
			"listen_addresses = '127.0.0.1'",
			fmt.Sprintf("port = %d", c.Port),
			"unix_socket_directories = " + quoteConf(sock),
			"password_encryption = 'scram-sha-256'",
			"log_connections = on",
			"log_disconnections = on",
			"logging_collector = on",
			"log_destination = '" + dest + "'",
			"log_directory = 'log'",
			"log_filename = 'postgresql.log'",
			"log_rotation_age = 0",
			"log_rotation_size = 0",
			"fsync = off",
			"synchronous_commit = off",
			"full_page_writes = off",
			"max_connections = 200",
		}, "\n")
		// postgresql.auto.conf is read last, so a retry's port wins.
		if err := os.WriteFile(filepath.Join(c.DataDir, "postgresql.auto.conf"), []byte(conf+"\n"), 0o600); err != nil {
			return nil, err
		}
		if c.cred != nil {
			if err := os.Chown(filepath.Join(c.DataDir, "postgresql.auto.conf"), int(c.cred.Uid), int(c.cred.Gid)); err != nil {
				return nil, err
			}
		}
		startErr = c.startServer()
		if startErr == nil {
			break
		}
	}
	if startErr != nil {
		log, _ := os.ReadFile(filepath.Join(c.root, "startup.log"))
		return nil, fmt.Errorf("%w\n%s", startErr, log)
	}
	ok = true
	return c, nil
}

// run runs one of the server's programs, as the postgres user when root.
func (c *PGCluster) run(prog string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.Bin, prog), args...)
	cmd.Dir = c.root
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", prog, strings.Join(args, " "), err, out)
	}
	return nil
}

// startServer runs postgres as a child of the test process rather than
// through pg_ctl start, which would detach it: when the test binary dies
// without running its cleanups (a -timeout panic, a SIGKILL), the kernel
// sends the server SIGQUIT, its immediate shutdown, instead of leaving it
// running. The parent-death signal follows the OS thread that started the
// child, so that goroutine keeps its thread until the server exits.
func (c *PGCluster) startServer() error {
	logf, err := os.OpenFile(filepath.Join(c.root, "startup.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(c.Bin, "postgres"), "-D", c.DataDir)
	cmd.Dir = c.root
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGQUIT}
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
		logf.Close()
	}()
	if err := <-started; err != nil {
		logf.Close()
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("postgres exited while starting: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if c.ready() {
			c.exited = exited
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Signal(syscall.SIGQUIT)
			<-exited
			return errors.New("postgres did not become ready within 60s")
		}
	}
}

// ready reads the status line postgres writes into postmaster.pid once it
// accepts connections (what pg_ctl -w waits for).
func (c *PGCluster) ready() bool {
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	return len(lines) > 7 && strings.TrimSpace(lines[7]) == "ready"
}

func (c *PGCluster) stop() {
	if c.pool != nil {
		c.pool.Close()
	}
	if c.exited != nil {
		if err := c.run("pg_ctl", "-D", c.DataDir, "-m", "immediate", "-w", "stop"); err == nil {
			select {
			case <-c.exited:
			case <-time.After(30 * time.Second):
			}
		}
	}
	if c.root != "" {
		_ = os.RemoveAll(c.root)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func quoteConf(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RandomName returns a fresh lower-case identifier with the given prefix,
// valid unquoted as a PostgreSQL role, a MySQL user or a Redis ACL user.
func RandomName(prefix string) string { return prefix + randomHex(5) }

// AdminPassword is the superuser's test-only password.
func (c *PGCluster) AdminPassword() string { return c.password }

// URL is a connection URL for user and password to database db.
func (c *PGCluster) URL(usr, password, db string) string {
	return "postgres://" + escapeUserinfo(usr) + ":" + escapeUserinfo(password) +
		"@127.0.0.1:" + strconv.Itoa(c.Port) + "/" + db + "?sslmode=disable"
}

func escapeUserinfo(s string) string {
	var b strings.Builder
	for _, r := range []byte(s) {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.IndexByte("-._~", r) >= 0 {
			b.WriteByte(r)
		} else {
			fmt.Fprintf(&b, "%%%02X", r)
		}
	}
	return b.String()
}

// AdminURL is the superuser's URL to the postgres database.
func (c *PGCluster) AdminURL() string { return c.URL("postgres", c.password, "postgres") }

// Pool is a superuser connection pool shared by the helpers; it closes with
// the cluster.
func (c *PGCluster) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	c.poolOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(c.AdminURL())
		if err != nil {
			c.poolErr = err
			return
		}
		cfg.ConnConfig.RuntimeParams["application_name"] = "rekey-testutil"
		c.pool, c.poolErr = pgxpool.NewWithConfig(context.Background(), cfg)
	})
	if c.poolErr != nil {
		t.Fatalf("postgres admin pool: %v", c.poolErr)
	}
	return c.pool
}

// Exec runs sql as the superuser in the postgres database; several
// statements separated by semicolons run in one implicit transaction.
func (c *PGCluster) Exec(t testing.TB, sql string) {
	t.Helper()
	if _, err := c.Pool(t).Exec(context.Background(), sql); err != nil {
		t.Fatalf("postgres: %s: %v", firstLine(sql), err)
	}
}

// ExecIn runs sql as the superuser in database db.
func (c *PGCluster) ExecIn(t testing.TB, db, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.URL("postgres", c.password, db))
	if err != nil {
		t.Fatalf("postgres: connect to %s: %v", db, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("postgres %s: %s: %v", db, firstLine(sql), err)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

// CreateRole creates a role with password (hashed by the server, so with
// the cluster's password_encryption, unless it is a verifier already) and
// attrs ("CREATEROLE", "VALID UNTIL '2030-01-01'", …); it can log in unless
// attrs say NOLOGIN. The role, and what it owns in the postgres database,
// is dropped in t.Cleanup.
func (c *PGCluster) CreateRole(t testing.TB, name, password, attrs string) {
	t.Helper()
	login := "LOGIN "
	if strings.Contains(strings.ToUpper(attrs), "NOLOGIN") {
		login = ""
	}
	c.Exec(t, fmt.Sprintf("CREATE ROLE %s %sPASSWORD %s %s", QuoteIdent(name), login, QuoteLiteral(password), attrs))
	t.Cleanup(func() { c.DropRole(t, name) })
}

// DropRole ends the role's sessions, drops what it owns in the postgres
// database and the role itself; a role that is already gone is fine.
func (c *PGCluster) DropRole(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	p := c.Pool(t)
	var exists bool
	if err := p.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&exists); err != nil {
		t.Errorf("postgres: drop role %s: %v", name, err)
		return
	}
	if !exists {
		return
	}
	_, _ = p.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name)
	q := QuoteIdent(name)
	if _, err := p.Exec(ctx, "DROP OWNED BY "+q+"; DROP ROLE IF EXISTS "+q); err != nil {
		t.Errorf("postgres: drop role %s: %v", name, err)
	}
}

// DropMembersOf drops every member of the roles (the leases a failed
// broker test left behind, which are members of their templates).
func (c *PGCluster) DropMembersOf(t testing.TB, roles ...string) {
	t.Helper()
	rows, err := c.Pool(t).Query(context.Background(), `SELECT DISTINCT m.rolname FROM pg_auth_members a
		JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member WHERE g.rolname = ANY($1)`, roles)
	if err != nil {
		t.Error(err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Error(err)
	}
	for _, n := range names {
		c.DropRole(t, n)
	}
}

// Connect logs in as usr over TCP with application name app and keeps the
// connection open until the test ends.
func (c *PGCluster) Connect(t testing.TB, usr, password, app string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(c.URL(usr, password, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if app != "" {
		cfg.RuntimeParams["application_name"] = app
	}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("postgres: connect as %s: %v", usr, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// PGLogRecord is one record of the cluster's csv log.
type PGLogRecord struct {
	Time        string
	User        string
	Database    string
	PID         string
	From        string // client host:port, or [local]
	Severity    string
	SQLState    string
	Message     string
	Application string
}

// LogRecords returns every record in the csv log so far. The logging
// collector writes asynchronously, so it first logs a marker of its own and
// waits until the marker is in the file: everything logged before the call
// is then in the result.
func (c *PGCluster) LogRecords(t testing.TB) []PGLogRecord {
	t.Helper()
	marker := "rekey-log-marker-" + randomHex(8)
	c.Exec(t, "DO $$BEGIN RAISE LOG '"+marker+"'; END$$")
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, found, err := c.readCSVLog(marker)
		if err != nil {
			t.Fatalf("postgres log: %v", err)
		}
		if found {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres log: marker not written to %s within 10s", c.LogDir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *PGCluster) readCSVLog(marker string) ([]PGLogRecord, bool, error) {
	files, err := filepath.Glob(filepath.Join(c.LogDir, "*.csv"))
	if err != nil {
		return nil, false, err
	}
	sort.Strings(files)
	var out []PGLogRecord
	found := false
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, false, err
		}
		r := csv.NewReader(fh)
		r.FieldsPerRecord = -1
		r.ReuseRecord = false
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				// The collector may be mid-record: read what is complete.
				break
			}
			if len(rec) < 23 {
				continue
			}
			if strings.Contains(rec[13], marker) {
				found = true
				continue
			}
			out = append(out, PGLogRecord{
				Time: rec[0], User: rec[1], Database: rec[2], PID: rec[3], From: rec[4],
				Severity: rec[11], SQLState: rec[12], Message: rec[13], Application: rec[22],
			})
		}
		fh.Close()
	}
	return out, found, nil
}

// QuoteIdent quotes a PostgreSQL identifier.
func QuoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// QuoteLiteral quotes a PostgreSQL string literal (standard_conforming_strings on).
func QuoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// StartCluster starts a password-auth cluster outside a test (the drill in
// examples/drill runs one for people to watch a response on). The caller
// stops it with Stop.
func StartCluster() (*PGCluster, error) { return startPostgres() }

// Stop stops a cluster StartCluster started and removes its files.
func (c *PGCluster) Stop() { c.stop() }
