package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
)

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
			d, done, err := g.openDepsAs(ctx, auth.Respond)
			if err != nil {
				return err
			}
			defer done()
			res, err := incident.Rollback(ctx, d, args[0], func(ctx context.Context) error {
				return g.confirm(ctx, yes, "roll back the run of "+args[0]+"?")
			})
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
