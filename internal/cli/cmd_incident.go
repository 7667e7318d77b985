package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider/all"
)

func newIncidentCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "incident",
		Short: "Respond to one leaked secret: open, scope, plan, run, review",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.AddCommand(newIncidentOpenCmd(g), newIncidentScopeCmd(g), newIncidentReviewCmd(g),
		newIncidentPlanCmd(g), newIncidentRunCmd(g), newIncidentApproveCmd(g), newIncidentRollbackCmd(g),
		newIncidentCredentialCmd(g))
	c.AddCommand(newIncidentRemediateCmd(g))
	c.AddCommand(newIncidentReportCmd(g))
	c.AddCommand(newIncidentListCmd(g), newIncidentCloseCmd(g), newIncidentShowCmd(g))
	return c
}

type openOpts struct {
	secret    secretFlags
	inventory string
	logs      []string
	leakedAt  string
	format    string
	useLeaked bool
}

func newIncidentOpenCmd(g *globals) *cobra.Command {
	o := &openOpts{}
	c := &cobra.Command{
		Use:   "open (--secret-file F | --secret-stdin | --secret-env VAR) --inventory FILE",
		Short: "Open (or find) the incident for a leaked secret and gather its scope",
		Long: `Open creates the incident for a leaked secret, or finds the one already open for
it (the same secret has the same fingerprint). It then gathers the facts the
scope is computed from, touching nothing:

  - every copy of the secret in the inventory's sources (as rekey trace does);
  - whose secret it is: each system in the inventory is asked, as its
    administrator, which identities' stored verifiers accept the secret — no
    one logs in with the leaked secret, and more than one match is reuse;
  - each matching identity's privileges, open sessions and related
    credentials;
  - the identity's uses in the logs (--logs and the inventory's logs:
    PostgreSQL csv/json/stderr, CloudTrail; each file's format detected
    from its content unless the inventory names it);
  - the declared consumers, and which of them were seen in sessions or logs.

A system that cannot be reached or refuses the administrator is recorded as
not searched, and the scope says so instead of guessing.

The incident id is printed alone on standard output (table), or with what was
found (json).

EXIT STATUS
  0  the incident is open (new or existing), whatever was found
  2  usage or input error (no secret, an unreadable or invalid inventory, a bad store)`,
		Example: `  rekey incident open --secret-file /tmp/leaked.txt --inventory ops/rekey.yml
  printf %s "$PW" | rekey incident open --secret-stdin --inventory ops/rekey.yml --format json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runIncidentOpen(c.Context(), g, o, c.OutOrStdout())
		},
	}
	o.secret.register(c)
	c.Flags().StringVar(&o.inventory, "inventory", "", "the inventory file (required)")
	c.Flags().StringVar(&o.leakedAt, "leaked-at", "", "when the secret was exposed (RFC 3339)")
	c.Flags().StringArrayVar(&o.logs, "logs", nil, "log files or quoted globs (** for any depth) to read for uses of the identity, besides the inventory's logs (repeatable)")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table (the id alone) or json")
	c.Flags().BoolVar(&o.useLeaked, "use-leaked", false, useLeakedHelp)
	return c
}

// useLeakedHelp is --use-leaked's help, for open and respond.
const useLeakedHelp = "prove the secret with one request made with it where no other way exists (AWS sts:GetCallerIdentity, GitHub GET /user); the system logs it as the key's use, and the audit log names who allowed it"

// openResult is the JSON of `incident open`.
type openResult = incident.OpenView

func runIncidentOpen(ctx context.Context, g *globals, o *openOpts, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	if o.inventory == "" {
		return usagef("--inventory FILE is required")
	}
	var leakedAt *time.Time
	if o.leakedAt != "" {
		t, err := time.Parse(time.RFC3339, o.leakedAt)
		if err != nil {
			return usagef("--leaked-at %q: want RFC 3339, such as 2026-11-25T22:10:00Z", o.leakedAt)
		}
		leakedAt = &t
	}
	s, err := o.secret.read(g)
	if err != nil {
		return err
	}
	d, done, err := g.openDepsAs(ctx, auth.Respond)
	if err != nil {
		return err
	}
	defer done()
	res, err := incident.Open(ctx, d, incident.OpenOptions{Secret: s, KeyID: o.secret.keyID, UseLeaked: o.useLeaked, LeakedAt: leakedAt, Logs: o.logs, InventoryPath: o.inventory})
	if err != nil {
		return err
	}
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res.View)
	}
	_, err = fmt.Fprintln(out, res.View.ID)
	return err
}

// progress returns a printer of stage lines on a terminal, and a no-op
// when stderr is piped.
// warnLine prints a line the person should know of, that stops nothing.
func (g *globals) warnLine(line string) { tablef(g.env.Stderr, "rekey: %s\n", line) }

func (g *globals) progress() func(format string, a ...any) {
	if !g.env.stderrIsTerminal() {
		return func(string, ...any) {}
	}
	return func(format string, a ...any) { tablef(g.env.Stderr, "rekey: "+format+"\n", a...) }
}

// loadInventoryStrict loads an inventory and refuses one with structural
// errors: a response must not run on a half-understood inventory.
func loadInventoryStrict(g *globals, path string) (*inventory.Inventory, error) {
	inv, _, err := readInventoryStrict(g, path)
	return inv, err
}

// readInventoryStrict is loadInventoryStrict that also returns the file's
// bytes (what an incident keeps a copy of).
func readInventoryStrict(g *globals, path string) (*inventory.Inventory, []byte, error) {
	opts, err := inventoryOptions(g)
	if err != nil {
		return nil, nil, err
	}
	opts.SkipLocal = true
	data, err := inventory.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	inv, err := incident.ParseInventoryStrict(path, data, opts)
	return inv, data, err
}

// systems opens inv's systems with this command's environment.
func (g *globals) systems(inv *inventory.Inventory) incident.Systems {
	return incident.Deps{Registry: all.Registry(), Getenv: g.env.Getenv}.Systems(inv)
}
