package provider

import "context"

// Describer is an optional capability: a provider that can say, without
// touching its system, the statements (SQL, ACL commands) Issue, Revoke
// and TerminateSessions would send for a request, so that a dry run shows
// them. It may read the system (what a new login copies from its source)
// but changes nothing. A secret (or a verifier derived from it) never appears: it is
// replaced by Masked. The statements are what a first attempt sends;
// a resumed one may send fewer (what exists already is kept).
type Describer interface {
	DescribeIssue(ctx context.Context, req IssueRequest) ([]string, error)
	DescribeRevoke(ctx context.Context, id IdentityRef) ([]string, error)
	DescribeTerminate(ctx context.Context, id IdentityRef) ([]string, error)
}

// Masked stands for a secret in described statements.
const Masked = "********"
