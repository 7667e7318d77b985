package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/incident"
)

type incidentReportOpts struct{ format string }

func newIncidentReportCmd(g *globals) *cobra.Command {
	o := &incidentReportOpts{}
	c := &cobra.Command{
		Use:   "report ID [--format md|html|json]",
		Short: "Write the incident's report: timeline, scope, response, review, remaining risk, standards",
		Long: `Report writes everything the incident recorded, for the ticket, the post-mortem
and the auditor:

  - key facts (leak, first unexplained use, revocation) and a timeline built
    from the audit log: who opened, planned, approved, revealed, reviewed,
    renewed, and every step's transition;
  - the scope: identity, privileges, copies by class, consumers, reuse,
    flags, risk;
  - what was revoked, issued (with leases and expiry), delivered and
    verified;
  - the reviews' findings with their evidence (file:line), exposure and
    after rotation;
  - copies that remain, with their remediation tasks, and the risk that
    remains;
  - the standards this incident showed (OWASP NHI Top 10 2025, NIST CSF 2.0,
    NIST AI RMF for an agent's identity, MITRE ATT&CK), each with the fact
    that maps it;
  - whether the audit log's hash chain is intact.

Formats: md (default, for a ticket), html (one self-contained file: inline
CSS and SVG, nothing fetched from the network), json (docs/formats.md).
Only previews of secrets appear, never a value.

EXIT STATUS
  0  written, whatever it says
  2  usage or input error (an unknown incident id, a bad format, a bad store)`,
		Example: `  rekey incident report INC-20261126-3f9a > INC-20261126-3f9a.md
  rekey incident report INC-20261126-3f9a --format html > report.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runIncidentReport(c.Context(), g, o, args[0], c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.format, "format", "md", "output format: md, html or json")
	return c
}

func runIncidentReport(ctx context.Context, g *globals, o *incidentReportOpts, id string, out io.Writer) error {
	if err := checkFormat(o.format, "md", "html", "json"); err != nil {
		return err
	}
	d, done, err := g.openDeps(ctx)
	if err != nil {
		return err
	}
	defer done()
	r, err := incident.Report(ctx, d, id)
	if err != nil {
		return err
	}
	switch o.format {
	case "json":
		return r.WriteJSON(out)
	case "html":
		return r.WriteHTML(out)
	}
	return r.WriteMarkdown(out)
}
