package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/deliver/dsn"
	"github.com/rekeyhq/rekey/internal/deliver/file"
	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/logs"
	logsall "github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/remediate"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

type planOpts struct {
	strategy string
	format   string
}

func newIncidentPlanCmd(g *globals) *cobra.Command {
	o := &planOpts{}
	c := &cobra.Command{
		Use:   "plan ID",
		Short: "Decide how to contain and replace the secret: a DAG of steps",
		Long: `Plan builds, from the incident's scope and inventory, the steps that contain and
replace the leaked credential, and stores them for run:

  graceful   issue a replacement, deliver it, verify every consumer, then revoke
             the old credential and end its sessions: no consumer sees a failure
  emergency  revoke the old credential and end its sessions first (an attacker is
             cut off now), then issue, deliver and verify
  split      a shared secret becomes one login per consumer (PostgreSQL: a login
             role member of the identity, which becomes the group), then the
             shared one is revoked
  auto       emergency when the secret is used from a source no consumer explains
             or the identity is over-privileged; else split when it is shared;
             else graceful

Dangerous privileges the inventory does not keep are removed first (isolate)
and never given to replacements. Partners get a temporary login and wait for
their change window; revoking what a partner uses waits for an approval, as do
the step kinds the inventory's policy lists.

Planning again replaces the stored plan, unless its run has started (roll it
back or finish it first).

EXIT STATUS
  0  planned
  2  usage or input error (unknown incident, unknown identity, unreadable inventory)`,
		Example: `  rekey incident plan INC-20261126-3f9a
  rekey incident plan INC-20261126-3f9a --strategy emergency --format mermaid`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runIncidentPlan(c.Context(), g, o, args[0], c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.strategy, "strategy", "auto", "auto, graceful, emergency or split")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table, json or mermaid")
	return c
}

func runIncidentPlan(ctx context.Context, g *globals, o *planOpts, id string, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json", "mermaid"); err != nil {
		return err
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if sp, ok, err := st.GetPlan(ctx, id); err != nil {
		return err
	} else if ok {
		if err := replannable(ctx, st, id, sp); err != nil {
			return err
		}
	}
	p, err := buildPlan(ctx, g, st, id, plan.Strategy(o.strategy))
	if err != nil {
		return err
	}
	return writePlan(out, o.format, p)
}

// replannable refuses to replace a plan whose run has changed systems:
// its step states are what rollback and resume work from.
func replannable(ctx context.Context, st store.Store, id string, sp store.Plan) error {
	if sp.RunState == store.RunRolledBack || sp.RunState == store.RunDone {
		return nil
	}
	steps, err := st.Steps(ctx, id)
	if err != nil {
		return err
	}
	if s, ok := incident.Started(steps); ok {
		return errs.New("plan", errs.Invalid, id, fmt.Sprintf(
			"the stored plan's run has started (step %s is %s): finish it with `rekey incident run %s --resume` or undo it with `rekey incident rollback %s`",
			s.StepID, s.State, id, id))
	}
	return nil
}

// buildPlan computes the plan from the incident's scope and inventory,
// stores it and records it in the audit log.
func buildPlan(ctx context.Context, g *globals, st store.Store, id string, strategy plan.Strategy) (*plan.Plan, error) {
	inc, err := st.GetIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	if inc.Inventory == "" {
		return nil, errs.New("plan", errs.Invalid, id, "the incident has no inventory")
	}
	inv, err := loadInventoryStrict(g, inc.Inventory)
	if err != nil {
		return nil, err
	}
	sc, err := loadScope(ctx, g, st, id)
	if err != nil {
		return nil, err
	}
	facts, err := reviewFacts(ctx, st, id, systemType(inv, sc.Identity.System))
	if err != nil {
		return nil, err
	}
	p, err := plan.Build(plan.Input{Scope: sc, Inventory: inv, Strategy: strategy, Now: time.Now(),
		CanChangeLogin: canChangeLogin(ctx, inv), ReviewedSources: facts.sources, Related: facts.related,
		NoBaseline: inc.LeakedAt == nil || facts.noBaseline})
	if err != nil {
		return nil, errs.E("plan", errs.Invalid, id, err)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := st.PutPlan(ctx, id, store.Plan{Strategy: string(p.Strategy), Created: p.Created, Body: body}); err != nil {
		return nil, err
	}
	al, err := g.auditLog(st)
	if err != nil {
		return nil, err
	}
	if _, err := al.Append(ctx, g.actor(), "incident.plan", id, map[string]any{"strategy": p.Strategy, "requested": p.Requested, "steps": len(p.Steps)}); err != nil {
		return nil, err
	}
	return p, nil
}

// planFacts is what the stored reviews add to a plan.
type planFacts struct {
	sources    []string
	related    []plan.Related
	noBaseline bool // the exposure review had no baseline
}

// reviewFacts reads what the stored reviews add to a plan: the subjects
// of the exposure review's new-source findings (use from where no
// consumer runs and the baseline never saw; without a baseline, also the
// low ones that succeeded, since nothing says they are usual), whether
// that review had a baseline, and the derived credentials of every
// review (logins the leaked credential created or changed).
func reviewFacts(ctx context.Context, st store.Store, id, sysType string) (planFacts, error) {
	var out planFacts
	rs, err := st.Reviews(ctx, id)
	if err != nil {
		return out, err
	}
	seen := map[string]bool{}
	for _, r := range rs {
		var rep review.Report
		if err := json.Unmarshal(r.Body, &rep); err != nil {
			return out, errs.E("plan", errs.Invalid, id, fmt.Errorf("stored review: %w", err))
		}
		if r.Phase == "exposure" && !rep.HasBaseline {
			out.noBaseline = true
		}
		for _, f := range rep.Findings {
			if r.Phase != "exposure" || f.Kind != review.KindNewSource || f.Severity == review.Info {
				continue
			}
			// A low one is a new address inside a network the consumer
			// already used, or a refused attempt: not a reason to cut
			// everyone off, unless there is no baseline and it succeeded.
			if f.Severity == review.Low && (rep.HasBaseline || !succeeded(f.Evidence)) {
				continue
			}
			subjects := []string{f.Subject}
			if f.Subject == "" {
				subjects = subjects[:0]
				for _, ev := range f.Evidence {
					subjects = append(subjects, ev.Source)
				}
			}
			for _, s := range subjects {
				if s != "" && !slices.Contains(out.sources, s) {
					out.sources = append(out.sources, s)
				}
			}
		}
		for _, rel := range rep.Related {
			name := strings.TrimPrefix(rel.Credential, "user:")
			if sysType == "mysql" && !strings.Contains(name, "@") {
				name += "@%"
			}
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			why := fmt.Sprintf("%s by %s from %s at %s", rel.Via, rel.CreatedBy, rel.From, rel.CreatedAt.UTC().Format(time.RFC3339))
			out.related = append(out.related, plan.Related{Name: name, Kind: rel.Kind, Why: why})
		}
	}
	return out, nil
}

func succeeded(evs []review.Evidence) bool {
	return slices.ContainsFunc(evs, func(e review.Evidence) bool { return e.Outcome == "success" })
}

// canChangeLogin: a consumer can be moved to a new login when its
// delivery names where the user is, or its value is a connection string
// that holds one.
func canChangeLogin(ctx context.Context, inv *inventory.Inventory) func(c *inventory.Consumer) bool {
	return func(c *inventory.Consumer) bool {
		if c.Deliver == nil || c.Deliver.UserKey != "" {
			return true
		}
		t, err := file.FromInventory(inv, c.Deliver)
		if err != nil {
			return false
		}
		cur, err := t.Current(ctx)
		return err == nil && cur.User != ""
	}
}

func writePlan(out io.Writer, format string, p *plan.Plan) error {
	switch format {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	case "mermaid":
		_, err := io.WriteString(out, p.Mermaid())
		return err
	}
	tablef(out, "Plan for %s: %s\n  %s\n\n", p.Incident, p.Strategy, p.Reason)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tNEEDS\tAPPROVAL\tWHAT")
	for _, st := range p.Steps {
		needs := strings.Join(st.Needs, ", ")
		if needs == "" {
			needs = "-"
		}
		appr := st.Approval
		if appr == "" {
			appr = "-"
		}
		tablef(tw, "%s\t%s\t%s\t%s\n", st.ID, needs, appr, st.Summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.Notes) > 0 {
		fmt.Fprintln(out, "\nNotes:")
		for _, n := range p.Notes {
			tablef(out, "  - %s\n", n)
		}
	}
	return nil
}

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

--dry-run prints what each step would do to which system and file, and
changes nothing. Without --yes, run asks on a terminal and refuses otherwise.

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
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if !o.dryRun {
		// Before anything is read: what another worker is changing is
		// not ours to judge, let alone to overwrite.
		var release func()
		if ctx, release, err = g.claim(ctx, st, id); err != nil {
			return err
		}
		defer release()
	}
	sp, ok, err := st.GetPlan(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		if _, err := buildPlan(ctx, g, st, id, plan.Auto); err != nil {
			return err
		}
	} else if sp.RunState == store.RunRolledBack {
		return errs.New("run", errs.Invalid, id, "the run was rolled back; plan again (rekey incident plan "+id+") before running")
	}
	deps, cleanup, err := g.engineDeps(ctx, st, id)
	if err != nil {
		return err
	}
	defer cleanup()
	e, err := engine.New(ctx, deps, id)
	if err != nil {
		return err
	}
	if err := g.preflight(ctx, st, deps.Inventory, e.Plan(), id); err != nil {
		return err
	}
	if o.dryRun {
		acts, err := e.DryRun(ctx)
		if err != nil {
			return err
		}
		return writeDryRun(out, o.format, acts)
	}
	if !o.resume {
		steps, err := st.Steps(ctx, id)
		if err != nil {
			return err
		}
		// A failed or waiting run is continued by run itself; a step left
		// running was cut off mid-way (a crash) and is resumed knowingly.
		for _, s := range steps {
			if s.State == engine.Running {
				return usagef("step %s of %s was running when its run stopped (a crash?); continue the run with --resume", s.StepID, id)
			}
		}
	}
	if err := g.confirm(ctx, o.yes, fmt.Sprintf("run %d step(s) of the %s plan for %s against real systems?", len(e.Plan().Steps), e.Plan().Strategy, id)); err != nil {
		return err
	}
	res, runErr := e.Run(ctx)
	if res.Incident == "" {
		return runErr
	}
	if err := writeRun(out, o.format, res); err != nil {
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

// preflight checks what the run's remaining steps need before anything
// changes, and prints one line per problem.
func (g *globals) preflight(ctx context.Context, st store.Store, inv *inventory.Inventory, p *plan.Plan, id string) error {
	steps, err := st.Steps(ctx, id)
	if err != nil {
		return err
	}
	problems := incident.Preflight(ctx, g.systems(inv), p, steps)
	for _, pr := range problems {
		tablef(g.env.Stderr, "rekey: preflight: %s\n", pr)
	}
	if len(problems) > 0 {
		return errs.New("run", errs.Invalid, id, fmt.Sprintf("the preflight found %d problem(s), listed above; nothing was changed", len(problems)))
	}
	return nil
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

// openEngine opens the store and an engine on the incident's stored
// plan, claiming the incident first when the command changes systems
// (the context returned is the claim's); done releases all.
func (g *globals) openEngine(ctx context.Context, id string, claimed bool) (context.Context, *engine.Engine, func(), error) {
	st, err := g.openStore(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	release := func() {}
	if claimed {
		if ctx, release, err = g.claim(ctx, st, id); err != nil {
			st.Close()
			return nil, nil, nil, err
		}
	}
	deps, cleanup, err := g.engineDeps(ctx, st, id)
	if err != nil {
		release()
		st.Close()
		return nil, nil, nil, err
	}
	done := func() { cleanup(); release(); st.Close() }
	e, err := engine.New(ctx, deps, id)
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return ctx, e, done, nil
}

// engineDeps builds what the engine acts through from the incident's
// inventory: providers opened as each system's administrator (once, on
// first use), file targets, the sealing key and the audit log.
func (g *globals) engineDeps(ctx context.Context, st store.Store, id string) (engine.Deps, func(), error) {
	inc, err := st.GetIncident(ctx, id)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	inv, err := loadInventoryStrict(g, inc.Inventory)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	sealer, err := g.sealer(inc.ID)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	al, err := g.auditLog(st)
	if err != nil {
		return engine.Deps{}, nil, err
	}
	// A log that refuses appends must stop the run before its first step,
	// not after a step that could then not be recorded.
	if err := al.Check(ctx); err != nil {
		return engine.Deps{}, nil, err
	}
	fp, err := g.fingerprinter()
	if err != nil {
		return engine.Deps{}, nil, err
	}
	masker := secret.NewMasker(fp)
	masker.Add(g.given.secrets...)
	// Every admin DSN, and its password alone, before any command runs
	// (a rollback reloads consumers before it opens a system).
	systems := g.systems(inv)
	for _, admin := range systems.AdminSecrets() {
		masker.Add(admin, secret.FromString(dsn.Parse(string(admin.Reveal())).Password))
	}
	var mu sync.Mutex
	provs := map[string]provider.Provider{}
	cleanup := func() {
		for _, p := range provs {
			p.Close()
		}
	}
	out := io.Discard
	if g.env.stderrIsTerminal() {
		out = g.env.Stderr
	}
	d := engine.Deps{
		Store: st, Audit: al, Inventory: inv, Sealer: sealer, Actor: g.actor(), Out: out,
		Masker: masker, DropEnv: g.given.envs,
		Provider: func(ctx context.Context, system string) (provider.Provider, error) {
			mu.Lock()
			defer mu.Unlock()
			if p := provs[system]; p != nil {
				return p, nil
			}
			p, err := systems.Open(ctx, system)
			if err != nil {
				return nil, err
			}
			provs[system] = p
			return p, nil
		},
		Target: func(c *inventory.Consumer) (deliver.Target, error) {
			if c.Deliver == nil || c.Deliver.Type != "file" {
				return nil, errs.New("deliver", errs.Unsupported, c.Name, "rekey delivers to files only; consumer "+c.Name+" has no file delivery")
			}
			return file.FromInventory(inv, c.Deliver)
		},
	}
	if len(inv.Logs) > 0 {
		d.Logins = func(ctx context.Context, _, login string, since time.Time) ([]logs.Event, error) {
			files, err := expandLogs(logSpecs(nil, "", inv))
			if err != nil {
				return nil, nil // a log not there (yet) is no evidence either way
			}
			var out []logs.Event
			_, err = eachEvent(ctx, files, logsall.Parsers, func(e logs.Event) error {
				if e.Credential == login && e.Action == "connect" && e.Outcome == logs.Success && !e.Time.Before(since) {
					out = append(out, e)
				}
				return nil
			}, func(string) {}, 1)
			return out, err
		}
	}
	if t := g.env.Getenv("REKEY_SEEN_TIMEOUT"); t != "" {
		if v, err := time.ParseDuration(t); err == nil {
			d.SeenTimeout = v
		}
	}
	// A test hook: REKEY_FAILPOINT=STEP/PHASE kills the process with
	// SIGKILL at that step boundary, as a crash would. The crash tests of
	// the CLI use it; nothing else sets it.
	if fp := g.env.Getenv("REKEY_FAILPOINT"); fp != "" {
		d.Failpoint = func(step, phase string) {
			if step+"/"+phase == fp {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	return d, cleanup, nil
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

func newIncidentApproveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "approve ID STEP",
		Short: "Approve a step that waits for a person (--as NAME)",
		Long: `Approve records that the actor (--as NAME, $REKEY_ACTOR, or the login name)
approves one step of the incident's plan that waits for an approval, or a
remediation task that does (rewrite-history:REPO, from incident remediate).
The one who opened the incident cannot approve (separation of duties). The
approval is in the audit log; run --resume (or remediate --rewrite-history)
carries on.

EXIT STATUS
  0  approved (or already approved)
  2  usage or input error (unknown step, a step that needs no approval, the opener approving)`,
		Example: `  rekey incident approve INC-20261126-3f9a revoke:shop-db/orders_svc --as bob
  rekey incident approve INC-20261126-3f9a rewrite-history:shop --as bob`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			al, err := g.auditLog(st)
			if err != nil {
				return err
			}
			opener, err := incident.Opener(ctx, st, args[0])
			if err != nil {
				return err
			}
			if strings.HasPrefix(args[1], remediate.RewritePrefix) {
				// A remediation task (incident remediate), not a plan step.
				if _, err := st.GetIncident(ctx, args[0]); err != nil {
					return err
				}
				if err := remediate.Approve(ctx, st, al, args[0], args[1], g.actor(), opener); err != nil {
					return err
				}
				tablef(c.OutOrStdout(), "%s approved by %s\n", args[1], g.actor())
				return nil
			}
			e, err := engine.New(ctx, engine.Deps{Store: st, Audit: al, Actor: g.actor()}, args[0])
			if err != nil {
				return err
			}
			if err := e.Approve(ctx, args[1], g.actor(), opener); err != nil {
				return err
			}
			tablef(c.OutOrStdout(), "%s approved by %s\n", args[1], g.actor())
			return nil
		},
	}
}

func newIncidentRollbackCmd(g *globals) *cobra.Command {
	var yes bool
	var format string
	c := &cobra.Command{
		Use:   "rollback ID",
		Short: "Undo a run that has not revoked the old credential yet",
		Long: `Rollback puts every consumer's file back as it was before the run (the original
was sealed in the store before the first delivery), reloads the consumer, and
removes the logins the run issued. It refuses once the old credential has been
revoked: going back would leave consumers with a dead secret, and the way out
is forward (run --resume).

EXIT STATUS
  0  rolled back
  2  usage or input error (nothing to roll back, the credential already revoked)`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			ctx, e, done, err := g.openEngine(ctx, args[0], true)
			if err != nil {
				return err
			}
			defer done()
			if err := g.confirm(ctx, yes, "roll back the run of "+args[0]+"?"); err != nil {
				return err
			}
			res, err := e.Rollback(ctx)
			if err != nil {
				return err
			}
			return writeRun(c.OutOrStdout(), format, res)
		},
	}
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	c.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return c
}

func newIncidentCredentialCmd(g *globals) *cobra.Command {
	var reveal bool
	c := &cobra.Command{
		Use:   "credential ID LOGIN",
		Short: "Hand over a new credential rekey cannot deliver itself (a partner's)",
		Long: `Credential prints the new password of LOGIN while it is still sealed in the store,
for a consumer rekey cannot write to (a partner, reached by a notify step):
hand it over through the partner's secure channel, then approve its verify
step. Without --reveal only a preview is printed. Each reveal is in the
audit log with the actor. Once every consumer of the login is verified the
sealed copy is wiped and this command has nothing left to show.

EXIT STATUS
  0  printed
  2  usage or input error (unknown login, already wiped)`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			_, e, done, err := g.openEngine(ctx, args[0], false)
			if err != nil {
				return err
			}
			defer done()
			s, err := e.Credential(ctx, args[1], reveal)
			if err != nil {
				return err
			}
			if !reveal {
				fmt.Fprintf(c.OutOrStdout(), "%s (preview; --reveal prints it)\n", s.Preview())
				return nil
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "%s\n", s.Reveal())
			return err
		},
	}
	c.Flags().BoolVar(&reveal, "reveal", false, "print the password itself (recorded in the audit log)")
	return c
}
