// Package errs gives errors a kind, so that one place (the CLI) can map
// every failure to an exit code and a one-line message without parsing
// strings. Library code wraps with E and keeps %w chains intact.
package errs

import (
	"errors"
	"strings"
)

// Kind classifies what went wrong from the user's point of view.
type Kind int

const (
	Other       Kind = iota
	Invalid          // bad input: a flag, a file's content, a value
	NotFound         // a path, object or record that does not exist
	Permission       // access refused
	Unreachable      // a system that did not answer
	Unsupported      // implemented, but not for this system or platform
	Conflict         // someone else is working on it now (a claimed incident)
)

// Error is an operation that failed, with its kind and the path or object
// it was about.
type Error struct {
	Op   string
	Kind Kind
	Path string
	Err  error
}

// E builds an *Error. Op and Path may be empty.
func E(op string, kind Kind, path string, err error) error {
	return &Error{Op: op, Kind: kind, Path: path, Err: err}
}

// New is E with a message instead of a wrapped error.
func New(op string, kind Kind, path, msg string) error {
	return E(op, kind, path, errors.New(msg))
}

func (e *Error) Error() string {
	var parts []string
	if e.Op != "" {
		parts = append(parts, e.Op)
	}
	if e.Path != "" {
		parts = append(parts, e.Path)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the outermost *Error in err's chain that has
// one, or Other.
func KindOf(err error) Kind {
	var e *Error
	for errors.As(err, &e) {
		if e.Kind != Other {
			return e.Kind
		}
		err = e.Err
	}
	return Other
}
