package mysql

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/errs"
)

// This file reads an account's grants as SHOW GRANTS prints them, turns
// them into single grants that can be compared, filtered by the names
// Inspect gives privileges, and re-applied to another account (Issue) or
// to the same one (DropPrivileges). SHOW GRANTS is the server's own
// rendering of its grant tables as statements it accepts back, so copying
// it misses nothing the tables hold that a GRANT can give (column and
// routine grants, roles, proxies, REQUIRE and resource limits on MariaDB).

// grantKind says what a grant gives.
type grantKind int

const (
	gPriv        grantKind = iota // a privilege on an object (a column's, with column)
	gRole                         // a role, option = WITH ADMIN OPTION
	gProxy                        // PROXY ON target, option = WITH GRANT OPTION
	gDefaultRole                  // MariaDB's SET DEFAULT ROLE target
)

// object is what a privilege is on: *.*, db.*, db.table, or a routine.
type object struct {
	typ      string // "", "PROCEDURE", "FUNCTION", "PACKAGE", "PACKAGE BODY"
	db, name string // "*" for the wildcard
}

// String is the object as Inspect names it ("*.*", "shop.*", "shop.orders",
// "PROCEDURE shop.refund").
func (o object) String() string {
	s := o.db + "." + o.name
	if o.typ != "" {
		s = o.typ + " " + s
	}
	return s
}

func (o object) sql() string {
	part := func(s string) string {
		if s == "*" {
			return s
		}
		return quoteIdent(s)
	}
	s := part(o.db) + "." + part(o.name)
	if o.typ != "" {
		s = o.typ + " " + s
	}
	return s
}

type level int

const (
	levelGlobal level = iota
	levelDB
	levelTable
	levelRoutine
)

func (o object) level() level {
	switch {
	case o.typ != "":
		return levelRoutine
	case o.db == "*":
		return levelGlobal
	case o.name == "*":
		return levelDB
	}
	return levelTable
}

// grant is one thing SHOW GRANTS gives an account.
type grant struct {
	kind   grantKind
	priv   string // gPriv: upper case, "SELECT", "ALL PRIVILEGES", "GRANT OPTION"
	column string // gPriv: a column privilege's column
	obj    object // gPriv
	target acct   // gRole, gDefaultRole: the role; gProxy: the proxied account
	option bool   // gRole: WITH ADMIN OPTION; gProxy: WITH GRANT OPTION
}

// key identifies a grant regardless of option.
func (g grant) key() string {
	switch g.kind {
	case gPriv:
		return "P\x00" + g.obj.sql() + "\x00" + g.priv + "\x00" + g.column
	case gRole:
		return "R\x00" + g.target.user + "\x00" + g.target.host
	case gProxy:
		return "X\x00" + g.target.user + "\x00" + g.target.host
	}
	return "D"
}

// name is the grant as Inspect names the privilege it gives.
func (g grant) name() string {
	switch g.kind {
	case gPriv:
		n := g.priv
		if g.column != "" {
			n += " (" + g.column + ")"
		}
		return n + " ON " + g.obj.String()
	case gRole:
		n := "ROLE " + g.target.String()
		if g.option {
			n += " WITH ADMIN OPTION"
		}
		return n
	case gProxy:
		n := "PROXY ON " + g.target.quoted()
		if g.option {
			n += " WITH GRANT OPTION"
		}
		return n
	}
	return "DEFAULT ROLE " + g.target.String()
}

// grantSet is an account's grants and, on MariaDB, the account options
// SHOW GRANTS prints with them.
type grantSet struct {
	items []grant
	// require is the REQUIRE clause after the keyword ("SSL", "X509",
	// "SUBJECT '…'"), "" for none; limits the resource limits by name.
	require string
	limits  map[string]string
}

// add merges g into the set: a grant already there keeps the wider option.
func (s *grantSet) add(g grant) {
	for i := range s.items {
		if s.items[i].key() == g.key() {
			s.items[i].option = s.items[i].option || g.option
			return
		}
	}
	s.items = append(s.items, g)
}

func (s *grantSet) defaultRole() *acct {
	for _, g := range s.items {
		if g.kind == gDefaultRole {
			t := g.target
			return &t
		}
	}
	return nil
}

// errNoGrants is SHOW GRANTS for an account or role that does not exist.
var errNoGrants = errors.New("no such account")

const erNonexistingGrant = 1141

// showGrants reads and parses SHOW GRANTS FOR a. Its errors never quote a
// line: the global one holds the stored password hash.
func (p *MySQL) showGrants(ctx context.Context, a acct) (*grantSet, error) {
	rows, err := p.db.QueryContext(ctx, "SHOW GRANTS FOR "+sqlAcct(a))
	if err != nil {
		var me *mysqldrv.MySQLError
		if errors.As(err, &me) && me.Number == erNonexistingGrant {
			return nil, errNoGrants
		}
		return nil, err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	gs, err := parseGrants(lines)
	if err != nil {
		return nil, errs.New(p.op, errs.Other, "", "read the grants of "+a.String()+": "+err.Error())
	}
	return gs, nil
}

// parseGrants reads SHOW GRANTS lines. Errors name the line's number and
// what was expected, never its text.
func parseGrants(lines []string) (*grantSet, error) {
	gs := &grantSet{}
	for i, l := range lines {
		toks, err := tokenize(l)
		if err == nil {
			err = parseLine(toks, gs)
		}
		if err != nil {
			return nil, errors.New("SHOW GRANTS line " + strconv.Itoa(i+1) + ": " + err.Error())
		}
	}
	return gs, nil
}

type tokKind int

const (
	tWord   tokKind = iota // keyword, number or bare identifier
	tIdent                 // `quoted identifier`
	tString                // 'string' (or "string")
	tPunct                 // one of , ( ) . * @ =
)

type token struct {
	kind tokKind
	text string // unquoted value; a word as written
	raw  string // as it appears in the line
}

func (t token) is(word string) bool { return t.kind == tWord && strings.EqualFold(t.text, word) }

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '`' || c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				if s[j] == '\\' && c != '`' && j+1 < len(s) {
					b.WriteByte(unescape(s[j+1]))
					j += 2
					continue
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				return nil, errors.New("unterminated quote")
			}
			k := tString
			if c == '`' {
				k = tIdent
			}
			out = append(out, token{kind: k, text: b.String(), raw: s[i:j]})
			i = j
		case strings.IndexByte(",().*@=", c) >= 0:
			out = append(out, token{kind: tPunct, text: s[i : i+1], raw: s[i : i+1]})
			i++
		default:
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			if j == i {
				return nil, errors.New("unexpected character " + strconv.QuoteRune(rune(c)))
			}
			out = append(out, token{kind: tWord, text: s[i:j], raw: s[i:j]})
			i = j
		}
	}
	return out, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case '0':
		return 0
	}
	return c
}

// parser walks one line's tokens.
type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() (token, bool) {
	if p.i >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.i], true
}

func (p *parser) next() (token, bool) {
	t, ok := p.peek()
	if ok {
		p.i++
	}
	return t, ok
}

func (p *parser) accept(word string) bool {
	if t, ok := p.peek(); ok && t.is(word) {
		p.i++
		return true
	}
	return false
}

func (p *parser) punct(c string) bool {
	if t, ok := p.peek(); ok && t.kind == tPunct && t.text == c {
		p.i++
		return true
	}
	return false
}

// name reads an identifier: quoted, a string, or a bare word.
func (p *parser) name() (string, error) {
	t, ok := p.next()
	if !ok || t.kind == tPunct {
		return "", errors.New("expected a name")
	}
	return t.text, nil
}

// account reads user[@host]; a bare name is a MariaDB role (host "").
func (p *parser) account() (acct, error) {
	u, err := p.name()
	if err != nil {
		return acct{}, err
	}
	a := acct{user: u}
	if p.punct("@") {
		h, err := p.name()
		if err != nil {
			return acct{}, err
		}
		a.host = strings.ToLower(h)
	}
	return a, nil
}

func parseLine(toks []token, gs *grantSet) error {
	p := &parser{toks: toks}
	switch {
	case p.accept("GRANT"):
		return p.grant(gs)
	case p.accept("SET"):
		if !p.accept("DEFAULT") || !p.accept("ROLE") {
			return errors.New("expected SET DEFAULT ROLE")
		}
		if p.accept("NONE") {
			return nil
		}
		r, err := p.account()
		if err != nil {
			return err
		}
		gs.add(grant{kind: gDefaultRole, target: r})
		return nil
	}
	return errors.New("expected GRANT or SET DEFAULT ROLE")
}

// grant reads the rest of a GRANT line.
func (p *parser) grant(gs *grantSet) error {
	// The part before TO: a privilege list ON an object, or roles.
	start := p.i
	on, to := -1, -1
	for j := p.i; j < len(p.toks); j++ {
		if p.toks[j].is("ON") && on < 0 {
			on = j
		}
		if p.toks[j].is("TO") {
			to = j
			break
		}
	}
	if to < 0 {
		return errors.New("no TO")
	}
	var items []grant
	if on >= 0 {
		privs, err := parsePrivs(p.toks[start:on])
		if err != nil {
			return err
		}
		p.i = on + 1
		if len(privs) == 1 && privs[0].priv == "PROXY" {
			target, err := p.account()
			if err != nil {
				return err
			}
			items = append(items, grant{kind: gProxy, target: target})
		} else {
			obj, err := p.object()
			if err != nil {
				return err
			}
			for _, g := range privs {
				if g.priv == "USAGE" {
					continue
				}
				g.obj = obj
				items = append(items, g)
			}
		}
	} else {
		for p.i < to {
			r, err := p.account()
			if err != nil {
				return err
			}
			items = append(items, grant{kind: gRole, target: r})
			if !p.punct(",") {
				break
			}
		}
	}
	if p.i != to {
		return errors.New("unexpected tokens before TO")
	}
	p.i = to + 1
	if _, err := p.account(); err != nil {
		return err
	}
	withGrant, withAdmin := false, false
	for {
		t, ok := p.next()
		if !ok {
			break
		}
		switch {
		case t.is("IDENTIFIED"):
			// The stored hash or plugin: skipped, never kept.
			for {
				n, ok := p.peek()
				if !ok || n.is("REQUIRE") || n.is("WITH") {
					break
				}
				p.i++
			}
		case t.is("REQUIRE"):
			var parts []string
			for {
				n, ok := p.peek()
				if !ok || n.is("WITH") {
					break
				}
				parts = append(parts, n.raw)
				p.i++
			}
			if r := strings.Join(parts, " "); !strings.EqualFold(r, "NONE") {
				gs.require = r
			}
		case t.is("WITH"):
			for {
				n, ok := p.next()
				if !ok {
					break
				}
				switch {
				case n.is("GRANT") && p.accept("OPTION"):
					withGrant = true
				case n.is("ADMIN") && p.accept("OPTION"):
					withAdmin = true
				case n.kind == tWord && strings.HasPrefix(strings.ToUpper(n.text), "MAX_"):
					v, ok := p.next()
					if !ok || v.kind != tWord {
						return errors.New("expected a value after " + strings.ToUpper(n.text))
					}
					val := v.text
					if p.punct(".") { // MAX_STATEMENT_TIME 1.500000
						f, ok := p.next()
						if !ok || f.kind != tWord {
							return errors.New("expected a number")
						}
						val += "." + f.text
					}
					if gs.limits == nil {
						gs.limits = map[string]string{}
					}
					gs.limits[strings.ToUpper(n.text)] = val
				default:
					return errors.New("unexpected word after WITH")
				}
			}
		default:
			return errors.New("unexpected tokens after the grantee")
		}
	}
	var objGrant *grant
	for i := range items {
		switch items[i].kind {
		case gRole:
			items[i].option = withAdmin
		case gProxy:
			items[i].option = withGrant
		case gPriv:
			if withGrant && objGrant == nil {
				objGrant = &grant{kind: gPriv, priv: "GRANT OPTION", obj: items[i].obj}
			}
		}
	}
	if withGrant && on >= 0 && len(items) == 0 {
		// GRANT USAGE ON db.* … WITH GRANT OPTION: the option alone.
		obj, err := (&parser{toks: p.toks, i: on + 1}).object()
		if err != nil {
			return err
		}
		objGrant = &grant{kind: gPriv, priv: "GRANT OPTION", obj: obj}
	}
	for _, g := range items {
		gs.add(g)
	}
	if objGrant != nil {
		gs.add(*objGrant)
	}
	return nil
}

// parsePrivs reads "SELECT, INSERT (`a`, `b`), ALL PRIVILEGES": one grant
// per privilege, and per column for a column privilege.
func parsePrivs(toks []token) ([]grant, error) {
	var out []grant
	p := &parser{toks: toks}
	for p.i < len(toks) {
		var words []string
		for {
			t, ok := p.peek()
			if !ok || t.kind != tWord {
				break
			}
			words = append(words, strings.ToUpper(t.text))
			p.i++
		}
		if len(words) == 0 {
			return nil, errors.New("expected a privilege")
		}
		priv := strings.Join(words, " ")
		if priv == "ALL" {
			priv = "ALL PRIVILEGES"
		}
		if p.punct("(") {
			for {
				c, err := p.name()
				if err != nil {
					return nil, err
				}
				out = append(out, grant{kind: gPriv, priv: priv, column: c})
				if p.punct(")") {
					break
				}
				if !p.punct(",") {
					return nil, errors.New("expected , or ) in a column list")
				}
			}
		} else {
			out = append(out, grant{kind: gPriv, priv: priv})
		}
		if p.i < len(toks) && !p.punct(",") {
			return nil, errors.New("expected , between privileges")
		}
	}
	return out, nil
}

// object reads [PROCEDURE|FUNCTION|PACKAGE [BODY]] db.name, either part
// possibly *.
func (p *parser) object() (object, error) {
	var o object
	switch {
	case p.accept("PROCEDURE"):
		o.typ = "PROCEDURE"
	case p.accept("FUNCTION"):
		o.typ = "FUNCTION"
	case p.accept("PACKAGE"):
		o.typ = "PACKAGE"
		if p.accept("BODY") {
			o.typ = "PACKAGE BODY"
		}
	}
	part := func() (string, error) {
		if p.punct("*") {
			return "*", nil
		}
		return p.name()
	}
	db, err := part()
	if err != nil {
		return o, err
	}
	if !p.punct(".") {
		return o, errors.New("expected db.name after ON")
	}
	name, err := part()
	if err != nil {
		return o, err
	}
	o.db, o.name = db, name
	return o, nil
}

// levelPrivs lists what ALL PRIVILEGES means on o's level, so that ALL
// can be split when one of its parts is dropped.
func levelPrivs(o object, f flavor) []string {
	switch o.level() {
	case levelGlobal:
		if f.mariadb {
			var names []string
			for bit, b := range mariaBits {
				if bit == grantBit || !f.atLeast(b.since[0], b.since[1], b.since[2]) {
					continue
				}
				name := b.name
				if bit == 20 && !f.atLeast(10, 5, 2) {
					name = "REPLICATION CLIENT"
				}
				names = append(names, name)
			}
			return names
		}
		names := []string{"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "RELOAD", "SHUTDOWN", "PROCESS",
			"FILE", "REFERENCES", "INDEX", "ALTER", "SHOW DATABASES", "SUPER", "CREATE TEMPORARY TABLES", "LOCK TABLES",
			"EXECUTE", "REPLICATION SLAVE", "REPLICATION CLIENT", "CREATE VIEW", "SHOW VIEW", "CREATE ROUTINE",
			"ALTER ROUTINE", "CREATE USER", "EVENT", "TRIGGER", "CREATE TABLESPACE"}
		if f.atLeast(8, 0, 0) {
			names = append(names, "CREATE ROLE", "DROP ROLE")
		}
		return names
	case levelDB:
		names := []string{"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
			"CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "CREATE VIEW", "SHOW VIEW", "CREATE ROUTINE",
			"ALTER ROUTINE", "EVENT", "TRIGGER"}
		if f.mariadb && f.atLeast(10, 3, 4) {
			names = append(names, "DELETE HISTORY")
		}
		return names
	case levelTable:
		names := []string{"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
			"CREATE VIEW", "SHOW VIEW", "TRIGGER"}
		if f.mariadb && f.atLeast(10, 3, 4) {
			names = append(names, "DELETE HISTORY")
		}
		return names
	}
	return []string{"EXECUTE", "ALTER ROUTINE"}
}

// dropSet is the privileges a replacement must not get, by the names
// Inspect gives them; it remembers which of them it found.
type dropSet struct {
	names []string        // as given, in order
	want  map[string]bool // normalised
	hit   map[string]bool // normalised names that matched a grant
}

func newDropSet(names []string) *dropSet {
	d := &dropSet{want: map[string]bool{}, hit: map[string]bool{}}
	for _, n := range names {
		if k := normPriv(n); k != "" && !d.want[k] {
			d.want[k] = true
			d.names = append(d.names, n)
		}
	}
	return d
}

// child is a set with the same names and its own record of hits.
func (d *dropSet) child() *dropSet {
	return &dropSet{names: d.names, want: d.want, hit: map[string]bool{}}
}

func (d *dropSet) merge(c *dropSet) {
	for k := range c.hit {
		d.hit[k] = true
	}
}

// normPriv folds case and spacing: "grant option  on *.*" matches.
func normPriv(s string) string { return strings.ToUpper(strings.Join(strings.Fields(s), " ")) }

func (d *dropSet) has(name string) bool {
	k := normPriv(name)
	if d.want[k] {
		d.hit[k] = true
		return true
	}
	return false
}

// hits lists the given names that matched, in the order given.
func (d *dropSet) hits() []string {
	out := []string{}
	for _, n := range d.names {
		if d.hit[normPriv(n)] {
			out = append(out, n)
		}
	}
	return out
}

// filter returns items minus what d names. ALL PRIVILEGES on an object
// one of whose parts is dropped becomes the other parts. A role's ADMIN
// OPTION is dropped alone (the membership stays); a proxy is dropped
// whole. Roles are kept here: wanted decides whether they hold a dropped
// privilege.
func (d *dropSet) filter(items []grant, f flavor) []grant {
	var out []grant
	hasGrantOpt := func(o object) bool {
		for _, g := range items {
			if g.kind == gPriv && g.priv == "GRANT OPTION" && g.obj == o {
				return true
			}
		}
		return false
	}
	for _, g := range items {
		switch g.kind {
		case gPriv:
			if d.has(g.name()) {
				continue
			}
			on := " ON " + g.obj.String()
			if g.column == "" && (g.priv == "ALL PRIVILEGES" || g.priv == "GRANT OPTION") && hasGrantOpt(g.obj) &&
				d.has("ALL PRIVILEGES"+on+" WITH GRANT OPTION") {
				continue
			}
			if g.column == "" && g.obj.level() == levelGlobal && d.has(g.priv+on+" WITH GRANT OPTION") {
				continue // MySQL 8's dynamic privileges carry their own grant option
			}
			if g.priv == "ALL PRIVILEGES" && g.column == "" {
				parts := levelPrivs(g.obj, f)
				var keep []string
				for _, n := range parts {
					if !d.has(n + on) {
						keep = append(keep, n)
					}
				}
				if len(keep) < len(parts) {
					for _, n := range keep {
						out = append(out, grant{kind: gPriv, priv: n, obj: g.obj})
					}
					continue
				}
			}
			out = append(out, g)
		case gRole:
			if g.option && d.has(g.name()) {
				g.option = false
			}
			if d.has("ROLE " + g.target.String()) {
				continue
			}
			out = append(out, g)
		case gProxy:
			if d.has(g.name()) || d.has("PROXY ON "+g.target.quoted()) {
				continue
			}
			out = append(out, g)
		default:
			out = append(out, g)
		}
	}
	return out
}

// maxRoleDepth bounds how deep wanted follows roles granted to roles.
const maxRoleDepth = 16

// wanted is gs (the grants of an account or role) minus d: privileges d
// names are removed, and a role that holds one of them, itself or through
// its own roles, is not granted; its other grants are copied instead
// (recursively), so nothing d names comes back through a role, and
// nothing else is lost. A default role so replaced is no longer default.
func (p *MySQL) wanted(ctx context.Context, gs *grantSet, d *dropSet, depth int) (*grantSet, error) {
	out := &grantSet{require: gs.require, limits: gs.limits}
	flattened := map[acct]bool{}
	for _, g := range d.filter(gs.items, p.flavor) {
		if g.kind != gRole || len(d.want) == 0 {
			out.add(g)
			continue
		}
		if depth >= maxRoleDepth {
			return nil, errors.New("roles are granted to roles more than " + strconv.Itoa(maxRoleDepth) + " deep")
		}
		rgs, err := p.showGrants(ctx, g.target)
		if errors.Is(err, errNoGrants) {
			continue // dropped meanwhile: nothing to give
		}
		if err != nil {
			return nil, err
		}
		c := d.child()
		sub, err := p.wanted(ctx, rgs, c, depth+1)
		if err != nil {
			return nil, err
		}
		if len(c.hit) == 0 {
			out.add(g)
			continue
		}
		d.merge(c)
		flattened[g.target] = true
		for _, sg := range sub.items {
			if sg.kind != gDefaultRole {
				out.add(sg)
			}
		}
	}
	if dr := out.defaultRole(); dr != nil && flattened[*dr] {
		items := out.items[:0]
		for _, g := range out.items {
			if g.kind != gDefaultRole {
				items = append(items, g)
			}
		}
		out.items = items
	}
	return out, nil
}

// planGrants lists the statements that give to (whose grants are cur)
// exactly want: what is missing is granted first and what is extra
// revoked after, so a privilege in both is never briefly missing. ALL
// PRIVILEGES on one side only is compared part by part.
func planGrants(f flavor, to acct, cur, want []grant) []string {
	who := sqlAcct(to)
	type privs struct {
		obj       object
		cur, want map[string]bool // priv + "\x00" + column
	}
	byObj := map[string]*privs{}
	var objOrder []string
	slot := func(o object) *privs {
		k := o.sql()
		if byObj[k] == nil {
			byObj[k] = &privs{obj: o, cur: map[string]bool{}, want: map[string]bool{}}
			objOrder = append(objOrder, k)
		}
		return byObj[k]
	}
	other := func(gs []grant, kind grantKind) map[string]grant {
		m := map[string]grant{}
		for _, g := range gs {
			if g.kind == kind {
				m[g.key()] = g
			}
		}
		return m
	}
	for _, g := range cur {
		if g.kind == gPriv {
			slot(g.obj).cur[g.priv+"\x00"+g.column] = true
		}
	}
	for _, g := range want {
		if g.kind == gPriv {
			slot(g.obj).want[g.priv+"\x00"+g.column] = true
		}
	}
	const all = "ALL PRIVILEGES\x00"
	somePriv := func(m map[string]bool) bool {
		for k := range m {
			if k != all && k != "GRANT OPTION\x00" && strings.HasSuffix(k, "\x00") {
				return true
			}
		}
		return false
	}
	for _, s := range byObj {
		if s.cur[all] == s.want[all] {
			continue
		}
		side, other := s.cur, s.want
		if s.want[all] {
			side, other = s.want, s.cur
		}
		if !somePriv(other) {
			continue // ALL against nothing: granted or revoked whole
		}
		delete(side, all)
		for _, n := range levelPrivs(s.obj, f) {
			side[n+"\x00"] = true
		}
	}
	var grants, revokes []string
	roleCur, roleWant := other(cur, gRole), other(want, gRole)
	proxyCur, proxyWant := other(cur, gProxy), other(want, gProxy)
	for _, k := range sortedKeys(roleWant) {
		g := roleWant[k]
		c, ok := roleCur[k]
		switch {
		case !ok || g.option && !c.option:
			s := "GRANT " + sqlAcct(g.target) + " TO " + who
			if g.option {
				s += " WITH ADMIN OPTION"
			}
			grants = append(grants, s)
		case c.option && !g.option:
			revokes = append(revokes, "REVOKE ADMIN OPTION FOR "+sqlAcct(g.target)+" FROM "+who)
		}
	}
	for _, k := range sortedKeys(roleCur) {
		if _, ok := roleWant[k]; !ok {
			revokes = append(revokes, "REVOKE "+sqlAcct(roleCur[k].target)+" FROM "+who)
		}
	}
	for _, k := range sortedKeys(proxyWant) {
		g := proxyWant[k]
		c, ok := proxyCur[k]
		if ok && c.option == g.option {
			continue
		}
		if ok {
			grants = append(grants, "REVOKE PROXY ON "+sqlProxy(g.target)+" FROM "+who)
		}
		s := "GRANT PROXY ON " + sqlProxy(g.target) + " TO " + who
		if g.option {
			s += " WITH GRANT OPTION"
		}
		grants = append(grants, s)
	}
	for _, k := range sortedKeys(proxyCur) {
		if _, ok := proxyWant[k]; !ok {
			revokes = append(revokes, "REVOKE PROXY ON "+sqlProxy(proxyCur[k].target)+" FROM "+who)
		}
	}
	sort.Strings(objOrder)
	for _, k := range objOrder {
		s := byObj[k]
		add, gopt := privList(s.want, s.cur)
		if len(add) > 0 || gopt {
			if len(add) == 0 {
				add = []string{"USAGE"}
			}
			st := "GRANT " + strings.Join(add, ", ") + " ON " + s.obj.sql() + " TO " + who
			if gopt {
				st += " WITH GRANT OPTION"
			}
			grants = append(grants, st)
		}
		del, gdel := privList(s.cur, s.want)
		if gdel {
			del = append(del, "GRANT OPTION")
		}
		if len(del) > 0 {
			revokes = append(revokes, "REVOKE "+strings.Join(del, ", ")+" ON "+s.obj.sql()+" FROM "+who)
		}
	}
	var dflt []string
	var dc, dw *acct
	for _, g := range cur {
		if g.kind == gDefaultRole {
			t := g.target
			dc = &t
		}
	}
	for _, g := range want {
		if g.kind == gDefaultRole {
			t := g.target
			dw = &t
		}
	}
	switch {
	case dw != nil && (dc == nil || *dc != *dw):
		dflt = append(dflt, "SET DEFAULT ROLE "+sqlAcct(*dw)+" FOR "+who)
	case dw == nil && dc != nil:
		dflt = append(dflt, "SET DEFAULT ROLE NONE FOR "+who)
	}
	return append(append(grants, dflt...), revokes...)
}

// privList lists the privileges in a but not in b as a GRANT or REVOKE
// writes them ("SELECT", "INSERT (`a`, `b`)"), and whether GRANT OPTION is
// among them.
func privList(a, b map[string]bool) (list []string, grantOpt bool) {
	cols := map[string][]string{}
	var order []string
	for _, k := range sortedKeys(a) {
		if b[k] {
			continue
		}
		priv, col, _ := strings.Cut(k, "\x00")
		if priv == "GRANT OPTION" && col == "" {
			grantOpt = true
			continue
		}
		if _, seen := cols[priv]; !seen {
			order = append(order, priv)
			cols[priv] = nil
		}
		if col != "" {
			cols[priv] = append(cols[priv], quoteIdent(col))
		}
	}
	for _, priv := range order {
		if _, whole := a[priv+"\x00"]; whole && !b[priv+"\x00"] {
			list = append(list, priv)
		}
		if c := cols[priv]; len(c) > 0 {
			list = append(list, priv+" ("+strings.Join(c, ", ")+")")
		}
	}
	return list, grantOpt
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// quoteIdent quotes an identifier with backticks, which no sql_mode
// changes the meaning of (unlike a string's backslashes).
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// sqlAcct writes an account (or a MariaDB role, host "") for a statement.
func sqlAcct(a acct) string {
	if a.host == "" {
		return quoteIdent(a.user)
	}
	return quoteIdent(a.user) + "@" + quoteIdent(a.host)
}

// sqlProxy writes a proxied account, whose user may be empty (any user): an
// empty backtick identifier is not valid.
func sqlProxy(a acct) string {
	part := func(s string) string {
		if s == "" {
			return "''"
		}
		return quoteIdent(s)
	}
	return part(a.user) + "@" + part(a.host)
}
