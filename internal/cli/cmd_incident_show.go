package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
)

type showOpts struct {
	inventory bool
	format    string
}

func newIncidentShowCmd(g *globals) *cobra.Command {
	o := &showOpts{}
	c := &cobra.Command{
		Use:   "show ID [--inventory]",
		Short: "Show an incident's state, identity and risk, or the inventory it was opened with",
		Long: `Show prints one incident as incident list does. With --inventory it prints instead
the inventory file the incident was opened with, byte for byte as rekey read
it (the store keeps a copy; it holds references such as env:VAR, never what
they resolve to).

EXIT STATUS
  0  printed
  2  usage or input error (an unknown incident, one opened before copies were kept)`,
		Example: `  rekey incident show INC-20261126-3f9a --format json
  rekey incident show INC-20261126-3f9a --inventory > used.yml`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runIncidentShow(c.Context(), g, o, args[0], c.OutOrStdout())
		},
	}
	c.Flags().BoolVar(&o.inventory, "inventory", false, "print the inventory the incident was opened with")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table or json (without --inventory)")
	return c
}

func runIncidentShow(ctx context.Context, g *globals, o *showOpts, id string, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	d, done, err := g.openDeps(ctx)
	if err != nil {
		return err
	}
	defer done()
	if o.inventory {
		if _, err := d.Store.GetIncident(ctx, id); err != nil {
			return err
		}
		inv, ok, err := d.Store.GetInventory(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			return errs.New("incident show", errs.NotFound, id, "no copy of its inventory was kept (opened before rekey kept one)")
		}
		_, err = out.Write(inv.Body)
		return err
	}
	s, err := incident.Show(ctx, d, id)
	if err != nil {
		return err
	}
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	tablef(out, "%s  %s\nopened %s by %s\nidentity %s, risk %d/100\n", s.ID, s.State, s.OpenedAt.UTC().Format(time.RFC3339), s.OpenedBy, s.Identity, s.Risk)
	if s.ClosedAt != nil {
		fmt.Fprintf(out, "closed %s\n", s.ClosedAt.UTC().Format(time.RFC3339))
	}
	return nil
}
