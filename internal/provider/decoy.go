package provider

import (
	"context"

	"github.com/rekeyhq/rekey/internal/secret"
)

// DecoyCreator is implemented by systems that can hold a canary: a login
// that authenticates, so an attacker who finds its secret tries it, and
// that may do nothing once in.
type DecoyCreator interface {
	// CreateDecoy creates login name with secret s and no privilege
	// (PostgreSQL: a LOGIN role with no attribute, membership or grant;
	// MySQL: an account with USAGE only; Redis: an ACL user allowed no
	// command, key or channel). Calling it again for a decoy it made sets
	// the secret again; a login of that name that is not one of its
	// decoys is refused (errs.Invalid) and left alone.
	CreateDecoy(ctx context.Context, name string, s secret.Secret) error
}

// DecoyGenerator is implemented by systems that generate a decoy's
// secret themselves, as they do every secret (AWS IAM: an access key's
// secret is AWS's, so rekey cannot hand one over).
type DecoyGenerator interface {
	// GenerateDecoy creates login name with no privilege and one new
	// key, and returns it (Ref, KeyID, Secret): AWS IAM, a user with no
	// policy and no group policy, tagged as a decoy, with one access
	// key. Calling it again for a decoy it made deletes the decoy's
	// keys and makes a new one; a login of that name that is not one of
	// its decoys, or a decoy that was given privileges since, is refused
	// (errs.Invalid) and left alone.
	GenerateDecoy(ctx context.Context, name string) (*Credential, error)
}
