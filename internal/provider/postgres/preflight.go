package postgres

import (
	"context"

	"github.com/rekeyhq/rekey/internal/provider"
)

var _ provider.Preflighter = (*Postgres)(nil)

// Preflight reads the administrator's own role: rotating needs SUPERUSER
// or CREATEROLE, ending other roles' sessions SUPERUSER or membership in
// pg_signal_backend (docs/privileges.md).
func (p *Postgres) Preflight(ctx context.Context, req provider.PreflightRequest) (*provider.PreflightResponse, error) {
	var (
		who                       string
		super, createRole, signal bool
	)
	err := p.pool.QueryRow(ctx, `SELECT current_user, r.rolsuper, r.rolcreaterole, pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&who, &super, &createRole, &signal)
	if err != nil {
		return nil, p.queryErr("preflight", err)
	}
	res := &provider.PreflightResponse{}
	if req.Wants(provider.NeedRotate) && !super && !createRole {
		res.Problems = append(res.Problems, "administrator "+who+" has neither SUPERUSER nor CREATEROLE, needed to create, alter and drop logins"+req.For(provider.NeedRotate))
	}
	if req.Wants(provider.NeedTerminate) && !super && !signal {
		res.Problems = append(res.Problems, "administrator "+who+" is not a member of pg_signal_backend, needed to end other roles' sessions"+req.For(provider.NeedTerminate))
	}
	return res, nil
}
