package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/store"
)

type leasesOpts struct {
	expiring time.Duration
	all      bool
	format   string
}

func newLeasesCmd(g *globals) *cobra.Command {
	o := &leasesOpts{}
	c := &cobra.Command{
		Use:   "leases",
		Short: "List the credentials rekey issued, with their expiry",
		Long: `Leases lists every credential rekey issued that is still active (--all: also
revoked and dropped ones), soonest expiry first, so that a TTL never turns into
a surprise outage. --expiring 72h keeps those that lapse within 72 hours.
"enforced" says whether the system itself refuses the login after its expiry
(PostgreSQL VALID UNTIL) or rekey only tracks it (MariaDB, Redis).

EXIT STATUS
  0  listed (with --expiring: none expires within it)
  1  --expiring matched at least one lease: something to renew or replace
  2  usage or input error`,
		Example: `  rekey leases --expiring 72h
  rekey leases renew 20261126-3f9a:shop-db/orders_svc_api --ttl 720h`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runLeases(c.Context(), g, o, c.OutOrStdout())
		},
	}
	c.Flags().DurationVar(&o.expiring, "expiring", 0, "only leases that expire within this duration (e.g. 72h)")
	c.Flags().BoolVar(&o.all, "all", false, "include revoked and dropped leases")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table or json")
	c.AddCommand(newLeasesRenewCmd(g), newLeasesRevokeCmd(g))
	return c
}

func runLeases(ctx context.Context, g *globals, o *leasesOpts, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	f := store.LeaseFilter{}
	if !o.all {
		f.State = store.LeaseActive
	}
	if o.expiring > 0 {
		f.ExpiresBefore = time.Now().Add(o.expiring)
	}
	ls, err := st.Leases(ctx, f)
	if err != nil {
		return err
	}
	if ls == nil {
		ls = []store.Lease{}
	}
	if err := writeLeases(out, o.format, ls); err != nil {
		return err
	}
	if o.expiring > 0 && len(ls) > 0 {
		return foundError{}
	}
	return nil
}

func writeLeases(out io.Writer, format string, ls []store.Lease) error {
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(ls)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSYSTEM\tLOGIN\tKEY\tCONSUMER\tEXPIRES\tENFORCED\tSTATE")
	for _, l := range ls {
		exp := "never"
		if l.Expires != nil {
			exp = l.Expires.UTC().Format(time.RFC3339) + " (in " + time.Until(*l.Expires).Round(time.Hour).String() + ")"
		}
		key := l.KeyID
		if key == "" {
			key = "-"
		}
		tablef(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", l.ID, l.System, l.Login, key, l.Consumer, exp, l.Enforced, l.State)
	}
	return tw.Flush()
}

func newLeasesRenewCmd(g *globals) *cobra.Command {
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "renew ID",
		Short: "Extend a lease (and the login's expiry on its system)",
		Long: `Renew moves a lease's expiry to now + --ttl, on the system too where it enforces
expiry (PostgreSQL VALID UNTIL). The renewal is in the audit log. A credential
whose expiry its system fixed when it made it (a Vault or GitLab token) cannot
be renewed: replace it before it lapses.

EXIT STATUS
  0  renewed
  2  usage or input error (unknown lease, a lease no longer active, an unreachable system)`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runLeasesRenew(c.Context(), g, args[0], ttl, c.OutOrStdout())
		},
	}
	c.Flags().DurationVar(&ttl, "ttl", 720*time.Hour, "new lifetime from now")
	return c
}

func runLeasesRenew(ctx context.Context, g *globals, id string, ttl time.Duration, out io.Writer) error {
	if ttl <= 0 {
		return usagef("--ttl must be positive")
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := g.actAs(ctx, st, auth.Manage); err != nil {
		return err
	}
	ls, err := st.Leases(ctx, store.LeaseFilter{ID: id})
	if err != nil {
		return err
	}
	if len(ls) == 0 {
		return errs.New("leases renew", errs.NotFound, id, "no such lease (rekey leases lists them)")
	}
	l := ls[0]
	if l.State != store.LeaseActive {
		return errs.New("leases renew", errs.Invalid, id, "the lease is "+l.State+", not active")
	}
	al, err := g.auditLog(st)
	if err != nil {
		return err
	}
	if err := al.Check(ctx); err != nil {
		return err
	}
	until := time.Now().Add(ttl).Truncate(time.Second)
	if l.Enforced {
		if err := renewOnSystem(ctx, g, st, l, until); err != nil {
			return err
		}
	}
	l.Expires = &until
	if err := st.PutLease(ctx, l); err != nil {
		return err
	}
	if _, err := al.Append(ctx, g.actor(), "lease.renew", l.IncidentID, map[string]string{"lease": l.ID, "until": until.UTC().Format(time.RFC3339)}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s renewed until %s\n", l.ID, until.UTC().Format(time.RFC3339))
	return err
}

func renewOnSystem(ctx context.Context, g *globals, st store.Store, l store.Lease, until time.Time) error {
	inc, err := st.GetIncident(ctx, l.IncidentID)
	if err != nil {
		return err
	}
	inv, err := loadInventoryStrict(g, inc.Inventory)
	if err != nil {
		return err
	}
	p, err := g.systems(inv).Open(ctx, l.System)
	if err != nil {
		return err
	}
	defer p.Close()
	r, ok := p.(provider.Rotator)
	if !ok {
		return errs.New("leases renew", errs.Unsupported, l.ID, "system "+l.System+" cannot renew logins with this rekey")
	}
	err = r.Renew(ctx, provider.IdentityRef{System: l.System, Name: l.Login}, until)
	if errors.Is(err, provider.ErrUnsupported) {
		// The system would still refuse the credential at its old expiry
		// (a Vault or GitLab token's is fixed when it is made): moving
		// only rekey's record would hide the outage it announces.
		when := ""
		if l.Expires != nil {
			when = " before " + l.Expires.UTC().Format(time.RFC3339)
		}
		return errs.New("leases renew", errs.Unsupported, l.ID, "system "+l.System+" cannot extend this credential's expiry: replace it"+when+" (rekey plan)")
	}
	return err
}
