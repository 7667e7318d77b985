package cli

import (
	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
)

func newIncidentApproveCmd(g *globals) *cobra.Command {
	var sf secretFlags
	cmd := &cobra.Command{
		Use:   "approve ID STEP [--secret-file F | --secret-stdin]",
		Short: "Approve a step that waits for a person (--as NAME)",
		Long: `Approve records that the actor (--as NAME, $REKEY_ACTOR, or the login name)
approves one step of the incident's plan that waits for an approval, or a
remediation task that does (rewrite-history:REPO, or chat:#CHANNEL@TS and
ticket:KEY#comment-ID for copies read through the Slack or Jira API; all
from incident remediate).
The one who opened the incident cannot approve (separation of duties). The
approval is in the audit log; run --resume (or remediate, with
--rewrite-history for a rewrite) carries on.

A supply-secret step (a replacement no API can create, such as a GitHub
personal access token) is approved by the person who created the new
secret, with it: --secret-file F or --secret-stdin (never an argument). It
is sealed at once; the run delivers and verifies it.

EXIT STATUS
  0  approved (or already approved)
  2  usage or input error (unknown step, a step that needs no approval, the opener approving)`,
		Example: `  rekey incident approve INC-20261126-3f9a revoke:shop-db/orders_svc --as bob
  rekey incident approve INC-20261126-3f9a rewrite-history:shop --as bob
  rekey incident approve INC-20261126-3f9a 'chat:#ops@1709632800.000100' --as bob
  rekey incident approve INC-20261126-3f9a supply:gh/octo-bot --secret-file new-token.txt --as bob`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			d, done, err := g.openDepsAs(c.Context(), auth.Approve)
			if err != nil {
				return err
			}
			defer done()
			if sf.file != "" || sf.stdin || sf.env != "" {
				s, err := sf.read(g)
				if err != nil {
					return err
				}
				err = incident.ApproveSecret(c.Context(), d, args[0], args[1], s)
				s.Wipe()
				if err != nil {
					return err
				}
			} else if err := incident.Approve(c.Context(), d, args[0], args[1]); err != nil {
				return err
			}
			tablef(c.OutOrStdout(), "%s approved by %s\n", args[1], d.Actor)
			return nil
		},
	}
	cmd.Flags().StringVar(&sf.file, "secret-file", "", "a supply-secret step's new secret, read from this file (one trailing newline is dropped)")
	cmd.Flags().BoolVar(&sf.stdin, "secret-stdin", false, "a supply-secret step's new secret, read from standard input")
	return cmd
}
