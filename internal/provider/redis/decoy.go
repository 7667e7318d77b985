package redis

import (
	"context"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

var _ provider.DecoyCreator = (*Redis)(nil)

// CreateDecoy implements provider.DecoyCreator: an ACL user that is on,
// with the secret as its only password, and no command, key or channel
// ("reset" then "on"): AUTH succeeds, every command is refused (NOPERM).
// Redis records no creator, so a user of that name is taken for an
// earlier decoy only when it may do nothing either.
func (p *Redis) CreateDecoy(ctx context.Context, name string, s secret.Secret) error {
	return p.san.Scrub(p.createDecoy(ctx, name, s), string(s.Reveal()), passwordHash(s))
}

func (p *Redis) createDecoy(ctx context.Context, name string, s secret.Secret) error {
	what := "canary " + name
	switch {
	case name == "" || s.IsZero():
		return errs.New(p.op, errs.Invalid, "", what+": no user name or an empty secret")
	case name == "default":
		return errs.New(p.op, errs.Invalid, "", what+": the default user cannot be a canary")
	}
	if err := p.notAdmin(what, name); err != nil {
		return err
	}
	acc, err := p.getUser(ctx, what, name)
	if err != nil {
		return err
	}
	if acc != nil && !powerless(acc.u) {
		return errs.New(p.op, errs.Invalid, "", what+": a user of that name exists and may run commands: choose another name")
	}
	_, err = p.change(ctx, what, needSetUser, "", []string{"ACL", "SETUSER", name, "reset", "on", "#" + passwordHash(s)})
	return err
}

// powerless: the user may run no command and names no key or channel.
func powerless(u *User) bool {
	if len(u.Selectors) > 0 || len(u.Root.Keys) > 0 || len(u.Root.Channels) > 0 {
		return false
	}
	for _, c := range u.Root.Commands {
		if c != "-@all" {
			return false
		}
	}
	return true
}
