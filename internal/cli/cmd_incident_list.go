package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/store"
)

type listOpts struct{ state, format string }

func newIncidentListCmd(g *globals) *cobra.Command {
	o := &listOpts{}
	c := &cobra.Command{
		Use:   "list [--state open|closed|all]",
		Short: "List incidents with their state, identity and risk",
		Long: `List shows the incidents of the store, oldest first: when each was opened and by
whom, the identity its secret authenticates as, and its risk score (0-100)
as the scope computes it. --state open (the default) keeps those still
being worked on.

EXIT STATUS
  0  listed (also when there is none)
  2  usage or input error (a bad state or format, a bad store)`,
		Example: `  rekey incident list
  rekey incident list --state all --format json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runIncidentList(c.Context(), g, o, c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.state, "state", "open", "open, closed or all")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table or json")
	return c
}

func runIncidentList(ctx context.Context, g *globals, o *listOpts, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	if o.state != "open" && o.state != "closed" && o.state != "all" {
		return usagef("--state %q: want open, closed or all", o.state)
	}
	d, done, err := g.openDeps(ctx)
	if err != nil {
		return err
	}
	defer done()
	list, err := incident.List(ctx, d, store.State(o.state))
	if err != nil {
		return err
	}
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tOPENED\tBY\tIDENTITY\tRISK")
	for _, s := range list {
		tablef(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", s.ID, s.State, s.OpenedAt.UTC().Format(time.RFC3339), s.OpenedBy, s.Identity, s.Risk)
	}
	return tw.Flush()
}
