package postgres

import (
	"context"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

var _ provider.Describer = (*Postgres)(nil)

// DescribeIssue is the SQL Issue sends for req on a first attempt: the
// privileges dropped from the source role, then the new login (or the
// source's own new password), its password masked (Issue sends a
// SCRAM-SHA-256 verifier there). It reads nothing from the server.
func (p *Postgres) DescribeIssue(_ context.Context, req provider.IssueRequest) ([]string, error) {
	if req.Name == "" || req.From.Name == "" {
		return nil, errs.New(p.op, errs.Invalid, "", "issue: the request names no login or no source role")
	}
	name, from := quoteIdent(req.Name), quoteIdent(req.From.Name)
	var out []string
	for _, d := range req.Drop {
		if s := dropStatement(from, d); s != "" {
			out = append(out, s)
		}
	}
	if req.Name == req.From.Name {
		s := "ALTER ROLE " + name + " LOGIN PASSWORD " + quoteLiteral(provider.Masked)
		if !req.ExpiresAt.IsZero() {
			s += " VALID UNTIL " + validUntil(req.ExpiresAt)
		}
		return append(out, s), nil
	}
	until := "'infinity'"
	if !req.ExpiresAt.IsZero() {
		until = validUntil(req.ExpiresAt)
	}
	return append(out,
		"CREATE ROLE "+name+" LOGIN "+noAttributes+" PASSWORD "+quoteLiteral(provider.Masked)+" VALID UNTIL "+until+" IN ROLE "+from,
		"COMMENT ON ROLE "+name+" IS "+quoteLiteral(issuedMark+req.From.Name)), nil
}

// DescribeRevoke is the SQL Revoke sends.
func (p *Postgres) DescribeRevoke(_ context.Context, id provider.IdentityRef) ([]string, error) {
	return []string{"ALTER ROLE " + quoteIdent(id.Name) + " NOLOGIN PASSWORD NULL"}, nil
}

// DescribeTerminate is the SQL TerminateSessions sends, as one statement
// (it ends the backends one by one, keeping its own connections).
func (p *Postgres) DescribeTerminate(_ context.Context, id provider.IdentityRef) ([]string, error) {
	return []string{"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = " + quoteLiteral(id.Name) +
		" AND backend_type = 'client backend' AND pid <> pg_backend_pid()"}, nil
}
