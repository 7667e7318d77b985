package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/safefile"
	"github.com/rekeyhq/rekey/internal/store"
)

type respondOpts struct {
	secret       secretFlags
	inventory    string
	logs         []string
	leakedAt     string
	strategy     string
	yes          bool
	report       string
	reportFormat string
	useLeaked    bool
}

func newRespondCmd(g *globals) *cobra.Command {
	o := &respondOpts{}
	c := &cobra.Command{
		Use:   "respond (--secret-file F | --secret-stdin | --secret-env VAR) --inventory FILE",
		Short: "Walk the whole response to a leaked secret, stage by stage",
		Long: `Respond is the playbook in one command. Its stages, each shown as it runs:

  1 open        open the incident (or resume the one already open for this secret)
  2 scope       every copy, the identity and its privileges, consumers, unexplained use
  3 review      what the credential did during its exposure (the logs given and the
                inventory's)
  4 plan        the strategy, chosen and explained (--strategy to choose it yourself)
  5 run         contain and replace: issue, deliver, verify, revoke, end sessions
  6 remediate   copies in working trees go on a branch, history gets its rewrite
                instructions, chat and tickets get tasks
  7 review      what still tries the old secret after the rotation
  8 report      the incident report (--report FILE, --report-format md|html|json)

On a terminal it asks before changing anything; without one it needs --yes.
Every stage can be entered again: running respond again for the same secret
resumes the open incident where it stopped (after Ctrl-C, a failed step, or a
wait for an approval, which another person gives with rekey incident approve).

EXIT STATUS
  0  the response is complete
  1  a step failed (named on standard error); fix it and run respond again
  2  usage or input error
  3  waiting for an approval or a partner's change window; run respond again after`,
		Example: `  rekey respond --secret-file /tmp/leaked.txt --inventory ops/rekey.yml --logs '/var/log/postgresql/*.csv'
  printf %s "$PW" | rekey respond --secret-stdin --inventory ops/rekey.yml --yes --report incident.html --report-format html`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runRespond(c.Context(), g, o, c.OutOrStdout())
		},
	}
	o.secret.register(c)
	c.Flags().StringVar(&o.inventory, "inventory", "", "the inventory file (required)")
	c.Flags().StringArrayVar(&o.logs, "logs", nil, "log files or quoted globs to read (repeatable), besides the inventory's")
	c.Flags().StringVar(&o.leakedAt, "leaked-at", "", "when the secret leaked (RFC 3339); default: its oldest known copy")
	c.Flags().StringVar(&o.strategy, "strategy", "auto", "auto, graceful, emergency, split or jit")
	c.Flags().BoolVar(&o.yes, "yes", false, "do not ask before changing systems")
	c.Flags().StringVar(&o.report, "report", "", "where to write the report (default $REKEY_HOME/reports/ID.FORMAT): a file is replaced atomically, a device or pipe written in place, a directory or symbolic link refused")
	c.Flags().StringVar(&o.reportFormat, "report-format", "md", "report format: md, html or json")
	c.Flags().BoolVar(&o.useLeaked, "use-leaked", false, useLeakedHelp)
	return c
}

// stage prints a stage's header.
func stage(out io.Writer, n int, name, what string) {
	tablef(out, "\n== %d %s: %s\n", n, name, what)
}

func runRespond(ctx context.Context, g *globals, o *respondOpts, out io.Writer) error {
	if o.inventory == "" {
		return usagef("--inventory FILE is required")
	}
	if err := checkFormat(o.reportFormat, "md", "html", "json"); err != nil {
		return err
	}
	// The secret is read once (standard input cannot be read twice) and
	// handed to the stages that need it.
	s, err := o.secret.read(g)
	if err != nil {
		return err
	}
	held := secretFlags{value: &s, keyID: o.secret.keyID}

	// 1 open (or resume)
	stage(out, 1, "open", "the incident for this secret")
	var buf bytes.Buffer
	if err := runIncidentOpen(ctx, g, &openOpts{secret: held, inventory: o.inventory, logs: o.logs, leakedAt: o.leakedAt, format: "json", useLeaked: o.useLeaked}, &buf); err != nil {
		return err
	}
	var opened openResult
	if err := json.Unmarshal(buf.Bytes(), &opened); err != nil {
		return fmt.Errorf("respond: reading what open found: %w", err)
	}
	id := opened.ID
	if opened.Existing {
		tablef(out, "resuming the open incident %s\n", id)
	} else {
		tablef(out, "opened %s: %d copies, identity %s\n", id, opened.Occurrences, opened.IdentityString())
	}

	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// Held through every stage: run and remediate use this claim.
	ctx, release, err := g.claim(ctx, st, id)
	if err != nil {
		return err
	}
	defer release()
	rotated, err := engine.RotatedAt(ctx, st, id)
	if err != nil {
		return err
	}

	// 2 scope
	stage(out, 2, "scope", "the blast radius")
	if err := runIncidentScope(ctx, g, &scopeOpts{format: "table"}, id, out); err != nil {
		return err
	}

	// 3 review of the exposure window (once the secret is rotated, the
	// exposure review stored before stands)
	if rotated.IsZero() {
		stage(out, 3, "review", "what the credential did while exposed")
		if err := runIncidentReview(ctx, g, &incidentReviewOpts{reviewFlags: reviewFlags{logs: o.logs, format: "table", baseline: review.DefaultBaseline}}, id, out); err != nil {
			return err
		}
	} else {
		stage(out, 3, "review", "done before the rotation (kept in the incident)")
	}

	// 4 plan: keep a plan whose run has started; else decide it now.
	stage(out, 4, "plan", "how to contain and replace it")
	p, err := respondPlan(ctx, g, st, id, plan.Strategy(o.strategy), out)
	if err != nil {
		return err
	}
	if err := g.confirm(ctx, o.yes, fmt.Sprintf("run the %s plan for %s (%d steps) against the real systems?", p.Strategy, id, len(p.Steps))); err != nil {
		return err
	}

	// 5 run
	stage(out, 5, "run", "contain and replace")
	runErr := runIncidentRun(ctx, g, &runOpts{resume: true, yes: true, format: "table"}, id, out)
	var we waitError
	if errors.As(runErr, &we) {
		respondWaiting(ctx, st, id, p, out)
		return runErr
	}
	if runErr != nil {
		tablef(out, "\nthe run stopped; fix what the failing step names and run respond again (it resumes), or undo with rekey incident rollback %s\n", id)
		return runErr
	}

	// 6 remediate copies
	stage(out, 6, "remediate", "remove the copies")
	if err := respondRemediate(ctx, g, held, id, out); err != nil {
		return err
	}

	// 7 review after the rotation
	stage(out, 7, "review", "who still tries the old secret")
	if err := runIncidentReview(ctx, g, &incidentReviewOpts{reviewFlags: reviewFlags{logs: o.logs, format: "table", baseline: review.DefaultBaseline}}, id, out); err != nil {
		return err
	}

	// 8 report
	stage(out, 8, "report", "the incident report")
	path := o.report
	if path == "" {
		home, err := g.home()
		if err != nil {
			return err
		}
		path = filepath.Join(home, "reports", id+"."+o.reportFormat)
	}
	if err := respondReport(ctx, g, id, o.reportFormat, path); err != nil {
		return err
	}
	tablef(out, "report written to %s\n\nthe response to %s is complete\n", path, id)
	return nil
}

// respondPlan keeps the stored plan when its run has started (or it
// waits), and builds one otherwise; it prints the plan and its reason.
func respondPlan(ctx context.Context, g *globals, st store.Store, id string, strategy plan.Strategy, out io.Writer) (*plan.Plan, error) {
	if sp, ok, err := st.GetPlan(ctx, id); err != nil {
		return nil, err
	} else if ok && incident.Replannable(ctx, st, id, sp) != nil || ok && sp.RunState == store.RunDone {
		var p plan.Plan
		if err := json.Unmarshal(sp.Body, &p); err != nil {
			return nil, err
		}
		tablef(out, "keeping the stored %s plan: its run has %s\n", p.Strategy, map[bool]string{true: "finished", false: "started"}[sp.RunState == store.RunDone])
		return &p, nil
	}
	d, err := g.deps(st)
	if err != nil {
		return nil, err
	}
	p, err := incident.BuildPlan(ctx, d, id, strategy)
	if err != nil {
		return nil, err
	}
	return p, writePlan(out, "table", p)
}

// respondWaiting says who must do what for the run to go on.
func respondWaiting(ctx context.Context, st store.Store, id string, p *plan.Plan, out io.Writer) {
	steps, err := st.Steps(ctx, id)
	if err != nil {
		return
	}
	opener, _ := incident.Opener(ctx, st, id)
	fmt.Fprintln(out, "\nthe run waits:")
	for _, s := range steps {
		switch s.State {
		case engine.WaitingApproval:
			who := "another person"
			if opener != "" {
				who = "someone other than " + opener
			}
			tablef(out, "  %s needs an approval by %s:\n    rekey incident approve %s %s --as NAME\n", s.StepID, who, id, s.StepID)
			if ps := p.Step(s.StepID); ps != nil && ps.Kind == plan.Verify && ps.Approval == plan.ApprovalManual {
				tablef(out, "    (first hand over the new password: rekey incident credential %s %s --reveal)\n", id, ps.Login)
			}
		case engine.WaitingWindow:
			tablef(out, "  %s waits for its change window\n", s.StepID)
		}
	}
	fmt.Fprintln(out, "then run respond again: it resumes here")
}

// respondRemediate is the remediation stage: copies in working trees go
// on a branch, history gets its rewrite instructions (the rewrite itself
// waits for an approval and is run with incident remediate
// --rewrite-history), chat and tickets get tasks.
func respondRemediate(ctx context.Context, g *globals, s secretFlags, id string, out io.Writer) error {
	return runIncidentRemediate(ctx, g, &remediateOpts{secret: s, format: "table"}, id, out)
}

// respondReport writes the incident report to path: a regular file is
// replaced atomically (a half-written report must not look like a
// finished one), a device or pipe is written in place, a directory or a
// symbolic link is refused (see safefile.WriteFile).
func respondReport(ctx context.Context, g *globals, id, format, path string) error {
	var buf bytes.Buffer
	if err := runIncidentReport(ctx, g, &incidentReportOpts{format: format}, id, &buf); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return errs.E("report", errs.Permission, path, err)
	}
	return safefile.WriteFile("report", path, buf.Bytes(), 0o600)
}
