package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
)

// Redactor takes a secret's copy out of a live place a source read (a
// chat message, a ticket's comment or fields) through that place's API,
// and re-reads it. Whether the change may be made (an approval) is
// decided before Redact is called.
type Redactor interface {
	// Redact removes the secret from the object ref names (a finding's
	// Ref): the copy is replaced by a redaction note, or, with del, the
	// object is deleted where the API allows it. An object already
	// clean or gone is left alone (Action "none"): Redact is idempotent.
	// It re-reads the object and fails when the copy is still there.
	Redact(ctx context.Context, ref string, del bool) (Redaction, error)
	// Clean re-reads the object and reports whether it no longer holds
	// the secret (or no longer exists).
	Clean(ctx context.Context, ref string) (bool, error)
}

// Redaction records what one Redact changed. It never holds the secret:
// the text before is kept as a hash only.
type Redaction struct {
	// Object names what was changed: "slack:#deploys@1700000000.000100",
	// "https://acme.atlassian.net/browse/OPS-12#comment-10001".
	Object string `json:"object"`
	// Action is update, delete, or none (the object no longer held it).
	Action string `json:"action"`
	// BeforeSHA256 is the SHA-256 of the object's text before the change.
	BeforeSHA256 string `json:"before_sha256,omitempty"`
	// After is the object's text as stored now, without the secret.
	After string `json:"after,omitempty"`
}

// TextHash is the hex SHA-256 of a text, for Redaction.BeforeSHA256.
func TextHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}
