// Package provider defines what rekey needs from a credential system (a
// database, a cache, a cloud IAM): find whose secret a value is, and
// describe that identity — its privileges, open sessions and what it may
// have left behind. Each system lives in its own sub-package; optional
// capabilities are separate interfaces found by type assertion, so a
// provider implements only what its system supports. Rotation (issue,
// verify, revoke) joins this interface with the rotation work.
package provider

import (
	"context"
	"errors"
	"time"

	"github.com/rekeyhq/rekey/internal/secret"
)

// ErrUnsupported is returned by a capability a provider implements but the
// system at hand cannot do (a server version without the feature).
var ErrUnsupported = errors.New("not supported by this system")

// IdentityRef names a principal in one system.
type IdentityRef struct {
	System string // the inventory's system name
	Name   string // role, user, key id…
	// Key names one credential of the principal where a principal holds
	// several with public ids (an IAM user's access key id); empty means
	// the principal as a whole.
	Key string `json:",omitempty"`
}

// Risk grades a privilege for the blast radius.
type Risk string

const (
	RiskCritical Risk = "critical" // full control: superuser, +@all on ~*, ALL ON *.* WITH GRANT OPTION
	RiskHigh     Risk = "high"     // can create credentials or escalate: CREATEROLE, GRANT OPTION, replication
	RiskMedium   Risk = "medium"   // broad data access: writes on many objects, database creation
	RiskLow      Risk = "low"      // ordinary grants
)

// Privilege is one thing the identity may do, as the system states it.
type Privilege struct {
	Name string `json:"name"` // "SUPERUSER", "INSERT ON public.orders", "+@all"
	Risk Risk   `json:"risk"`
	// Via names the role or group it comes through, empty when direct.
	Via string `json:"via,omitempty"`
	// CreatesCredentials marks privileges that let the holder mint other
	// credentials (CREATEROLE, CREATE USER, GRANT OPTION).
	CreatesCredentials bool `json:"creates_credentials,omitempty"`
}

// Session is a connection open right now under the identity.
type Session struct {
	ID          string    `json:"id"`
	Client      string    `json:"client"` // address[:port]
	Application string    `json:"application,omitempty"`
	Started     time.Time `json:"started"`
	Database    string    `json:"database,omitempty"`
}

// Related is something tied to the identity that survives rotating its
// secret and must be reviewed: a role it granted, an object it owns, a user
// it could have created, another key of the same principal.
type Related struct {
	Kind   string `json:"kind"`   // "granted-role", "owned-object", "created-user", "other-key"
	Name   string `json:"name"`   // what it is
	Detail string `json:"detail"` // why it is listed
}

// Identity is what inspecting a principal found.
type Identity struct {
	Ref        IdentityRef `json:"ref"`
	Exists     bool        `json:"exists"`
	CanLogin   bool        `json:"can_login"`
	ValidUntil *time.Time  `json:"valid_until,omitempty"`
	Privileges []Privilege `json:"privileges"`
	Sessions   []Session   `json:"sessions"`
	Related    []Related   `json:"related"`
}

// Match is an identity whose stored verifier (a SCRAM verifier, a password
// hash) accepts the candidate secret: proof, unlike a user name in a DSN.
type Match struct {
	Ref IdentityRef `json:"ref"`
	// Method says how it was proven: "scram-sha-256", "mysql_native_password", "acl-sha256"…
	Method string `json:"method"`
	// Unproven is set when the match rests on a public key id alone and
	// the secret itself was not checked ("secret not proven"): AWS offers
	// no way to check a secret access key without using it.
	Unproven bool `json:"unproven,omitempty"`
}

// IdentifyRequest asks a system whose secrets come with a public key id
// (an AWS access key id) whose credential it is.
type IdentifyRequest struct {
	KeyID  string
	Secret secret.Secret
	// UseLeaked allows one request authenticated with the leaked secret to
	// prove it (AWS sts:GetCallerIdentity). It writes the leaked
	// credential's use to the system's own logs, so the caller asks for
	// it explicitly and audits it; without it the match is Unproven.
	UseLeaked bool
}

// KeyIdentifier is implemented by systems that find a credential's
// identity from its public key id, without using the secret.
type KeyIdentifier interface {
	// IdentifyKey returns the identity holding req.KeyID, with Ref.Key set
	// to it, or no match when the system does not know the id. It has no
	// side effect beyond, with UseLeaked, one request signed with the
	// leaked secret.
	IdentifyKey(ctx context.Context, req IdentifyRequest) ([]Match, error)
}

// LeakedIdentifier is implemented by systems that prove a secret given
// alone (no key id), and name its owner, only to a request made with it
// (GitHub's GET /user). The caller uses it only when a person allows it
// (--use-leaked) and audits it; otherwise it calls Identify.
type LeakedIdentifier interface {
	IdentifyUsingLeaked(ctx context.Context, s secret.Secret) ([]Match, error)
}

// Provider is the part every credential system implements.
type Provider interface {
	// Identify returns every identity whose stored verifier accepts s,
	// without logging in as anyone (so nothing is written to the system's
	// authentication log as the leaked identity). More than one match is
	// password reuse. It has no side effects.
	Identify(ctx context.Context, s secret.Secret) ([]Match, error)
	// Inspect describes one identity: privileges with risk, sessions open
	// now, related credentials. It has no side effects. An identity that
	// does not exist returns Exists=false and no error.
	Inspect(ctx context.Context, id IdentityRef) (*Identity, error)
	// Close releases the administrative connection.
	Close() error
}
