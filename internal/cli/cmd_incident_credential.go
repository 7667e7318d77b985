package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
)

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
			d, done, err := g.openDepsAs(ctx, auth.Respond)
			if err != nil {
				return err
			}
			defer done()
			e, closeEngine, err := incident.Engine(ctx, d, args[0])
			if err != nil {
				return err
			}
			defer closeEngine()
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
