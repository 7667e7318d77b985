package mysql

import (
	"context"

	"github.com/rekeyhq/rekey/internal/provider"
)

var _ provider.Describer = (*MySQL)(nil)

// DescribeIssue is the SQL Issue sends for req on a first attempt: the
// account created locked, the source's grants (minus req.Drop) copied,
// then its password set and the account unlocked; the stored hash Issue
// sends is shown as provider.Masked. It reads the source's grants, and
// whether the login exists already, as Issue does.
func (p *MySQL) DescribeIssue(ctx context.Context, req provider.IssueRequest) ([]string, error) {
	out := []string{}
	if _, err := p.converge(ctx, req, &out); err != nil {
		return nil, p.scrub(err)
	}
	return out, nil
}

// DescribeRevoke is the SQL Revoke sends, the random password's hash
// masked.
func (p *MySQL) DescribeRevoke(_ context.Context, id provider.IdentityRef) ([]string, error) {
	a, _ := parseName(id.Name)
	return p.revokeStatements(a, p.identifiedAs(provider.Masked)), nil
}

// DescribeTerminate is the KILL CONNECTION TerminateSessions sends when
// it keeps no session, one per session of the account in the process
// list now: by the time the step runs, some may have ended and others
// begun.
func (p *MySQL) DescribeTerminate(ctx context.Context, id provider.IdentityRef) ([]string, error) {
	sessions, err := p.openSessions(ctx, "describe terminate sessions of "+id.Name, id)
	if err != nil {
		return nil, p.scrub(err)
	}
	var out []string
	for _, s := range sessions {
		out = append(out, "KILL CONNECTION "+s.ID)
	}
	return out, nil
}
