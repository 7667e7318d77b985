package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/plan"
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
  jit        consumers that declare jit: {role: NAME} move onto short-lived leases
             from the broker (their rekey agent delivers them), the others get a
             login of their own, then the static identity is revoked
  auto       emergency when the secret is used from a source no consumer explains
             or the identity is over-privileged; else split when it is shared;
             else graceful

Dangerous privileges the inventory does not keep are removed first (isolate)
and never given to replacements. When a broker role copies the identity, a
revoke-leases step ends every lease of it. Partners get a temporary login and wait for
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
	c.Flags().StringVar(&o.strategy, "strategy", "auto", "auto, graceful, emergency, split or jit")
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
	if err := g.actAs(ctx, st, auth.Respond); err != nil {
		return err
	}
	d, err := g.deps(st)
	if err != nil {
		return err
	}
	p, err := incident.Plan(ctx, d, id, plan.Strategy(o.strategy))
	if err != nil {
		return err
	}
	return writePlan(out, o.format, p)
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
