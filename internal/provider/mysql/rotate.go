package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Rotation on MariaDB and MySQL.
//
// Passwords are sent as the hash the server stores, computed here
// (IDENTIFIED BY PASSWORD '*…' on MariaDB, IDENTIFIED WITH … AS '…' on
// MySQL), never as clear text, so neither the general log, the slow log,
// the binary log nor a replica's relay log ever holds a secret rekey set.
//
// Expiry is not enforced: MariaDB has no VALID UNTIL, and a password
// lifetime (PASSWORD EXPIRE INTERVAL n DAY) does not refuse the login: it
// counts whole days from the last change and then lets the client in to
// change the password itself (or refuses only clients that cannot), so
// whoever holds the secret could extend it. Issue returns Enforced=false
// and rekey revokes the credential when its lease ends; Renew has nothing
// to move on the server.
var (
	_ provider.Rotator           = (*MySQL)(nil)
	_ provider.SessionTerminator = (*MySQL)(nil)
	_ provider.Isolator          = (*MySQL)(nil)
	_ provider.DualCredential    = (*MySQL)(nil)
	_ provider.PrivilegeCopier   = (*MySQL)(nil)
)

// CopiesPrivileges: Issue copies From's grants onto the new login, so Drop
// leaves From as it is (provider.PrivilegeCopier).
func (p *MySQL) CopiesPrivileges() bool { return true }

// More server error numbers rotation tells apart.
const (
	erNoSuchThread        = 1094
	erMariaAccountLocked  = 4151 // MariaDB's "this account is locked"
	erMustChangePassword  = 1820
	erMustChangePassLogin = 1862
)

// remember adds values to the ones removed from rotation errors.
func (p *MySQL) remember(vals ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range vals {
		if len(v) >= 4 {
			p.issued = append(p.issued, v)
		}
	}
}

// scrub removes the administrator's secrets, every secret rotation set
// and extra from err's text.
func (p *MySQL) scrub(err error, extra ...secret.Secret) error {
	if err == nil {
		return nil
	}
	p.mu.Lock()
	vals := append([]string(nil), p.issued...)
	p.mu.Unlock()
	for _, s := range extra {
		if !s.IsZero() {
			vals = append(vals, string(s.Reveal()))
		}
	}
	return p.san.Scrub(err, vals...)
}

// canLock reports whether ACCOUNT LOCK exists (MariaDB 10.4.2, MySQL 5.7.6).
func (p *MySQL) canLock() bool {
	if p.flavor.mariadb {
		return p.flavor.atLeast(10, 4, 2)
	}
	return p.flavor.atLeast(5, 7, 6)
}

// identified is the clause that sets pw as the account's password by its
// stored hash, and the hash, which is removed from errors too.
func (p *MySQL) identified(pw []byte) (clause, hash string) {
	if !p.flavor.mariadb && p.flavor.atLeast(8, 0, 0) {
		hash = cachingSHA2Hash(pw)
	} else {
		hash = NativePassword(pw)
	}
	return p.identifiedAs(hash), hash
}

// identifiedAs is the clause that sets the stored hash hash (or, in a
// description, the mask standing for it).
func (p *MySQL) identifiedAs(hash string) string {
	switch {
	case p.flavor.mariadb:
		return "IDENTIFIED BY PASSWORD '" + hash + "'"
	case p.flavor.atLeast(8, 0, 0):
		return "IDENTIFIED WITH " + MethodCachingSHA2 + " AS '" + hash + "'"
	}
	return "IDENTIFIED WITH " + MethodNative + " AS '" + hash + "'"
}

// saltChars is what cachingSHA2Hash draws its salt from: MySQL accepts any
// byte but NUL and '$'; these need no quoting in a string literal.
const saltChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./"

// cachingSHA2Hash is the caching_sha2_password stored form of pw: "$A$005$",
// a 20-character salt and the SHA-256 crypt digest with 5000 rounds, as
// MySQL writes it.
func cachingSHA2Hash(pw []byte) string {
	salt := make([]byte, cachingSHA2SaltLen)
	_, _ = rand.Read(salt)
	for i := range salt {
		salt[i] = saltChars[int(salt[i])%len(saltChars)]
	}
	return "$A$005$" + string(salt) + string(sha256Crypt(pw, salt, 5000))
}

// hashFor is pw's stored form for plugin, for dual passwords, which must
// keep the account's plugin.
func hashFor(plugin string, pw []byte) (string, bool) {
	switch plugin {
	case MethodNative, "":
		return NativePassword(pw), true
	case MethodCachingSHA2:
		return cachingSHA2Hash(pw), true
	}
	return "", false
}

// accountOptions is the REQUIRE and resource-limit clauses that give an
// account what gs's account has (MariaDB prints them in SHOW GRANTS; MySQL
// does not, and they are left alone there).
func (p *MySQL) accountOptions(gs *grantSet) string {
	if !p.flavor.mariadb {
		return ""
	}
	req := gs.require
	if req == "" {
		req = "NONE"
	}
	limits := map[string]string{
		"MAX_QUERIES_PER_HOUR": "0", "MAX_UPDATES_PER_HOUR": "0", "MAX_CONNECTIONS_PER_HOUR": "0",
		"MAX_USER_CONNECTIONS": "0", "MAX_STATEMENT_TIME": "0",
	}
	for k, v := range gs.limits {
		if isNumber(v) && isLimitName(k) {
			limits[k] = v
		}
	}
	var with []string
	for _, k := range sortedKeys(limits) {
		with = append(with, k+" "+limits[k])
	}
	return " REQUIRE " + req + " WITH " + strings.Join(with, " ")
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isLimitName(s string) bool {
	for _, c := range s {
		if (c < 'A' || c > 'Z') && c != '_' {
			return false
		}
	}
	return strings.HasPrefix(s, "MAX_")
}

// findAccount returns the account or role a names, nil when there is none.
func (p *MySQL) findAccount(ctx context.Context, a acct) (*account, error) {
	accounts, err := p.loadAccounts(ctx, &a.user)
	if err != nil {
		return nil, err
	}
	for i := range accounts {
		if accounts[i].acct == a {
			return &accounts[i], nil
		}
	}
	return nil, nil
}

// resolve reads an IdentityRef name as Inspect does: an account, or a
// MariaDB role when a bare name names no account. found is nil when
// neither exists.
func (p *MySQL) resolve(ctx context.Context, name string) (a acct, found *account, err error) {
	a, explicit := parseName(name)
	found, err = p.findAccount(ctx, a)
	if err != nil || found != nil || explicit {
		return a, found, err
	}
	r := acct{user: a.user}
	if role, err := p.findAccount(ctx, r); err != nil || role != nil && role.role {
		return r, role, err
	}
	return a, nil, nil
}

func (p *MySQL) exec(ctx context.Context, stmts ...string) error {
	for _, s := range stmts {
		if _, err := p.db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Issue creates (or converges) req.Name with req.Secret and the grants of
// req.From minus req.Drop, copied from SHOW GRANTS FOR req.From: global,
// database, table, column, routine and proxy privileges, roles (with the
// default role) and, on MariaDB, REQUIRE and resource limits. A role that
// holds a dropped privilege is not granted; its other grants are copied
// instead. A new account is created locked and unlocked only once its
// grants are right and Inspect shows none of req.Drop on it, so it never
// works with more than it should; when that check fails the error says
// which privilege came back and the account stays as it is.
//
// Calling it again converges: the password is set again (to the same
// secret), missing grants are granted before extra ones are revoked, and
// the account is unlocked. With req.Name naming req.From itself the
// account keeps its grants minus req.Drop and gets the new password.
// Expiry is not enforced (see the file comment): Enforced is false.
func (p *MySQL) Issue(ctx context.Context, req provider.IssueRequest) (*provider.Credential, error) {
	c, err := p.issue(ctx, req)
	return c, p.scrub(err, req.Secret)
}

func (p *MySQL) issue(ctx context.Context, req provider.IssueRequest) (*provider.Credential, error) {
	to, err := p.converge(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	return &provider.Credential{
		Ref:       provider.IdentityRef{System: p.system, Name: to.String()},
		Secret:    req.Secret,
		ExpiresAt: req.ExpiresAt,
		Enforced:  false,
	}, nil
}

// converge sends Issue's statements. With described set it sends none and
// appends them there instead, the password masked, reading the server
// as Issue does; an account that does not exist yet is taken to have no
// grants, as CREATE USER leaves it, and the check of the dropped
// privileges (a read of the result) is left out. One path for both keeps
// a dry run's statements those of the run.
func (p *MySQL) converge(ctx context.Context, req provider.IssueRequest, described *[]string) (acct, error) {
	what := "issue " + req.Name
	if strings.TrimSpace(req.Name) == "" {
		return acct{}, errs.New(p.op, errs.Invalid, "", "issue: no login name")
	}
	clause := p.identifiedAs(provider.Masked)
	if described == nil {
		if req.Secret.IsZero() {
			return acct{}, errs.New(p.op, errs.Invalid, "", what+": empty secret")
		}
		var hash string
		clause, hash = p.identified(req.Secret.Reveal())
		p.remember(string(req.Secret.Reveal()), hash)
	}
	to, _ := parseName(req.Name)
	if to.user == "" {
		return acct{}, errs.New(p.op, errs.Invalid, "", what+": no user name")
	}
	send := func(stmts ...string) error {
		if described != nil {
			*described = append(*described, stmts...)
			return nil
		}
		return p.exec(ctx, stmts...)
	}

	from, src, err := p.resolve(ctx, req.From.Name)
	if err != nil {
		return acct{}, p.queryErr(what, err)
	}
	if src == nil {
		return acct{}, errs.New(p.op, errs.NotFound, "", what+": the source account "+req.From.Name+" does not exist")
	}
	gs, err := p.showGrants(ctx, from)
	if errors.Is(err, errNoGrants) {
		return acct{}, errs.New(p.op, errs.NotFound, "", what+": the source account "+req.From.Name+" does not exist")
	}
	if err != nil {
		return acct{}, p.queryErr(what, err)
	}
	d := newDropSet(req.Drop)
	want, err := p.wanted(ctx, gs, d, 0)
	if err != nil {
		return acct{}, p.queryErr(what+": copy the grants of "+from.String(), err)
	}
	opts := ""
	if !src.role {
		opts = p.accountOptions(want)
	}

	existing, err := p.findAccount(ctx, to)
	if err != nil {
		return acct{}, p.queryErr(what, err)
	}
	if existing != nil && existing.role {
		return acct{}, errs.New(p.op, errs.Invalid, "", what+": "+to.String()+" is a role, not an account")
	}
	if existing == nil {
		lock := ""
		if p.canLock() {
			lock = " ACCOUNT LOCK"
		}
		if err := send("CREATE USER IF NOT EXISTS " + sqlAcct(to) + " " + clause + opts + lock); err != nil {
			return acct{}, p.queryErr(what+": create the account", err)
		}
	}
	cur := &grantSet{}
	if existing != nil || described == nil {
		if cur, err = p.showGrants(ctx, to); err != nil {
			return acct{}, p.queryErr(what, err)
		}
	}
	if err := send(planGrants(p.flavor, to, cur.items, want.items)...); err != nil {
		return acct{}, p.queryErr(what+": copy the grants of "+from.String(), err)
	}
	if len(d.want) > 0 && described == nil {
		if err := p.checkDropped(ctx, what, to, d); err != nil {
			return acct{}, err
		}
	}
	unlock := ""
	if p.canLock() {
		unlock = " ACCOUNT UNLOCK"
	}
	if err := send("ALTER USER " + sqlAcct(to) + " " + clause + opts + unlock); err != nil {
		return acct{}, p.queryErr(what+": set the password", err)
	}
	return to, nil
}

// checkDropped inspects a and fails when it holds, by any route, a
// privilege d names: a replacement never inherits a dropped privilege.
func (p *MySQL) checkDropped(ctx context.Context, what string, a acct, d *dropSet) error {
	id, err := p.inspect(ctx, provider.IdentityRef{System: p.system, Name: a.String()})
	if err != nil {
		return err
	}
	var held []string
	for _, pr := range id.Privileges {
		if d.want[normPriv(pr.Name)] {
			n := pr.Name
			if pr.Via != "" {
				n += " through " + pr.Via
			}
			held = append(held, n)
		}
	}
	if len(held) > 0 {
		return errs.New(p.op, errs.Other, "", what+": "+a.String()+" still holds "+strings.Join(held, ", ")+
			", which must not be copied; its grants were not finished")
	}
	return nil
}

// Verify logs in as c from here, with a connection of its own configured
// like the administrator's (address, TLS), and checks that the server took
// it for the account c names (not another account of the same user name
// whose host pattern matches this client better).
func (p *MySQL) Verify(ctx context.Context, c provider.Credential) error {
	return p.scrub(p.verify(ctx, c), c.Secret)
}

func (p *MySQL) verify(ctx context.Context, c provider.Credential) error {
	what := "verify " + c.Ref.Name
	a, _ := parseName(c.Ref.Name)
	if a.user == "" {
		return errs.New(p.op, errs.Invalid, "", what+": no user name")
	}
	cfg := p.cfg.Clone()
	cfg.User, cfg.Passwd, cfg.DBName = a.user, string(c.Secret.Reveal()), ""
	cfg.Params = nil
	cfg.Logger = &mysqldrv.NopLogger{}
	cfg.ConnectionAttributes = "program_name:rekey-verify"
	conn, err := mysqldrv.NewConnector(cfg)
	if err != nil {
		return errs.New(p.op, errs.Invalid, "", what+": cannot build a connection")
	}
	dc, err := conn.Connect(ctx)
	if err != nil {
		return p.loginErr(what, err)
	}
	defer dc.Close()
	q, ok := dc.(driver.QueryerContext)
	if !ok {
		return nil
	}
	rows, err := q.QueryContext(ctx, "SELECT CURRENT_USER()", nil)
	if err != nil {
		return p.queryErr(what, err)
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return p.queryErr(what, err)
	}
	var cur string
	switch v := dest[0].(type) {
	case []byte:
		cur = string(v)
	case string:
		cur = v
	}
	if i := strings.LastIndexByte(cur, '@'); i >= 0 {
		got := acct{user: cur[:i], host: strings.ToLower(cur[i+1:])}
		if got != a {
			return errs.New(p.op, errs.Other, "", what+": the server took this client for "+got.String()+
				", another account of the same user name, so the credential of "+a.String()+" cannot be proven from here")
		}
	}
	return nil
}

// loginErr classifies a refused or failed login as a client's: the
// server's reason, never the secret.
func (p *MySQL) loginErr(what string, err error) error {
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erAccessDenied, erAccessDeniedNoPass, erAccessDeniedChange:
			return errs.New(p.op, errs.Permission, "", what+": the server refused the credential")
		case erAccountLocked, erMariaAccountLocked:
			return errs.New(p.op, errs.Permission, "", what+": the account is locked")
		case erMustChangePassword, erMustChangePassLogin:
			return errs.New(p.op, errs.Permission, "", what+": the password has expired")
		case erHostNotPrivileged, erHostBlocked:
			return errs.New(p.op, errs.Permission, "", what+": the server refused this client's host")
		}
	}
	if cause, ok := netCause(err); ok {
		return errs.New(p.op, errs.Unreachable, "", what+": cannot reach "+p.addr+": "+cause)
	}
	return p.queryErr(what, err)
}

// Revoke locks the account and replaces its password with a random one
// nobody keeps (dropping MySQL 8's retained secondary password too), so
// that unlocking it later does not bring the leaked secret back. Open
// sessions go on (TerminateSessions ends them); grants and owned objects
// stay. A missing or already revoked account is not an error.
func (p *MySQL) Revoke(ctx context.Context, id provider.IdentityRef) error {
	return p.scrub(p.revoke(ctx, id))
}

func (p *MySQL) revoke(ctx context.Context, id provider.IdentityRef) error {
	what := "revoke " + id.Name
	a, _ := parseName(id.Name)
	random := make([]byte, 32)
	if _, err := rand.Read(random); err != nil {
		return errs.E(p.op, errs.Other, "", fmt.Errorf("%s: random password: %w", what, err))
	}
	clause, _ := p.identified([]byte(hex.EncodeToString(random)))
	if err := p.exec(ctx, p.revokeStatements(a, clause)...); err != nil {
		return p.queryErr(what, err)
	}
	return nil
}

// revokeStatements lock a and set its password with clause.
func (p *MySQL) revokeStatements(a acct, clause string) []string {
	lock := ""
	if p.canLock() {
		lock = " ACCOUNT LOCK"
	}
	stmts := []string{"ALTER USER IF EXISTS " + sqlAcct(a) + " " + clause + lock}
	if p.dualPasswords() {
		stmts = append(stmts, "ALTER USER IF EXISTS "+sqlAcct(a)+" DISCARD OLD PASSWORD")
	}
	return stmts
}

// killWait bounds how long TerminateSessions waits for killed connections
// to leave the process list.
const killWait = 5 * time.Second

// TerminateSessions kills (KILL CONNECTION) the account's connections in
// the process list, except rekey's own and those keep keeps, and waits
// until they are gone from it. A connection that ended meanwhile is not
// counted. The process list names only the user, so with several accounts
// of one user name a connection is the account's when the server would
// have authenticated its client as it (see Inspect).
func (p *MySQL) TerminateSessions(ctx context.Context, id provider.IdentityRef, keep func(provider.Session) bool) (int, error) {
	n, err := p.terminate(ctx, id, keep)
	return n, p.scrub(err)
}

func (p *MySQL) terminate(ctx context.Context, id provider.IdentityRef, keep func(provider.Session) bool) (int, error) {
	what := "terminate sessions of " + id.Name
	sessions, err := p.openSessions(ctx, what, id)
	if err != nil {
		return 0, err
	}
	var killed []string
	for _, s := range sessions {
		if keep != nil && keep(s) {
			continue
		}
		if _, err := p.db.ExecContext(ctx, "KILL CONNECTION "+s.ID); err != nil {
			var me *mysqldrv.MySQLError
			if errors.As(err, &me) && me.Number == erNoSuchThread {
				continue
			}
			return len(killed), p.queryErr(what+": kill connection "+s.ID, err)
		}
		killed = append(killed, s.ID)
	}
	return len(killed), p.waitGone(ctx, killed)
}

// openSessions lists the account's sessions in the process list, except
// rekey's own, as TerminateSessions kills them: those with a numeric id.
func (p *MySQL) openSessions(ctx context.Context, what string, id provider.IdentityRef) ([]provider.Session, error) {
	a, _ := parseName(id.Name)
	accounts, err := p.loadAccounts(ctx, &a.user)
	if err != nil {
		return nil, p.queryErr(what, err)
	}
	in := &inspection{p: p, id: &provider.Identity{Ref: id}, accounts: accounts}
	for i := range accounts {
		if accounts[i].acct == a {
			in.self = &accounts[i]
		}
	}
	if in.self == nil {
		return nil, nil
	}
	if err := p.sessions(ctx, in); err != nil {
		var e *errs.Error
		if errors.As(err, &e) && e.Kind == errs.Permission {
			return nil, errs.New(p.op, errs.Permission, "", what+": listing other accounts' sessions needs the PROCESS privilege, which the administrator lacks")
		}
		return nil, p.queryErr(what, err)
	}
	var out []provider.Session
	for _, s := range in.id.Sessions {
		if _, err := strconv.ParseInt(s.ID, 10, 64); err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// waitGone waits until the connections ids have left the process list: a
// killed connection lingers there until its thread notices.
func (p *MySQL) waitGone(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	q := "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN (" + strings.Join(ids, ",") + ")"
	deadline := time.Now().Add(killWait)
	for {
		var n int
		if err := p.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return p.queryErr("wait for killed connections", err)
		}
		if n == 0 || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Drop removes an account rekey issued (DROP USER IF EXISTS). MariaDB lets
// an account that is the DEFINER of routines, views, triggers or events be
// dropped, and those objects then fail for everyone; Drop refuses such an
// account with an error naming them. A missing account is not an error.
// Open sessions go on until TerminateSessions ends them.
func (p *MySQL) Drop(ctx context.Context, id provider.IdentityRef) error {
	return p.scrub(p.drop(ctx, id))
}

func (p *MySQL) drop(ctx context.Context, id provider.IdentityRef) error {
	what := "drop " + id.Name
	a, _ := parseName(id.Name)
	d := a.definer()
	rows, err := p.db.QueryContext(ctx, `
SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_SCHEMA, '.', ROUTINE_NAME) FROM information_schema.ROUTINES WHERE DEFINER = ?
UNION ALL SELECT CONCAT('VIEW ', TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.VIEWS WHERE DEFINER = ?
UNION ALL SELECT CONCAT('TRIGGER ', TRIGGER_SCHEMA, '.', TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE DEFINER = ?
UNION ALL SELECT CONCAT('EVENT ', EVENT_SCHEMA, '.', EVENT_NAME) FROM information_schema.EVENTS WHERE DEFINER = ?`, d, d, d, d)
	if err != nil {
		return p.queryErr(what, err)
	}
	var owned []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return p.queryErr(what, err)
		}
		owned = append(owned, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return p.queryErr(what, err)
	}
	if len(owned) > 0 {
		sort.Strings(owned)
		more := ""
		if len(owned) > 3 {
			more = " and " + strconv.Itoa(len(owned)-3) + " more"
			owned = owned[:3]
		}
		return errs.New(p.op, errs.Invalid, "", what+": it is the DEFINER of "+strings.Join(owned, ", ")+more+
			", which would stop working; give them another definer first")
	}
	if err := p.exec(ctx, "DROP USER IF EXISTS "+sqlAcct(a)); err != nil {
		return p.queryErr(what, err)
	}
	return nil
}

// Renew has nothing to move: the server enforces no expiry (see the file
// comment), the lease rekey keeps is the only one. It fails with NotFound
// when the account does not exist, so a renewal of a dropped credential is
// not taken for a success.
func (p *MySQL) Renew(ctx context.Context, id provider.IdentityRef, _ time.Time) error {
	a, _ := parseName(id.Name)
	found, err := p.findAccount(ctx, a)
	if err != nil {
		return p.scrub(p.queryErr("renew "+id.Name, err))
	}
	if found == nil || found.role {
		return errs.New(p.op, errs.NotFound, "", "renew "+id.Name+": the account does not exist")
	}
	return nil
}

// DropPrivileges revokes the named privileges (as Inspect names them) from
// a live account at once. A privilege it holds through a role is removed
// by revoking the role and granting its other privileges directly, before
// the revoke, so its consumers keep what they use. It returns the names it
// removed; names the account does not hold are skipped.
func (p *MySQL) DropPrivileges(ctx context.Context, id provider.IdentityRef, privileges []string) ([]string, error) {
	got, err := p.dropPrivileges(ctx, id, privileges)
	return got, p.scrub(err)
}

func (p *MySQL) dropPrivileges(ctx context.Context, id provider.IdentityRef, privileges []string) ([]string, error) {
	what := "drop privileges of " + id.Name
	a, found, err := p.resolve(ctx, id.Name)
	if err != nil {
		return nil, p.queryErr(what, err)
	}
	if found == nil {
		return nil, errs.New(p.op, errs.NotFound, "", what+": the account does not exist")
	}
	cur, err := p.showGrants(ctx, a)
	if errors.Is(err, errNoGrants) {
		return nil, errs.New(p.op, errs.NotFound, "", what+": the account does not exist")
	}
	if err != nil {
		return nil, p.queryErr(what, err)
	}
	d := newDropSet(privileges)
	want, err := p.wanted(ctx, cur, d, 0)
	if err != nil {
		return nil, p.queryErr(what, err)
	}
	if err := p.exec(ctx, planGrants(p.flavor, a, cur.items, want.items)...); err != nil {
		return nil, p.queryErr(what, err)
	}
	return d.hits(), nil
}

// dualPasswords reports whether the server keeps a secondary password
// (MySQL 8.0.14's RETAIN CURRENT PASSWORD; MariaDB has none).
func (p *MySQL) dualPasswords() bool { return !p.flavor.mariadb && p.flavor.atLeast(8, 0, 14) }

func (p *MySQL) noDual(what string) error {
	return errs.E(p.op, errs.Unsupported, "", fmt.Errorf("%s: %s %d.%d has no dual passwords (MySQL 8.0.14 and later have): %w",
		what, p.flavor.name(), p.flavor.major, p.flavor.minor, provider.ErrUnsupported))
}

// AddSecret makes s the account's primary password and keeps the current
// one as its secondary (ALTER USER … RETAIN CURRENT PASSWORD, MySQL
// 8.0.14+): both log in until RemoveSecret. When s is already the primary
// password nothing changes, so a retry does not push the old secret out.
// MariaDB has no dual passwords: the error wraps provider.ErrUnsupported.
// Untested: the suite's server is MariaDB.
func (p *MySQL) AddSecret(ctx context.Context, id provider.IdentityRef, s secret.Secret) error {
	return p.scrub(p.addSecret(ctx, id, s), s)
}

func (p *MySQL) addSecret(ctx context.Context, id provider.IdentityRef, s secret.Secret) error {
	what := "add a secret to " + id.Name
	if !p.dualPasswords() {
		return p.noDual(what)
	}
	if s.IsZero() {
		return errs.New(p.op, errs.Invalid, "", what+": empty secret")
	}
	a, _ := parseName(id.Name)
	primary, _, err := p.passwords(ctx, a)
	if err != nil {
		return p.queryErr(what, err)
	}
	if primary == nil {
		return errs.New(p.op, errs.NotFound, "", what+": the account does not exist")
	}
	if holds(*primary, s) {
		return nil
	}
	hash, ok := hashFor(primary.plugin, s.Reveal())
	if !ok {
		return errs.New(p.op, errs.Unsupported, "", what+": it authenticates with "+primary.plugin+", which keeps no second password")
	}
	p.remember(string(s.Reveal()), hash)
	if err := p.exec(ctx, "ALTER USER "+sqlAcct(a)+" IDENTIFIED WITH "+primary.plugin+" AS '"+hash+"' RETAIN CURRENT PASSWORD"); err != nil {
		return p.queryErr(what, err)
	}
	return nil
}

// RemoveSecret stops s from logging in as the account: the secondary
// password is discarded (DISCARD OLD PASSWORD) when it is s; when s is the
// primary the secondary becomes the primary first. Removing the only
// password is refused (that is Revoke); removing one the account does not
// hold is not an error. MySQL 8.0.14+ only, untested like AddSecret.
func (p *MySQL) RemoveSecret(ctx context.Context, id provider.IdentityRef, s secret.Secret) error {
	return p.scrub(p.removeSecret(ctx, id, s), s)
}

func (p *MySQL) removeSecret(ctx context.Context, id provider.IdentityRef, s secret.Secret) error {
	what := "remove a secret from " + id.Name
	if !p.dualPasswords() {
		return p.noDual(what)
	}
	a, _ := parseName(id.Name)
	primary, second, err := p.passwords(ctx, a)
	if err != nil {
		return p.queryErr(what, err)
	}
	switch {
	case primary == nil:
		return nil
	case second != nil && holds(*second, s):
		err = p.exec(ctx, "ALTER USER "+sqlAcct(a)+" DISCARD OLD PASSWORD")
	case holds(*primary, s) && second != nil:
		// Without RETAIN CURRENT PASSWORD the secondary stays as it is. A
		// stored salt may hold any byte but NUL and '$': written in hex.
		err = p.exec(ctx, "ALTER USER "+sqlAcct(a)+" IDENTIFIED WITH "+second.plugin+" AS 0x"+hex.EncodeToString([]byte(second.auth)),
			"ALTER USER "+sqlAcct(a)+" DISCARD OLD PASSWORD")
	case holds(*primary, s):
		return errs.New(p.op, errs.Invalid, "", what+": it is the account's only password; revoke the account instead")
	}
	if err != nil {
		return p.queryErr(what, err)
	}
	return nil
}

// passwords reads a MySQL 8 account's primary method and its secondary
// password (mysql.user.User_attributes' additional_password); nil when
// missing.
func (p *MySQL) passwords(ctx context.Context, a acct) (primary, second *method, err error) {
	var plugin, auth string
	var extra []byte
	err = p.db.QueryRowContext(ctx, `SELECT plugin, authentication_string,
		JSON_UNQUOTE(JSON_EXTRACT(User_attributes, '$.additional_password')) FROM mysql.user WHERE User = ? AND Host = ?`,
		a.user, a.host).Scan(&plugin, &auth, &extra)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	primary = &method{plugin: plugin, auth: auth}
	if len(extra) > 0 && string(extra) != "null" {
		second = &method{plugin: plugin, auth: string(extra)}
	}
	return primary, second, nil
}

// holds reports whether m's stored hash accepts s.
func holds(m method, s secret.Secret) bool {
	v, err := parseVerifier(m.plugin, m.auth)
	return err == nil && v.matches(newCandidate(s.Reveal()))
}
