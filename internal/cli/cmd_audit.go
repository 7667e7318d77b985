package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/audit"
)

func newAuditCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Check the audit log",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	c.AddCommand(newAuditVerifyCmd(g), newAuditHeadCmd(g), newAuditReanchorCmd(g))
	return c
}

type auditVerifyOpts struct {
	format string
	heads  []string
}

func newAuditVerifyCmd(g *globals) *cobra.Command {
	var o auditVerifyOpts
	c := &cobra.Command{
		Use:   "verify",
		Short: "Check that no audit entry was edited, deleted, reordered or forged",
		Long: `Verify reads the whole audit log and checks its hash chain: each entry's hash
covers the previous entry's hash and every other column, so an edited, deleted
or reordered entry breaks it. Each entry also carries an HMAC under the audit
key (--audit-key, $REKEY_AUDIT_KEY, else $REKEY_HOME/audit.key), which someone
who can write the store but lacks the key cannot forge; entries written before
the log carried MACs are counted and shown as such.

It also checks this installation's witness (the last entry it appended, kept
in $REKEY_HOME outside the database), which shows entries cut from the end or
a chain rewritten from an edit onwards. A log with entries and no witness here
fails until "rekey audit reanchor". With --keys file:DIR it also checks the
witness every replica of the store keeps in DIR/witnesses, which then stand
in for a missing one here. With --head SEQ:HASH (as "rekey audit
head" printed it and you kept it elsewhere) the entry SEQ must still be there
with that hash: this catches the log and its witness replaced together.

EXIT STATUS
  0  the log is intact
  1  the log is broken (each break is listed)
  2  usage or input error (no store, a malformed --head)`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runAuditVerify(c.Context(), g, o, c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.format, "format", "table", "output format: table or json")
	c.Flags().StringArrayVar(&o.heads, "head", nil, "an anchor SEQ:HASH from `rekey audit head` that the log must still hold (repeatable)")
	return c
}

func runAuditVerify(ctx context.Context, g *globals, o auditVerifyOpts, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	var anchors []audit.Anchor
	for _, h := range o.heads {
		a, err := audit.ParseAnchor(h)
		if err != nil {
			return usagef("--head %q: want SEQ:HASH as `rekey audit head` prints it", h)
		}
		anchors = append(anchors, a)
	}
	al, done, err := g.openAuditLog(ctx)
	if err != nil {
		return err
	}
	defer done()
	r, err := al.Verify(ctx, anchors...)
	if err != nil {
		return err
	}
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		writeAuditReport(out, r)
	}
	if !r.OK() {
		return foundError{}
	}
	return nil
}

func writeAuditReport(out io.Writer, r audit.Report) {
	for _, b := range r.Breaks {
		if b.Seq == 0 {
			tablef(out, "log: %s\n", b.Problem)
		} else {
			tablef(out, "entry %d: %s\n", b.Seq, b.Problem)
		}
	}
	checked := "no witness on this machine"
	if r.Witnessed {
		checked = "witness checked"
	}
	if r.SharedWitnesses > 0 {
		checked += fmt.Sprintf(", %d replica witness(es) in the keys directory checked", r.SharedWitnesses)
	}
	if len(r.Anchored) > 0 {
		checked += fmt.Sprintf(", %d anchor(s) checked", len(r.Anchored))
	}
	switch {
	case r.MACChecked && r.Unsigned > 0:
		checked += fmt.Sprintf(", %d MAC(s) checked, %d older entries without a MAC (before the log carried them: the chain alone covers them)", r.Signed, r.Unsigned)
	case r.MACChecked:
		checked += fmt.Sprintf(", %d MAC(s) checked", r.Signed)
	default:
		checked += ", MACs not checked"
	}
	switch {
	case r.OK() && r.Entries == 0:
		fmt.Fprintf(out, "audit log empty, %s\n", checked)
	case r.OK():
		fmt.Fprintf(out, "audit log intact: %d entries, head %d:%.16s, %s\n", r.Entries, r.HeadSeq, r.Head, checked)
	default:
		fmt.Fprintf(out, "audit log BROKEN: %d break(s) in %d entries, %s\n", len(r.Breaks), r.Entries, checked)
	}
}

func newAuditHeadCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "head",
		Short: "Print the audit log's head as SEQ:HASH, to keep outside $REKEY_HOME",
		Long: `Head verifies the audit log and prints its newest entry as SEQ:HASH. Keep it
somewhere the machine's users cannot rewrite (a ticket, a chat message, a
notebook): "rekey audit verify --head SEQ:HASH" later shows whether the log
still holds that entry, even if the database and $REKEY_HOME were replaced.

EXIT STATUS
  0  the head was printed
  1  the log is broken: nothing printed (see rekey audit verify)
  2  usage or input error (no store, an empty log)`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runAuditHead(c.Context(), g, c.OutOrStdout())
		},
	}
}

func runAuditHead(ctx context.Context, g *globals, out io.Writer) error {
	al, done, err := g.openAuditLog(ctx)
	if err != nil {
		return err
	}
	defer done()
	r, err := al.Verify(ctx)
	if err != nil {
		return err
	}
	if !r.OK() {
		return failedError{fmt.Errorf("the audit log is broken (%d break(s)); an anchor of it would vouch for the damage: see rekey audit verify", len(r.Breaks))}
	}
	if r.Entries == 0 {
		return usagef("the audit log is empty: nothing to anchor yet")
	}
	_, err = fmt.Fprintln(out, audit.Anchor{Seq: r.HeadSeq, Hash: r.Head})
	return err
}

func newAuditReanchorCmd(g *globals) *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "reanchor",
		Short: "Accept the audit log as it is now as this machine's witness",
		Long: `Reanchor makes this machine witness the audit log as it is now: on a new
machine, after restoring $REKEY_HOME, or when another installation writes the
same store. Check the log first (rekey audit verify, with --head if you kept
one): whatever the log holds now is what the witness vouches for from here on.
The re-anchoring is itself an audit entry, naming the previous witness (or
"none") and the head found. Without --yes it asks on a terminal and refuses
otherwise.

EXIT STATUS
  0  re-anchored; the new entry is printed as SEQ:HASH
  2  usage or input error (not confirmed, no store)`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runAuditReanchor(c.Context(), g, yes, c.OutOrStdout())
		},
	}
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return c
}

func runAuditReanchor(ctx context.Context, g *globals, yes bool, out io.Writer) error {
	if err := g.confirm(ctx, yes, "make this machine's witness vouch for the audit log as it is now?"); err != nil {
		return err
	}
	al, done, err := g.openAuditLog(ctx)
	if err != nil {
		return err
	}
	defer done()
	e, err := al.Reanchor(ctx, g.actor())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "re-anchored at %s\n", audit.Anchor{Seq: e.Seq, Hash: e.Hash})
	return err
}

// openAuditLog opens the store and its audit log; done closes the store.
func (g *globals) openAuditLog(ctx context.Context) (*audit.Log, func(), error) {
	st, err := g.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	al, err := g.auditLog(st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return al, func() { st.Close() }, nil
}
