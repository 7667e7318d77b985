package provider

import (
	"context"

	"github.com/rekeyhq/rekey/internal/secret"
)

// SecretRevoker is implemented by systems that revoke a credential by its
// value, for credentials rekey's administrator does not own (GitHub's
// credentials revocation API: a personal token of someone outside the
// organisation). The owner is told by the system, not by rekey.
type SecretRevoker interface {
	// RevokeSecret makes s stop working. A value the system does not know,
	// or already revoked, is not an error (such APIs do not say which).
	RevokeSecret(ctx context.Context, s secret.Secret) error
}
