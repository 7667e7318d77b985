// Package mysql is the MariaDB/MySQL provider. It identifies whose password
// a leaked secret is by recomputing each account's stored password hash
// (mysql.global_priv on MariaDB 10.4+, mysql.user elsewhere), without
// logging in as anyone, and inspects an account's global, database, table
// and routine privileges, the roles it holds, its sessions in the process
// list and what it may have left behind.
//
// # Identity names
//
// A MySQL principal is an account, a user name and a host pattern. An
// IdentityRef names it "user@host" ("orders@10.0.%"), split at the last
// '@'; a name without '@' is the account with host '%', as MySQL's own
// CREATE USER reads it, so "orders" and "orders@%" are the same account and
// Identify reports it as "orders". A user name that itself holds '@' needs
// the host spelled out ("a@b@%"). Quoted forms ('orders'@'10.0.%',
// `orders`@`%`) are accepted too. A MariaDB role is named by its bare name
// when no account of that name with host '%' exists.
//
// # Stored hashes Identify recomputes
//
//   - mysql_native_password: "*" + upper(hex(SHA1(SHA1(password))));
//   - mysql_old_password (pre-4.1): the 16-hex-digit scrambled hash;
//   - ed25519 (MariaDB): the Ed25519 public key whose secret scalar is the
//     clamped first half of SHA-512(password), base64 without padding;
//   - caching_sha2_password (MySQL 8, MariaDB 11 with auth_mysql_sha2):
//     "$A$" + rounds/1000 in three hex digits + "$" + 20-byte salt + the
//     43-character SHA-256 crypt digest;
//   - sha256_password (MySQL): "$5$[rounds=N$]salt$digest", SHA-256 crypt.
//
// Plugins that keep no password hash (unix_socket, pam, gssapi, ldap…) and
// ones rekey does not know (MariaDB's parsec among them) are skipped with a
// reason (IdentifyReport), never matched. MariaDB's alternative methods
// (IDENTIFIED VIA a OR b) are each tested.
//
// # What Inspect reports, and its limits
//
// Privileges come from the grant tables themselves (the access mask in
// mysql.global_priv, or mysql.user's columns; mysql.db, tables_priv,
// columns_priv, procs_priv, proxies_priv; mysql.global_grants on MySQL 8),
// for the account and every role it holds (MariaDB roles_mapping, MySQL 8
// role_edges; MariaDB 10.11's PUBLIC), the chain of roles in Via. ALL
// PRIVILEGES ON *.* and SUPER are critical; CREATE USER, GRANT OPTION and
// writes on every table or on the mysql schema create credentials.
//
//   - Sessions: the process list names the user, not the account, so with
//     several accounts of one user name a session is given to the one
//     whose host pattern the server prefers for the client's address (the
//     most specific). It has no login time either: Started is when the
//     connection's current command, or its idleness, began.
//   - Left behind: MySQL records no account's creator, so an identity
//     that could create accounts or set passwords lists every other
//     account and role (most recently changed first, at most 500) as a
//     created-user to review; grants are attributed only where the server
//     keeps a grantor (table, routine and proxy grants). Routines, views,
//     triggers and events it is the DEFINER of are owned objects.
//   - Other accounts of the same user name are other keys, with whether
//     their stored hash is the same password.
//
// # What the administrator needs
//
// SELECT on the mysql schema (stored hashes, grants, roles) and PROCESS
// (other accounts' sessions); root has both. Sessions carry an application
// name only when performance_schema is on (it is off by default on
// MariaDB), from the client's program_name connection attribute.
package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

// MySQL is a provider connected to one MariaDB or MySQL server as an
// administrator.
type MySQL struct {
	system string
	op     string // "mysql <system>", the prefix of every error
	db     *sql.DB
	addr   string // host:port or socket path, for messages
	// san removes the admin connection string and its password from every error text.
	san     provider.Sanitizer
	workers int

	flavor flavor
	// appNames is true when performance_schema is on: sessions then carry
	// the client's program_name connection attribute.
	appNames bool
	// seesAll is true when the administrator holds PROCESS (or SUPER) and
	// so sees every account's sessions.
	seesAll bool

	// cfg is the administrator's driver configuration; Verify copies its
	// address and TLS settings for a client's login.
	cfg *mysqldrv.Config

	mu  sync.Mutex
	own map[int64]bool // connection ids of our own connections, left out of Sessions
	// issued holds the secrets (and their stored hashes) rotation has set,
	// removed from every rotation error besides san's.
	issued []string
}

var (
	_ provider.Provider = (*MySQL)(nil)
	_ provider.Factory  = New
)

// flavor is what the server is, as far as the catalog goes.
type flavor struct {
	mariadb      bool
	major, minor int
	patch        int
}

// globalPriv reports whether accounts live in mysql.global_priv (MariaDB
// 10.4 and later) rather than the mysql.user table.
func (f flavor) globalPriv() bool { return f.mariadb && f.atLeast(10, 4, 0) }

func (f flavor) atLeast(major, minor, patch int) bool {
	if f.major != major {
		return f.major > major
	}
	if f.minor != minor {
		return f.minor > minor
	}
	return f.patch >= patch
}

func (f flavor) name() string {
	if f.mariadb {
		return "MariaDB"
	}
	return "MySQL"
}

// parseVersion reads VERSION(): "10.11.19-MariaDB-0+deb12u1", "8.0.36".
func parseVersion(v string) flavor {
	f := flavor{mariadb: strings.Contains(strings.ToLower(v), "mariadb")}
	num, _, _ := strings.Cut(v, "-")
	parts := strings.SplitN(num, ".", 3)
	get := func(i int) int {
		if i >= len(parts) {
			return 0
		}
		n, _ := strconv.Atoi(strings.TrimRightFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' }))
		return n
	}
	f.major, f.minor, f.patch = get(0), get(1), get(2)
	return f
}

// New connects to the server named by cfg.Admin: a Go driver DSN
// ("user:pass@tcp(host:3306)/") or a URL ("mysql://user:pass@host:3306/",
// also mariadb://). It fails with errs.Unreachable when the server does not
// answer and errs.Permission when the credential is refused; neither
// message contains the connection string or the password.
func New(ctx context.Context, cfg provider.Config) (provider.Provider, error) {
	p, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func open(ctx context.Context, cfg provider.Config) (*MySQL, error) {
	dsn := string(cfg.Admin.Reveal())
	p := &MySQL{system: cfg.System, op: "mysql " + cfg.System, own: map[int64]bool{}, workers: defaultWorkers()}
	p.san.Add(dsn)
	if strings.TrimSpace(dsn) == "" {
		return nil, errs.New(p.op, errs.Invalid, "", "no administrator connection string")
	}
	dc, err := parseAdmin(dsn)
	if err != nil {
		return nil, errs.New(p.op, errs.Invalid, "", err.Error())
	}
	if dc.Passwd != "" {
		p.san.Add(dc.Passwd, url.QueryEscape(dc.Passwd), url.PathEscape(dc.Passwd))
	}
	p.addr = dc.Addr
	// The driver logs some failures to stderr on its own: not here.
	dc.Logger = &mysqldrv.NopLogger{}
	if dc.Timeout == 0 {
		dc.Timeout = 10 * time.Second
	}
	p.cfg = dc.Clone()
	conn, err := mysqldrv.NewConnector(dc)
	if err != nil {
		return nil, errs.New(p.op, errs.Invalid, "", "the administrator connection string is not a valid MySQL DSN or URL")
	}
	p.db = sql.OpenDB(&tracking{Connector: conn, p: p})
	p.db.SetMaxOpenConns(4)
	p.db.SetMaxIdleConns(2)
	p.db.SetConnMaxIdleTime(time.Minute)

	var version string
	var perfSchema sql.NullInt64
	if err := p.db.QueryRowContext(ctx, "SELECT VERSION(), @@performance_schema").Scan(&version, &perfSchema); err != nil {
		p.db.Close()
		return nil, p.connErr(err)
	}
	p.flavor = parseVersion(version)
	p.appNames = perfSchema.Valid && perfSchema.Int64 == 1
	// USER_PRIVILEGES lists the current user's own global privileges; a
	// PROCESS that comes through a role shows instead as other users'
	// threads in the process list, which only PROCESS reveals.
	var n int
	err = p.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES
		WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')
		AND PRIVILEGE_TYPE IN ('PROCESS', 'SUPER')
		UNION ALL SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER <> SUBSTRING_INDEX(USER(), '@', 1)
		ORDER BY 1 DESC LIMIT 1`).Scan(&n)
	if err != nil {
		p.db.Close()
		return nil, p.connErr(err)
	}
	p.seesAll = n > 0
	return p, nil
}

// parseAdmin reads the administrator connection string. Its errors never
// quote it: the driver's and net/url's messages may.
func parseAdmin(s string) (*mysqldrv.Config, error) {
	s = strings.TrimSpace(s)
	// A URL's scheme is letters, digits, + - . (RFC 3986); anything else
	// before "://" is a DSN whose password holds it, and is never quoted.
	if scheme, _, ok := strings.Cut(s, "://"); ok && isScheme(scheme) {
		switch strings.ToLower(scheme) {
		case "mysql", "mariadb":
			return parseURL(s)
		}
		return nil, errors.New("the administrator connection string is a URL of another scheme: want mysql:// or mariadb://")
	}
	c, err := mysqldrv.ParseDSN(s)
	if err != nil {
		return nil, errors.New("the administrator connection string is not a valid MySQL DSN (user:password@tcp(host:port)/) or URL (mysql://user:password@host:port/)")
	}
	return c, nil
}

func isScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// parseURL converts mysql://user:pass@host:port/db?param=value to the
// driver's configuration. ?socket=/path connects over a Unix socket; other
// parameters are the driver's DSN parameters (tls=true, timeout=5s…).
func parseURL(s string) (*mysqldrv.Config, error) {
	bad := errors.New("the administrator connection string is not a valid mysql:// URL (mysql://user:password@host:port/database, with the password percent-encoded)")
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		return nil, bad
	}
	c := mysqldrv.NewConfig()
	if u.User != nil {
		c.User = u.User.Username()
		c.Passwd, _ = u.User.Password()
	}
	q := u.Query()
	if sock := q.Get("socket"); sock != "" {
		c.Net, c.Addr = "unix", sock
		q.Del("socket")
	} else {
		host, port := u.Hostname(), u.Port()
		if host == "" {
			host = "127.0.0.1"
		}
		if port == "" {
			port = "3306"
		}
		c.Net, c.Addr = "tcp", net.JoinHostPort(host, port)
	}
	c.DBName = strings.TrimPrefix(u.Path, "/")
	if len(q) > 0 {
		// The driver parses its own parameters; reuse it on a DSN without
		// credentials, so its messages cannot hold the password either.
		pc, err := mysqldrv.ParseDSN("/?" + q.Encode())
		if err != nil {
			return nil, errors.New("the administrator URL has a parameter the MySQL driver does not accept")
		}
		pc.User, pc.Passwd, pc.Net, pc.Addr, pc.DBName = c.User, c.Passwd, c.Net, c.Addr, c.DBName
		c = pc
	}
	return c, nil
}

// Close releases the administrative connections.
func (p *MySQL) Close() error { return p.db.Close() }

// tracking records the connection id of every administrative connection,
// so that Inspect of the administrator's own account does not list them.
type tracking struct {
	driver.Connector
	p *MySQL
}

func (t *tracking) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := t.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if q, ok := c.(driver.QueryerContext); ok {
		if rows, err := q.QueryContext(ctx, "SELECT CONNECTION_ID()", nil); err == nil {
			dest := make([]driver.Value, 1)
			if rows.Next(dest) == nil {
				if id, ok := asInt(dest[0]); ok {
					t.p.mu.Lock()
					t.p.own[id] = true
					t.p.mu.Unlock()
				}
			}
			rows.Close()
		}
	}
	return c, nil
}

func asInt(v driver.Value) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), true
	case []byte:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func (p *MySQL) ownConn(id int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.own[id]
}

// Server error numbers this package tells apart.
const (
	erDBAccessDenied     = 1044
	erAccessDenied       = 1045
	erUnknownDB          = 1049
	erConCount           = 1040
	erHostNotPrivileged  = 1130
	erHostBlocked        = 1129
	erTableAccessDenied  = 1142
	erColumnAccessDenied = 1143
	erSpecificAccess     = 1227
	erNoSuchTable        = 1146
	erBadField           = 1054
	erAccessDeniedNoPass = 1698
	erAccountLocked      = 3118
	erAccessDeniedChange = 1873
	erUnknownSystemVar   = 1193
	erServerShutdown     = 1053
)

func isPermission(n uint16) bool {
	switch n {
	case erDBAccessDenied, erAccessDenied, erTableAccessDenied, erColumnAccessDenied, erSpecificAccess, erAccessDeniedNoPass, erAccessDeniedChange:
		return true
	}
	return false
}

// connErr turns a failure to connect into a one-line error of the right
// kind, built from what went wrong; the server's own text (which names the
// user and host, never the password) is kept only where it explains.
func (p *MySQL) connErr(err error) error {
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erAccessDenied, erAccessDeniedNoPass, erAccessDeniedChange:
			return errs.New(p.op, errs.Permission, "", "the administrator credential was refused")
		case erAccountLocked:
			return errs.New(p.op, errs.Permission, "", "the administrator account is locked")
		case erDBAccessDenied:
			return errs.New(p.op, errs.Permission, "", "the administrator may not use the database its connection string names")
		case erHostNotPrivileged, erHostBlocked:
			return errs.New(p.op, errs.Permission, "", p.san.Clean("the server refused the administrator's host: "+me.Message))
		case erUnknownDB:
			return errs.New(p.op, errs.Invalid, "", "the administrator connection string names a database that does not exist")
		case erConCount:
			return errs.New(p.op, errs.Unreachable, "", "cannot reach "+p.addr+": too many connections")
		case erServerShutdown:
			return errs.New(p.op, errs.Unreachable, "", "cannot reach "+p.addr+": the server is shutting down")
		}
		kind := errs.Other
		if isPermission(me.Number) {
			kind = errs.Permission
		}
		return errs.New(p.op, kind, "", p.san.Clean("connect: "+me.Message+" (error "+strconv.Itoa(int(me.Number))+")"))
	}
	if cause, ok := netCause(err); ok {
		return errs.New(p.op, errs.Unreachable, "", "cannot reach "+p.addr+": "+cause)
	}
	return errs.New(p.op, errs.Other, "", p.san.Clean("connect to "+p.addr+": "+err.Error()))
}

// netCause names a network failure in a few words; ok is false when err is
// not one.
func netCause(err error) (string, bool) {
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysqldrv.ErrInvalidConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection lost", true
	}
	if cause, ok := provider.NetCause(err); ok {
		return cause, true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out", true
	}
	return "", false
}

// queryErr wraps a failed query. A lost connection is Unreachable, missing
// privileges Permission; the SQL text is not included, the server's message
// (which never holds our secrets) is, sanitised all the same.
func (p *MySQL) queryErr(what string, err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) {
		kind := errs.Other
		if isPermission(me.Number) {
			kind = errs.Permission
		}
		return errs.New(p.op, kind, "", p.san.Clean(what+": "+me.Message+" (error "+strconv.Itoa(int(me.Number))+")"))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.New(p.op, errs.Other, "", what+": "+err.Error())
	}
	if cause, ok := netCause(err); ok {
		return errs.New(p.op, errs.Unreachable, "", what+": lost the connection to "+p.addr+": "+cause)
	}
	return errs.New(p.op, errs.Other, "", p.san.Clean(what+": "+err.Error()))
}
