package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/remediate"
)

type remediateOpts struct {
	secret         secretFlags
	rewriteHistory bool
	deleteMessages bool
	format         string
}

func newIncidentRemediateCmd(g *globals) *cobra.Command {
	o := &remediateOpts{}
	c := &cobra.Command{
		Use:   "remediate ID (--secret-file F | --secret-stdin | --secret-env VAR) [--rewrite-history] [--delete-messages]",
		Short: "Remove the copies of the secret: a branch for working trees, a history rewrite plan, tasks",
		Long: `Remediate removes the copies of the leaked secret that rotation leaves behind.
It needs the secret itself to find and replace literal copies, and refuses one
whose fingerprint is not the incident's.

  working trees  each copy committed at HEAD of a git repository among the
                 inventory's sources is replaced, on the branch rekey/ID, by a
                 reference fitting the file: an environment variable read in
                 code, ${{ secrets.NAME }} in GitHub Actions, $NAME in GitLab CI,
                 a secretKeyRef in a Kubernetes manifest (a Secret's own value
                 is emptied: create it out of band), a sensitive Terraform
                 variable, an emptied .env entry added to .gitignore. An AWS key's
                 id beside the secret (AWS_ACCESS_KEY_ID: AKIA…) is replaced the
                 same way, so the new secret is never paired with the old id. The commit
                 is built without touching your working tree, index or
                 checked-out branch, and is never pushed. Running again updates
                 the same branch (no new commit when nothing changed).
  git history    a git filter-repo --replace-text expressions file (mode 0600: it
                 holds the secret) and the steps to rewrite, verify and
                 force-push. --rewrite-history runs the rewrite on a local mirror
                 under $REKEY_HOME/remediate/ID/, only after another person than
                 the incident's opener approved it (incident approve ID
                 rewrite-history:REPO), then traces the mirror to prove no copy
                 is left, and deletes the expressions file.
  chat, tickets  a task per message or comment, with what to redact. A copy
                 read through an inventory's slack-api or jira-api source is
                 redacted through that API once another person than the
                 incident's opener approved its task (incident approve ID
                 chat:#CHANNEL@TS or ticket:KEY#comment-ID): the secret is
                 replaced by "[REDACTED by rekey ID]" (chat.update; with
                 --delete-messages, chat.delete; a Jira comment or the issue's
                 fields are edited), and the task is done once the re-trace
                 no longer finds the copy.

Then every source is traced again and each task is stored: done, open (a person
must act) or remaining (with why).

EXIT STATUS
  0  remediated as far as rekey can; open and remaining tasks are listed
  2  usage or input error (unknown incident, the wrong secret, a git failure)
  3  --rewrite-history waits for an approval (the command to run is printed)`,
		Example: `  rekey incident remediate INC-20261126-3f9a --secret-file /tmp/leaked.txt
  rekey incident approve INC-20261126-3f9a rewrite-history:shop --as bob
  rekey incident remediate INC-20261126-3f9a --secret-file /tmp/leaked.txt --rewrite-history
  rekey incident approve INC-20261126-3f9a 'chat:#ops@1709632800.000100' --as bob
  rekey incident remediate INC-20261126-3f9a --secret-file /tmp/leaked.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runIncidentRemediate(c.Context(), g, o, args[0], c.OutOrStdout())
		},
	}
	o.secret.register(c)
	c.Flags().BoolVar(&o.rewriteHistory, "rewrite-history", false, "rewrite approved repositories' history on local mirrors")
	c.Flags().BoolVar(&o.deleteMessages, "delete-messages", false, "redact approved Slack messages with chat.delete rather than chat.update")
	c.Flags().StringVar(&o.format, "format", "table", "output format: table or json")
	return c
}

func runIncidentRemediate(ctx context.Context, g *globals, o *remediateOpts, id string, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json"); err != nil {
		return err
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
	res, runErr := incident.Remediate(ctx, d, id, incident.RemediateOptions{Secret: s, KeyID: o.secret.keyID, RewriteHistory: o.rewriteHistory, DeleteMessages: o.deleteMessages})
	if res == nil {
		return runErr
	}
	if err := writeRemediation(out, o.format, res); err != nil {
		return err
	}
	if errors.Is(runErr, remediate.ErrWaiting) {
		return waitError{runErr}
	}
	return runErr
}

func writeRemediation(out io.Writer, format string, r *remediate.Result) error {
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tablef(out, "Remediation of %s: %d open, %d remaining, %d done\n", r.Incident, r.Open, r.Remaining, r.Done)
	for _, b := range r.Branches {
		state := "updated"
		if !b.NewCommit {
			state = "unchanged"
		}
		tablef(out, "\n%s: branch %s (%s, commit %.12s) — not pushed\n", b.Repo, b.Branch, state, b.Commit)
		for _, c := range b.Changes {
			tablef(out, "  %s:%d  %s → %s\n      %s\n", c.Path, c.Line, c.Name, c.Reference, c.Note)
		}
		tablef(out, "  review: %s\n  push:   %s\n", b.Review, b.Push)
	}
	for _, h := range r.History {
		tablef(out, "\n%s: %d copies in history (task %s)\n", h.Repo, h.Copies, h.Task)
		switch {
		case h.Rewritten:
			tablef(out, "  rewritten on the mirror %s: %d copies left; the expressions file is deleted\n", h.Mirror, h.MirrorCopies)
		case h.Expressions != "":
			tablef(out, "  expressions for git filter-repo --replace-text: %s\n  (mode 0600: it holds the secret; delete it once the rewrite is done)\n", h.Expressions)
		}
		tablef(out, "  steps (also in %s):\n", h.Instructions)
		for i, s := range h.Steps {
			tablef(out, "    %d. %s\n", i+1, s)
		}
	}
	if len(r.Tasks) == 0 {
		return nil
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSTATE\tLOCATION\tACTION")
	for _, t := range r.Tasks {
		tablef(tw, "%s\t%s\t%s\t%s\n", t.ID, t.State, t.Location, t.Action)
	}
	return tw.Flush()
}
