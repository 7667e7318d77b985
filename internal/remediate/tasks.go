package remediate

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/scan"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/live"
	"github.com/rekeyhq/rekey/internal/store"
)

// buildTasks turns what the re-trace found into tasks: one per file
// holding a copy, one per chat message or ticket comment, one per
// repository whose history holds one.
func buildTasks(o Options, rs *live.Redactors, approvals map[string]string, repos []repo, fixed map[string]map[string]bool, branchCopies map[string]map[string]int, res *Result, after []scan.Finding) []store.Task {
	inc := o.Incident.ID
	now := o.Now().UTC()
	byID := map[string]*store.Task{}
	var order []string
	put := func(t store.Task, detail map[string]any) {
		if cur, ok := byID[t.ID]; ok {
			n := detailInt(cur.Detail, "copies") + 1
			cur.Detail = setDetail(cur.Detail, map[string]any{"copies": n})
			return
		}
		detail["copies"] = 1
		t.Detail, _ = json.Marshal(detail)
		t.Updated = now
		byID[t.ID] = &t
		order = append(order, t.ID)
	}
	repoOf := func(p string) (repo, string, bool) {
		for _, r := range repos {
			if rel, err := filepath.Rel(r.dir, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
				return r, filepath.ToSlash(rel), true
			}
		}
		return repo{}, "", false
	}
	changeOf := func(r repo, rel string) (Branch, Change, bool) {
		for _, b := range res.Branches {
			if b.Repo != r.dir {
				continue
			}
			for _, c := range b.Changes {
				if c.Path == rel && c.KeyID == "" {
					return b, c, true
				}
			}
		}
		return Branch{}, Change{}, false
	}
	for _, f := range after {
		loc := fmt.Sprintf("%s:%d", f.Path, f.Line)
		switch source.Class(f.Class) {
		case source.ClassChat, source.ClassTicket:
			put(placeTask(inc, rs, approvals, f))
			continue
		}
		r, rel, inRepo := repoOf(f.Path)
		if inRepo && f.Commit != "" && !f.AtHead {
			continue // history only: the repository's history task covers it
		}
		if inRepo && fixed[r.dir][rel] {
			b, c, _ := changeOf(r, rel)
			id := "working-tree:" + r.key + ":" + rel
			if branchCopies[r.dir][f.Path] > 0 || branchCopies[r.dir][filepath.Join(r.dir, rel)] > 0 {
				put(store.Task{ID: id, Kind: KindWorkingTree, Location: loc, State: store.TaskRemaining,
					Action: fmt.Sprintf("replace the copy by hand: rekey's change on %s did not remove it", b.Branch)},
					map[string]any{"why": "rekey could not replace this copy; the branch still holds it", "repo": r.dir, "branch": b.Branch, "commit": b.Commit})
				continue
			}
			logins, keys := loginChanges(b, rel), keyIDChanges(b, rel)
			put(store.Task{ID: id, Kind: KindWorkingTree, Location: loc, State: store.TaskOpen,
				Action: fmt.Sprintf("replaced by %s on branch %s: review it (%s), %s, push and merge it%s%s", c.Reference, b.Branch, b.Review, c.Note, keyIDAction(keys), loginAction(logins))},
				map[string]any{"why": "still at HEAD until " + b.Branch + " is merged", "repo": r.dir, "branch": b.Branch, "commit": b.Commit, "name": c.Name, "reference": c.Reference,
					"logins": logins, "key_ids": keys})
			continue
		}
		why, action := "a file outside git: rekey does not edit it", "remove the value from this file by hand (if a consumer reads it, the rotation's delivery replaces it)"
		if inRepo {
			why, action = "the file is not committed as it is (untracked or modified): rekey does not edit it", "remove the value from this file by hand; if it must stay local, make sure .gitignore covers it"
		}
		logins := fileLogins(f.Path, o.Logins)
		put(store.Task{ID: "file:" + f.Path, Kind: KindWorkingTree, Location: loc, State: store.TaskOpen, Action: action + loginAction(logins)},
			map[string]any{"why": why, "logins": logins})
	}
	for _, h := range res.History {
		t := store.Task{ID: h.Task, Kind: KindHistory, Location: h.Repo, Updated: now}
		d := map[string]any{"repo": h.Repo, "copies": h.Copies, "instructions": h.Instructions, "expressions": h.Expressions}
		if h.ApprovedBy != "" {
			d["approved_by"] = h.ApprovedBy
		}
		switch {
		case h.Rewritten && h.MirrorCopies == 0:
			t.State = store.TaskRemaining
			t.Action = fmt.Sprintf("push the rewritten mirror (git -C %s push --force --mirror ORIGIN), have everyone re-clone, purge forks, pull request refs and caches (see %s)", shellQuote(h.Mirror), h.Instructions)
			d["why"] = "still in history until the rewrite is pushed"
			d["mirror"] = h.Mirror
		case h.Rewritten:
			t.State = store.TaskRemaining
			t.Action = fmt.Sprintf("the rewritten mirror %s still holds %d copies: inspect them with rekey trace --history before pushing", h.Mirror, h.MirrorCopies)
			d["why"] = fmt.Sprintf("the rewrite left %d copies in the mirror", h.MirrorCopies)
			d["mirror"] = h.Mirror
		case h.ApprovedBy != "":
			t.State = store.TaskOpen
			t.Action = fmt.Sprintf("approved by %s: rewrite on a local mirror with rekey incident remediate %s --rewrite-history (or by hand: %s)", h.ApprovedBy, inc, h.Instructions)
			d["why"] = "in history: the approved rewrite has not run yet"
		default:
			t.State = store.TaskOpen
			t.Action = fmt.Sprintf("rewrite the history (%s); approval first: rekey incident approve %s %s --as NAME", h.Instructions, inc, h.Task)
			d["why"] = "in history: waiting for approval of the rewrite"
		}
		t.Detail, _ = json.Marshal(d)
		byID[t.ID] = &t
		order = append(order, t.ID)
	}
	out := make([]store.Task, 0, len(order))
	for _, id := range order {
		t := *byID[id]
		t.IncidentID = inc
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b store.Task) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// placeTask is the task of a copy in a chat message or a ticket: by hand
// for an export, approved and redacted by rekey for a live source.
func placeTask(inc string, rs *live.Redactors, approvals map[string]string, f scan.Finding) (store.Task, map[string]any) {
	d := map[string]any{"export": f.Path, "encoding": f.Encoding}
	t := store.Task{Kind: KindChat, Location: f.Ref + " (" + f.Path + ")", State: store.TaskOpen}
	var what, how string
	if source.Class(f.Class) == source.ClassChat {
		channel, ts, _ := strings.Cut(f.Ref, "@")
		t.ID = ChatPrefix + f.Ref
		d["why"], d["channel"], d["ts"] = "chat message not redacted yet", channel, ts
		what = fmt.Sprintf("the message in %s at ts %s%s", channel, ts, encodingNote(f.Encoding))
		how = "with chat.update (--delete-messages: chat.delete)"
		t.Action = fmt.Sprintf("delete or edit the message in %s at ts %s (the secret is in it%s); also delete exports and copies of the export", channel, ts, encodingNote(f.Encoding))
	} else {
		issue, comment, _ := strings.Cut(f.Ref, "#")
		comment = strings.TrimPrefix(comment, "comment-")
		what = "the issue's description or fields"
		if comment != "" {
			what = "comment " + comment
		}
		what += " of " + issue + encodingNote(f.Encoding)
		t.ID, t.Kind = TicketPrefix+f.Ref, KindTicket
		d["why"], d["issue"], d["comment"] = "ticket not redacted yet", issue, comment
		how = "by editing it (Jira keeps the earlier version in its history: the rotation makes it useless)"
		t.Action = fmt.Sprintf("remove the secret from %s, and its edit history (Jira keeps old versions: delete the comment and re-add it redacted)", what)
	}
	if _, ok := rs.For(f.Path); ok {
		d["live"] = true
		t.Action = liveAction(inc, t.ID, approvals[t.ID], what, how)
	}
	return t, d
}

// liveAction says what to do with a copy rekey can redact through an
// API: approve it, or, approved, run remediate again.
func liveAction(inc, id, approvedBy, what, how string) string {
	if approvedBy != "" {
		return fmt.Sprintf("approved by %s: rekey incident remediate %s redacts %s %s", approvedBy, inc, what, how)
	}
	return fmt.Sprintf("rekey redacts %s %s once another person approves: rekey incident approve %s %s --as NAME, then rekey incident remediate %s again", what, how, inc, id, inc)
}

// loginChanges are the user changes of one file on a branch.
func loginChanges(b Branch, rel string) []Change {
	out := []Change{}
	for _, c := range b.Changes {
		if c.Path == rel && c.OldUser != "" {
			out = append(out, c)
		}
	}
	return out
}

// keyIDChanges are the changes of the leaked key's id in one file on a
// branch.
func keyIDChanges(b Branch, rel string) []Change {
	out := []Change{}
	for _, c := range b.Changes {
		if c.Path == rel && c.KeyID != "" {
			out = append(out, c)
		}
	}
	return out
}

// keyIDAction says, for a task, that the key id beside the secret was
// replaced too, and where: merged, the file reads both from the same
// place, so the new secret is never paired with the old key's id.
func keyIDAction(cs []Change) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s:%d %s → %s (%s)", c.Path, c.Line, c.Name, c.Reference, c.Note))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; the leaked key's id " + cs[0].KeyID + " beside it is replaced too: " + strings.Join(parts, "; ")
}

// fileLogins finds the user fields naming a retired login in a file rekey
// does not edit, for its task to say what to change.
func fileLogins(p string, lcs []LoginChange) []Change {
	out := []Change{}
	if len(lcs) == 0 {
		return out
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return out
	}
	for _, f := range userFields(data, 0, len(data), lcs, p) {
		out = append(out, f.asChange(p))
	}
	return out
}

// loginAction says, for a task, each place of its file that names a
// retired login: file, line, old user → new user (rewritten on the
// branch, or to change by hand), or which logins to choose from.
func loginAction(cs []Change) string {
	var parts []string
	for _, c := range cs {
		switch {
		case c.NewUser != "" && c.Reference == c.NewUser:
			parts = append(parts, fmt.Sprintf("%s:%d %s: user %s → %s (rewritten on the branch)", c.Path, c.Line, c.Name, c.OldUser, c.NewUser))
		case c.Reference != "":
			// A connection URL, now a reference: its value holds the user.
			parts = append(parts, fmt.Sprintf("%s:%d %s (now %s) must name user %s instead of %s", c.Path, c.Line, c.Name, c.Reference,
				cmp.Or(c.NewUser, "the login of whoever reads it"), c.OldUser))
		case c.NewUser != "":
			parts = append(parts, fmt.Sprintf("%s:%d %s: change user %s → %s", c.Path, c.Line, c.Name, c.OldUser, c.NewUser))
		default:
			parts = append(parts, fmt.Sprintf("%s:%d %s", c.Path, c.Line, c.Note))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; the login changed too: " + strings.Join(parts, "; ")
}

func encodingNote(enc string) string {
	if enc == "" || enc == "plain" {
		return ""
	}
	return ", " + enc + "-encoded"
}

func detailInt(d json.RawMessage, key string) int {
	var m map[string]any
	if json.Unmarshal(d, &m) != nil {
		return 0
	}
	f, _ := m[key].(float64)
	return int(f)
}

// mergeStored keeps approvals of stored tasks and marks done the stored
// tasks whose copy the re-trace no longer finds.
func mergeStored(tasks, stored []store.Task, now time.Time) []store.Task {
	have := map[string]bool{}
	for i, t := range tasks {
		have[t.ID] = true
		for _, s := range stored {
			if s.ID != t.ID {
				continue
			}
			if by := detailString(s.Detail, "approved_by"); by != "" {
				var m map[string]any
				_ = json.Unmarshal(s.Detail, &m)
				tasks[i].Detail = setDetail(t.Detail, map[string]any{"approved_by": by, "approved_at": m["approved_at"]})
			}
		}
	}
	for _, s := range stored {
		if have[s.ID] || s.State == store.TaskDone {
			continue
		}
		s.State = store.TaskDone
		s.Detail = setDetail(s.Detail, map[string]any{"why": "", "done": "the re-trace found no copy here any more"})
		s.Updated = now
		tasks = append(tasks, s)
	}
	slices.SortFunc(tasks, func(a, b store.Task) int { return strings.Compare(a.ID, b.ID) })
	return tasks
}

// treeSource emits the files of one commit's tree (the remediation
// branch), with paths joined to the repository's directory.
type treeSource struct {
	repo, rev string
}

func (t *treeSource) Walk(ctx context.Context, emit func(source.Chunk) error) error {
	es, err := lsTree(ctx, t.repo, t.rev)
	if err != nil {
		return err
	}
	return readBlobs(ctx, t.repo, es, func(e treeEntry, data []byte) error {
		if e.mode == "120000" || e.mode == "160000" {
			return nil
		}
		return emit(source.Chunk{Data: data, Loc: source.Location{
			Path: filepath.Join(t.repo, filepath.FromSlash(e.path)), Line: 1, Column: 1,
			Class: source.Classify(e.path), Blob: e.blob,
		}})
	})
}
