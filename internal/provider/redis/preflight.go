package redis

import (
	"context"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

var _ provider.Preflighter = (*Redis)(nil)

// preflightCommands are what each need runs (docs/privileges.md).
var preflightCommands = map[provider.Need][]string{
	provider.NeedRotate:    {"acl|users", "acl|getuser", "acl|setuser", "acl|deluser"},
	provider.NeedTerminate: {"client|list", "client|kill"},
}

// Preflight reads the administrator's own ACL rules (ACL GETUSER) and judges each command the steps run against them, the way
// the server applies them: a command is allowed when the root selector or
// any other selector allows it.
func (p *Redis) Preflight(ctx context.Context, req provider.PreflightRequest) (*provider.PreflightResponse, error) {
	const what = "preflight"
	// The administrator's name is in its URL (no ACL WHOAMI, which the
	// documented grant does not hold); without one it is the default user.
	who := p.target.user
	if who == "" {
		who = "default"
	}
	vs, err := p.exec(ctx, what, []string{"ACL", "GETUSER", who})
	if err != nil {
		return nil, err
	}
	res := &provider.PreflightResponse{}
	if se, ok := vs[0].err().(*serverError); ok {
		// Not even its own rules: it cannot read anyone's (identify,
		// inspect and every rotation read users first).
		res.Problems = append(res.Problems, "administrator "+who+" may not run ACL GETUSER ("+se.code()+"), needed to read users' rules"+req.For(provider.NeedRotate))
		return res, nil
	}
	if vs[0].null {
		return nil, errs.New(p.op, errs.Other, "", what+": ACL GETUSER does not know the administrator "+who)
	}
	u, err := userFromGetUser(who, vs[0])
	if err != nil {
		return nil, errs.New(p.op, errs.Other, "", p.san.Clean(what+": "+err.Error()))
	}
	cat, err := p.catalog(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range []provider.Need{provider.NeedRotate, provider.NeedTerminate} {
		if !req.Wants(n) {
			continue
		}
		for _, c := range preflightCommands[n] {
			if !allows(u, cat, c) {
				res.Problems = append(res.Problems, "administrator "+who+" may not run "+c+" (ACL rule +"+c+")"+req.For(n))
			}
		}
	}
	return res, nil
}

// allows reports whether u may run the command or subcommand name.
func allows(u *User, cat catalog, name string) bool {
	full := catalog{}
	for k, v := range cat {
		full[k] = v
	}
	if _, ok := full[name]; !ok {
		// The built-in table lacks the ACL and CLIENT subcommands: both
		// are in @admin, @slow and @dangerous.
		full[name] = &command{name: name, cats: map[string]bool{"admin": true, "slow": true, "dangerous": true}, keyless: true}
	}
	for _, s := range append([]Selector{u.Root}, u.Selectors...) {
		ev := evaluate(s, full)
		if i, ok := ev.byName[name]; ok && ev.allowed(i) {
			return true
		}
	}
	return false
}
