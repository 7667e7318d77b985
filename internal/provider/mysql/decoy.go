package mysql

import (
	"context"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

var _ provider.DecoyCreator = (*MySQL)(nil)

// CreateDecoy implements provider.DecoyCreator: an account (user@'%' for a
// bare name) with the secret as its password and USAGE only. Accounts
// carry no creator, so one of that name is taken for an earlier decoy only
// when Inspect finds it may do nothing either.
func (p *MySQL) CreateDecoy(ctx context.Context, name string, s secret.Secret) error {
	return p.scrub(p.createDecoy(ctx, name, s), s)
}

func (p *MySQL) createDecoy(ctx context.Context, name string, s secret.Secret) error {
	what := "canary " + name
	a, _ := parseName(name)
	if strings.TrimSpace(a.user) == "" || s.IsZero() {
		return errs.New(p.op, errs.Invalid, "", what+": no user name or an empty secret")
	}
	clause, hash := p.identified(s.Reveal())
	p.remember(string(s.Reveal()), hash)
	existing, err := p.findAccount(ctx, a)
	if err != nil {
		return p.queryErr(what, err)
	}
	if existing != nil {
		id, err := p.inspect(ctx, provider.IdentityRef{System: p.system, Name: a.String()})
		if err != nil {
			return err
		}
		if existing.role || len(id.Privileges) > 0 {
			return errs.New(p.op, errs.Invalid, "", what+": "+a.String()+" exists and may do more than log in: choose another name")
		}
	}
	unlock := ""
	if p.canLock() {
		unlock = " ACCOUNT UNLOCK"
	}
	stmt := "CREATE USER " + sqlAcct(a) + " " + clause + unlock
	if existing != nil {
		stmt = "ALTER USER " + sqlAcct(a) + " " + clause + unlock
	}
	if err := p.exec(ctx, stmt); err != nil {
		return p.queryErr(what, err)
	}
	return nil
}
