package provider

import (
	"context"
	"time"

	"github.com/rekeyhq/rekey/internal/secret"
)

// IssueRequest asks a system for a login that can do what From can do.
//
// The caller (the engine) generates Secret and seals it in the store
// before calling Issue, so that a crash between the system's change and
// the engine's record loses nothing: calling Issue again with the same
// request must leave the system exactly as one call would (create the
// login when it is missing, set its password and expiry when it exists).
type IssueRequest struct {
	// From is the identity whose privileges the new login gets. When
	// Name equals From.Name the login is From itself (in-place rotation
	// of a login that cannot be replaced by another name).
	From IdentityRef
	// Name is the login to create (a role, a user, an ACL user). For
	// MySQL/MariaDB it is user@host; a bare name means user@'%'.
	Name string
	// Secret is the new password.
	Secret secret.Secret
	// ExpiresAt, when not zero, is enforced by the system where it can
	// (PostgreSQL VALID UNTIL); Credential.Enforced says whether it was.
	ExpiresAt time.Time
	// Drop names privileges of From that the new login must not get
	// (dangerous attributes the inventory does not keep), as Inspect
	// names them ("CREATEROLE", "+@all", "GRANT OPTION ON *.*"…).
	Drop []string
	// Generated says Secret was drawn at random by rekey (secret.Generate,
	// 128 bits or more), never chosen by a person: a system may then leave
	// out the key stretching that protects guessable passwords, which only
	// costs time (see the PostgreSQL provider's Issue).
	Generated bool
}

// Credential is a login rekey issued, or the one it replaces.
type Credential struct {
	Ref    IdentityRef
	Secret secret.Secret
	// Via is the group the login gets its privileges through (the
	// NOLOGIN group role of the group-role pattern), or "" when the
	// privileges were copied onto the login itself.
	Via string
	// ExpiresAt is the expiry asked for; Enforced says whether the system
	// itself will refuse the login after it (or rekey must revoke it).
	ExpiresAt time.Time
	Enforced  bool
	// KeyID is the public id of a secret the system generated (an AWS
	// access key id), kept in clear beside the sealed secret; "" for a
	// password.
	KeyID string
}

// Rotator is implemented by providers that can replace a credential.
// Every method is idempotent: the engine retries after a crash without
// knowing whether the first call took effect.
type Rotator interface {
	// Issue creates (or updates, see IssueRequest) a login that can do
	// what req.From can do, minus req.Drop.
	Issue(ctx context.Context, req IssueRequest) (*Credential, error)
	// Verify logs in with c as a client would. It returns nil when the
	// system accepts it and an error of kind errs.Permission when it
	// refuses it.
	Verify(ctx context.Context, c Credential) error
	// Revoke makes id's current secret stop working (PostgreSQL NOLOGIN
	// and PASSWORD NULL, MySQL ACCOUNT LOCK and a random password, Redis
	// resetpass and off). It does not end open sessions
	// (SessionTerminator does) and does not drop the login, so objects it
	// owns and grants it holds stay. Revoking a revoked or missing login
	// is not an error.
	Revoke(ctx context.Context, id IdentityRef) error
	// Drop removes a login that rekey issued (rollback, a temporary
	// credential's end). Dropping a missing login is not an error; a
	// login that owns objects is refused with a clear error.
	Drop(ctx context.Context, id IdentityRef) error
	// Renew moves id's expiry to until (VALID UNTIL where enforced).
	Renew(ctx context.Context, id IdentityRef, until time.Time) error
}

// Deactivator is implemented by systems that can suspend a credential
// without destroying it (an IAM access key set Inactive): containment that
// a person can still undo, before a Revoke that cannot be.
type Deactivator interface {
	// Deactivate makes id's credential (id.Key, or every credential of
	// the principal when it is empty) stop working, keeping it. A
	// credential already inactive or missing is not an error.
	Deactivate(ctx context.Context, id IdentityRef) error
}

// SessionTerminator ends open sessions of an identity.
type SessionTerminator interface {
	// TerminateSessions ends id's sessions for which keep returns false
	// (nil keep ends all of them) and returns how many it ended. Sessions
	// that end by themselves meanwhile are not errors.
	TerminateSessions(ctx context.Context, id IdentityRef, keep func(Session) bool) (int, error)
}

// RoleSessionTerminator is implemented by systems where a credential can
// open sessions of another principal (an AWS key assuming a role): those
// sessions outlive the credential's revocation and follow the role's
// policies, so they are ended on the role.
type RoleSessionTerminator interface {
	// TerminateRoleSessions ends every session of the role id names that
	// was issued until now, whoever opened it; sessions issued later work.
	// A missing role is not an error.
	TerminateRoleSessions(ctx context.Context, id IdentityRef) error
}

// Isolator removes dangerous privileges from a live identity at once,
// without breaking what its declared consumers do with the others.
type Isolator interface {
	// DropPrivileges removes each named privilege (as Inspect names them)
	// from id and returns those it removed; one id does not hold is
	// skipped, not an error.
	DropPrivileges(ctx context.Context, id IdentityRef, privileges []string) ([]string, error)
}

// DualCredential is implemented by systems where one login can hold two
// secrets at once (Redis ACL passwords, MySQL 8 RETAIN CURRENT PASSWORD),
// so a login keeps its name and both secrets work until the old one is
// removed: rotation in place without downtime.
type DualCredential interface {
	// AddSecret adds s to id's accepted secrets, keeping the others.
	AddSecret(ctx context.Context, id IdentityRef, s secret.Secret) error
	// RemoveSecret removes s from id's accepted secrets; removing one it
	// does not hold is not an error.
	RemoveSecret(ctx context.Context, id IdentityRef, s secret.Secret) error
}

// GenerateRequest asks a system that generates secrets itself (IAM access
// keys) for a new credential.
//
// The secret exists only in the system's answer, so the caller cannot seal
// it first: it seals Generate's result before anything else. A crash
// between the system creating the credential and the caller sealing it
// leaves a credential nobody holds; Generate removes such orphans before
// creating another, which is what makes it safe to call again.
type GenerateRequest struct {
	// From, Name and Drop are as in IssueRequest: Name equal to From.Name
	// adds a credential to From itself (an IAM user's second key).
	From IdentityRef
	Name string
	Drop []string
	// Began is when the step first started, recorded by the caller before
	// its first call; credentials of Name the system created at or after
	// it and not in Sealed are orphans of an earlier call.
	Began time.Time
	// Sealed are the key ids of credentials the caller holds sealed; they
	// are never removed.
	Sealed []string
}

// Generator is implemented by providers whose system generates new
// secrets itself: Issue then returns ErrUnsupported.
type Generator interface {
	// Generate removes the orphans GenerateRequest describes, then creates
	// one credential for req.Name and returns it with its Secret and
	// KeyID. A login that cannot hold another credential (an IAM user at
	// its two keys) is an error of kind errs.Unsupported wrapping
	// ErrUnsupported, and changes nothing: a plan turns graceful into
	// emergency then (revoke first, then generate).
	Generate(ctx context.Context, req GenerateRequest) (*Credential, error)
}

// InPlaceRotator is implemented by systems with an endpoint that replaces
// a credential in one call (GitLab's token rotate): the old one, ref.Key,
// stops at once and the new one is returned, expiring at expires (zero:
// the system's default). It is not idempotent (a second call rotates the
// new credential, or fails on the revoked old one), so the caller seals
// the answer before anything else.
type InPlaceRotator interface {
	Rotate(ctx context.Context, ref IdentityRef, expires time.Time) (*Credential, error)
}

// PrivilegeCopier is implemented by providers whose Issue copies From's
// privileges onto the new login (MySQL and MariaDB grants, Redis ACL
// rules): IssueRequest.Drop then shapes the new login alone and leaves
// From as it is. Without it (PostgreSQL's group-role pattern, where the
// new login is a member of From) Drop is applied to From itself, which
// changes what every other user of From holds.
type PrivilegeCopier interface {
	// CopiesPrivileges reports that Issue copies (true for every
	// implementation; the method exists to be asserted).
	CopiesPrivileges() bool
}
