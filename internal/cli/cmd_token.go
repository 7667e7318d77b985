package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/token"
)

func newTokenCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the tokens of rekey serve and of a shared store",
		Long: `A token proves who you are to rekey serve (Authorization: Bearer TOKEN) and, once
the store holds one, to the CLI commands that change an incident
(--token-file F or $REKEY_TOKEN; --as is refused then). Its name is the actor
the audit log records; its role says what it may do: viewer reads, responder
opens, plans, runs, reviews, remediates and closes, approver approves, admin
does all and manages tokens.

Tokens look like rekey_ + 32 random characters + a checksum, so scanners
(rekey scan's rekey-api-token rule) recognise a leaked one. The store keeps
their SHA-256 only.

Once a store holds a token, create and revoke need an admin token, except on
the embedded SQLite store, whose file's owner is already its admin. On a
shared (PostgreSQL) store the first token must be an admin's.`,
	}
	c.AddCommand(newTokenCreateCmd(g), newTokenListCmd(g), newTokenRevokeCmd(g))
	return c
}

type tokenCreateOpts struct {
	name, role, format string
	ttl                time.Duration
}

func newTokenCreateCmd(g *globals) *cobra.Command {
	o := &tokenCreateOpts{}
	c := &cobra.Command{
		Use:   "create --name NAME --role viewer|responder|approver|admin",
		Short: "Create a token and print it, once",
		Long: `Create makes a token, stores its hash and prints the token on standard output,
once: keep it in a file only you can read (chmod 600). --format json prints
{name,role,token,expires_at}. The creation is in the audit log.

EXIT STATUS
  0  created
  2  usage or input error (a bad name, role or --ttl, a name in use, no admin token)`,
		Example: `  rekey token create --name ci-bot --role responder > ci-bot.token
  rekey token create --name alice --role admin --ttl 24h --format json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runTokenCreate(c.Context(), g, o, c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&o.name, "name", "", "the token's name: the actor the audit log records (unique)")
	c.Flags().StringVar(&o.role, "role", "", "viewer, responder, approver or admin")
	c.Flags().DurationVar(&o.ttl, "ttl", token.DefaultTTL, "how long the token lives")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table (the token alone) or json")
	return c
}

// tokenManager opens the store and decides who manages its tokens: the
// caller's admin token once the store holds any, else (a new store, or
// the embedded SQLite store, whose file's owner is its admin anyway) the
// usual actor. first is true while the store holds no token.
func (g *globals) tokenManager(ctx context.Context) (store.Store, string, bool, error) {
	st, err := g.openStore(ctx)
	if err != nil {
		return nil, "", false, err
	}
	by, first, err := g.tokenManagerOf(ctx, st)
	if err != nil {
		st.Close()
		return nil, "", false, err
	}
	return st, by, first, nil
}

func (g *globals) tokenManagerOf(ctx context.Context, st store.Store) (by string, first bool, err error) {
	n, err := st.CountTokens(ctx)
	if err != nil {
		return "", false, err
	}
	if n == 0 || embedded(st) {
		return g.actor(), n == 0, nil
	}
	p, ok, err := g.principal(ctx, st)
	if err != nil {
		return "", false, err
	}
	if !ok {
		return "", false, errs.New("token", errs.Permission, "", "this store holds tokens: managing them needs an admin token (--token-file F or $REKEY_TOKEN)")
	}
	if !p.Can(auth.Manage) {
		return "", false, errs.New("token", errs.Permission, p.Name, fmt.Sprintf("the token's role %s cannot manage tokens; an admin's can", p.Role))
	}
	return p.Name, false, nil
}

// embedded reports whether st is the embedded SQLite store.
func embedded(st store.Store) bool {
	r, ok := st.(store.Raw)
	return ok && r.DialectName() == "sqlite"
}

func runTokenCreate(ctx context.Context, g *globals, o *tokenCreateOpts, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
	}
	if o.name == "" {
		return usagef("--name is required")
	}
	role, err := auth.ParseRole(o.role)
	if err != nil {
		return usagef("--role: %v", err)
	}
	st, by, first, err := g.tokenManager(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if first && !embedded(st) && role != auth.Admin {
		return usagef("the first token of a shared store must be an admin's (--role admin): it is the one that creates the others")
	}
	al, err := g.auditLog(st)
	if err != nil {
		return err
	}
	if err := al.Check(ctx); err != nil {
		return err
	}
	tok, rec, err := token.Create(ctx, st, o.name, role, o.ttl, by, time.Now())
	if err != nil {
		return err
	}
	defer tok.Wipe()
	if _, err := al.Append(ctx, by, "token.create", "", map[string]string{
		"name": rec.Name, "role": rec.Role, "expires_at": rec.Expires.Format(time.RFC3339)}); err != nil {
		return err
	}
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]string{"name": rec.Name, "role": rec.Role, "token": string(tok.Reveal()),
			"expires_at": rec.Expires.Format(time.RFC3339)})
	}
	g.warnLine(fmt.Sprintf("token %s (%s) expires %s; it is shown once: keep it in a file only you can read", rec.Name, rec.Role, rec.Expires.Format(time.RFC3339)))
	_, err = fmt.Fprintf(out, "%s\n", tok.Reveal())
	return err
}

func newTokenListCmd(g *globals) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "list",
		Short: "List tokens: name, role, state and times (never a token)",
		Long: `List shows every token of the store with its role, its state (active, expired
or revoked), who created it and when, when it expires and when it was last
used (written at most once a minute). Neither a token nor its hash is shown.

EXIT STATUS
  0  listed (also when there is none)
  2  usage or input error`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runTokenList(c.Context(), g, format, c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return c
}

type tokenRow struct {
	store.Token
	State string `json:"state"`
}

func runTokenList(ctx context.Context, g *globals, format string, out io.Writer) error {
	if err := checkFormat(format, "table", "json"); err != nil {
		return err
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.ListTokens(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := make([]tokenRow, 0, len(list))
	for _, t := range list {
		state := "active"
		switch {
		case t.Revoked != nil:
			state = "revoked"
		case !now.Before(t.Expires):
			state = "expired"
		}
		rows = append(rows, tokenRow{t, state})
	}
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	stamp := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tCREATED\tBY\tEXPIRES\tLAST USED")
	for _, r := range rows {
		tablef(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Role, r.State, stamp(&r.Created), r.CreatedBy, stamp(&r.Expires), stamp(r.LastUsed))
	}
	return tw.Flush()
}

func newTokenRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: it is refused from now on",
		Long: `Revoke ends the token called NAME at once (rekey serve and the CLI refuse it
from the next request). Revoking a revoked token does nothing; its name may
be given to a new token. The revocation is in the audit log.

EXIT STATUS
  0  revoked (or revoked already)
  2  usage or input error (no token of that name, no admin token)`,
		Example: `  rekey token revoke ci-bot`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runTokenRevoke(c.Context(), g, args[0], c.OutOrStdout())
		},
	}
}

func runTokenRevoke(ctx context.Context, g *globals, name string, out io.Writer) error {
	st, by, _, err := g.tokenManager(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	al, err := g.auditLog(st)
	if err != nil {
		return err
	}
	if err := al.Check(ctx); err != nil {
		return err
	}
	rec, err := token.Revoke(ctx, st, name, time.Now())
	if err != nil {
		return err
	}
	if _, err := al.Append(ctx, by, "token.revoke", "", map[string]string{"name": rec.Name}); err != nil {
		return err
	}
	_, err = tablef(out, "token %s revoked\n", rec.Name)
	return err
}
