// Package deliver puts a consumer's new secret where the consumer reads it,
// then makes the consumer pick it up and checks that it still works.
//
// A Target is one place a secret is delivered to: a key in a config file
// (sub-package file), later a Kubernetes Secret, a Vault path or a CI
// variable. Targets are written for an engine that may crash at any point
// and run again: Write is idempotent (writing what is already there changes
// nothing), Current reads back what a target holds so that a resumed run can
// tell whether a delivery already happened, and Plan describes exactly what
// Write would change, for `run --dry-run`, without revealing the secret.
//
// Reload and Health run the consumer's own commands from the inventory,
// with timeouts, bounded output, and an environment stripped of anything
// that could carry a secret; their errors name the consumer and the
// command, never a secret.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rekeyhq/rekey/internal/secret"
)

// ErrWriteOnly is wrapped by the Current of a target that never returns
// what it holds (a GitHub Actions secret): what it held before a
// delivery cannot be kept for a rollback.
var ErrWriteOnly = errors.New("the target never returns the value it holds")

// Value is what to deliver.
type Value struct {
	// User is the login name to deliver with the secret, for strategies
	// that give a consumer a new login (split, alternating users); ""
	// leaves the login name as it is. It is the name as the client sends
	// it (a MySQL account's user, without @host). For a key the system
	// generated it is the key's public id (an AWS access key id), which
	// changes with every key: user_key receives it.
	User string
	// Secret is the new password or key.
	Secret secret.Secret
}

// State is what a target holds now.
type State struct {
	// User is the login name the target holds, "" when it holds none
	// (a bare password without a user key).
	User string
	// Secret is the password or key the target holds now.
	Secret secret.Secret
}

// Part is one part of a credential a change touches.
type Part string

const (
	PartUser     Part = "user"
	PartPassword Part = "password"
)

// Edit is one place in a target that holds (part of) the credential.
type Edit struct {
	// Where locates the value: a file and line ("/srv/orders/.env:3"),
	// later a Secret's namespace/name.
	Where string
	// Key is the key as the inventory names it (DATABASE_URL, db.password).
	Key string
	// Form is how the value holds the credential: plain, url, mysql-dsn,
	// libpq or ado (see package dsn).
	Form string
	// Parts lists what Write changes here; empty when the place already
	// holds the value.
	Parts []Part
	// Note says anything a reviewer should know about the place, such as
	// a YAML anchor that other sections share.
	Note string
}

// Change is what Write would do to a target, free of secrets.
type Change struct {
	Target string // the target's Describe
	Edits  []Edit
}

// Empty reports whether Write would change nothing.
func (c Change) Empty() bool {
	for _, e := range c.Edits {
		if len(e.Parts) > 0 {
			return false
		}
	}
	return true
}

// String is one line per edit, for a dry run:
//
//	/srv/orders/.env:3 DATABASE_URL (url): user, password
func (c Change) String() string {
	var b strings.Builder
	for i, e := range c.Edits {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s %s (%s): ", e.Where, e.Key, e.Form)
		if len(e.Parts) == 0 {
			b.WriteString("already delivered")
		}
		for j, p := range e.Parts {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(string(p))
		}
		if e.Note != "" {
			b.WriteString(" (" + e.Note + ")")
		}
	}
	return b.String()
}

// Target is a place a consumer reads its secret from.
//
// No method may put a secret (old or new) in an error, a Change or a log.
type Target interface {
	// Describe names the target for people and the audit log, e.g.
	// "file /srv/orders/.env (dotenv) key DATABASE_URL".
	Describe() string
	// Current reads what the target holds now. A target whose place for
	// the secret is missing (no file, no key) is an error of kind
	// errs.NotFound.
	Current(ctx context.Context) (State, error)
	// Plan returns what Write(v) would change, changing nothing. It
	// fails where Write would, for the same reasons.
	Plan(ctx context.Context, v Value) (Change, error)
	// Write delivers v, atomically where the target allows it: readers
	// see the old value or the new one, never a mix. Writing what the
	// target already holds changes nothing and returns nil, so a
	// resumed run may call it again. Write does not reload the consumer.
	Write(ctx context.Context, v Value) error
}

// Restorer is a Target that puts back what it held before rekey's Write
// its own way (a secret manager's previous version) instead of having the
// old value written again. A rollback calls Restore when the target has
// it and Write otherwise; Restore of what the target already holds
// changes nothing.
type Restorer interface {
	Target
	Restore(ctx context.Context, prev Value) error
}

// Delivered reports whether t already holds v: its secret, and its user
// when v names one. The engine calls it on resume to skip a delivery that
// happened before a crash.
func Delivered(ctx context.Context, t Target, v Value) (bool, error) {
	s, err := t.Current(ctx)
	if err != nil {
		return false, err
	}
	return s.Secret.Equal(v.Secret) && (v.User == "" || s.User == v.User), nil
}
