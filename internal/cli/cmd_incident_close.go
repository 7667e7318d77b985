package cli

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
)

func newIncidentCloseCmd(g *globals) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "close ID --reason TEXT",
		Short: "Close an incident, with the reason",
		Long: `Close ends the response to an incident: the reason and who closed it go to the
audit log and the report, and the incident leaves incident list. Opening the
same secret again afterwards starts a new incident. An incident whose run is
going on (another rekey holds it) cannot be closed.

EXIT STATUS
  0  closed
  2  usage or input error (no reason, an unknown or already closed incident, a
     run going on)`,
		Example: `  rekey incident close INC-20261126-3f9a --reason "rotated, copies removed, review clean"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runIncidentClose(c.Context(), g, args[0], reason, c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why the incident is closed (required)")
	return c
}

func runIncidentClose(ctx context.Context, g *globals, id, reason string, out io.Writer) error {
	d, done, err := g.openDepsAs(ctx, auth.Respond)
	if err != nil {
		return err
	}
	defer done()
	inc, err := incident.Close(ctx, d, id, reason)
	if err != nil {
		return err
	}
	tablef(out, "%s closed at %s\n", inc.ID, inc.ClosedAt.UTC().Format(time.RFC3339))
	return nil
}
