package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/broker/policy"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/safefile"
)

func newBrokerCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "broker",
		Short: "Work with the just-in-time credential broker",
		Long: `The broker gives workloads short-lived credentials: a workload proves what it
is with a signed identity token from its platform (OIDC or SPIFFE), a Rego
policy decides at every request, and the credential is a lease that dies at
its expiry. See docs/broker.md.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error { return c.Help() },
	}
	p := &cobra.Command{
		Use:   "policy",
		Short: "Check the broker's request-time policy",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, args []string) error { return c.Help() },
	}
	p.AddCommand(newBrokerPolicyTestCmd(g))
	c.AddCommand(p)
	return c
}

type brokerPolicyTestOpts struct {
	cases     string
	inventory string
	format    string
}

func newBrokerPolicyTestCmd(g *globals) *cobra.Command {
	o := &brokerPolicyTestOpts{}
	c := &cobra.Command{
		Use:   "test POLICY --cases FILE",
		Short: "Run a policy against example requests and report every mismatch",
		Long: `Test evaluates the Rego policy POLICY (a file; "default" for the policy built
into rekey, unless a file of that name exists) for each case in FILE and
prints the cases it decides otherwise.

FILE is JSON or YAML: a list of {name?, input, allow, reasons?, max_ttl?}.
input is the policy input ({workload:{issuer,subject,claims}, request:{role,
ttl}, time, source, identity:{under_incident,risk,kind}}); allow says whether
the request must be granted (allow true and deny empty); reasons, when given,
must be the deny set exactly; max_ttl, when given, the policy's cap in seconds.
The roles the policy sees (data.rekey.roles) come from --inventory's broker:
section; without it there are none.

EXIT STATUS
  0  every case decided as stated
  1  at least one mismatch
  2  usage or input error (unreadable file, a policy that does not compile,
     a malformed case, an inventory with errors)`,
		Example: `  rekey broker policy test broker.rego --cases broker-cases.yaml --inventory inventory.yml
  rekey broker policy test default --cases examples/broker/default-cases.yaml --inventory examples/broker/inventory.yml`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runBrokerPolicyTest(c.Context(), g, o, args[0], c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.cases, "cases", "", "the cases file (JSON or YAML)")
	c.Flags().StringVar(&o.inventory, "inventory", "", "inventory whose broker roles the policy sees")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table or json")
	return c
}

type caseJSON struct {
	Name     string   `json:"name"`
	Line     int      `json:"line"`
	Allow    bool     `json:"allow"`
	Reasons  []string `json:"reasons"`
	MaxTTL   *float64 `json:"max_ttl,omitempty"`
	GotAllow bool     `json:"got_allow"`
	GotDeny  []string `json:"got_reasons"`
	GotMax   *float64 `json:"got_max_ttl,omitempty"`
	Error    string   `json:"error,omitempty"`
}

func runBrokerPolicyTest(ctx context.Context, g *globals, o *brokerPolicyTestOpts, policyPath string, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	if o.cases == "" {
		return usagef("--cases FILE is required")
	}
	data := broker.PolicyData(nil)
	if o.inventory != "" {
		opts, err := inventoryOptions(g)
		if err != nil {
			return err
		}
		inv, rep, err := inventory.Load(o.inventory, opts)
		if err != nil {
			return err
		}
		if !rep.OK() {
			return errs.New("inventory", errs.Invalid, rep.Errors[0].Pos.String(),
				fmt.Sprintf("%s (%d errors; see rekey inventory check)", rep.Errors[0].Msg, len(rep.Errors)))
		}
		data = broker.PolicyData(inv)
	}
	var (
		e   *policy.Engine
		err error
	)
	if _, statErr := os.Stat(policyPath); policyPath == "default" && errors.Is(statErr, os.ErrNotExist) {
		e, err = policy.Default(data)
	} else {
		e, err = policy.Load(ctx, policyPath, data)
	}
	if err != nil {
		return err
	}
	f, err := safefile.OpenRegular("cases", o.cases)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return errs.E("cases", errs.Invalid, o.cases, err)
	}
	cases, err := policy.ParseCases(o.cases, raw)
	if err != nil {
		return err
	}
	outcomes := e.Run(ctx, cases)
	var bad []caseJSON
	for i, oc := range outcomes {
		if !oc.Mismatch() {
			continue
		}
		cj := caseJSON{Name: oc.Case.Label(i), Line: oc.Case.Line, Allow: oc.Case.Allow, Reasons: oc.Case.Reasons,
			MaxTTL: oc.Case.MaxTTL, GotAllow: oc.Granted, GotDeny: oc.Got.Deny}
		if oc.Got.HasMaxTTL {
			s := oc.Got.MaxTTL.Seconds()
			cj.GotMax = &s
		}
		if oc.Err != nil {
			cj.Error = oc.Err.Error()
		}
		bad = append(bad, cj)
	}
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if bad == nil {
			bad = []caseJSON{}
		}
		if err := enc.Encode(map[string]any{"cases": len(cases), "mismatches": bad}); err != nil {
			return err
		}
	} else {
		if len(bad) > 0 {
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CASE\tLINE\tWANT\tGOT")
			for _, b := range bad {
				got := verdict(b.GotAllow, b.GotDeny, b.GotMax)
				if b.Error != "" {
					got = "error: " + b.Error
				}
				tablef(tw, "%s\t%d\t%s\t%s\n", b.Name, b.Line, verdict(b.Allow, b.Reasons, b.MaxTTL), got)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "%s, %s (%s)\n", plural(len(cases), "case", "cases"), plural(len(bad), "mismatch", "mismatches"), policyName(outcomes))
	}
	if len(bad) > 0 {
		return foundError{}
	}
	return nil
}

// verdict is "allow" or "deny", with the reasons and cap when known.
func verdict(allow bool, reasons []string, maxTTL *float64) string {
	s := "deny"
	if allow {
		s = "allow"
	}
	if len(reasons) > 0 {
		s += " [" + strings.Join(reasons, ", ") + "]"
	}
	if maxTTL != nil {
		s += fmt.Sprintf(" max_ttl=%g", *maxTTL)
	}
	return s
}

func policyName(outcomes []policy.Outcome) string {
	for _, o := range outcomes {
		if o.Got.Policy != "" {
			return "policy " + o.Got.Policy
		}
	}
	return "no case evaluated"
}
