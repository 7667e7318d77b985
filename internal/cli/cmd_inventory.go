package cli

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider/all"
)

func newInventoryCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "inventory",
		Short: "Work with the inventory of systems, identities and consumers",
		Long: `The inventory is a YAML file kept in git that tells rekey which credential
systems it administers (and how it reaches them, by reference only), which
identities live there, which workloads use each one and where their copy of
the secret is delivered, where copies may have leaked, which logs record use,
and the team's approval policy. See docs/inventory.md.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error { return c.Help() },
	}
	c.AddCommand(newInventoryCheckCmd(g))
	return c
}

type inventoryCheckOpts struct {
	format string
}

func newInventoryCheckCmd(g *globals) *cobra.Command {
	o := &inventoryCheckOpts{}
	c := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate an inventory file and report every problem with its position",
		Long: `Check decodes the inventory strictly and reports every problem, each as
FILE:LINE:COLUMN: error|warning: message.

Errors are the same on every machine: unknown keys, wrong types, repeated
names, references to systems or identities that are not defined, values
outside their list (system types, formats, step kinds), malformed CIDRs,
change windows and durations, and inline secrets: an admin that is not an
env:VAR or file:PATH reference, or any credential rekey's rules find
anywhere in the file (named by rule, never printed).

Warnings are what this machine cannot confirm, because the inventory is also
checked where the secrets are absent: an unset env: variable, a missing or
group-readable file: reference, a deliver or source path that does not exist
here, a log glob that matches nothing.

EXIT STATUS
  0  no errors (there may be warnings)
  1  at least one error
  2  usage or input error (FILE missing or unreadable, not YAML at all, a bad flag)`,
		Example: `  rekey inventory check inventory.yml
  rekey inventory check inventory.yml --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runInventoryCheck(g, o, args[0], c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.format, "format", "table", "output format: table or json")
	return c
}

// inventoryOptions are the options every command loading an inventory
// uses: rekey's system types, its detector for inline secrets, and the
// command's environment for env: references.
func inventoryOptions(g *globals) (inventory.Options, error) {
	det, err := detect.New(rules.All())
	if err != nil {
		return inventory.Options{}, err
	}
	return inventory.Options{
		KnownSystemTypes: all.Registry().Types(),
		FindSecrets: func(data []byte) []inventory.SecretMatch {
			var out []inventory.SecretMatch
			for _, f := range det.Scan(data) {
				out = append(out, inventory.SecretMatch{Start: f.Start, End: f.End, Rule: f.Rule.ID})
			}
			return out
		},
		Getenv: g.env.Getenv,
	}, nil
}

type problemJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

type checkJSON struct {
	Errors     []problemJSON `json:"errors"`
	Warnings   []problemJSON `json:"warnings"`
	Systems    int           `json:"systems"`
	Identities int           `json:"identities"`
	Consumers  int           `json:"consumers"`
}

func runInventoryCheck(g *globals, o *inventoryCheckOpts, path string, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	opts, err := inventoryOptions(g)
	if err != nil {
		return err
	}
	inv, rep, err := inventory.Load(path, opts)
	if err != nil {
		return err // errs.Invalid or NotFound: exit 2
	}
	if o.format == "json" {
		conv := func(ps []inventory.Problem) []problemJSON {
			res := []problemJSON{}
			for _, p := range ps {
				res = append(res, problemJSON{p.Pos.File, p.Pos.Line, p.Pos.Column, p.Msg})
			}
			return res
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(checkJSON{
			Errors: conv(rep.Errors), Warnings: conv(rep.Warnings),
			Systems: len(inv.Systems), Identities: len(inv.Identities), Consumers: len(inv.Consumers),
		}); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Errors {
			tablef(out, "%s: error: %s\n", p.Pos, p.Msg)
		}
		for _, p := range rep.Warnings {
			tablef(out, "%s: warning: %s\n", p.Pos, p.Msg)
		}
		if rep.OK() {
			tablef(out, "inventory ok: %s, %s, %s (%s)\n", plural(len(inv.Systems), "system", "systems"),
				plural(len(inv.Identities), "identity", "identities"), plural(len(inv.Consumers), "consumer", "consumers"),
				plural(len(rep.Warnings), "warning", "warnings"))
		} else {
			tablef(out, "inventory has %s (%s)\n", plural(len(rep.Errors), "error", "errors"), plural(len(rep.Warnings), "warning", "warnings"))
		}
	}
	if !rep.OK() {
		return foundError{}
	}
	return nil
}
