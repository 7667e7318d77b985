package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Rotation works on ACL users with ACL SETUSER, DELUSER and CLIENT KILL,
// each change one command, which Redis 7 applies whole or not at all.
//
// Passwords are sent as their SHA-256 ("#<hex>" to add, "!<hex>" to
// remove), never in clear: the server stores only that hash anyway, and
// the clear value then reaches the server only in Verify's AUTH, which
// Redis redacts in MONITOR and SLOWLOG. (Redis 7 also keeps ACL commands
// out of MONITOR and redacts ACL SETUSER's arguments in SLOWLOG; the hash
// does not rely on either.)
//
// Persistence: after every change the provider runs ACL SAVE. On a server
// with an aclfile that writes the change to it; on one without, Redis
// answers that it has no ACL file and the change lives in memory only, as
// every ACL SETUSER does there: users defined in redis.conf come back as
// they were on restart unless the operator runs CONFIG REWRITE, which
// rewrites their whole configuration file and is their call, not rekey's.
// An ACL SAVE refused or failed is an error, since a restart would bring
// back a revoked password.
//
// ACL users are per server: replicas and cluster nodes do not share them,
// so each node is a system of its own in the inventory.
//
// Redis has no expiry for users (Credential.Enforced is always false):
// rekey's lease revokes the login at its end, and Renew returns
// provider.ErrUnsupported.

var (
	_ provider.Rotator           = (*Redis)(nil)
	_ provider.SessionTerminator = (*Redis)(nil)
	_ provider.Isolator          = (*Redis)(nil)
	_ provider.DualCredential    = (*Redis)(nil)
	_ provider.PrivilegeCopier   = (*Redis)(nil)
)

// CopiesPrivileges: Issue copies From's ACL rules onto the new login, so Drop
// leaves From as it is (provider.PrivilegeCopier).
func (p *Redis) CopiesPrivileges() bool { return true }

// What the administrator needs for each change, named in NOPERM errors.
const (
	needRead    = "+acl|getuser (or +@admin) to read the user's rules"
	needSetUser = "+acl|setuser (or +@admin) to change users"
	needDelUser = "+acl|deluser (or +@admin) to delete users"
	needKill    = "+client|kill (or +@admin) to end connections"
	needList    = "+client|list (or +@admin) to list connections"
)

// Issue creates the ACL user req.Name with req.From's rules (its root
// permissions and selectors, key and channel patterns included) minus
// req.Drop, on, with req.Secret as its only password. It reads From with
// ACL GETUSER and writes the user with one ACL SETUSER that starts with
// "reset", so that a retry converges on the same user whatever the first
// attempt left. A user already named req.Name is taken to be one an
// earlier attempt made: Redis records no creator to tell.
//
// Drop names privileges as Inspect does. A command or key rule named is
// removed (later rules still apply, so "+@all -@dangerous +acl|setuser"
// without "+acl|setuser" is "+@all -@dangerous"). A broad rule named
// (+@all or a category other than @admin and @dangerous) keeps the
// ordinary commands its consumers use and loses the dangerous ones: it
// becomes "+@all -@admin -@dangerous" in place, before the rules that
// follow it. "+@admin" and "+@dangerous" are removed whole.
//
// With req.Name equal to req.From.Name the user is From itself: its
// passwords are replaced by req.Secret (resetpass then the new hash, in
// one command), it is turned on, and the privileges Drop names are
// removed as DropPrivileges would. For a rotation in place where both
// passwords must work for a while, use AddSecret and RemoveSecret.
//
// req.ExpiresAt is returned as asked but not enforced (see above). A
// missing From is errs.NotFound and creates nothing.
func (p *Redis) Issue(ctx context.Context, req provider.IssueRequest) (*provider.Credential, error) {
	c, err := p.issue(ctx, req)
	return c, p.san.Scrub(err, string(req.Secret.Reveal()), passwordHash(req.Secret))
}

func (p *Redis) issue(ctx context.Context, req provider.IssueRequest) (*provider.Credential, error) {
	what := "issue " + req.Name + " from " + req.From.Name
	switch {
	case req.Name == "" || req.From.Name == "":
		return nil, errs.New(p.op, errs.Invalid, "", what+": a user name is empty")
	case req.Secret.IsZero():
		return nil, errs.New(p.op, errs.Invalid, "", what+": empty secret")
	case req.Name != req.From.Name && req.Name == "default":
		return nil, errs.New(p.op, errs.Invalid, "", what+": the default user is not one rekey creates; rotate it in place")
	}
	if err := p.notAdmin(what, req.Name); err != nil {
		return nil, err
	}
	acc, err := p.getUser(ctx, what, req.From.Name)
	if err != nil {
		return nil, err
	}
	if acc == nil {
		return nil, errs.New(p.op, errs.NotFound, "", what+": there is no user "+req.From.Name)
	}
	if _, err := p.change(ctx, what, needSetUser, "", issueCommand(acc, req, passwordHash(req.Secret))); err != nil {
		return nil, err
	}
	return &provider.Credential{
		Ref:       provider.IdentityRef{System: p.system, Name: req.Name},
		Secret:    req.Secret,
		ExpiresAt: req.ExpiresAt,
	}, nil
}

// Verify opens a connection of its own and runs AUTH with c, then PING.
// A refused AUTH (a wrong password, a user that is off or missing: Redis
// does not say which) is errs.Permission. A PING the user may not run
// (NOPERM) still proves the credential: the user is logged in.
func (p *Redis) Verify(ctx context.Context, c provider.Credential) error {
	return p.san.Scrub(p.verify(ctx, c), string(c.Secret.Reveal()))
}

func (p *Redis) verify(ctx context.Context, c provider.Credential) error {
	what := "verify " + c.Ref.Name
	if c.Ref.Name == "" || c.Secret.IsZero() {
		return errs.New(p.op, errs.Invalid, "", what+": a user name or the secret is empty")
	}
	cn, err := p.connect(ctx)
	if err != nil {
		return err
	}
	defer cn.close()
	vs, err := cn.roundTrip(ctx, [][]string{{"AUTH", c.Ref.Name, string(c.Secret.Reveal())}, {"PING"}})
	if err != nil {
		return p.ioErr(what, err)
	}
	if se, ok := vs[0].err().(*serverError); ok {
		if se.code() == "WRONGPASS" {
			return errs.New(p.op, errs.Permission, "", what+": the server refused the credential (a wrong password, or a user that is off or does not exist)")
		}
		return p.replyErr(what, "", se)
	}
	if se, ok := vs[1].err().(*serverError); ok && se.code() != "NOPERM" {
		return p.replyErr(what, "", se)
	}
	return nil
}

// Revoke makes every password of the user stop working: ACL SETUSER
// resetpass off, which also undoes nopass. Connections already open stay
// (TerminateSessions ends them), as do its rules. A missing user is not
// created (it is read first; one deleted in between would come back as an
// off user without passwords, which lets no one in). A user already off
// without passwords is left alone. The administrator the provider
// connects as is refused: revoking it would lock rekey out.
func (p *Redis) Revoke(ctx context.Context, id provider.IdentityRef) error {
	return p.san.Scrub(p.revoke(ctx, id))
}

func (p *Redis) revoke(ctx context.Context, id provider.IdentityRef) error {
	what := "revoke " + id.Name
	if err := p.notAdmin(what, id.Name); err != nil {
		return err
	}
	acc, err := p.getUser(ctx, what, id.Name)
	if err != nil || acc == nil {
		return err
	}
	if u := acc.u; !u.On && !u.NoPass && len(u.Passwords) == 0 {
		return nil
	}
	_, err = p.change(ctx, what, needSetUser, "", []string{"ACL", "SETUSER", id.Name, "resetpass", "off"})
	return err
}

// Drop deletes the user with ACL DELUSER, which also closes its
// connections. A missing user is not an error; the default user and the
// administrator the provider connects as are refused.
func (p *Redis) Drop(ctx context.Context, id provider.IdentityRef) error {
	return p.san.Scrub(p.drop(ctx, id))
}

func (p *Redis) drop(ctx context.Context, id provider.IdentityRef) error {
	what := "drop " + id.Name
	if err := p.notAdmin(what, id.Name); err != nil {
		return err
	}
	if id.Name == "default" {
		return errs.New(p.op, errs.Invalid, "", what+": Redis cannot delete the default user; revoke it instead")
	}
	_, err := p.change(ctx, what, needDelUser, "", []string{"ACL", "DELUSER", id.Name})
	return err
}

// Renew returns provider.ErrUnsupported (kind errs.Unsupported): Redis
// users have no expiry, so there is nothing on the server to move; the
// lease rekey keeps is the expiry.
func (p *Redis) Renew(_ context.Context, id provider.IdentityRef, _ time.Time) error {
	return errs.E(p.op, errs.Unsupported, "", fmt.Errorf("renew %s: Redis users have no expiry, rekey revokes the login when its lease ends: %w", id.Name, provider.ErrUnsupported))
}

// TerminateSessions closes the user's connections. With keep nil it is
// one CLIENT KILL USER; with keep it reads CLIENT LIST (as Inspect does,
// leaving out the provider's own connections) and closes each connection
// keep refuses with CLIENT KILL ID. A connection that closed meanwhile
// counts for nothing; a missing user has none.
func (p *Redis) TerminateSessions(ctx context.Context, id provider.IdentityRef, keep func(provider.Session) bool) (int, error) {
	n, err := p.terminate(ctx, id, keep)
	return n, p.san.Scrub(err)
}

func (p *Redis) terminate(ctx context.Context, id provider.IdentityRef, keep func(provider.Session) bool) (int, error) {
	what := "terminate the sessions of " + id.Name
	if keep == nil {
		vs, err := p.exec(ctx, what, []string{"CLIENT", "KILL", "USER", id.Name, "SKIPME", "yes"})
		if err != nil {
			return 0, err
		}
		if se, ok := vs[0].err().(*serverError); ok {
			if strings.Contains(se.msg, "No such user") {
				return 0, nil
			}
			return 0, p.replyErr(what, needKill, se)
		}
		return int(vs[0].num), nil
	}
	vs, err := p.exec(ctx, what, []string{"CLIENT", "LIST"})
	if err != nil {
		return 0, err
	}
	if se, ok := vs[0].err().(*serverError); ok {
		return 0, p.replyErr(what, needList, se)
	}
	list, ok := vs[0].text()
	if !ok {
		return 0, errs.New(p.op, errs.Other, "", what+": CLIENT LIST: malformed reply")
	}
	var cmds [][]string
	for _, s := range sessions(list, id.Name, p.ownIDs(), time.Now()) {
		if !keep(s) {
			cmds = append(cmds, []string{"CLIENT", "KILL", "ID", s.ID, "SKIPME", "yes"})
		}
	}
	if len(cmds) == 0 {
		return 0, nil
	}
	if vs, err = p.exec(ctx, what, cmds...); err != nil {
		return 0, err
	}
	n := 0
	for _, v := range vs {
		if se, ok := v.err().(*serverError); ok {
			return n, p.replyErr(what, needKill, se)
		}
		n += int(v.num)
	}
	return n, nil
}

// DropPrivileges removes the named privileges from a live user, as Issue
// leaves them out of a new one (see Issue), and returns the names it
// removed. "nopass" is removed with resetpass: the user then accepts no
// password until one is added, which is the point of isolating a user
// anyone can be. It reads the user and writes its whole permission set
// back in one ACL SETUSER (passwords and on/off untouched), so that a
// rule after the removed one keeps its effect. A missing user, or one that
// holds none of them, is left alone. The administrator the provider
// connects as is refused.
func (p *Redis) DropPrivileges(ctx context.Context, id provider.IdentityRef, privileges []string) ([]string, error) {
	out, err := p.dropPrivileges(ctx, id, privileges)
	return out, p.san.Scrub(err)
}

func (p *Redis) dropPrivileges(ctx context.Context, id provider.IdentityRef, privileges []string) ([]string, error) {
	what := "drop privileges of " + id.Name
	if err := p.notAdmin(what, id.Name); err != nil {
		return nil, err
	}
	acc, err := p.getUser(ctx, what, id.Name)
	if err != nil || acc == nil {
		return nil, err
	}
	root, sels, nopass, removed := dropPrivileges(acc.u, privileges)
	if len(removed) == 0 {
		return nil, nil
	}
	cmd := append([]string{"ACL", "SETUSER", id.Name}, permRules(root, sels, acc)...)
	if nopass {
		cmd = append(cmd, "resetpass")
	}
	if _, err := p.change(ctx, what, needSetUser, "", cmd); err != nil {
		return nil, err
	}
	return removed, nil
}

// AddSecret adds s to the user's passwords ("#<sha256>"), keeping the
// others: both work until RemoveSecret. A missing user is errs.NotFound
// and is not created. Adding a password to a nopass user ends nopass, as
// Redis does.
func (p *Redis) AddSecret(ctx context.Context, id provider.IdentityRef, s secret.Secret) error {
	return p.san.Scrub(p.addSecret(ctx, id, s), string(s.Reveal()), passwordHash(s))
}

func (p *Redis) addSecret(ctx context.Context, id provider.IdentityRef, s secret.Secret) error {
	what := "add a password to " + id.Name
	if s.IsZero() {
		return errs.New(p.op, errs.Invalid, "", what+": empty secret")
	}
	acc, err := p.getUser(ctx, what, id.Name)
	if err != nil {
		return err
	}
	if acc == nil {
		return errs.New(p.op, errs.NotFound, "", what+": there is no user "+id.Name)
	}
	h := passwordHash(s)
	if slices.Contains(acc.u.Passwords, h) && !acc.u.NoPass {
		return nil
	}
	_, err = p.change(ctx, what, needSetUser, "", []string{"ACL", "SETUSER", id.Name, "#" + h})
	return err
}

// RemoveSecret removes s from the user's passwords ("!<sha256>"). A
// password the user does not hold, or a missing user, is not an error.
// The administrator's own password is refused.
func (p *Redis) RemoveSecret(ctx context.Context, id provider.IdentityRef, s secret.Secret) error {
	return p.san.Scrub(p.removeSecret(ctx, id, s), string(s.Reveal()), passwordHash(s))
}

func (p *Redis) removeSecret(ctx context.Context, id provider.IdentityRef, s secret.Secret) error {
	what := "remove a password from " + id.Name
	if s.IsZero() {
		return errs.New(p.op, errs.Invalid, "", what+": empty secret")
	}
	if id.Name == p.adminUser() && string(s.Reveal()) == p.target.password {
		return errs.New(p.op, errs.Invalid, "", what+": it is the password of the administrator this provider connects as")
	}
	acc, err := p.getUser(ctx, what, id.Name)
	if err != nil || acc == nil {
		return err
	}
	h := passwordHash(s)
	if !slices.Contains(acc.u.Passwords, h) {
		return nil
	}
	// Removed meanwhile by someone else: the outcome asked for.
	const gone = "The password you are trying to remove from the user does not exist"
	_, err = p.change(ctx, what, needSetUser, gone, []string{"ACL", "SETUSER", id.Name, "!" + h})
	return err
}

// account is a user read for a change: its rules, plus what User leaves
// out and a rewrite must keep.
type account struct {
	u *User
	// payload is the user's RESTORE payload flag ("sanitize-payload",
	// "skip-sanitize-payload"), "" on servers without one.
	payload string
	// channels says the server has channel permissions (Redis 6.2+), so
	// "resetchannels" is a rule it knows.
	channels bool
}

// getUser reads a user with ACL GETUSER; nil when there is none.
func (p *Redis) getUser(ctx context.Context, what, name string) (*account, error) {
	vs, err := p.exec(ctx, what, []string{"ACL", "GETUSER", name})
	if err != nil {
		return nil, err
	}
	if se, ok := vs[0].err().(*serverError); ok {
		return nil, p.replyErr(what, needRead, se)
	}
	if vs[0].null {
		return nil, nil
	}
	u, err := userFromGetUser(name, vs[0])
	if err != nil {
		return nil, errs.New(p.op, errs.Other, "", p.san.Clean(what+": "+err.Error()))
	}
	acc := &account{u: u}
	m, _ := vs[0].fields()
	_, acc.channels = m["channels"]
	flags, _ := m["flags"].strings()
	for _, f := range flags {
		if f = strings.ToLower(f); f == "sanitize-payload" || f == "skip-sanitize-payload" {
			acc.payload = f
		}
	}
	return acc, nil
}

// change runs one command that changes users, then ACL SAVE in the same
// round trip (see the persistence note above). An error reply containing
// tolerate (when not "") counts as success.
func (p *Redis) change(ctx context.Context, what, need, tolerate string, cmd []string) (value, error) {
	vs, err := p.exec(ctx, what, cmd, []string{"ACL", "SAVE"})
	if err != nil {
		return value{}, err
	}
	if se, ok := vs[0].err().(*serverError); ok && (tolerate == "" || !strings.Contains(se.msg, tolerate)) {
		return value{}, p.replyErr(what, need, se)
	}
	if se, ok := vs[1].err().(*serverError); ok && !strings.Contains(se.msg, "not configured to use an ACL file") {
		if se.code() == "NOPERM" {
			return value{}, errs.New(p.op, errs.Permission, "", p.san.Clean(what+": the change is live but not saved to the server's ACL file, and a restart would undo it: the administrator needs +acl|save ("+se.msg+")"))
		}
		return value{}, errs.New(p.op, errs.Other, "", p.san.Clean(what+": the change is live but ACL SAVE failed, and a restart would undo it: "+se.msg))
	}
	return vs[0], nil
}

// adminUser is the user the provider's connection is authenticated as.
func (p *Redis) adminUser() string {
	if p.target.user == "" {
		return "default"
	}
	return p.target.user
}

// notAdmin refuses a change to the user the provider connects as: it would
// cut the provider off halfway through a plan.
func (p *Redis) notAdmin(what, name string) error {
	if name == p.adminUser() {
		return errs.New(p.op, errs.Invalid, "", what+": it is the administrator this provider connects as; use another administrator to change it")
	}
	return nil
}

// passwordHash is the lower-case hex SHA-256 Redis stores for a password.
func passwordHash(s secret.Secret) string {
	if s.IsZero() {
		return ""
	}
	sum := sha256.Sum256(s.Reveal())
	return hex.EncodeToString(sum[:])
}

// dropPrivileges returns u's root and selectors without the privileges
// names (as Inspect names them; see Issue for what removing each means),
// whether "nopass" was named and held, and the names that matched
// something, in the order given.
func dropPrivileges(u *User, names []string) (root Selector, sels []Selector, nopass bool, removed []string) {
	want := map[string]bool{}
	for _, n := range names {
		want[dropRule(n)] = true
	}
	hit := map[string]bool{}
	match := func(rule string) bool {
		k := rule
		if rule != "" && (rule[0] == '+' || rule[0] == '-') {
			k = strings.ToLower(rule)
		}
		if want[k] {
			hit[k] = true
			return true
		}
		return false
	}
	root = dropFromSelector(u.Root, match)
	for _, s := range u.Selectors {
		sels = append(sels, dropFromSelector(s, match))
	}
	if u.NoPass && want["nopass"] {
		nopass, hit["nopass"] = true, true
	}
	for _, n := range names {
		if hit[dropRule(n)] && !slices.Contains(removed, n) {
			removed = append(removed, n)
		}
	}
	return root, sels, nopass, removed
}

// dropRule is the rule a privilege name stands for: Inspect names a
// command rule with what later rules take back ("+@all except
// -@dangerous"). Command rules compare in lower case, as Selector holds
// them; key and channel patterns as written.
func dropRule(name string) string {
	rule, _, _ := strings.Cut(strings.TrimSpace(name), " except ")
	if rule != "" && (rule[0] == '+' || rule[0] == '-') {
		return strings.ToLower(rule)
	}
	return rule
}

func dropFromSelector(s Selector, match func(string) bool) Selector {
	var out Selector
	for _, k := range s.Keys {
		if !match(k) {
			out.Keys = append(out.Keys, k)
		}
	}
	for _, c := range s.Channels {
		if !match(c) {
			out.Channels = append(out.Channels, c)
		}
	}
	for _, r := range s.Commands {
		if r[0] != '+' || !match(r) {
			out.Commands = append(out.Commands, r)
			continue
		}
		if c := parseCmdRule(r); c.all || c.cat != "" && c.cat != "admin" && c.cat != "dangerous" {
			out.Commands = append(out.Commands, r, "-@admin", "-@dangerous")
		}
	}
	return out
}

// permRules are the ACL SETUSER rules that give a user exactly root and
// sels, replacing its permissions (passwords and on/off are not
// permissions). clearselectors only when the user has selectors: Redis 6
// has none and does not know the rule.
func permRules(root Selector, sels []Selector, acc *account) []string {
	rules := []string{"resetkeys"}
	if acc.channels {
		rules = append(rules, "resetchannels")
	}
	rules = append(rules, "nocommands")
	rules = append(rules, root.Keys...)
	rules = append(rules, root.Channels...)
	rules = append(rules, root.Commands...)
	if len(acc.u.Selectors) > 0 {
		rules = append(rules, "clearselectors")
	}
	for _, s := range sels {
		parts := []string{"resetchannels"}
		parts = append(parts, s.Keys...)
		parts = append(parts, s.Channels...)
		parts = append(parts, s.Commands...)
		rules = append(rules, "("+strings.Join(parts, " ")+")")
	}
	return rules
}

// issueCommand is the ACL SETUSER that Issue sends for req, given the
// source user as read (acc) and the new password's hash.
func issueCommand(acc *account, req provider.IssueRequest, hash string) []string {
	root, sels, _, removed := dropPrivileges(acc.u, req.Drop)
	cmd := []string{"ACL", "SETUSER", req.Name}
	if req.Name == req.From.Name {
		cmd = append(cmd, "on", "resetpass", "#"+hash)
		if len(removed) > 0 {
			cmd = append(cmd, permRules(root, sels, acc)...)
		}
		return cmd
	}
	cmd = append(cmd, "reset", "on", "#"+hash)
	if acc.payload != "" {
		cmd = append(cmd, acc.payload)
	}
	return append(cmd, permRules(root, sels, acc)...)
}
