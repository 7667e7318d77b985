// Package postgres is the PostgreSQL provider: it identifies whose password
// a leaked secret is by recomputing each role's stored SCRAM-SHA-256 (or
// legacy md5) verifier, without logging in as anyone, and inspects a role's
// attributes, memberships, grants, ownerships, open sessions and what it may
// have left behind. It needs a superuser administrator connection: only
// superusers can read pg_authid, and only they (or pg_read_all_stats) see
// other roles' client addresses.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Postgres is a provider connected to one PostgreSQL cluster as an
// administrator.
type Postgres struct {
	system  string
	op      string // "postgres <system>", the prefix of every error
	pool    *pgxpool.Pool
	addr    string // host:port, for messages
	version int    // server_version_num
	// scramIter is the iteration count the server would hash a password
	// with (scram_iterations, PostgreSQL 16; 4096 before): the verifiers
	// rekey computes use it, so that a login costs what the cluster chose.
	scramIter int
	// san removes the admin connection string and its password from every error text.
	san provider.Sanitizer
	// workers is how many verifiers Identify tests at once.
	workers int

	mu   sync.Mutex
	pids map[uint32]bool // backends of our own connections, left out of Sessions
}

var (
	_ provider.Provider = (*Postgres)(nil)
	_ provider.Factory  = New
)

// New connects to the cluster named by cfg.Admin (a postgres:// URL or a
// key=value DSN). It fails with errs.Unreachable when the server does not
// answer and errs.Permission when the credential is refused; neither
// message contains the connection string or the password.
func New(ctx context.Context, cfg provider.Config) (provider.Provider, error) {
	p, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func open(ctx context.Context, cfg provider.Config) (*Postgres, error) {
	dsn := string(cfg.Admin.Reveal())
	p := &Postgres{system: cfg.System, op: "postgres " + cfg.System, pids: map[uint32]bool{}}
	p.san.Add(dsn)
	if dsn == "" {
		return nil, errs.New(p.op, errs.Invalid, "", "no administrator connection string")
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the string: say only that it is bad.
		return nil, errs.New(p.op, errs.Invalid, "", "the administrator connection string is not a valid PostgreSQL URL or DSN")
	}
	cc := pc.ConnConfig
	if cc.Password != "" {
		p.san.Add(cc.Password)
	}
	p.addr = net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
	if strings.HasPrefix(cc.Host, "/") {
		p.addr = cc.Host
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 10 * time.Second
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "rekey"
	}
	pc.MaxConns = 4
	pc.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		p.mu.Lock()
		p.pids[c.PgConn().PID()] = true
		p.mu.Unlock()
		return nil
	}
	p.pool, err = pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, p.connErr(err)
	}
	// current_setting(name, true) is NULL for a setting the server does
	// not have (scram_iterations before PostgreSQL 16).
	var iter *int
	if err := p.pool.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('scram_iterations', true)::int").Scan(&p.version, &iter); err != nil {
		p.pool.Close()
		return nil, p.connErr(err)
	}
	p.scramIter = scramIterations
	if iter != nil && *iter > 0 {
		p.scramIter = *iter
	}
	p.workers = defaultWorkers()
	return p, nil
}

// Close releases the administrative connections.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

func (p *Postgres) ownPID(pid uint32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pids[pid]
}

// connErr turns a failure to connect into a one-line error of the right
// kind, built from what went wrong and never from pgx's text (which names
// the user and may grow to include more).
func (p *Postgres) connErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			return errs.New(p.op, errs.Permission, "", "the administrator credential was refused")
		case "28000", "42501":
			// pg_hba.conf refused the connection, or no CONNECT privilege:
			// the server's reason names host, user and database only.
			return errs.New(p.op, errs.Permission, "", p.san.Clean("the administrator credential was refused: "+pgErr.Message))
		case "3D000":
			return errs.New(p.op, errs.Invalid, "", "the administrator connection string names a database that does not exist")
		case "53300":
			return errs.New(p.op, errs.Unreachable, "", "cannot reach "+p.addr+": too many connections")
		case "57P03":
			return errs.New(p.op, errs.Unreachable, "", "cannot reach "+p.addr+": the server is starting up or shutting down")
		}
		return errs.New(p.op, errs.Other, "", p.san.Clean("connect: "+pgErr.Message+" (SQLSTATE "+pgErr.Code+")"))
	}
	if cause, ok := netCause(err); ok {
		return errs.New(p.op, errs.Unreachable, "", "cannot reach "+p.addr+": "+cause)
	}
	// TLS and protocol failures: pgx's text names user, database and
	// address, never the password; sanitised all the same.
	return errs.New(p.op, errs.Other, "", p.san.Clean("connect to "+p.addr+": "+err.Error()))
}

// netCause names a network failure in a few words; ok is false when err is
// not one.
func netCause(err error) (string, bool) {
	if pgconn.Timeout(err) {
		return "timed out", true
	}
	return provider.NetCause(err)
}

// queryErr wraps a failed query. A lost connection is Unreachable, missing
// privileges Permission; the SQL text is not included, the server's message
// (which never holds our secrets) is, sanitised all the same.
func (p *Postgres) queryErr(what string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		kind := errs.Other
		if pgErr.Code == "42501" {
			kind = errs.Permission
		}
		return errs.New(p.op, kind, "", p.san.Clean(what+": "+pgErr.Message+" (SQLSTATE "+pgErr.Code+")"))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.E(p.op, errs.Other, "", fmt.Errorf("%s: %w", what, err))
	}
	if cause, ok := netCause(err); ok {
		return errs.New(p.op, errs.Unreachable, "", what+": lost the connection to "+p.addr+": "+cause)
	}
	return errs.New(p.op, errs.Other, "", p.san.Clean(what+": "+err.Error()))
}
