// Package auth says who is asking and what they may do: the roles of the
// service (DESIGN "The service"), the Principal a request runs as, and
// the Authenticator that turns a bearer credential into one. Tokens
// (package token) and OIDC sign-in both end in a Principal; the server,
// the web UI and the CLI check capabilities here and nowhere else.
package auth

import (
	"context"
	"errors"
	"fmt"
)

// Role is what a principal may do. The set is closed: a role read from a
// token row or a flag is checked with ParseRole.
type Role string

const (
	Viewer    Role = "viewer"
	Responder Role = "responder"
	Approver  Role = "approver"
	Admin     Role = "admin"
)

// Roles lists every role, least to most powerful.
var Roles = []Role{Viewer, Responder, Approver, Admin}

// ParseRole returns the role named s, or an error naming the roles.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want viewer, responder, approver or admin)", s)
}

// Capability is one kind of action. Responder and approver are disjoint
// on purpose: whoever works an incident is not whoever signs off on it.
type Capability int

const (
	// Read sees incidents, scopes, plans, reports, leases and the audit.
	Read Capability = iota
	// Respond opens, plans, runs, reviews, remediates, rolls back, closes.
	Respond
	// Approve approves a step that waits for a person.
	Approve
	// Manage creates and revokes tokens and leases.
	Manage
)

func (c Capability) String() string {
	switch c {
	case Read:
		return "read"
	case Respond:
		return "respond"
	case Approve:
		return "approve"
	case Manage:
		return "manage"
	}
	return fmt.Sprintf("capability(%d)", int(c))
}

// Can reports whether r grants c.
func (r Role) Can(c Capability) bool {
	switch r {
	case Admin:
		return true
	case Responder:
		return c == Read || c == Respond
	case Approver:
		return c == Read || c == Approve
	case Viewer:
		return c == Read
	}
	return false
}

// Principal is who a request runs as. Name is the actor the audit log
// records; Via says how they proved it ("token", "oidc", "session").
type Principal struct {
	Name string
	Role Role
	Via  string
}

// Can reports whether p's role grants c.
func (p Principal) Can(c Capability) bool { return p.Role.Can(c) }

// ErrUnauthenticated is a credential that is missing, malformed, unknown,
// revoked or expired. Authenticators return it (wrapped) without saying
// which, so that a caller cannot probe for valid token names.
var ErrUnauthenticated = errors.New("not authenticated")

// ErrRevoked is a credential this server issued that was revoked or has
// expired. It is ErrUnauthenticated too (errors.Is); the API answers it
// with 403 rather than 401, which tells only the holder of that very
// credential that it was known: nothing a guesser can use.
var ErrRevoked = fmt.Errorf("revoked or expired: %w", ErrUnauthenticated)

// Authenticator turns a bearer credential into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, bearer string) (Principal, error)
}
