package remediate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/live"
	"github.com/rekeyhq/rekey/internal/store"
)

// Task id prefixes of chat messages and ticket comments. A copy read
// through a live source (slack-api, jira-api) waits for an approval like
// a history rewrite: editing what people wrote in a shared place is not
// undone by a re-run.
const (
	ChatPrefix   = "chat:"
	TicketPrefix = "ticket:"
)

// WaitsForApproval reports whether a remediation task id is of a kind
// that waits for an approval (incident approve routes it here).
func WaitsForApproval(id string) bool {
	return strings.HasPrefix(id, RewritePrefix) || strings.HasPrefix(id, ChatPrefix) || strings.HasPrefix(id, TicketPrefix)
}

// Approvable reports whether a stored task waits for a person's
// approval: a history rewrite, or a copy rekey can redact through an API
// (a copy in an export is edited by hand, with nothing to approve).
func Approvable(t store.Task) bool {
	return strings.HasPrefix(t.ID, RewritePrefix) || WaitsForApproval(t.ID) && detailBool(t.Detail, "live")
}

// Replacement is what stands in for the secret in a redacted message or
// comment.
func Replacement(incident string) string { return "[REDACTED by rekey " + incident + "]" }

// redactors builds the redactor of each live source of the inventory; a
// source whose token cannot be resolved is left out with a warning (its
// copies get tasks a person does by hand, as the re-trace warns too).
func redactors(o Options) (*live.Redactors, error) {
	var specs []live.Spec
	deps := live.Deps{Getenv: o.Getenv}
	for _, s := range o.Inventory.Sources {
		if !live.IsLive(s.Type) {
			continue
		}
		sp := live.FromInventory(s)
		if _, err := sp.Redactor(o.Secret, "", deps); err != nil {
			o.Warn(fmt.Sprintf("%s:%d: %s source cannot redact: %v", o.Inventory.File, s.Pos.Line, s.Type, err))
			continue
		}
		specs = append(specs, sp)
	}
	return live.NewRedactors(specs, o.Secret, Replacement(o.Incident.ID), deps)
}

// redactorFinder finds the redactor of a finding's path (live.Redactors).
type redactorFinder interface {
	For(path string) (source.Redactor, bool)
}

// redacted is what redacting one approved task did: the record, or why
// it failed (an error's text, which never holds the secret: the
// redactors name objects and API error codes only).
type redacted struct {
	rec source.Redaction
	err string
}

// redactApproved redacts, through their APIs, the live copies whose
// task another person approved. Whether each is gone is decided by the
// re-trace that follows, not by the API's answer.
func redactApproved(ctx context.Context, o Options, rs redactorFinder, stored []store.Task) map[string]redacted {
	out := map[string]redacted{}
	for _, t := range stored {
		if t.State == store.TaskDone || (t.Kind != KindChat && t.Kind != KindTicket) {
			continue
		}
		by := detailString(t.Detail, "approved_by")
		if by == "" || !detailBool(t.Detail, "live") {
			continue
		}
		ref := strings.TrimPrefix(strings.TrimPrefix(t.ID, ChatPrefix), TicketPrefix)
		r, ok := rs.For(detailString(t.Detail, "export"))
		if !ok {
			out[t.ID] = redacted{err: "no live source in the inventory reads " + detailString(t.Detail, "export") + " any more"}
			continue
		}
		rec, err := r.Redact(ctx, ref, o.DeleteMessages && t.Kind == KindChat)
		d := redacted{rec: rec}
		if err != nil {
			// An API's error may quote what it was sent: never the secret.
			d.err = scrub(err.Error(), o.Secret)
			o.Warn("redact " + t.ID + ": " + d.err)
		}
		out[t.ID] = d
		detail := map[string]any{"task": t.ID, "object": rec.Object, "action": rec.Action, "before_sha256": rec.BeforeSHA256, "approved_by": by}
		if d.err != "" {
			detail["error"] = d.err
		}
		if err := o.audit(ctx, "remediate.redact", detail); err != nil {
			o.Warn("audit " + t.ID + ": " + err.Error())
		}
	}
	return out
}

// withRedactions records on each task what its redaction did; a task
// whose copy the re-trace still finds after a failed redaction remains,
// with why.
func withRedactions(tasks []store.Task, done map[string]redacted) []store.Task {
	for i, t := range tasks {
		d, ok := done[t.ID]
		if !ok {
			continue
		}
		kv := map[string]any{"redaction": map[string]string{"object": d.rec.Object, "action": d.rec.Action, "before_sha256": d.rec.BeforeSHA256}}
		if t.State != store.TaskDone {
			t.State = store.TaskRemaining
			kv["why"] = "the approved redaction did not remove the copy"
			if d.err != "" {
				kv["why"] = "the approved redaction failed: " + d.err
			}
		}
		tasks[i].State = t.State
		tasks[i].Detail = setDetail(t.Detail, kv)
	}
	return tasks
}

func scrub(s string, sec secret.Secret) string {
	v := string(sec.Reveal())
	if v == "" {
		return s
	}
	return strings.ReplaceAll(s, v, "[the secret]")
}

func detailBool(d json.RawMessage, key string) bool {
	var m map[string]any
	if json.Unmarshal(d, &m) != nil {
		return false
	}
	b, _ := m[key].(bool)
	return b
}
