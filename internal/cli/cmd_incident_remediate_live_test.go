package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/source/jiraapi/jiraapitest"
	"github.com/rekeyhq/rekey/internal/source/slackapi/slackapitest"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/open"
)

// TestRemediateRedactsLiveChatAndTickets: copies read through the inventory's
// slack-api and jira-api sources get chat:/ticket: tasks that wait for
// another person's approval; approved, remediate redacts them through the
// APIs (chat.update, chat.delete with --delete-messages, a Jira comment
// edit), and the re-trace marks them done. A message the token may not
// edit stays, its task remaining with the API's reason. The opener cannot
// approve, an unapproved copy is left alone, nothing prints the secret.
func TestRemediateRedactsLiveChatAndTickets(t *testing.T) {
	pw := "Kd8vR2nQ7xLp4Wz-" + strings.ToLower(fmt.Sprintf("%x", len(t.Name())*7919))
	sl := &slackapitest.Server{Token: "xoxp-remediate-user", Self: "U1", Channels: []*slackapitest.Channel{{ID: "C1", Name: "ops", Member: true,
		Messages: []slackapitest.Message{
			{TS: slackapitest.TS(1), User: "U1", Text: "prod db password is " + pw + " until we rotate"},
			{TS: slackapitest.TS(2), User: "U1", Text: "again: PGPASSWORD=" + pw},
			{TS: slackapitest.TS(3), User: "U2", Text: "copied it: " + pw},
			{TS: slackapitest.TS(4), User: "U1", Text: "thanks"},
		}}}}
	sl.Start()
	defer sl.Close()
	ji := &jiraapitest.Server{Token: "jira-remediate-token", Issues: []*jiraapitest.Issue{{ID: "10070", Key: "OPS-7",
		Fields:   map[string]any{"summary": "orders db migration fails", "description": jiraapitest.Doc("see comments"), "created": "2024-03-05T10:15:00.000+0100"},
		Comments: []*jiraapitest.Comment{{ID: "10301", Body: jiraapitest.Doc("works with password "+pw, "second paragraph"), Created: "2024-03-05T10:16:00.000+0100"}}}}}
	ji.Start()
	defer ji.Close()

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"rekey.yml": `version: 1
sources:
  - { type: slack-api, url: "` + sl.URL() + `", token: env:SLACK_TOKEN }
  - { type: jira-api, url: "` + ji.URL() + `", token: env:JIRA_TOKEN }
`})
	env := map[string]string{"REKEY_HOME": filepath.Join(dir, "home"), "LEAKED": pw, "SLACK_TOKEN": sl.Token, "JIRA_TOKEN": ji.Token}
	r := run(t, env, "", "--as", "alice", "incident", "open", "--secret-env", "LEAKED", "--inventory", filepath.Join(dir, "rekey.yml"))
	if r.code != 0 {
		t.Fatalf("open: exit %d: %s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	remediate := func(args ...string) remediation {
		t.Helper()
		r := run(t, env, "", append([]string{"incident", "remediate", id, "--secret-env", "LEAKED", "--format", "json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("remediate %v: exit %d: %s", args, r.code, r.stderr)
		}
		for _, s := range []string{pw, sl.Token, ji.Token} {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Fatal("remediate printed a secret")
			}
		}
		var res remediation
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		return res
	}
	m1, m2, m3 := "chat:#ops@"+slackapitest.TS(1), "chat:#ops@"+slackapitest.TS(2), "chat:#ops@"+slackapitest.TS(3)
	cm := "ticket:OPS-7#comment-10301"

	res := remediate()
	states := taskStates(res.Tasks)
	for _, id := range []string{m1, m2, m3, cm} {
		if states[id] != store.TaskOpen {
			t.Errorf("before approval %s is %q, want open (tasks %v)", id, states[id], states)
		}
	}
	for _, tk := range res.Tasks {
		if tk.ID == m1 && !strings.Contains(tk.Action, "rekey incident approve "+id+" "+m1) {
			t.Errorf("the task does not say how to approve it: %s", tk.Action)
		}
	}
	if sl.Requests("chat.update")+sl.Requests("chat.delete")+ji.Requests("edit-comment") != 0 {
		t.Fatal("redacted before any approval")
	}

	if r := run(t, env, "", "--as", "alice", "incident", "approve", id, m1); r.code != 2 || !strings.Contains(r.stderr, "cannot also approve") {
		t.Fatalf("the opener approved: exit %d %s", r.code, r.stderr)
	}
	for _, task := range []string{m1, m3, cm} {
		if r := run(t, env, "", "--as", "bob", "incident", "approve", id, task); r.code != 0 {
			t.Fatalf("approve %s: exit %d %s", task, r.code, r.stderr)
		}
	}
	res = remediate()
	states = taskStates(res.Tasks)
	if states[m1] != store.TaskDone || states[cm] != store.TaskDone || states[m2] != store.TaskOpen || states[m3] != store.TaskRemaining {
		t.Errorf("after approval: %v; want %s and %s done, %s open, %s remaining", states, m1, cm, m2, m3)
	}
	replacement := "[REDACTED by rekey " + id + "]"
	if m, ok := sl.Message("C1", slackapitest.TS(1)); !ok || m.Text != "prod db password is "+replacement+" until we rotate" {
		t.Errorf("message 1 after redaction: %q %v", m.Text, ok)
	}
	if m, _ := sl.Message("C1", slackapitest.TS(2)); !strings.Contains(m.Text, pw) {
		t.Error("an unapproved message was changed")
	}
	is, _ := ji.Stored("OPS-7")
	body, _ := json.Marshal(is.Comments[0].Body)
	if strings.Contains(string(body), pw) || !strings.Contains(string(body), replacement) || !strings.Contains(string(body), "second paragraph") {
		t.Errorf("comment after redaction: %s", body)
	}
	for _, tk := range res.Tasks {
		switch tk.ID {
		case m3:
			if !strings.Contains(string(tk.Detail), "cant_update_message") {
				t.Errorf("the remaining task does not say why: %s", tk.Detail)
			}
		case m1:
			var d struct {
				Redaction struct {
					Action, Object string
					Before         string `json:"before_sha256"`
				}
			}
			if json.Unmarshal(tk.Detail, &d) != nil || d.Redaction.Action != "update" || d.Redaction.Before == "" || d.Redaction.Object != "slack:#ops@"+slackapitest.TS(1) {
				t.Errorf("the done task does not record the redaction: %s", tk.Detail)
			}
		}
	}

	// --delete-messages: chat.delete, the message is gone.
	if r := run(t, env, "", "--as", "bob", "incident", "approve", id, m2); r.code != 0 {
		t.Fatalf("approve %s: exit %d %s", m2, r.code, r.stderr)
	}
	res = remediate("--delete-messages")
	if st := taskStates(res.Tasks); st[m2] != store.TaskDone {
		t.Errorf("after --delete-messages %s is %q", m2, st[m2])
	}
	if _, ok := sl.Message("C1", slackapitest.TS(2)); ok || sl.Requests("chat.delete") == 0 {
		t.Errorf("message 2 still exists (%d chat.delete calls)", sl.Requests("chat.delete"))
	}
	if _, ok := sl.Message("C1", slackapitest.TS(3)); !ok {
		t.Error("another user's message was deleted")
	}
	if _, ok := sl.Message("C1", slackapitest.TS(4)); !ok {
		t.Error("a message without the secret was deleted")
	}

	// The audit log records each redaction by who approved it, without
	// the secret.
	st, err := open.Open(context.Background(), filepath.Join(env["REKEY_HOME"], store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == "remediate.redact" {
			n++
			if strings.Contains(string(e.Detail), pw) || !strings.Contains(string(e.Detail), `"approved_by":"bob"`) {
				t.Errorf("redaction audited as %s", e.Detail)
			}
		}
	}
	if n < 4 {
		t.Errorf("%d redactions audited, want at least 4", n)
	}
}
