package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
)

type runOpts struct {
	dryRun, resume, yes bool
	format              string
}

func newIncidentRunCmd(g *globals) *cobra.Command {
	o := &runOpts{}
	c := &cobra.Command{
		Use:   "run ID",
		Short: "Execute the incident's plan against the real systems",
		Long: `Run executes the plan stored by the last incident plan (it builds an auto plan
first when there is none). Each step's state is written to the store before
and after its side effect, and every step is idempotent: after a crash,
run --resume finishes the plan without a second credential or a lost one. A
run that failed or waits is continued by run alone, once the cause is fixed. A
new secret is sealed in the store (AES-256-GCM, key in $REKEY_HOME) until
every consumer that needs it is verified, then wiped.

A consumer is verified when the system accepts its new login, its health
command passes, and the system shows a session of the new login. A failed
verification holds back the revoke: the old credential keeps working, the
failing consumer is named, and the run can be resumed after the fix or rolled
back (incident rollback).

--dry-run prints what each step would do to which system and file (for
PostgreSQL and Redis, the statements it would send, secrets masked), and changes
nothing. Without --yes, run asks on a terminal and refuses otherwise.

EXIT STATUS
  0  every step is done
  1  a step failed (named on standard error)
  2  usage or input error
  3  the run waits for an approval (incident approve) or a change window`,
		Example: `  rekey incident run INC-20261126-3f9a --dry-run
  rekey incident run INC-20261126-3f9a --yes
  rekey incident run INC-20261126-3f9a --resume --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runIncidentRun(c.Context(), g, o, args[0], c.OutOrStdout())
		},
	}
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would be done, change nothing")
	c.Flags().BoolVar(&o.resume, "resume", false, "continue a run that stopped, also after a crash cut a step off (a failed or waiting run is continued without it)")
	c.Flags().BoolVar(&o.yes, "yes", false, "do not ask for confirmation")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table or json")
	return c
}

func runIncidentRun(ctx context.Context, g *globals, o *runOpts, id string, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	d, done, err := g.openDepsAs(ctx, auth.Respond)
	if err != nil {
		return err
	}
	defer done()
	res, runErr := incident.Run(ctx, d, id, incident.RunOptions{
		DryRun: o.dryRun, Resume: o.resume,
		Confirm: func(ctx context.Context, p *plan.Plan) error {
			return g.confirm(ctx, o.yes, fmt.Sprintf("run %d step(s) of the %s plan for %s against real systems?", len(p.Steps), p.Strategy, id))
		},
	})
	var pe *incident.PreflightError
	if errors.As(runErr, &pe) {
		for _, pr := range pe.Problems {
			tablef(g.env.Stderr, "rekey: preflight: %s\n", pr)
		}
		return runErr
	}
	if o.dryRun && runErr == nil {
		return writeDryRun(out, o.format, res.DryRun)
	}
	if res.Result.Incident == "" {
		return runErr
	}
	if err := writeRun(out, o.format, res.Result); err != nil {
		return err
	}
	switch {
	case errors.Is(runErr, engine.ErrWaiting):
		return waitError{runErr}
	case errors.Is(runErr, engine.ErrStepFailed):
		return failedError{runErr}
	}
	return runErr
}

// confirm asks on a terminal before a command changes systems; without a
// terminal it needs --yes. Ctrl-C (ctx cancelled) or the end of input at
// the prompt is a refusal: nothing has changed, and the incident stays as
// it was, to be resumed.
func (g *globals) confirm(ctx context.Context, yes bool, question string) error {
	if yes {
		return nil
	}
	const stays = "not confirmed; nothing was changed and the incident stays open (run the command again to resume)"
	f, ok := g.env.stdinTerminal()
	if !ok {
		return usagef("this changes real systems: pass --yes to confirm without a terminal")
	}
	fmt.Fprintf(g.env.Stderr, "rekey: %s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(f).ReadString('\n')
		if err != nil {
			line = ""
		}
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(g.env.Stderr)
		return usagef("%s", stays)
	case line := <-answer:
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return usagef("%s", stays)
		}
	}
	return nil
}

func writeRun(out io.Writer, format string, r engine.Result) error {
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tablef(out, "Run of %s (%s): %s\n", r.Incident, r.Strategy, r.State)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATE\tDETAIL")
	for _, s := range r.Steps {
		detail := s.Detail
		if s.Error != "" {
			detail = s.Error
		}
		tablef(tw, "%s\t%s\t%s\n", s.ID, s.State, detail)
	}
	return tw.Flush()
}

func writeDryRun(out io.Writer, format string, acts []engine.Action) error {
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"dry_run": true, "steps": acts})
	}
	fmt.Fprintln(out, "Dry run: nothing is changed.")
	for _, a := range acts {
		state := ""
		if a.State != engine.Pending {
			state = " [" + a.State + "]"
		}
		tablef(out, "\n%s%s\n  %s\n", a.Step, state, a.What)
		if a.System != "" {
			tablef(out, "  system: %s\n", a.System)
		}
		if a.Approval != "" {
			tablef(out, "  waits for an approval (%s)\n", a.Approval)
		}
		for _, l := range strings.Split(a.Change, "\n") {
			if l != "" {
				tablef(out, "  %s\n", l)
			}
		}
	}
	return nil
}
