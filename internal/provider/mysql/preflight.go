package mysql

import (
	"context"
	"strings"

	"github.com/rekeyhq/rekey/internal/provider"
)

var _ provider.Preflighter = (*MySQL)(nil)

// Preflight reads the administrator's own global privileges
// (information_schema.USER_PRIVILEGES, which every account may read for
// itself): rotating needs CREATE USER and the grant option, ending other
// accounts' sessions PROCESS and CONNECTION ADMIN (SUPER on servers that
// predate it) (docs/privileges.md).
func (p *MySQL) Preflight(ctx context.Context, req provider.PreflightRequest) (*provider.PreflightResponse, error) {
	var who string
	if err := p.db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&who); err != nil {
		return nil, p.queryErr("preflight", err)
	}
	user, host, _ := strings.Cut(who, "@")
	rows, err := p.db.QueryContext(ctx, `SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?`,
		"'"+user+"'@'"+host+"'")
	if err != nil {
		return nil, p.queryErr("preflight", err)
	}
	defer rows.Close()
	has, grantable := map[string]bool{}, false
	for rows.Next() {
		var priv, g string
		if err := rows.Scan(&priv, &g); err != nil {
			return nil, p.queryErr("preflight", err)
		}
		has[strings.ToUpper(priv)] = true
		grantable = grantable || strings.EqualFold(g, "YES")
	}
	if err := rows.Err(); err != nil {
		return nil, p.queryErr("preflight", err)
	}
	res := &provider.PreflightResponse{}
	add := func(what string, n provider.Need) {
		res.Problems = append(res.Problems, "administrator "+who+" lacks "+what+req.For(n))
	}
	if req.Wants(provider.NeedRotate) {
		if !has["CREATE USER"] {
			add("CREATE USER ON *.*, needed to create, alter and drop accounts", provider.NeedRotate)
		}
		if !grantable {
			add("the global GRANT OPTION, needed to copy the identity's grants to its replacement", provider.NeedRotate)
		}
	}
	if req.Wants(provider.NeedTerminate) {
		if !has["PROCESS"] {
			add("PROCESS, needed to see other accounts' sessions", provider.NeedTerminate)
		}
		if !has["CONNECTION ADMIN"] && !has["CONNECTION_ADMIN"] && !has["SUPER"] {
			add("CONNECTION ADMIN (SUPER on older servers), needed to end other accounts' sessions", provider.NeedTerminate)
		}
	}
	return res, nil
}
