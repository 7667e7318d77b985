package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
)

type leasesRevokeOpts struct {
	holder, role, inventory string
}

func newLeasesRevokeCmd(g *globals) *cobra.Command {
	o := &leasesRevokeOpts{}
	c := &cobra.Command{
		Use:   "revoke (ID | --holder ISSUER:SUBJECT | --role NAME) --inventory FILE",
		Short: "End broker leases now: one, every lease of a workload, or of a role",
		Long: `Revoke ends broker leases at once: the login stops working, its open sessions
are ended and it is dropped. Give a lease id, --holder (every lease of one
workload, ISSUER:SUBJECT as the leases list shows it) or --role (every lease of
a broker role). --inventory is the inventory with the broker: section, whose
systems rekey connects to as administrator. Each lease ended is in the audit
log, with you as who ended it. Ending a lease already ended is not an error.

EXIT STATUS
  0  revoked (possibly none: nothing matched)
  2  usage or input error (no such lease, an unreachable system)`,
		Example: `  rekey leases revoke 3f9a0c…e1 --inventory inventory.yml
  rekey leases revoke --holder https://token.actions.githubusercontent.com:repo:shop/orders:ref:refs/heads/main --inventory inventory.yml
  rekey leases revoke --role orders-rw --inventory inventory.yml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			return runLeasesRevoke(c.Context(), g, o, id, c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.holder, "holder", "", "every lease of this workload (ISSUER:SUBJECT)")
	c.Flags().StringVar(&o.role, "role", "", "every lease of this broker role")
	c.Flags().StringVar(&o.inventory, "inventory", "", "inventory with the broker: section (required)")
	return c
}

func runLeasesRevoke(ctx context.Context, g *globals, o *leasesRevokeOpts, id string, out io.Writer) error {
	given := 0
	for _, s := range []string{id, o.holder, o.role} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return usagef("give one of: a lease id, --holder ISSUER:SUBJECT, --role NAME")
	}
	if o.inventory == "" {
		return usagef("--inventory is required: the broker's systems are reached through it")
	}
	inv, err := loadInventoryStrict(g, o.inventory)
	if err != nil {
		return err
	}
	if inv.Broker == nil {
		return usagef("%s has no broker: section", o.inventory)
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := g.actAs(ctx, st, auth.Manage); err != nil {
		return err
	}
	// A log that refuses appends stops us before any lease ends.
	al, err := g.auditLog(st)
	if err != nil {
		return err
	}
	if err := al.Check(ctx); err != nil {
		return err
	}
	leases, done, err := g.brokerLeases(ctx, st, inv)
	if err != nil {
		return err
	}
	defer done()
	n := 0
	switch {
	case id != "":
		if err := leases.Revoke(ctx, id, "", g.actor()); err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "lease %s ended, its sessions too\n", id)
		return err
	case o.holder != "":
		n, err = leases.RevokeHolder(ctx, o.holder, g.actor())
	default:
		n, err = leases.RevokeRole(ctx, o.role, g.actor())
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%d lease(s) revoked, their sessions ended\n", n)
	return err
}
