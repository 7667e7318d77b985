// Package cli builds rekey's command line: one file per command, each with
// a newXCmd that parses flags and a runX that does the work and is what
// tests call. It formats output and maps errors to exit codes; it holds no
// logic another package could own.
package cli

import (
	"context"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

// Env is everything a command may touch of the process: tests pass their
// own buffers and environment.
type Env struct {
	Args           []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Terminal overrides the isatty check on Stderr (tests).
	Terminal *bool
	// StdinTerminal overrides the isatty check on Stdin (tests of the
	// confirmation prompt, which is only shown on a terminal).
	StdinTerminal *bool
}

// stdinTerminal returns Stdin as a file when it is a terminal.
func (e Env) stdinTerminal() (*os.File, bool) {
	f, ok := e.Stdin.(*os.File)
	if !ok {
		return nil, false
	}
	if e.StdinTerminal != nil {
		return f, *e.StdinTerminal
	}
	return f, isatty.IsTerminal(f.Fd())
}

func (e Env) stderrIsTerminal() bool {
	if e.Terminal != nil {
		return *e.Terminal
	}
	if f, ok := e.Stderr.(*os.File); ok {
		return isatty.IsTerminal(f.Fd())
	}
	return false
}

// globals are the flags every command shares.
type globals struct {
	env   Env
	as    string
	store string
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	g := &globals{env: env}
	root := newRootCmd(g)
	root.SetArgs(env.Args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	return exitCode(env.Stderr, err)
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "rekey",
		Short: "Scope, rotate and review a leaked machine credential",
		Long: `rekey turns the rotation of a leaked machine credential into an incident
response: find every copy of the secret and who uses it, replace it without
downtime, clean up the copies, review what it was used for, and prove it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.as, "as", "", "actor named in the audit log (default $REKEY_ACTOR, else the login name)")
	root.PersistentFlags().StringVar(&g.store, "store", "", "where incidents are kept: a SQLite file (default $REKEY_HOME/rekey.db) or postgres://… ($REKEY_STORE)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newScanCmd(g), newTraceCmd(g), newInventoryCmd(g), newIncidentCmd(g), newReviewCmd(g), newLeasesCmd(g), newAuditCmd(g), newRespondCmd(g))
	root.AddCommand(newBrokerCmd(g))
	return root
}
