package cli

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	logsall "github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/review"
)

// reviewFlags are the flags `review` and `incident review` share.
type reviewFlags struct {
	logs      []string
	logFormat string
	rotatedAt string
	baseline  time.Duration
	format    string
}

func (f *reviewFlags) register(c *cobra.Command) {
	c.Flags().StringArrayVar(&f.logs, "logs", nil, "log files or quoted globs (** for any depth) to read (repeatable)")
	c.Flags().StringVar(&f.logFormat, "log-format", "", "the logs' format (cloudtrail, postgres-csv, …); detected from each file's content when not given")
	c.Flags().StringVar(&f.rotatedAt, "rotated-at", "", "when the secret was rotated (RFC 3339): uses after it are use after revocation")
	c.Flags().DurationVar(&f.baseline, "baseline", review.DefaultBaseline, "how far before the leak the baseline reaches")
	c.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
}

type reviewOpts struct {
	reviewFlags
	credential string
	leakedAt   string
	inventory  string
}

func newReviewCmd(g *globals) *cobra.Command {
	o := &reviewOpts{}
	c := &cobra.Command{
		Use:   "review --logs GLOB… --credential REF [--leaked-at T] [--rotated-at T]",
		Short: "Review what a credential did before its leak, during its exposure and after its rotation",
		Long: `Review reads logs for one credential and compares three windows: the baseline
(the --baseline before the leak, 30 days by default), the exposure (from the
leak to the rotation, or now) and after the rotation. It reports, each with a
severity, a sentence to paste into a ticket and the log records (file:line)
behind it:

  new-source          addresses, networks, hosts and applications never seen in
                      the baseline and declared for no consumer
  new-user-agent      user agents never seen in the baseline
  new-action          actions never done in the baseline
  sensitive-action    credential and policy creation, role chaining, secret
                      reads, reconnaissance, logging tampering… (CloudTrail,
                      PostgreSQL, MySQL, Kubernetes, Vault, GitHub)
  failed-auth-burst   refused attempts in bursts the baseline never had
  off-hours           use at hours the baseline shows no activity
  volume              an hour far busier than any of the baseline's
  use-after-revocation  a success after the rotation (critical); refusals from
                      unknown sources (someone still trying) or from consumers
                      (one the rotation missed)
  multi-source        an instance's or pod's credential used from elsewhere
  derived-credential  keys, sessions, logins and roles it created: they survive
                      the rotation, and are listed under RELATED with what they
                      did (the logs are read again for them)
  no-baseline         without a leak time, or with no use before it, nothing is
                      judged by comparison: the review says so

REF is an AWS access key id, a role or user name, a token accessor or
fingerprint, or a principal ARN (a role ARN covers its sessions).
--inventory names the inventory whose consumers of REF are declared.

EXIT STATUS
  0  reviewed, whatever was found
  2  usage or input error (a bad flag or time, a glob that matches nothing,
     logs of which no file could be read or parsed)`,
		Example: `  rekey review --logs 'trail/**/*.json.gz' --credential AKIAIOSFODNN7EXAMPLE \
      --leaked-at 2026-03-14T08:55:00Z --rotated-at 2026-03-14T11:00:00Z
  rekey review --logs '/var/log/postgresql/*.csv' --credential orders_svc --format json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runReview(c.Context(), g, o, c.OutOrStdout())
		},
	}
	o.register(c)
	c.Flags().StringVar(&o.credential, "credential", "", "the credential to review (required)")
	c.Flags().StringVar(&o.leakedAt, "leaked-at", "", "when the secret was exposed (RFC 3339); without it there is no baseline")
	c.Flags().StringVar(&o.inventory, "inventory", "", "an inventory declaring the credential's consumers")
	return c
}

func parseTime(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usagef("--%s %q: want RFC 3339, such as 2026-11-25T22:10:00Z", flag, v)
	}
	return t, nil
}

// check validates the shared flags and returns the rotation time.
func (f *reviewFlags) check() (time.Time, error) {
	if err := checkFormat(f.format, "table", "json"); err != nil {
		return time.Time{}, err
	}
	if f.baseline <= 0 {
		return time.Time{}, usagef("--baseline %s: want a positive duration, such as 720h", f.baseline)
	}
	if f.logFormat != "" && logsall.ByName(logsall.Parsers(), f.logFormat) == nil {
		return time.Time{}, usagef("--log-format %q: not one rekey reads", f.logFormat)
	}
	return parseTime("rotated-at", f.rotatedAt)
}

func runReview(ctx context.Context, g *globals, o *reviewOpts, out io.Writer) error {
	rotated, err := o.check()
	if err != nil {
		return err
	}
	if o.credential == "" {
		return usagef("--credential REF is required")
	}
	if len(o.logs) == 0 {
		return usagef("--logs GLOB is required")
	}
	leaked, err := parseTime("leaked-at", o.leakedAt)
	if err != nil {
		return err
	}
	if !leaked.IsZero() && !rotated.IsZero() && rotated.Before(leaked) {
		return usagef("--rotated-at %s is before --leaked-at %s", o.rotatedAt, o.leakedAt)
	}
	var consumers []*inventory.Consumer
	if o.inventory != "" {
		inv, err := loadInventoryStrict(g, o.inventory)
		if err != nil {
			return err
		}
		consumers = consumersOf(inv, o.credential)
	}
	files, err := incident.ExpandLogs(incident.LogSets(o.logs, o.logFormat, nil))
	if err != nil {
		return err
	}
	cfg := review.Config{Credential: o.credential, LeakedAt: leaked, RotatedAt: rotated, Baseline: o.baseline, Consumers: consumers, Now: time.Now()}
	rep, tally, err := incident.ReviewLogs(ctx, cfg, files, g.progress(), g.warnLine)
	if err != nil {
		return err
	}
	return writeReview(out, o.format, rep, &tally)
}

// consumersOf returns the consumers an inventory declares for the
// identity named ref (its name, or system/name).
func consumersOf(inv *inventory.Inventory, ref string) []*inventory.Consumer {
	if id := inv.IdentityByName(ref); id != nil {
		return inv.ConsumersOf(id)
	}
	return nil
}

type incidentReviewOpts struct {
	reviewFlags
	leakedAt string
}

func newIncidentReviewCmd(g *globals) *cobra.Command {
	o := &incidentReviewOpts{}
	c := &cobra.Command{
		Use:   "review ID [--logs GLOB]… [--leaked-at T]",
		Short: "Review what the incident's credential did, with windows from the incident",
		Long: `Review runs rekey review on the incident's identity: the baseline ends and the
exposure starts at the incident's leak time, the after window at its rotation
(--rotated-at until rekey records rotations), and the inventory the incident
was opened with declares the consumers. The logs are --logs and the
inventory's logs:, read again; without any, the uses stored at open are
reviewed (derived credentials are found, but not their activity, which needs
the logs). --leaked-at replaces the leak time stored at open (a guess from
the earliest copy, or an earlier --leaked-at) for this review and every
later plan and report; the change is in the audit log.

EXIT STATUS
  0  reviewed, whatever was found
  2  usage or input error (an unknown incident, a bad flag or time, a glob that
     matches nothing, logs of which no file could be read or parsed)`,
		Example: `  rekey incident review INC-20261126-3f9a
  rekey incident review INC-20261126-3f9a --logs '/var/log/postgresql/*.csv' --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runIncidentReview(c.Context(), g, o, args[0], c.OutOrStdout())
		},
	}
	o.register(c)
	c.Flags().StringVar(&o.leakedAt, "leaked-at", "", "when the secret was exposed (RFC 3339): replaces the incident's stored leak time (audited)")
	return c
}

func runIncidentReview(ctx context.Context, g *globals, o *incidentReviewOpts, id string, out io.Writer) error {
	rotated, err := o.check()
	if err != nil {
		return err
	}
	leaked, err := parseTime("leaked-at", o.leakedAt)
	if err != nil {
		return err
	}
	if !leaked.IsZero() && !rotated.IsZero() && rotated.Before(leaked) {
		return usagef("--rotated-at %s is before --leaked-at %s", o.rotatedAt, o.leakedAt)
	}
	d, done, err := g.openDepsAs(ctx, auth.Respond)
	if err != nil {
		return err
	}
	defer done()
	res, err := incident.Review(ctx, d, id, incident.ReviewOptions{Logs: o.logs, LogFormat: o.logFormat, LeakedAt: leaked, RotatedAt: rotated, Baseline: o.baseline})
	if err != nil {
		return err
	}
	return writeReview(out, o.format, res.Report, res.Logs)
}

// reviewOutput is the review's JSON with how its log files were read
// (absent for a review of the uses stored at open).
type reviewOutput = incident.ReviewView

func writeReview(w io.Writer, format string, rep review.Report, tally *incident.LogTally) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(reviewOutput{Report: rep, Logs: tally})
	}
	return writeReviewTable(w, rep, tally)
}

func tsOrDash(t *time.Time, dash string) string {
	if t == nil {
		return dash
	}
	return t.UTC().Format(time.RFC3339)
}

func evidenceLine(e review.Evidence) string {
	pos := tables("%s:%d", e.File, e.Line)
	if e.Line == 0 {
		pos = tables("%s@%d", e.File, e.Offset)
	}
	extra := ""
	if e.Application != "" {
		extra = tables(" app %q", e.Application)
	}
	return tables("%s  %s %s %s from %s%s  %s", e.Time.UTC().Format(time.RFC3339), e.Credential, e.Action, e.Outcome, e.Source, extra, pos)
}

func writeReviewTable(w io.Writer, rep review.Report, tally *incident.LogTally) error {
	var b strings.Builder
	tablef(&b, "REVIEW  %s  %d event(s)\n", rep.Credential, rep.Events)
	if tally != nil {
		tablef(&b, "LOGS    %s\n", tally.String())
	}
	tablef(&b, "\nWINDOWS\n")
	win := func(name string, x *review.Window, startDash, endDash string) {
		if x == nil {
			tablef(&b, "  %-9s none\n", name)
			return
		}
		tablef(&b, "  %-9s %s → %s  %d event(s), %d refused, %d source(s), %d action(s)\n", name,
			tsOrDash(x.Start, startDash), tsOrDash(x.End, endDash), x.Events, x.Failures, x.Sources, x.Actions)
	}
	win("baseline", rep.Windows.Baseline, "", "")
	win("exposure", &rep.Windows.Exposure, "(no leak time)", "now")
	win("after", rep.Windows.After, "", "now")
	tablef(&b, "\nFINDINGS  %d\n", len(rep.Findings))
	if len(rep.Findings) == 0 {
		tablef(&b, "  none\n")
	}
	for _, f := range rep.Findings {
		tablef(&b, "  %-8s %-20s %s\n", strings.ToUpper(string(f.Severity)), f.Kind, f.Summary)
		for i, e := range f.Evidence {
			if i == 3 {
				tablef(&b, "           … %d more in --format json\n", len(f.Evidence)-3)
				break
			}
			tablef(&b, "           %s\n", evidenceLine(e))
		}
	}
	if len(rep.Related) > 0 {
		tablef(&b, "\nRELATED  %d: they survive rotating %s; revoke them\n", len(rep.Related), rep.Credential)
		for _, r := range rep.Related {
			tablef(&b, "  %-14s %s  created %s by %s via %s from %s", r.Kind, r.Credential, r.CreatedAt.UTC().Format(time.RFC3339), r.CreatedBy, r.Via, r.From)
			if r.Principal != "" {
				tablef(&b, "  as %s", r.Principal)
			}
			if r.Activity.Events > 0 {
				tablef(&b, "\n                 used %d time(s) (%d refused, %d after the rotation) from %s: %s; last %s",
					r.Activity.Events, r.Activity.Failures, r.Activity.AfterRotation, strings.Join(r.Activity.Sources, " "),
					strings.Join(r.Activity.Actions, " "), tsOrDash(r.Activity.LastSeen, ""))
			} else {
				tablef(&b, "\n                 no use in the logs read")
			}
			b.WriteString("\n")
		}
	}
	if len(rep.Timeline) > 0 {
		tablef(&b, "\nTIMELINE  %d moment(s)\n", len(rep.Timeline))
		for _, m := range rep.Timeline {
			kinds := ""
			if len(m.Kinds) > 0 {
				kinds = "  [" + strings.Join(m.Kinds, ", ") + "]"
			}
			tablef(&b, "  %-8s %s%s\n", m.Window, evidenceLine(m.Evidence), kinds)
		}
	}
	rows := func(title string, rs []review.Row, omitted int) {
		if len(rs) == 0 {
			return
		}
		tablef(&b, "\n%-40s %9s %9s %9s %8s\n", title, "baseline", "exposure", "after", "refused")
		for _, r := range rs {
			note := ""
			if r.Consumer != "" {
				note = "  consumer " + r.Consumer
			}
			if r.Sensitive {
				note += "  sensitive"
			}
			tablef(&b, "  %-38s %9d %9d %9d %8d%s\n", clipCell(r.Name, 38), r.Baseline, r.Exposure, r.After, r.Failures, note)
		}
		if omitted > 0 {
			tablef(&b, "  … %d more\n", omitted)
		}
	}
	rows("BEFORE/AFTER BY SOURCE", rep.Summary.Sources, rep.Summary.OmittedSources)
	rows("BEFORE/AFTER BY ACTION", rep.Summary.Actions, rep.Summary.OmittedActions)
	if len(rep.Notes) > 0 {
		tablef(&b, "\nNOTES\n")
		for _, n := range rep.Notes {
			tablef(&b, "  %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func clipCell(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
