package postgres

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Kinds of Related entries this provider reports.
const (
	RelatedGrantedRole      = "granted-role"      // a membership the identity granted (pg_auth_members.grantor)
	RelatedGrantedPrivilege = "granted-privilege" // an object privilege the identity granted (ACL grantor)
	RelatedDefaultPrivilege = "default-privilege" // ALTER DEFAULT PRIVILEGES by the identity: grants on future objects
	RelatedOwnedObject      = "owned-object"      // a database, schema, relation or function it owns
	RelatedCreatedUser      = "created-user"      // roles it could have created or can administer (CREATEROLE)
)

// chainSep joins the roles a privilege comes through, outermost first.
const chainSep = " → "

// Attribute privileges and their risk. Role attributes are not inherited,
// but a member can SET ROLE to the role holding them, so a member of a
// CREATEROLE role has CREATEROLE for the blast radius.
var attributes = []struct {
	name  string
	risk  provider.Risk
	creds bool
}{
	{"SUPERUSER", provider.RiskCritical, true},
	{"CREATEROLE", provider.RiskHigh, true},
	{"REPLICATION", provider.RiskHigh, false}, // a base backup reads every table
	{"BYPASSRLS", provider.RiskHigh, false},
	{"CREATEDB", provider.RiskMedium, false},
}

// predefined roles whose membership is more than an ordinary grant.
var predefined = map[string]provider.Risk{
	"pg_execute_server_program": provider.RiskCritical, // a shell as the server's OS user
	"pg_write_server_files":     provider.RiskCritical, // overwrite the server's files
	"pg_read_server_files":      provider.RiskHigh,
	"pg_read_all_data":          provider.RiskHigh,
	"pg_write_all_data":         provider.RiskHigh,
	"pg_signal_backend":         provider.RiskMedium,
	"pg_create_subscription":    provider.RiskMedium,
	"pg_maintain":               provider.RiskMedium,
}

// role is a row of pg_roles with the attributes that matter here.
type role struct {
	oid                                       uint32
	name                                      string
	super, createRole, createDB, repl, bypass bool
}

func (r role) has(attr string) bool {
	switch attr {
	case "SUPERUSER":
		return r.super
	case "CREATEROLE":
		return r.createRole
	case "CREATEDB":
		return r.createDB
	case "REPLICATION":
		return r.repl
	case "BYPASSRLS":
		return r.bypass
	}
	return false
}

// inspection gathers one Inspect's results.
type inspection struct {
	id       *provider.Identity
	self     role
	via      map[uint32]string // the identity (""), and every role it is a member of, by chain
	oids     []uint32
	creators []string // how it holds CREATEROLE or SUPERUSER: "CREATEROLE through b → c"
}

func (in *inspection) priv(name string, risk provider.Risk, via string, creds bool) {
	in.id.Privileges = append(in.id.Privileges, provider.Privilege{Name: name, Risk: risk, Via: via, CreatesCredentials: creds})
}

func (in *inspection) related(kind, name, detail string) {
	in.id.Related = append(in.id.Related, provider.Related{Kind: kind, Name: name, Detail: detail})
}

// Inspect describes a role: its attributes (and those of every role it is
// a member of, transitively), database, schema and relation grants and
// ownerships in every database the administrator can connect to, VALID
// UNTIL, the sessions open under it now and what it may have left behind.
// It only reads catalogs and pg_stat_activity. An unknown role returns
// Exists=false and no error.
func (p *Postgres) Inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	id, err := p.inspect(ctx, ref)
	return id, p.san.Scrub(err)
}

func (p *Postgres) inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	if ref.System == "" {
		ref.System = p.system
	}
	id := &provider.Identity{Ref: ref, Privileges: []provider.Privilege{}, Sessions: []provider.Session{}, Related: []provider.Related{}}
	in := &inspection{id: id, via: map[uint32]string{}}
	var canLogin bool
	var until pgtype.Timestamptz
	err := p.pool.QueryRow(ctx, `SELECT oid, rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin, rolvaliduntil
		FROM pg_roles WHERE rolname = $1`, ref.Name).Scan(&in.self.oid, &in.self.name, &in.self.super, &in.self.createRole,
		&in.self.createDB, &in.self.repl, &in.self.bypass, &canLogin, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return id, nil
	}
	if err != nil {
		return nil, p.inspectErr(ref, err)
	}
	id.Exists = true
	id.CanLogin = canLogin
	if until.Valid && until.InfinityModifier == pgtype.Finite {
		t := until.Time.UTC()
		id.ValidUntil = &t
	}
	in.via[in.self.oid] = ""
	in.attributes(in.self, "")

	steps := []func(context.Context, *inspection) error{
		p.memberships, p.databases, p.objects, p.sessions, p.grantedRoles, p.createdUsers,
	}
	for _, step := range steps {
		if err := step(ctx, in); err != nil {
			return nil, p.inspectErr(ref, err)
		}
	}
	sortIdentity(id)
	return id, nil
}

func (p *Postgres) inspectErr(ref provider.IdentityRef, err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return p.queryErr("inspect "+ref.Name, err)
}

func (in *inspection) attributes(r role, via string) {
	for _, a := range attributes {
		if r.has(a.name) {
			in.priv(a.name, a.risk, via, a.creds)
			if a.name == "CREATEROLE" || a.name == "SUPERUSER" {
				how := a.name + " directly"
				if via != "" {
					how = a.name + " through " + via
				}
				in.creators = append(in.creators, how)
			}
		}
	}
}

// memberships follows pg_auth_members from the identity outwards,
// breadth first, so each role is reached by its shortest chain. The edges
// are read whole and walked here: a recursive query over every path can
// grow exponentially in a role graph with many diamonds.
func (p *Postgres) memberships(ctx context.Context, in *inspection) error {
	type edge struct {
		role  uint32
		admin bool
	}
	rows, err := p.pool.Query(ctx, `SELECT member, roleid, bool_or(admin_option) FROM pg_auth_members GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	edges := map[uint32][]edge{}
	for rows.Next() {
		var member uint32
		var e edge
		if err := rows.Scan(&member, &e.role, &e.admin); err != nil {
			rows.Close()
			return err
		}
		edges[member] = append(edges[member], e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	type reached struct {
		oid    uint32
		parent uint32 // the member it was reached from; the identity for direct grants
		admin  bool
	}
	var order []reached
	seen := map[uint32]bool{in.self.oid: true}
	queue := []uint32{in.self.oid}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		for _, e := range edges[m] {
			if seen[e.role] {
				continue
			}
			seen[e.role] = true
			order = append(order, reached{oid: e.role, parent: m, admin: e.admin})
			queue = append(queue, e.role)
		}
	}
	if len(order) > 0 {
		oids := make([]uint32, len(order))
		for i, r := range order {
			oids[i] = r.oid
		}
		rows, err := p.pool.Query(ctx, `SELECT oid, rolname::text, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
			FROM pg_roles WHERE oid = ANY($1::oid[])`, oids)
		if err != nil {
			return err
		}
		roles := map[uint32]role{}
		for rows.Next() {
			var r role
			if err := rows.Scan(&r.oid, &r.name, &r.super, &r.createRole, &r.createDB, &r.repl, &r.bypass); err != nil {
				rows.Close()
				return err
			}
			roles[r.oid] = r
		}
		if err := rows.Err(); err != nil {
			return err
		}
		// order is breadth first: a role's parent has its chain already.
		for _, re := range order {
			r, ok := roles[re.oid]
			if !ok {
				continue // dropped meanwhile
			}
			via := in.via[re.parent]
			chain := r.name
			if via != "" {
				chain = via + chainSep + r.name
			}
			risk, creds := provider.RiskLow, false
			name := "MEMBER OF " + r.name
			if pr, ok := predefined[r.name]; ok {
				risk = pr
			}
			if re.admin {
				// ADMIN OPTION lets it hand the role to anyone.
				name += " WITH ADMIN OPTION"
				risk, creds = provider.MaxRisk(risk, provider.RiskHigh), true
			}
			in.priv(name, risk, via, creds)
			in.via[r.oid] = chain
			in.attributes(r, chain)
		}
	}
	for oid := range in.via {
		in.oids = append(in.oids, oid)
	}
	sort.Slice(in.oids, func(a, b int) bool { return in.oids[a] < in.oids[b] })
	return nil
}

// aclRow is one exploded ACL item on an object.
type aclRow struct {
	kind, object, priv      string
	grantable               bool
	grantee, grantor, owner uint32
	granteeName             string
}

// grant records an ACL item: a privilege when it is held by the identity
// or a role it belongs to, a related credential when the identity granted
// it to someone else.
func (in *inspection) grant(a aclRow, baseRisk provider.Risk) {
	on := a.priv + " ON " + a.kind + " " + a.object
	if via, ok := in.via[a.grantee]; ok {
		name, risk, creds := on, baseRisk, false
		if a.grantable {
			name += " WITH GRANT OPTION"
			risk, creds = provider.MaxRisk(risk, provider.RiskHigh), true
		}
		in.priv(name, risk, via, creds)
	}
	if a.grantor == in.self.oid && a.grantee != in.self.oid && !defaultPublic(a) {
		opt := ""
		if a.grantable {
			opt = " WITH GRANT OPTION"
		}
		detail := "granted by " + in.self.name + ": it stays when " + in.self.name + "'s password changes"
		if a.owner == in.self.oid {
			detail = "granted by " + in.self.name + " as owner (PostgreSQL also records the owner as grantor when a superuser grants): it stays when " + in.self.name + "'s password changes"
		}
		in.related(RelatedGrantedPrivilege, on+" TO "+a.granteeName+opt, detail)
	}
}

// defaultPublic is a grant every database starts with (PUBLIC may connect
// and create temporary tables); it shows in the ACL, with the owner as
// grantor, as soon as anything else is granted.
func defaultPublic(a aclRow) bool {
	return a.grantee == 0 && a.kind == "DATABASE" && (a.priv == "CONNECT" || a.priv == "TEMPORARY")
}

// databases reads database-level grants and ownership (pg_database is
// shared by every database).
func (p *Postgres) databases(ctx context.Context, in *inspection) error {
	rows, err := p.pool.Query(ctx, `
SELECT 'DATABASE', d.datname::text, a.privilege_type, a.is_grantable, a.grantee, a.grantor, d.datdba, coalesce(g.rolname::text, 'PUBLIC')
FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
WHERE a.grantee <> d.datdba AND (a.grantee = ANY($1::oid[]) OR a.grantor = $2)
ORDER BY 2, 3`, in.oids, in.self.oid)
	if err != nil {
		return err
	}
	acl, err := scanACL(rows)
	if err != nil {
		return err
	}
	for _, a := range acl {
		risk := provider.RiskLow
		if a.priv == "CREATE" {
			risk = provider.RiskMedium // new schemas
		}
		in.grant(a, risk)
	}
	rows, err = p.pool.Query(ctx, `SELECT 'DATABASE', datname::text, datdba, false FROM pg_database WHERE datdba = ANY($1::oid[]) ORDER BY 2`, in.oids)
	if err != nil {
		return err
	}
	return in.owned(rows, "")
}

func scanACL(rows pgx.Rows) ([]aclRow, error) {
	defer rows.Close()
	var out []aclRow
	for rows.Next() {
		var a aclRow
		if err := rows.Scan(&a.kind, &a.object, &a.priv, &a.grantable, &a.grantee, &a.grantor, &a.owner, &a.granteeName); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// owned records ownerships: a privilege (an owner can grant anything on
// the object to anyone) and, when the identity itself owns it, a related
// object that outlives its password.
func (in *inspection) owned(rows pgx.Rows, db string) error {
	defer rows.Close()
	for rows.Next() {
		var kind, name string
		var owner uint32
		var secdef bool
		if err := rows.Scan(&kind, &name, &owner, &secdef); err != nil {
			return err
		}
		if db != "" {
			name = db + "." + name
		}
		in.priv("OWNER OF "+kind+" "+name, provider.RiskMedium, in.via[owner], false)
		if owner != in.self.oid {
			continue
		}
		detail := "owned by " + in.self.name + ": it can grant access to it and survives a password change"
		if secdef {
			detail = "SECURITY DEFINER " + strings.ToLower(kind) + " owned by " + in.self.name +
				": it runs with " + in.self.name + "'s privileges for whoever may call it"
		}
		in.related(RelatedOwnedObject, kind+" "+name, detail)
	}
	return rows.Err()
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// objects reads schema and relation grants, ownerships and default
// privileges in every database the administrator may connect to: these
// catalogs are per database.
func (p *Postgres) objects(ctx context.Context, in *inspection) error {
	var current string
	if err := p.pool.QueryRow(ctx, "SELECT current_database()").Scan(&current); err != nil {
		return err
	}
	rows, err := p.pool.Query(ctx, `SELECT datname::text FROM pg_database
		WHERE datallowconn AND NOT datistemplate AND has_database_privilege(current_user, oid, 'CONNECT') ORDER BY 1`)
	if err != nil {
		return err
	}
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, db := range dbs {
		if db == current {
			if err := p.objectsIn(ctx, p.pool, db, in); err != nil {
				return err
			}
			continue
		}
		if err := p.objectsInOther(ctx, db, in); err != nil {
			if p.dropped(ctx, db, err) {
				continue // dropped since it was listed: nothing to report
			}
			var ce connectErr
			if errors.As(err, &ce) {
				return p.connErr(ce.err)
			}
			return p.queryErr("database "+db, err)
		}
	}
	return nil
}

// dropped reports whether db went away while it was being inspected. DROP
// DATABASE … WITH (FORCE) ends the connections to it (SQLSTATE 57P01)
// before its catalog row goes, so after that error the row is given a
// moment to disappear.
func (p *Postgres) dropped(ctx context.Context, db string, err error) bool {
	tries := 1
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "57P01" || pe.Code == "3D000") {
		tries = 20
	}
	for i := range tries {
		var exists bool
		if qerr := p.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); qerr != nil {
			return false
		}
		if !exists {
			return true
		}
		if i+1 < tries {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return false
}

// connectErr marks a failure to connect, as opposed to one of a query.
type connectErr struct{ err error }

func (c connectErr) Error() string { return c.err.Error() }
func (c connectErr) Unwrap() error { return c.err }

// objectsInOther runs objectsIn over a connection of its own to db. Its
// errors are the server's, unwrapped (a failed connection as a
// connectErr), for dropped to read their codes.
func (p *Postgres) objectsInOther(ctx context.Context, db string, in *inspection) error {
	cc := p.pool.Config().ConnConfig.Copy()
	cc.Database = db
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return connectErr{err}
	}
	defer conn.Close(ctx)
	p.mu.Lock()
	p.pids[conn.PgConn().PID()] = true
	p.mu.Unlock()
	return p.objectsIn(ctx, conn, db, in)
}

// userSchema leaves out the catalogs: their objects and grants belong to
// the bootstrap superuser and would bury its inspection, and no role can
// be granted anything there that a superuser did not give.
const userSchema = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'`

const relKind = `CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END`

func (p *Postgres) objectsIn(ctx context.Context, q querier, db string, in *inspection) error {
	rows, err := q.Query(ctx, `
SELECT 'SCHEMA', n.nspname::text, a.privilege_type, a.is_grantable, a.grantee, a.grantor, n.nspowner, coalesce(g.rolname::text, 'PUBLIC')
FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
WHERE a.grantee <> n.nspowner AND (a.grantee = ANY($1::oid[]) OR a.grantor = $2) AND `+userSchema+`
UNION ALL
SELECT `+relKind+`, n.nspname || '.' || c.relname, a.privilege_type, a.is_grantable, a.grantee, a.grantor, c.relowner, coalesce(g.rolname::text, 'PUBLIC')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND a.grantee <> c.relowner AND (a.grantee = ANY($1::oid[]) OR a.grantor = $2) AND `+userSchema+`
ORDER BY 1, 2, 3`, in.oids, in.self.oid)
	if err != nil {
		return err
	}
	acl, err := scanACL(rows)
	if err != nil {
		return err
	}
	for _, a := range acl {
		a.object = db + "." + a.object
		risk := provider.RiskLow
		if a.kind == "SCHEMA" && a.priv == "CREATE" {
			risk = provider.RiskMedium
		}
		in.grant(a, risk)
	}

	rows, err = q.Query(ctx, `
SELECT 'SCHEMA', n.nspname::text, n.nspowner, false FROM pg_namespace n
WHERE n.nspowner = ANY($1::oid[]) AND `+userSchema+`
UNION ALL
SELECT `+relKind+`, n.nspname || '.' || c.relname, c.relowner, false
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relowner = ANY($1::oid[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND `+userSchema+`
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
       n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.proowner, p.prosecdef
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proowner = ANY($1::oid[]) AND `+userSchema+`
ORDER BY 1, 2`, in.oids)
	if err != nil {
		return err
	}
	if err := in.owned(rows, db); err != nil {
		return err
	}

	rows, err = q.Query(ctx, `
SELECT coalesce(n.nspname::text, ''), d.defaclobjtype::text, a.privilege_type, a.is_grantable, coalesce(g.rolname::text, 'PUBLIC')
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
     CROSS JOIN LATERAL aclexplode(d.defaclacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
WHERE d.defaclrole = $1 AND a.grantee <> d.defaclrole
ORDER BY 1, 2, 3, 5`, in.self.oid)
	if err != nil {
		return err
	}
	defer rows.Close()
	objType := map[string]string{"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS", "L": "LARGE OBJECTS"}
	for rows.Next() {
		var schema, typ, priv, grantee string
		var grantable bool
		if err := rows.Scan(&schema, &typ, &priv, &grantable, &grantee); err != nil {
			return err
		}
		where := " IN DATABASE " + db
		if schema != "" {
			where = " IN SCHEMA " + db + "." + schema
		}
		opt := ""
		if grantable {
			opt = " WITH GRANT OPTION"
		}
		on, ok := objType[typ]
		if !ok {
			on = "OBJECTS OF TYPE " + typ
		}
		in.related(RelatedDefaultPrivilege, priv+" ON "+on+where+" TO "+grantee+opt,
			"default privilege set by "+in.self.name+": every object it creates from now on is granted this")
	}
	return rows.Err()
}

// sessions lists the client backends logged in as the identity, except
// our own connections.
func (p *Postgres) sessions(ctx context.Context, in *inspection) error {
	rows, err := p.pool.Query(ctx, sessionsQuery+`
WHERE usesysid = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()
ORDER BY backend_start, pid`, in.self.oid)
	if err != nil {
		return err
	}
	ss, _, err := p.scanSessions(rows)
	in.id.Sessions = append(in.id.Sessions, ss...)
	return err
}

// grantedRoles lists memberships the identity granted to others.
func (p *Postgres) grantedRoles(ctx context.Context, in *inspection) error {
	rows, err := p.pool.Query(ctx, `
SELECT r.rolname::text, m.rolname::text, am.admin_option
FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
WHERE am.grantor = $1 AND am.member <> $1
ORDER BY 1, 2`, in.self.oid)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var granted, member string
		var admin bool
		if err := rows.Scan(&granted, &member, &admin); err != nil {
			return err
		}
		name := granted + " TO " + member
		if admin {
			name += " WITH ADMIN OPTION"
		}
		in.related(RelatedGrantedRole, name, "membership granted by "+in.self.name+": "+member+" keeps it when "+in.self.name+"'s password changes")
	}
	return rows.Err()
}

// createdUsers reports the roles the identity could have created. PostgreSQL
// records no creator; from version 16 a role's creator is given ADMIN OPTION
// on it, so those roles can be listed. Before 16, CREATEROLE lets a role
// create roles and change the password of every non-superuser role, and
// nothing narrows which.
func (p *Postgres) createdUsers(ctx context.Context, in *inspection) error {
	if len(in.creators) == 0 {
		return nil
	}
	how := in.creators[0]
	for _, c := range in.creators {
		if strings.HasPrefix(c, "SUPERUSER") {
			how = c
			break
		}
	}
	if strings.HasPrefix(how, "SUPERUSER") {
		in.related(RelatedCreatedUser, "every role",
			in.self.name+" holds "+how+": it could have created any role, superusers included, and changed any role's password; PostgreSQL does not record who created a role: review every role")
		return nil
	}
	if p.version < 160000 {
		in.related(RelatedCreatedUser, "every non-superuser role",
			in.self.name+" holds "+how+": on PostgreSQL "+strconv.Itoa(p.version/10000)+
				" it could have created any role and changed the password of any non-superuser role, and PostgreSQL does not record who created a role: review every role")
		return nil
	}
	rows, err := p.pool.Query(ctx, `
SELECT DISTINCT r.rolname::text FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid
WHERE am.member = $1 AND am.admin_option ORDER BY 1`, in.self.oid)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		in.related(RelatedCreatedUser, n, in.self.name+" holds "+how+" and ADMIN OPTION on "+n+
			" (PostgreSQL gives a role's creator that option): it may have created it and can change its password")
	}
	return nil
}

func sortIdentity(id *provider.Identity) {
	sort.SliceStable(id.Privileges, func(a, b int) bool {
		pa, pb := id.Privileges[a], id.Privileges[b]
		if ra, rb := pa.Risk.Rank(), pb.Risk.Rank(); ra != rb {
			return ra < rb
		}
		if pa.Name != pb.Name {
			return pa.Name < pb.Name
		}
		return pa.Via < pb.Via
	})
	sort.SliceStable(id.Related, func(a, b int) bool {
		ra, rb := id.Related[a], id.Related[b]
		if ra.Kind != rb.Kind {
			return ra.Kind < rb.Kind
		}
		return ra.Name < rb.Name
	})
}
