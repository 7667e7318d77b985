package mysql

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Kinds of Related entries this provider reports.
const (
	// RelatedCreatedUser is an account or role the identity could have
	// created or whose password it could have set (CREATE USER, ALL, writes
	// on the grant tables): the server does not record who did.
	RelatedCreatedUser = "created-user"
	// RelatedGrantedPrivilege is a grant the identity made, where the
	// server records the grantor (table, routine and proxy grants), or a
	// note that it could have made grants no table attributes.
	RelatedGrantedPrivilege = "granted-privilege"
	// RelatedOtherKey is another account of the same user name on another
	// host: a separate password, or the same one.
	RelatedOtherKey = "other-key"
	// RelatedOwnedObject is a routine, view, trigger or event the identity
	// is the DEFINER of: it runs with the identity's privileges.
	RelatedOwnedObject = "owned-object"
)

// chainSep joins the roles a privilege comes through, outermost first.
const chainSep = " → "

// maxListed bounds the created-user entries of one inspection; the rest
// are summed up in one entry.
const maxListed = 500

type grantee struct {
	a   acct
	via string
}

// inspection gathers one Inspect's results.
type inspection struct {
	p        *MySQL
	id       *provider.Identity
	self     *account
	accounts []account
	byKey    map[acct]*account
	grantees []grantee
	// creators says how the identity can create accounts or set
	// passwords; granters how it can pass privileges on.
	creators []string
	granters []string
}

func (in *inspection) priv(name string, risk provider.Risk, via string, creds bool) {
	in.id.Privileges = append(in.id.Privileges, provider.Privilege{Name: name, Risk: risk, Via: via, CreatesCredentials: creds})
	if !creds {
		return
	}
	how := name + " directly"
	if via != "" {
		how = name + " through " + via
	}
	if strings.HasPrefix(name, "GRANT OPTION") || strings.HasSuffix(name, "WITH ADMIN OPTION") ||
		strings.HasPrefix(name, "PROXY") || strings.HasSuffix(name, "WITH GRANT OPTION") && !strings.HasPrefix(name, "ALL PRIVILEGES") {
		in.granters = append(in.granters, how)
		return
	}
	in.creators = append(in.creators, how)
}

func (in *inspection) related(kind, name, detail string) {
	in.id.Related = append(in.id.Related, provider.Related{Kind: kind, Name: name, Detail: detail})
}

// Inspect describes an account (or a MariaDB role): its global, database,
// table, column, routine and proxy privileges, those of every role it
// holds (with the chain in Via), whether it can log in, the sessions open
// under it now and what it may have left behind. It only reads the mysql
// schema, information_schema and the process list. An unknown account
// returns Exists=false and no error.
func (p *MySQL) Inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	id, err := p.inspect(ctx, ref)
	return id, p.san.Scrub(err)
}

func (p *MySQL) inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	if ref.System == "" {
		ref.System = p.system
	}
	id := &provider.Identity{Ref: ref, Privileges: []provider.Privilege{}, Sessions: []provider.Session{}, Related: []provider.Related{}}
	want, explicit := parseName(ref.Name)
	accounts, err := p.loadAccounts(ctx, nil)
	if err != nil {
		return nil, p.inspectErr(ref, err)
	}
	in := &inspection{p: p, id: id, accounts: accounts, byKey: map[acct]*account{}}
	for i := range accounts {
		in.byKey[accounts[i].acct] = &accounts[i]
	}
	in.self = in.byKey[want]
	if in.self == nil && !explicit {
		if r := in.byKey[acct{user: want.user}]; r != nil && r.role {
			in.self = r
		}
	}
	if in.self == nil {
		return id, nil
	}
	id.Exists = true
	until, expired := in.self.expiry(time.Now(), p.defaultLifetime(ctx))
	id.ValidUntil = until
	id.CanLogin = !in.self.role && !in.self.locked && !expired && in.self.bad == "" && slices.ContainsFunc(in.self.methods, canAuthenticate)

	steps := []func(context.Context, *inspection) error{
		p.roles, p.global, p.databases, p.tables, p.routines, p.proxies,
		p.sessions, p.otherKeys, p.ownedObjects, p.grantsMade, p.createdUsers,
	}
	for _, step := range steps {
		if err := step(ctx, in); err != nil {
			return nil, p.inspectErr(ref, err)
		}
	}
	sortIdentity(id)
	return id, nil
}

func (p *MySQL) inspectErr(ref provider.IdentityRef, err error) error {
	return p.queryErr("inspect "+ref.Name, err)
}

// defaultLifetime is default_password_lifetime in days, 0 when the server
// has none (before MySQL 5.7.4 and MariaDB 10.4.3).
func (p *MySQL) defaultLifetime(ctx context.Context) int {
	var n sql.NullInt64
	if err := p.db.QueryRowContext(ctx, "SELECT @@default_password_lifetime").Scan(&n); err != nil || !n.Valid {
		return 0
	}
	return int(n.Int64)
}

// roles walks role grants from the identity outwards, breadth first, so
// each role is reached by its shortest chain: mysql.roles_mapping on
// MariaDB, mysql.role_edges on MySQL 8. MariaDB 10.11's PUBLIC is a
// grantee for everyone.
func (p *MySQL) roles(ctx context.Context, in *inspection) error {
	in.grantees = []grantee{{a: in.self.acct}}
	type edge struct {
		role  acct
		admin bool
	}
	edges := map[acct][]edge{}
	var q string
	switch {
	case p.flavor.mariadb:
		q = "SELECT User, Host, Role, '', Admin_option FROM mysql.roles_mapping"
	case p.flavor.atLeast(8, 0, 0):
		q = "SELECT TO_USER, TO_HOST, FROM_USER, FROM_HOST, WITH_ADMIN_OPTION FROM mysql.role_edges"
	}
	if q != "" {
		rows, err := p.db.QueryContext(ctx, q)
		if isNoSuchTable(err) {
			rows, err = nil, nil
		}
		if err != nil {
			return err
		}
		for rows != nil && rows.Next() {
			var from acct
			var e edge
			var admin string
			if err := rows.Scan(&from.user, &from.host, &e.role.user, &e.role.host, &admin); err != nil {
				rows.Close()
				return err
			}
			from.host, e.role.host = strings.ToLower(from.host), strings.ToLower(e.role.host)
			e.admin = strings.EqualFold(admin, "Y")
			edges[from] = append(edges[from], e)
		}
		if rows != nil {
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
	}
	via := map[acct]string{in.self.acct: ""}
	queue := []acct{in.self.acct}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		for _, e := range edges[m] {
			if _, seen := via[e.role]; seen {
				continue
			}
			chain := e.role.String()
			if v := via[m]; v != "" {
				chain = v + chainSep + chain
			}
			name, risk, creds := "ROLE "+e.role.String(), provider.RiskLow, false
			if e.admin {
				// ADMIN OPTION lets it grant the role to anyone.
				name += " WITH ADMIN OPTION"
				risk, creds = provider.RiskHigh, true
			}
			in.priv(name, risk, via[m], creds)
			via[e.role] = chain
			in.grantees = append(in.grantees, grantee{a: e.role, via: chain})
			queue = append(queue, e.role)
		}
	}
	if p.flavor.mariadb && p.flavor.atLeast(10, 11, 0) && in.self.acct != (acct{user: "PUBLIC"}) {
		in.grantees = append(in.grantees, grantee{a: acct{user: "PUBLIC"}, via: "PUBLIC"})
	}
	return nil
}

// global reports privileges ON *.*: MariaDB's access mask, or mysql.user's
// privilege columns and, on MySQL 8, mysql.global_grants.
func (p *MySQL) global(ctx context.Context, in *inspection) error {
	for _, g := range in.grantees {
		a := in.byKey[g.a]
		if a == nil {
			continue
		}
		var names []string
		var all, grant bool
		if a.hasAccess {
			names, all, grant = mariaGlobal(p.flavor, a.access)
		} else {
			for _, n := range a.colPrivs {
				if n == "GRANT OPTION" {
					grant = true
					continue
				}
				names = append(names, n)
			}
			all = a.colTotal > 0 && len(names) == a.colTotal
		}
		if all {
			name := "ALL PRIVILEGES ON *.*"
			if grant {
				name += " WITH GRANT OPTION"
			}
			in.priv(name, provider.RiskCritical, g.via, true)
			continue
		}
		for _, n := range names {
			risk, creds := globalRisk(n)
			in.priv(n+" ON *.*", risk, g.via, creds)
		}
		if grant {
			in.priv("GRANT OPTION ON *.*", provider.RiskHigh, g.via, true)
		}
	}
	if p.flavor.mariadb || !p.flavor.atLeast(8, 0, 0) {
		return nil
	}
	// MySQL 8's dynamic privileges (BACKUP_ADMIN, ROLE_ADMIN…).
	where, args := in.granteeFilter("USER", "HOST")
	rows, err := p.db.QueryContext(ctx, "SELECT USER, HOST, PRIV, WITH_GRANT_OPTION FROM mysql.global_grants WHERE "+where, args...)
	if isNoSuchTable(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a acct
		var priv, grant string
		if err := rows.Scan(&a.user, &a.host, &priv, &grant); err != nil {
			return err
		}
		via := in.viaOf(a)
		risk, creds := globalRisk(strings.ToUpper(priv))
		name := strings.ToUpper(priv) + " ON *.*"
		if strings.EqualFold(grant, "Y") {
			name += " WITH GRANT OPTION"
			risk, creds = provider.MaxRisk(risk, provider.RiskHigh), true
		}
		in.priv(name, risk, via, creds)
	}
	return rows.Err()
}

// granteeFilter is a WHERE clause matching the identity and its roles.
func (in *inspection) granteeFilter(userCol, hostCol string) (string, []any) {
	var parts []string
	var args []any
	for _, g := range in.grantees {
		parts = append(parts, "("+userCol+" = ? AND "+hostCol+" = ?)")
		args = append(args, g.a.user, g.a.host)
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

func (in *inspection) viaOf(a acct) string {
	a.host = strings.ToLower(a.host)
	for _, g := range in.grantees {
		if g.a == a {
			return g.via
		}
	}
	return ""
}

// databases reads mysql.db, whose columns vary with the version.
func (p *MySQL) databases(ctx context.Context, in *inspection) error {
	where, args := in.granteeFilter("User", "Host")
	rows, err := p.db.QueryContext(ctx, "SELECT * FROM mysql.db WHERE "+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return err
	}
	type dbGrant struct {
		a     acct
		db    string
		privs []string
		grant bool
	}
	var grants []dbGrant
	for rows.Next() {
		vals := make([]sql.NullString, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		var g dbGrant
		for i, n := range names {
			n = strings.ToLower(n)
			switch n {
			case "user":
				g.a.user = vals[i].String
			case "host":
				g.a.host = vals[i].String
			case "db":
				g.db = vals[i].String
			}
			if stem, ok := strings.CutSuffix(n, "_priv"); ok && strings.EqualFold(vals[i].String, "Y") {
				if stem == "grant" {
					g.grant = true
				} else {
					g.privs = append(g.privs, privColumnName(stem))
				}
			}
		}
		grants = append(grants, g)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range grants {
		via := in.viaOf(g.a)
		on := " ON " + g.db + ".*"
		for _, n := range g.privs {
			risk, creds := objectRisk(n, g.db)
			in.priv(n+on, risk, via, creds)
		}
		if g.grant {
			in.priv("GRANT OPTION"+on, provider.RiskHigh, via, true)
		}
	}
	return nil
}

// tables reads table and column grants.
func (p *MySQL) tables(ctx context.Context, in *inspection) error {
	where, args := in.granteeFilter("User", "Host")
	rows, err := p.db.QueryContext(ctx, "SELECT User, Host, Db, Table_name, Table_priv FROM mysql.tables_priv WHERE "+where+" ORDER BY Db, Table_name", args...)
	if err != nil {
		return err
	}
	type objGrant struct {
		a             acct
		db, obj, cols string
		privs         string
	}
	var grants []objGrant
	for rows.Next() {
		var g objGrant
		if err := rows.Scan(&g.a.user, &g.a.host, &g.db, &g.obj, &g.privs); err != nil {
			rows.Close()
			return err
		}
		grants = append(grants, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = p.db.QueryContext(ctx, "SELECT User, Host, Db, Table_name, Column_name, Column_priv FROM mysql.columns_priv WHERE "+where+" ORDER BY Db, Table_name, Column_name", args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var g objGrant
		if err := rows.Scan(&g.a.user, &g.a.host, &g.db, &g.obj, &g.cols, &g.privs); err != nil {
			rows.Close()
			return err
		}
		grants = append(grants, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range grants {
		via := in.viaOf(g.a)
		for _, v := range splitSet(g.privs) {
			n := setPrivName(v)
			risk, creds := objectRisk(n, g.db)
			name := n
			if g.cols != "" {
				name += " (" + g.cols + ")"
			}
			in.priv(name+" ON "+g.db+"."+g.obj, risk, via, creds)
		}
	}
	return nil
}

func splitSet(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// routines reads grants on stored procedures and functions.
func (p *MySQL) routines(ctx context.Context, in *inspection) error {
	where, args := in.granteeFilter("User", "Host")
	rows, err := p.db.QueryContext(ctx, "SELECT User, Host, Db, Routine_name, Routine_type, Proc_priv FROM mysql.procs_priv WHERE "+where+" ORDER BY Db, Routine_name", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a acct
		var db, name, typ, privs string
		if err := rows.Scan(&a.user, &a.host, &db, &name, &typ, &privs); err != nil {
			return err
		}
		via := in.viaOf(a)
		for _, v := range splitSet(privs) {
			n := setPrivName(v)
			risk, creds := objectRisk(n, db)
			in.priv(n+" ON "+strings.ToUpper(typ)+" "+db+"."+name, risk, via, creds)
		}
	}
	return rows.Err()
}

// proxies reads PROXY grants: the right to log in as another account
// through a proxying authentication plugin.
func (p *MySQL) proxies(ctx context.Context, in *inspection) error {
	where, args := in.granteeFilter("User", "Host")
	rows, err := p.db.QueryContext(ctx, "SELECT User, Host, Proxied_user, Proxied_host, With_grant FROM mysql.proxies_priv WHERE "+where+" ORDER BY Proxied_user, Proxied_host", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, target acct
		var withGrant bool
		if err := rows.Scan(&a.user, &a.host, &target.user, &target.host, &withGrant); err != nil {
			return err
		}
		risk := provider.RiskHigh
		if target.user == "" {
			risk = provider.RiskCritical // any account
		}
		name := "PROXY ON " + target.quoted()
		if withGrant {
			name += " WITH GRANT OPTION"
		}
		in.priv(name, risk, in.viaOf(a), withGrant)
	}
	return rows.Err()
}

// sessions lists the process list entries of the identity's user name
// that the server would have authenticated as this account, except our
// own connections. MariaDB's process list has no login time: Started is
// when the connection's current command (or idleness) began, derived from
// TIME_MS and the server's clock.
func (p *MySQL) sessions(ctx context.Context, in *inspection) error {
	if in.self.role {
		return nil
	}
	if !p.seesAll {
		return errs.New(p.op, errs.Permission, "", "inspect "+in.self.String()+
			": listing other accounts' sessions needs the PROCESS privilege, which the administrator lacks")
	}
	elapsed := "TIME * 1000"
	if p.flavor.mariadb {
		elapsed = "TIME_MS"
	}
	rows, err := p.db.QueryContext(ctx, `SELECT ID, HOST, COALESCE(DB, ''), `+elapsed+`, UNIX_TIMESTAMP(NOW(6)), ID = CONNECTION_ID()
		FROM information_schema.PROCESSLIST WHERE USER = ? ORDER BY ID`, in.self.user)
	if err != nil {
		return err
	}
	same := in.sameUser()
	var ids []int64
	for rows.Next() {
		var id int64
		var host, db string
		var elapsedMS, now float64
		var current bool
		if err := rows.Scan(&id, &host, &db, &elapsedMS, &now, &current); err != nil {
			rows.Close()
			return err
		}
		if current || p.ownConn(id) {
			continue
		}
		client, addr := splitHost(host)
		if who, ok := owner(same, client); !ok || who != in.self.acct {
			continue
		}
		started := now - elapsedMS/1000
		sec, frac := math.Modf(started)
		in.id.Sessions = append(in.id.Sessions, provider.Session{
			ID:       strconv.FormatInt(id, 10),
			Client:   addr,
			Started:  time.Unix(int64(sec), int64(frac*1e9)).UTC().Truncate(time.Millisecond),
			Database: db,
		})
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if p.appNames && len(ids) > 0 {
		p.applications(ctx, in, ids)
	}
	return nil
}

// splitHost reads a process list HOST: "10.0.0.5:51234", "::1:51234",
// "localhost" (a Unix socket). It returns the host part and the client as
// Session.Client spells it (host:port, IPv6 in brackets).
func splitHost(h string) (host, client string) {
	i := strings.LastIndexByte(h, ':')
	if i <= 0 {
		return h, h
	}
	port := h[i+1:]
	if _, err := strconv.Atoi(port); err != nil {
		return h, h
	}
	host = strings.Trim(h[:i], "[]")
	return host, net.JoinHostPort(host, port)
}

// applications fills Session.Application from the program_name connection
// attribute (performance_schema only). It is best effort: a failure leaves
// the names empty.
func (p *MySQL) applications(ctx context.Context, in *inspection, ids []int64) {
	marks := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := p.db.QueryContext(ctx, `SELECT PROCESSLIST_ID, ATTR_VALUE FROM performance_schema.session_connect_attrs
		WHERE ATTR_NAME = 'program_name' AND PROCESSLIST_ID IN (`+marks+`)`, args...)
	if err != nil {
		return
	}
	defer rows.Close()
	names := map[string]string{}
	for rows.Next() {
		var id int64
		var name string
		if rows.Scan(&id, &name) == nil {
			names[strconv.FormatInt(id, 10)] = name
		}
	}
	for i := range in.id.Sessions {
		in.id.Sessions[i].Application = names[in.id.Sessions[i].ID]
	}
}

// otherKeys lists the other accounts of the same user name: a DSN's user
// name does not say which host's account a leaked password belongs to,
// and they may share it.
func (p *MySQL) otherKeys(_ context.Context, in *inspection) error {
	if in.self.role {
		return nil
	}
	for _, a := range in.accounts {
		if a.role || a.user != in.self.user || a.acct == in.self.acct {
			continue
		}
		in.related(RelatedOtherKey, a.String(), "another account of user "+strconv.Quote(a.user)+" (host "+strconv.Quote(a.host)+"): "+samePassword(in.self, &a))
	}
	return nil
}

// samePassword compares two accounts' stored hashes without revealing
// them.
func samePassword(a, b *account) string {
	salted := false
	for _, ma := range a.methods {
		for _, mb := range b.methods {
			if ma.plugin == mb.plugin && ma.auth != "" && ma.auth == mb.auth {
				return "its stored password hash is the same: the leaked secret logs in there too"
			}
		}
		if ma.plugin == MethodCachingSHA2 || ma.plugin == MethodSHA256 {
			salted = true
		}
	}
	for _, mb := range b.methods {
		if mb.plugin == MethodCachingSHA2 || mb.plugin == MethodSHA256 {
			salted = true
		}
	}
	if salted {
		return "its password hash is salted, so only Identify with the secret tells whether it shares the password; rotate or review it with this one"
	}
	return "it has a different password; review whether it is used by the same consumers"
}

// ownedObjects lists the routines, views, triggers and events the identity
// is the DEFINER of.
func (p *MySQL) ownedObjects(ctx context.Context, in *inspection) error {
	d := in.self.definer()
	rows, err := p.db.QueryContext(ctx, `
SELECT ROUTINE_TYPE, ROUTINE_SCHEMA, ROUTINE_NAME, SECURITY_TYPE FROM information_schema.ROUTINES WHERE DEFINER = ?
UNION ALL SELECT 'VIEW', TABLE_SCHEMA, TABLE_NAME, SECURITY_TYPE FROM information_schema.VIEWS WHERE DEFINER = ?
UNION ALL SELECT 'TRIGGER', TRIGGER_SCHEMA, TRIGGER_NAME, 'DEFINER' FROM information_schema.TRIGGERS WHERE DEFINER = ?
UNION ALL SELECT 'EVENT', EVENT_SCHEMA, EVENT_NAME, 'DEFINER' FROM information_schema.EVENTS WHERE DEFINER = ?
ORDER BY 1, 2, 3`, d, d, d, d)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, schema, name, security string
		if err := rows.Scan(&kind, &schema, &name, &security); err != nil {
			return err
		}
		detail := strings.ToLower(kind) + " defined by " + in.self.String() + " that runs with its privileges for whoever may call or fire it; it keeps working when the password changes"
		if strings.EqualFold(security, "INVOKER") {
			detail = strings.ToLower(kind) + " defined by " + in.self.String() + " (SQL SECURITY INVOKER: it runs with the caller's privileges); review its body"
		}
		in.related(RelatedOwnedObject, kind+" "+schema+"."+name, detail)
	}
	return rows.Err()
}

// grantsMade lists the grants the identity made where the server records
// a grantor (table, routine and proxy grants), and says what it could have
// granted where it records none.
func (p *MySQL) grantsMade(ctx context.Context, in *inspection) error {
	if in.self.role {
		return nil
	}
	// Grantor is the granting user with the host it connected from, not
	// its account's host pattern: the grant is the identity's when the
	// server would have authenticated that user from that host as it.
	like := escapeLike(in.self.user) + "@%"
	rows, err := p.db.QueryContext(ctx, `
SELECT User, Host, Grantor, Table_priv, CONCAT(Db, '.', Table_name) FROM mysql.tables_priv WHERE Grantor LIKE ? AND Table_priv <> ''
UNION ALL SELECT User, Host, Grantor, Proc_priv, CONCAT(UPPER(Routine_type), ' ', Db, '.', Routine_name) FROM mysql.procs_priv WHERE Grantor LIKE ?
UNION ALL SELECT User, Host, Grantor, IF(With_grant, 'Proxy,Grant', 'Proxy'), CONCAT('''', Proxied_user, '''@''', Proxied_host, '''') FROM mysql.proxies_priv WHERE Grantor LIKE ?
ORDER BY 5, 1, 2`, like, like, like)
	if err != nil {
		return err
	}
	same := in.sameUser()
	for rows.Next() {
		var to acct
		var grantor, privs, object string
		if err := rows.Scan(&to.user, &to.host, &grantor, &privs, &object); err != nil {
			rows.Close()
			return err
		}
		to.host = strings.ToLower(to.host)
		i := strings.LastIndexByte(grantor, '@')
		if to == in.self.acct || i < 0 || grantor[:i] != in.self.user {
			continue
		}
		if who, ok := owner(same, grantor[i+1:]); !ok || who != in.self.acct {
			continue
		}
		var names []string
		for _, v := range splitSet(privs) {
			names = append(names, setPrivName(v))
		}
		in.related(RelatedGrantedPrivilege, strings.Join(names, ", ")+" ON "+object+" TO "+to.String(),
			"granted by "+in.self.String()+" (connected from "+grantor[i+1:]+"): "+to.String()+" keeps it when "+in.self.String()+"'s password changes")
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(in.granters) > 0 {
		in.related(RelatedGrantedPrivilege, "grants made by "+in.self.String(),
			in.self.String()+" holds "+strings.Join(in.granters, ", ")+": it could have passed what it holds to any account, and "+
				p.flavor.name()+" records no grantor for global, database and role grants: review every account's grants")
	}
	return nil
}

// createdUsers lists the accounts and roles the identity could have
// created or whose password it could have set, most recently changed
// first: the server does not record who created an account.
func (p *MySQL) createdUsers(_ context.Context, in *inspection) error {
	if len(in.creators) == 0 {
		return nil
	}
	var others []*account
	for i := range in.accounts {
		if a := &in.accounts[i]; a.acct != in.self.acct {
			others = append(others, a)
		}
	}
	sort.SliceStable(others, func(i, j int) bool { return others[i].lastChanged.After(others[j].lastChanged) })
	how := strings.Join(in.creators, ", ")
	for i, a := range others {
		if i == maxListed {
			in.related(RelatedCreatedUser, strconv.Itoa(len(others)-maxListed)+" more accounts",
				"listing stopped at "+strconv.Itoa(maxListed)+": "+in.self.String()+" holds "+how+" and could have created or changed any of them")
			break
		}
		what, changed := "account", ""
		if a.role {
			what = "role"
		}
		if !a.lastChanged.IsZero() {
			changed = "; password last changed " + a.lastChanged.Format(time.RFC3339)
		}
		in.related(RelatedCreatedUser, a.String(),
			"a "+what+" "+in.self.String()+" could have created, or whose password it could have set, with "+how+
				"; "+p.flavor.name()+" does not record who did"+changed)
	}
	return nil
}

// sameUser lists the accounts (not roles) of the identity's user name.
func (in *inspection) sameUser() []acct {
	var same []acct
	for _, a := range in.accounts {
		if a.user == in.self.user && !a.role {
			same = append(same, a.acct)
		}
	}
	return same
}

// escapeLike quotes LIKE's wildcards and escape character in s.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// isNoSuchTable reports a missing catalog table (an older server).
func isNoSuchTable(err error) bool {
	var me *mysqldrv.MySQLError
	return errors.As(err, &me) && (me.Number == erNoSuchTable || me.Number == erBadField)
}
