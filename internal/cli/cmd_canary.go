package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/watch/watcher"
)

func newCanaryCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "canary",
		Short: "Decoy logins whose use is a sign of intrusion",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.AddCommand(newCanaryCreateCmd(g))
	return c
}

type canaryOpts struct {
	system, name, inventory, format string
}

func newCanaryCreateCmd(g *globals) *cobra.Command {
	o := &canaryOpts{}
	c := &cobra.Command{
		Use:   "create --system NAME --name LOGIN [--inventory FILE] [--format json]",
		Short: "Make a decoy login with no privilege and print its secret, once",
		Long: `Create makes LOGIN a decoy in the inventory's system NAME, as its
administrator: a login that authenticates and may do nothing (PostgreSQL: a
LOGIN role with no attribute, membership or grant; MySQL/MariaDB: an account
with USAGE only; Redis: an ACL user allowed no command, key or channel; AWS
IAM: a user with no policy, tagged rekey=canary, with one access key). It is
recorded in the store, not in the inventory, and its secret is printed once,
on standard output (table: the secret alone, or for AWS a credentials-file
block with the access key id and secret; json: {system,login,key_id,secret}),
for planting where an attacker would look. rekey does not keep the secret.

Any use of the login (for AWS, of its access key) that rekey watch sees in
the logs (Redis: its ACL LOG; AWS: CloudTrail, AccessDenied included),
successful or refused, is a critical canary-use finding. Made again, the
canary gets a new secret (AWS: its old key is deleted); a login of that name
that is not a canary rekey made is refused and left alone.

EXIT STATUS
  0  made; the secret is on standard output
  2  usage or input error (no such system, a system that cannot hold a canary,
     a login of that name that is not a canary, an unreachable system)`,
		Example: `  rekey canary create --system shop-db --name backup_admin --inventory ops/rekey.yml > /secure/place`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runCanaryCreate(c.Context(), g, o, c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.system, "system", "", "the inventory's system to make the canary in (required)")
	c.Flags().StringVar(&o.name, "name", "", "the canary's login name (required)")
	c.Flags().StringVar(&o.inventory, "inventory", "", "the inventory file (default $REKEY_INVENTORY)")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table (the secret alone) or json")
	return c
}

func runCanaryCreate(ctx context.Context, g *globals, o *canaryOpts, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	if o.system == "" || o.name == "" {
		return usagef("--system NAME and --name LOGIN are required")
	}
	inv, _, d, done, err := g.inventoryDeps(ctx, o.inventory)
	if err != nil {
		return err
	}
	defer done()
	c, err := watcher.CreateCanary(ctx, d, inv, o.system, o.name)
	if err != nil {
		return err
	}
	if o.format == "json" {
		return json.NewEncoder(out).Encode(struct {
			System string `json:"system"`
			Login  string `json:"login"`
			KeyID  string `json:"key_id,omitempty"`
			Secret string `json:"secret"`
		}{c.System, c.Login, c.KeyID, string(c.Secret.Reveal())})
	}
	if c.KeyID != "" {
		// A key is planted as a credentials file holds it.
		tablef(g.env.Stderr, "rekey: canary user %s made in %s with access key %s; its credentials follow, shown this once\n", c.Login, c.System, c.KeyID)
		_, err = fmt.Fprintf(out, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", c.KeyID, c.Secret.Reveal())
		return err
	}
	tablef(g.env.Stderr, "rekey: canary %s made in %s; its secret follows, shown this once\n", c.Login, c.System)
	_, err = fmt.Fprintln(out, string(c.Secret.Reveal()))
	return err
}
