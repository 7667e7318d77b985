// Package cli builds rekey's command line: one file per command, each with
// a newXCmd that parses flags and a runX that does the work and is what
// tests call. It formats output and maps errors to exit codes; it holds no
// logic another package could own.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/secret"
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
	// tokenFile is --token-file; who is the name of the token a command
	// that changes an incident authenticated with (see actAs).
	tokenFile string
	who       string
	claims    claims
	auditKey  string
	// keys is --keys: where the keys shared by every replica of a store
	// live (file:DIR); "" keeps them in $REKEY_HOME.
	keys string
	// given are the secrets this command was given (--secret-…) and
	// the variables --secret-env read them from: the engine masks them in
	// everything it stores or prints and keeps those variables from the
	// consumers' commands.
	given struct {
		secrets []secret.Secret
		envs    []string
	}
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

// exitInterrupted is the status of a process ended by a second Ctrl-C,
// as shells report a process killed by SIGINT (128+2).
const exitInterrupted = 130

// SignalContext returns a context that the first SIGINT or SIGTERM
// cancels: every command stops at its next cancellation point, records
// what it did and exits. A second signal exits the process at once with
// status 130, for a wait that cannot watch a context (a prompt on a
// terminal, standard input that never ends). stop releases the signals.
func SignalContext(parent context.Context, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "rekey: interrupted: stopping (interrupt again to exit at once)")
		cancel()
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "rekey: interrupted again: exiting now")
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
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
	root.PersistentFlags().StringVar(&g.as, "as", "", "actor named in the audit log (default $REKEY_ACTOR, else the login name); refused once the store holds tokens")
	root.PersistentFlags().StringVar(&g.store, "store", "", "where incidents are kept: a SQLite file (default $REKEY_HOME/rekey.db) or postgres://… ($REKEY_STORE)")
	root.PersistentFlags().StringVar(&g.tokenFile, "token-file", "", "file holding your rekey token (mode 600), needed once the store holds tokens (default $REKEY_TOKEN)")
	root.PersistentFlags().StringVar(&g.keys, "keys", "", "file:DIR holding the installation, sealing and audit keys shared by every replica of a store, and its runs' keys (default $REKEY_KEYS, else $REKEY_HOME)")
	root.PersistentFlags().StringVar(&g.auditKey, "audit-key", "", "file holding the audit log's MAC key, shared by every installation writing the store (default $REKEY_AUDIT_KEY, else $REKEY_HOME/audit.key)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newScanCmd(g), newTraceCmd(g), newInventoryCmd(g), newIncidentCmd(g), newReviewCmd(g), newLeasesCmd(g), newAuditCmd(g), newRespondCmd(g))
	root.AddCommand(newKeysCmd(g))
	root.AddCommand(newBrokerCmd(g), newAgentCmd(g))
	root.AddCommand(newWatchCmd(g), newCanaryCmd(g))
	root.AddCommand(newVersionCmd())
	root.AddCommand(newTokenCmd(g))
	root.AddCommand(newServeCmd(g))
	return root
}
