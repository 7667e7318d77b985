package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newAuditCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Check the audit log",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	var format string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check that no audit entry was edited, deleted or reordered",
		Long: `Verify reads the whole audit log and checks its hash chain: each entry's hash
covers the previous entry's hash and every other column, so an edited, deleted
or reordered entry breaks it. It also checks this installation's witness (the
last entry it appended, kept in $REKEY_HOME outside the database), which shows
entries cut from the end or a chain rewritten from an edit onwards.

EXIT STATUS
  0  the log is intact
  1  the log is broken (each break is listed)
  2  usage or input error (no store)`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			ctx := c.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			al, err := g.auditLog(st)
			if err != nil {
				return err
			}
			r, err := al.Verify(ctx)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				for _, b := range r.Breaks {
					tablef(out, "entry %d: %s\n", b.Seq, b.Problem)
				}
				witness := "no witness on this machine"
				if r.Witnessed {
					witness = "witness checked"
				}
				if r.OK() && r.Entries == 0 {
					tablef(out, "audit log empty, %s\n", witness)
				} else if r.OK() {
					fmt.Fprintf(out, "audit log intact: %d entries, head %.16s, %s\n", r.Entries, r.Head, witness)
				} else {
					fmt.Fprintf(out, "audit log BROKEN: %d break(s) in %d entries, %s\n", len(r.Breaks), r.Entries, witness)
				}
			}
			if !r.OK() {
				return foundError{}
			}
			return nil
		},
	}
	verify.Flags().StringVar(&format, "format", "table", "output format: table or json")
	c.AddCommand(verify)
	return c
}
