package redis

import (
	"context"
	"strconv"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

var _ provider.Describer = (*Redis)(nil)

// DescribeIssue is the ACL SETUSER Issue would send for req: it reads
// the source user (ACL GETUSER) as Issue does, and shows the password
// hash as #provider.Masked.
func (p *Redis) DescribeIssue(ctx context.Context, req provider.IssueRequest) ([]string, error) {
	what := "describe issue " + req.Name + " from " + req.From.Name
	if req.Name == "" || req.From.Name == "" {
		return nil, errs.New(p.op, errs.Invalid, "", what+": a user name is empty")
	}
	acc, err := p.getUser(ctx, what, req.From.Name)
	if err != nil {
		return nil, p.san.Scrub(err)
	}
	if acc == nil {
		return nil, errs.New(p.op, errs.NotFound, "", what+": there is no user "+req.From.Name)
	}
	return []string{shellCommand(issueCommand(acc, req, provider.Masked))}, nil
}

// DescribeRevoke is the command Revoke sends.
func (p *Redis) DescribeRevoke(_ context.Context, id provider.IdentityRef) ([]string, error) {
	return []string{shellCommand([]string{"ACL", "SETUSER", id.Name, "resetpass", "off"})}, nil
}

// DescribeTerminate is the command TerminateSessions sends when it keeps
// no session.
func (p *Redis) DescribeTerminate(_ context.Context, id provider.IdentityRef) ([]string, error) {
	return []string{shellCommand([]string{"CLIENT", "KILL", "USER", id.Name, "SKIPME", "yes"})}, nil
}

// shellCommand renders a command as redis-cli takes it: an argument with a
// space, a quote or nothing in it is quoted.
func shellCommand(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
