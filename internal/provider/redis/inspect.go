package redis

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Kinds of Related entries this provider reports.
const (
	// RelatedCreatedUser is a user the identity could have created or
	// changed: Redis records no creator, so with ACL SETUSER (or a way to
	// load code or an ACL file) every other user is one; with CONFIG SET
	// alone, the default user (requirepass is its password).
	RelatedCreatedUser = "created-user"
	// RelatedOtherKey is the identity's other passwords: Redis keeps
	// several, all valid at once, so rotating one leaves the others.
	RelatedOtherKey = "other-key"
)

// Inspect describes an ACL user: its rules graded for risk (see grade),
// the connections authenticated as it now (CLIENT LIST, leaving out the
// provider's own) and what survives rotating its password. It reads ACL
// GETUSER, CLIENT LIST, COMMAND (once) and, for a user that can create
// users, ACL USERS; it changes nothing. An unknown user returns
// Exists=false and no error.
func (p *Redis) Inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	id, err := p.inspect(ctx, ref)
	return id, p.san.Scrub(err)
}

func (p *Redis) inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	if ref.System == "" {
		ref.System = p.system
	}
	id := &provider.Identity{Ref: ref, Privileges: []provider.Privilege{}, Sessions: []provider.Session{}, Related: []provider.Related{}}
	what := "inspect " + ref.Name
	vs, err := p.exec(ctx, what, []string{"ACL", "GETUSER", ref.Name}, []string{"CLIENT", "LIST"})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if se, ok := vs[0].err().(*serverError); ok {
		return nil, p.replyErr(what, "+acl|getuser (or +@admin) to read the user's rules", se)
	}
	if vs[0].null {
		return id, nil
	}
	u, err := userFromGetUser(ref.Name, vs[0])
	if err != nil {
		return nil, errs.New(p.op, errs.Other, "", p.san.Clean(what+": "+err.Error()))
	}
	id.Exists = true
	// On, but with neither a password nor nopass, nothing authenticates.
	id.CanLogin = u.On && (u.NoPass || len(u.Passwords) > 0)

	cat, err := p.catalog(ctx)
	if err != nil {
		return nil, err
	}
	var creators []string
	id.Privileges, creators = grade(u, cat)

	if se, ok := vs[1].err().(*serverError); ok {
		return nil, p.replyErr(what, "+client|list to list the user's connections", se)
	}
	list, ok := vs[1].text()
	if !ok {
		return nil, errs.New(p.op, errs.Other, "", what+": CLIENT LIST: malformed reply")
	}
	id.Sessions = sessions(list, u.Name, p.ownIDs(), now)

	if n := len(u.Passwords); n > 1 {
		id.Related = append(id.Related, provider.Related{
			Kind: RelatedOtherKey,
			Name: strconv.Itoa(n) + " passwords",
			Detail: u.Name + " has " + strconv.Itoa(n) + " passwords, all valid at once: rotating one leaves the other " +
				strconv.Itoa(n-1) + " working; find who uses each, then remove the leaked one",
		})
	}
	if len(creators) > 0 {
		related, err := p.createdUsers(ctx, u, creators)
		if err != nil {
			return nil, err
		}
		id.Related = append(id.Related, related...)
	}
	return id, nil
}

// createdUsers lists the users u could have created or changed with the
// credential commands it may run.
func (p *Redis) createdUsers(ctx context.Context, u *User, creators []string) ([]provider.Related, error) {
	var how []string
	everyone := false
	for _, c := range creators {
		how = append(how, credentialCommands[c])
		everyone = everyone || !strings.HasPrefix(c, "config")
	}
	sort.Strings(how)
	how = compactStrings(how)
	may := u.Name + " may run " + strings.Join(how, ", ")
	if !everyone {
		return []provider.Related{{
			Kind:   RelatedCreatedUser,
			Name:   "default",
			Detail: may + ": CONFIG SET requirepass replaces the default user's passwords, and Redis does not record who did: review it",
		}}, nil
	}
	names, err := p.users(ctx, "inspect "+u.Name, "+acl|users (or +@admin) to list the users "+u.Name+" could have created")
	if err != nil {
		return nil, err
	}
	var out []provider.Related
	for _, n := range names {
		if n == u.Name {
			continue
		}
		out = append(out, provider.Related{
			Kind:   RelatedCreatedUser,
			Name:   n,
			Detail: may + ": it could have created " + n + " or changed its passwords and rules, and Redis does not record who did: review it",
		})
	}
	return out, nil
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// sessions reads CLIENT LIST ("id=7 addr=127.0.0.1:50000 … name=app
// age=12 … db=0 … user=orders …", one client a line) and keeps the
// clients authenticated as user, except the provider's own. Redis gives a
// client's age in whole seconds: Started is now minus that.
func sessions(list, user string, own map[string]bool, now time.Time) []provider.Session {
	out := []provider.Session{}
	for _, line := range strings.Split(list, "\n") {
		f := clientFields(strings.TrimSpace(line))
		if f["user"] != user || f["id"] == "" || own[f["id"]] {
			continue
		}
		s := provider.Session{ID: f["id"], Client: f["addr"], Application: f["name"], Database: f["db"]}
		if strings.Contains(f["flags"], "U") {
			s.Client = "local" // a Unix-domain socket
		}
		if age, err := strconv.ParseInt(f["age"], 10, 64); err == nil && age >= 0 {
			s.Started = now.Add(-time.Duration(age) * time.Second).UTC()
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].Started.Equal(out[b].Started) {
			return out[a].Started.Before(out[b].Started)
		}
		ia, _ := strconv.ParseInt(out[a].ID, 10, 64)
		ib, _ := strconv.ParseInt(out[b].ID, 10, 64)
		return ia < ib
	})
	return out
}

// clientFields splits one CLIENT LIST line into its key=value fields.
// Values hold no spaces: Redis refuses client names with spaces.
func clientFields(line string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
