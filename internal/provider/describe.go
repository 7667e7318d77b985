package provider

// Describer is an optional capability: a provider that can say, without
// touching its system, the statements (SQL, ACL commands) Issue, Revoke
// and TerminateSessions would send for a request, so that a dry run shows
// them. A secret (or a verifier derived from it) never appears: it is
// replaced by Masked. The statements are what a first attempt sends;
// a resumed one may send fewer (what exists already is kept).
type Describer interface {
	DescribeIssue(req IssueRequest) ([]string, error)
	DescribeRevoke(id IdentityRef) ([]string, error)
	DescribeTerminate(id IdentityRef) ([]string, error)
}

// Masked stands for a secret in described statements.
const Masked = "'********'"
