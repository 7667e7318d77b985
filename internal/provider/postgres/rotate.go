package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Rotation uses the group-role pattern: an issued login is a LOGIN role
// that is a member (INHERIT) of the identity it replaces, which stays
// where its grants and ownerships are and, once revoked (NOLOGIN), is in
// effect the NOLOGIN group role. Nothing is copied, so an object the old
// identity gets access to later is the issued login's too.
//
// Membership hands a member more than the group's object privileges: it
// may SET ROLE to the group and so use the group's attributes (SUPERUSER,
// CREATEROLE, CREATEDB, REPLICATION, BYPASSRLS are never inherited, but
// SET ROLE reaches them), and it holds the group's ADMIN OPTION on other
// roles without SET ROLE (PostgreSQL 15 checks admin option along every
// membership chain; the tests show both). A privilege cannot be withheld
// from one member of a group, so Issue applies IssueRequest.Drop to the
// group itself, as DropPrivileges does (the isolate step every plan for an
// over-privileged identity starts with), and refuses when a dropped
// privilege still reaches the group through a role it is a member of.

var (
	_ provider.Rotator           = (*Postgres)(nil)
	_ provider.SessionTerminator = (*Postgres)(nil)
	_ provider.Isolator          = (*Postgres)(nil)
)

// issuedMark starts the comment (COMMENT ON ROLE) on every login Issue
// creates, followed by the source role's name: a second Issue only updates
// a role carrying it, and Drop only drops such a role, so a name that
// collides with an existing role never takes it over or removes it.
const issuedMark = "rekey: issued from "

// scramIterations is PostgreSQL's default scram_iterations, and its fixed
// count before version 16.
const scramIterations = 4096

// generatedIterations is the iteration count of the verifier of a
// generated secret (IssueRequest.Generated). CREATE ROLE and ALTER ROLE
// … PASSWORD run PBKDF2 of the empty string with the verifier's own count,
// to refuse an empty password, even when given a verifier: at 4096 that
// was most of a broker lease's cost on both sides (the server's check and
// the verifier computed here), where without it the statement takes a
// tenth of a millisecond. Iterations stretch a guessable password; a
// generated one of 190 bits gains nothing from 12 bits more. One is the
// least PostgreSQL 16's scram_iterations accepts, so clients of
// PostgreSQL take it (libpq and pgx check for at least one).
const generatedIterations = 1

// noAttributes are the attributes an issued login never has itself: what
// it may do comes through its membership in the source role.
const noAttributes = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"

// noOrdinaryAttributes are those of noAttributes a CREATEROLE
// administrator may set. ALTER ROLE refuses a non-superuser who names
// SUPERUSER, REPLICATION or BYPASSRLS at all, even to turn them off, so a
// converging Issue names them only when the login holds one (and then
// needs a superuser, as taking it away does).
const noOrdinaryAttributes = "NOCREATEDB NOCREATEROLE INHERIT"

// Issue creates req.Name as a login role that is a member of req.From (or,
// when the names are equal, sets From's own password and expiry), with
// the password sent as a SCRAM-SHA-256 verifier computed here: the clear
// password never reaches the server, its statement log or
// pg_stat_statements. ExpiresAt becomes VALID UNTIL, which the server
// enforces for password authentication (an in-place Issue without an
// expiry leaves VALID UNTIL as it was). Before granting the membership it
// removes req.Drop from From (see DropPrivileges). Calling it again with
// the same request converges: the role exists, with this password and
// expiry and the membership, once.
func (p *Postgres) Issue(ctx context.Context, req provider.IssueRequest) (*provider.Credential, error) {
	c, err := p.issue(ctx, req)
	return c, p.san.Scrub(err, string(req.Secret.Reveal()))
}

func (p *Postgres) issue(ctx context.Context, req provider.IssueRequest) (*provider.Credential, error) {
	what := "issue " + req.Name
	switch {
	case req.Name == "" || req.From.Name == "":
		return nil, errs.New(p.op, errs.Invalid, "", "issue: the request names no login or no source role")
	case req.Secret.Len() == 0:
		return nil, errs.New(p.op, errs.Invalid, "", what+": empty secret")
	}
	noSource := errs.New(p.op, errs.NotFound, "", what+": source role "+req.From.Name+" does not exist")
	// A new login without drops (every broker lease) needs no look-up
	// first: its CREATE ROLE fails when the source does not exist.
	fastPath := req.Name != req.From.Name && len(req.Drop) == 0
	if !fastPath {
		var fromExists bool
		if err := p.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", req.From.Name).Scan(&fromExists); err != nil {
			return nil, p.queryErr(what, err)
		}
		if !fromExists {
			return nil, noSource
		}
	}
	if len(req.Drop) > 0 {
		if _, err := p.dropPrivileges(ctx, req.From.Name, req.Drop, what); err != nil {
			return nil, err
		}
	}
	iter := p.scramIter
	if req.Generated {
		iter = generatedIterations
	}
	v, err := newVerifier(string(req.Secret.Reveal()), iter)
	if err != nil {
		return nil, errs.E(p.op, errs.Other, "", fmt.Errorf("%s: %w", what, err))
	}
	until := "'infinity'"
	if !req.ExpiresAt.IsZero() {
		until = validUntil(req.ExpiresAt)
	}
	name, from := quoteIdent(req.Name), quoteIdent(req.From.Name)
	cred := &provider.Credential{
		Ref:       provider.IdentityRef{System: p.system, Name: req.Name},
		Secret:    req.Secret,
		ExpiresAt: req.ExpiresAt,
		Enforced:  !req.ExpiresAt.IsZero(),
	}

	if req.Name == req.From.Name {
		sql := "ALTER ROLE " + name + " LOGIN PASSWORD " + quoteLiteral(v)
		if !req.ExpiresAt.IsZero() {
			sql += " VALID UNTIL " + until
		}
		if _, err := p.pool.Exec(ctx, sql); err != nil {
			return nil, p.rotateErr(what, err)
		}
		return cred, nil
	}

	mark := issuedMark + req.From.Name
	create := "CREATE ROLE " + name + " LOGIN " + noAttributes + " PASSWORD " + quoteLiteral(v) + " VALID UNTIL " + until + " IN ROLE " + from
	cred.Via = req.From.Name
	if fastPath {
		// One round trip: a query of two statements sent without
		// parameters (the simple protocol) runs as one transaction.
		_, err := p.pool.Exec(ctx, create+"; COMMENT ON ROLE "+name+" IS "+quoteLiteral(mark))
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return cred, nil
		case undefinedRole(err):
			return nil, noSource
		case !errors.As(err, &pgErr) || pgErr.Code != "42710": // duplicate_object: converge below
			return nil, p.rotateErr(what, err)
		}
	}
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var comment *string
		err := tx.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", req.Name).Scan(&comment)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := tx.Exec(ctx, create); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, "COMMENT ON ROLE "+name+" IS "+quoteLiteral(mark))
			return err
		case err != nil:
			return err
		case comment == nil || *comment != mark:
			return errs.New(p.op, errs.Invalid, "", what+": a role of that name exists and is not a login rekey issued from "+
				req.From.Name+": choose another name")
		}
		attrs := noOrdinaryAttributes
		var superOnly bool
		if err := tx.QueryRow(ctx, "SELECT rolsuper OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = $1", req.Name).Scan(&superOnly); err != nil {
			return err
		}
		if superOnly {
			attrs = noAttributes
		}
		if _, err := tx.Exec(ctx, "ALTER ROLE "+name+" LOGIN "+attrs+" PASSWORD "+quoteLiteral(v)+" VALID UNTIL "+until); err != nil {
			return err
		}
		// Granting a membership held already is a notice, not an error.
		_, err = tx.Exec(ctx, "GRANT "+from+" TO "+name)
		return err
	})
	if err != nil {
		return nil, p.rotateErr(what, err)
	}
	return cred, nil
}

// newVerifier computes the SCRAM-SHA-256 verifier PostgreSQL would store
// for password, with a fresh salt and iter iterations.
func newVerifier(password string, iter int) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("random salt: %w", err)
	}
	return scramVerifier(password, salt, iter), nil
}

// Verify logs in as c with a connection of its own to the administrator's
// host, port and database, with the administrator's TLS settings, and runs
// SELECT 1. A refused login (wrong password, NOLOGIN, VALID UNTIL past, no
// such role, pg_hba.conf) is errs.Permission.
func (p *Postgres) Verify(ctx context.Context, c provider.Credential) error {
	pw := string(c.Secret.Reveal())
	return p.san.Scrub(p.verify(ctx, c, pw), pw)
}

func (p *Postgres) verify(ctx context.Context, c provider.Credential, pw string) error {
	what := "verify " + c.Ref.Name
	cc := p.pool.Config().ConnConfig.Copy()
	cc.User = c.Ref.Name
	cc.Password = pw
	// Not the administrator's startup parameters: options a superuser may
	// set (log_statement) would refuse an ordinary login.
	cc.RuntimeParams = map[string]string{"application_name": "rekey-verify"}
	// The fallbacks (sslmode=prefer, several hosts) differ only in address
	// and TLS settings: user and password are the config's.
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000") {
			// The server says the same for a wrong password, an expired
			// one and a missing role, so as not to tell them apart.
			msg := "the server refused the credential"
			if pgErr.Code == "28000" {
				msg += ": " + pgErr.Message
			}
			return errs.New(p.op, errs.Permission, "", p.san.Clean(what+": "+msg, pw))
		}
		if cause, ok := netCause(err); ok {
			return errs.New(p.op, errs.Unreachable, "", what+": cannot reach "+p.addr+": "+cause)
		}
		if errors.As(err, &pgErr) {
			return errs.New(p.op, errs.Other, "", p.san.Clean(what+": "+pgErr.Message+" (SQLSTATE "+pgErr.Code+")", pw))
		}
		return errs.New(p.op, errs.Other, "", p.san.Clean(what+": connect to "+p.addr+": "+err.Error(), pw))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return p.queryErr(what, err)
	}
	return nil
}

// Revoke makes the role unable to log in (NOLOGIN) and removes its
// password (PASSWORD NULL), keeping what it owns and is granted, and its
// members: logins issued from it keep working. Open sessions stay; see
// TerminateSessions. A missing role is not an error. It refuses the
// administrator's own role.
func (p *Postgres) Revoke(ctx context.Context, id provider.IdentityRef) error {
	return p.san.Scrub(p.revoke(ctx, id.Name))
}

func (p *Postgres) revoke(ctx context.Context, name string) error {
	what := "revoke " + name
	exists, self, err := p.roleState(ctx, name)
	if err != nil || !exists {
		return p.wrap(what, err)
	}
	if self {
		return errs.New(p.op, errs.Invalid, "", what+": it is the administrator's own role")
	}
	if _, err := p.pool.Exec(ctx, "ALTER ROLE "+quoteIdent(name)+" NOLOGIN PASSWORD NULL"); err != nil && !undefinedRole(err) {
		return p.rotateErr(what, err)
	}
	return nil
}

// roleState reports whether the role exists and whether it is the
// administrator's own.
func (p *Postgres) roleState(ctx context.Context, name string) (exists, self bool, err error) {
	err = p.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1), $1 = current_user", name).Scan(&exists, &self)
	return exists, self, err
}

// Drop removes a login Issue created (one whose comment says so): it
// stops its logins (NOLOGIN), ends its sessions and drops the role, which
// removes its membership in the source role. A role that owns objects or
// holds grants of its own, in any database, is refused with errs.Invalid
// before anything changes: reassigning or dropping them is the operator's
// call (REASSIGN OWNED, DROP OWNED). A missing role is not an error.
func (p *Postgres) Drop(ctx context.Context, id provider.IdentityRef) error {
	return p.san.Scrub(p.drop(ctx, id.Name))
}

func (p *Postgres) drop(ctx context.Context, name string) error {
	what := "drop " + name
	var oid uint32
	var comment *string
	err := p.pool.QueryRow(ctx, "SELECT oid, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", name).Scan(&oid, &comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return p.queryErr(what, err)
	}
	if comment == nil || !strings.HasPrefix(*comment, issuedMark) {
		return errs.New(p.op, errs.Invalid, "", what+": not a login rekey issued; refusing to drop it")
	}
	if err := p.checkNoDependents(ctx, what, oid); err != nil {
		return err
	}
	q := quoteIdent(name)
	if _, err := p.pool.Exec(ctx, "ALTER ROLE "+q+" NOLOGIN PASSWORD NULL"); err != nil && !undefinedRole(err) {
		return p.rotateErr(what, err)
	}
	if _, err := p.terminate(ctx, name, nil); err != nil {
		return err
	}
	if _, err := p.pool.Exec(ctx, "DROP ROLE IF EXISTS "+q); err != nil {
		return p.rotateErr(what, err)
	}
	return nil
}

// checkNoDependents refuses a role that pg_shdepend (shared by every
// database) records as owner or grantee of anything.
func (p *Postgres) checkNoDependents(ctx context.Context, what string, oid uint32) error {
	var n int
	var dbs []string
	err := p.pool.QueryRow(ctx, `
SELECT count(*), coalesce(array_agg(DISTINCT coalesce(d.datname::text, '(shared)')) , '{}')
FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1 AND s.deptype <> 'p'`, oid).Scan(&n, &dbs)
	if err != nil {
		return p.queryErr(what, err)
	}
	if n > 0 {
		return errs.New(p.op, errs.Invalid, "", fmt.Sprintf("%s: it owns objects or holds grants of its own (%d, in %s): reassign or drop them first (REASSIGN OWNED BY / DROP OWNED BY), which is the operator's call",
			what, n, strings.Join(dbs, ", ")))
	}
	return nil
}

// Renew sets the role's VALID UNTIL to until ('infinity' when zero). A
// missing role is errs.NotFound.
func (p *Postgres) Renew(ctx context.Context, id provider.IdentityRef, until time.Time) error {
	what := "renew " + id.Name
	v := "'infinity'"
	if !until.IsZero() {
		v = validUntil(until)
	}
	_, err := p.pool.Exec(ctx, "ALTER ROLE "+quoteIdent(id.Name)+" VALID UNTIL "+v)
	if undefinedRole(err) {
		return errs.New(p.op, errs.NotFound, "", what+": role does not exist")
	}
	return p.san.Scrub(p.wrapRotate(what, err))
}

// TerminateSessions ends the role's client backends (pg_terminate_backend)
// that keep does not keep, except the provider's own connections, and
// returns how many the server ended. A missing role has none.
func (p *Postgres) TerminateSessions(ctx context.Context, id provider.IdentityRef, keep func(provider.Session) bool) (int, error) {
	n, err := p.terminate(ctx, id.Name, keep)
	return n, p.san.Scrub(err)
}

func (p *Postgres) terminate(ctx context.Context, name string, keep func(provider.Session) bool) (int, error) {
	what := "terminate sessions of " + name
	rows, err := p.pool.Query(ctx, sessionsQuery+`
WHERE usename = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()
ORDER BY backend_start, pid`, name)
	if err != nil {
		return 0, p.queryErr(what, err)
	}
	ss, pids, err := p.scanSessions(rows)
	if err != nil {
		return 0, p.queryErr(what, err)
	}
	n := 0
	for i, s := range ss {
		if keep != nil && keep(s) {
			continue
		}
		var ended bool
		if err := p.pool.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int32(pids[i])).Scan(&ended); err != nil {
			return n, p.queryErr(what, err)
		}
		if ended {
			n++
		}
	}
	return n, nil
}

// DropPrivileges removes privileges from the role as Inspect names them:
// an attribute held directly (ALTER ROLE … NOSUPERUSER, NOCREATEROLE,
// NOCREATEDB, NOREPLICATION, NOBYPASSRLS), a membership ("MEMBER OF x":
// REVOKE x) or its admin option ("MEMBER OF x WITH ADMIN OPTION": REVOKE
// ADMIN OPTION FOR x, the membership stays). One the role does not hold is
// skipped. One it holds only through another role, or of another kind (a
// grant option, an ownership), cannot be removed from the role alone: the
// others are removed and an errs.Invalid error names it. All removals are
// one transaction. It refuses the administrator's own role.
func (p *Postgres) DropPrivileges(ctx context.Context, id provider.IdentityRef, privileges []string) ([]string, error) {
	removed, err := p.dropPrivileges(ctx, id.Name, privileges, "drop privileges of "+id.Name)
	return removed, p.san.Scrub(err)
}

func (p *Postgres) dropPrivileges(ctx context.Context, name string, privileges []string, what string) ([]string, error) {
	exists, self, err := p.roleState(ctx, name)
	if err != nil {
		return nil, p.queryErr(what, err)
	}
	if !exists {
		return nil, errs.New(p.op, errs.NotFound, "", what+": role "+name+" does not exist")
	}
	if self {
		return nil, errs.New(p.op, errs.Invalid, "", what+": it is the administrator's own role")
	}
	id, err := p.inspect(ctx, provider.IdentityRef{System: p.system, Name: name})
	if err != nil {
		return nil, err
	}
	q := quoteIdent(name)
	var stmts, removed, stuck []string
	for _, want := range privileges {
		for _, pr := range id.Privileges {
			if pr.Name != want {
				continue
			}
			if pr.Via != "" {
				stuck = append(stuck, want+" (through "+pr.Via+")")
				continue
			}
			stmt := dropStatement(q, want)
			if stmt == "" {
				stuck = append(stuck, want+" (not an attribute or a membership)")
				continue
			}
			stmts = append(stmts, stmt)
			removed = append(removed, want)
		}
	}
	if len(stmts) > 0 {
		err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, p.rotateErr(what, err)
		}
	}
	if len(stuck) > 0 {
		return removed, errs.New(p.op, errs.Invalid, "", what+": cannot remove "+strings.Join(stuck, ", ")+
			" from "+name+" alone: revoke that membership or grant, or keep the privilege")
	}
	return removed, nil
}

// dropStatement is the SQL that removes one directly held privilege named
// as Inspect names it, or "" for a kind it cannot remove.
func dropStatement(role, privilege string) string {
	for _, a := range attributes {
		if privilege == a.name {
			return "ALTER ROLE " + role + " NO" + a.name
		}
	}
	if g, ok := strings.CutPrefix(privilege, "MEMBER OF "); ok {
		if g, ok := strings.CutSuffix(g, " WITH ADMIN OPTION"); ok {
			return "REVOKE ADMIN OPTION FOR " + quoteIdent(g) + " FROM " + role
		}
		return "REVOKE " + quoteIdent(g) + " FROM " + role
	}
	return ""
}

// rotateErr is queryErr for the statements that change roles.
func (p *Postgres) rotateErr(what string, err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "2BP01" {
		return errs.New(p.op, errs.Invalid, "", p.san.Clean(what+": other objects depend on it: "+pgErr.Message))
	}
	return p.queryErr(what, err)
}

func (p *Postgres) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return p.queryErr(what, err)
}

func (p *Postgres) wrapRotate(what string, err error) error {
	if err == nil {
		return nil
	}
	return p.rotateErr(what, err)
}

func undefinedRole(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42704"
}

// validUntil is a timestamptz literal, in UTC, to the microsecond.
func validUntil(t time.Time) string {
	return "'" + t.UTC().Format("2006-01-02 15:04:05.999999") + "+00'"
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// quoteLiteral quotes a string literal. A value with a backslash becomes an
// escape string (E'…'), read the same whatever
// standard_conforming_strings says.
func quoteLiteral(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		return "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

// sessionsQuery selects what scanSessions reads from pg_stat_activity.
const sessionsQuery = `SELECT pid, host(client_addr), coalesce(client_port, -1), coalesce(application_name, ''), backend_start, coalesce(datname::text, '')
FROM pg_stat_activity`

// scanSessions reads sessionsQuery rows, leaving out the provider's own
// connections; pids are the sessions' backend pids.
func (p *Postgres) scanSessions(rows pgx.Rows) ([]provider.Session, []uint32, error) {
	defer rows.Close()
	var out []provider.Session
	var pids []uint32
	for rows.Next() {
		var pid uint32
		var addr *string
		var port int
		var s provider.Session
		var started *time.Time
		if err := rows.Scan(&pid, &addr, &port, &s.Application, &started, &s.Database); err != nil {
			return nil, nil, err
		}
		if p.ownPID(pid) {
			continue
		}
		s.ID = strconv.FormatUint(uint64(pid), 10)
		switch {
		case addr == nil && port == -1:
			s.Client = "local" // a Unix-domain socket
		case addr == nil:
			s.Client = "unknown" // the administrator may not see other roles' addresses
		case port > 0:
			s.Client = net.JoinHostPort(*addr, strconv.Itoa(port))
		default:
			s.Client = *addr
		}
		if started != nil {
			s.Started = started.UTC()
		}
		out = append(out, s)
		pids = append(pids, pid)
	}
	return out, pids, rows.Err()
}
