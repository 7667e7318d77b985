package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/escape"
)

// Exit codes, as the CLI contract in docs/cli.md states them.
const (
	exitOK    = 0
	exitFound = 1 // something to act on
	exitUsage = 2 // usage or input error
	exitWait  = 3 // a run stopped to wait for an approval or a change window
)

// waitError ends a run that stopped to wait; its message is printed.
type waitError struct{ err error }

func (w waitError) Error() string { return w.err.Error() }
func (w waitError) Unwrap() error { return w.err }

// failedError ends a command that ran and whose result is a failure to
// act on (a run step failed, the audit log is broken); its message is
// printed and the exit status is 1.
type failedError struct{ err error }

func (f failedError) Error() string { return f.err.Error() }
func (f failedError) Unwrap() error { return f.err }

// foundError ends a command that ran fine and found something to act on.
type foundError struct{}

func (foundError) Error() string { return "" }

// usageError marks a bad flag or argument.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitCode prints err as one line (unless the command only signals a
// result) and returns the code for it.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, foundError{}) {
		return exitFound
	}
	// One line, whatever a path or a server's message in it holds.
	msg := escape.Text(strings.TrimSpace(strings.ReplaceAll(err.Error(), "\n", " ")))
	if errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	var (
		ue usageError
		we waitError
		fe failedError
	)
	switch {
	case errors.As(err, &we):
		fmt.Fprintf(stderr, "rekey: %s\n", msg)
		return exitWait
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "rekey: %s\n", msg)
		return exitFound
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "rekey: %s (see rekey --help)\n", msg)
		return exitUsage
	case strings.HasPrefix(msg, "unknown command"), strings.HasPrefix(msg, "accepts "), strings.HasPrefix(msg, "requires at least"):
		fmt.Fprintf(stderr, "rekey: %s\n", msg)
		return exitUsage
	}
	if k := errs.KindOf(err); k == errs.Unreachable {
		msg += " (is it running and reachable from here?)"
	}
	fmt.Fprintf(stderr, "rekey: %s\n", msg)
	// Every other failure is one of input: the contract reserves 1 for
	// "found something" and 3 for "waiting".
	return exitUsage
}
