package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/store"
)

// Only a history rewrite and a copy rekey redacts through an API wait for
// an approval: the web UI offers Approve on exactly those.
func TestApprovable(t *testing.T) {
	live, _ := json.Marshal(map[string]any{"live": true})
	export, _ := json.Marshal(map[string]any{"export": "/exports/slack"})
	cases := []struct {
		t    store.Task
		want bool
	}{
		{store.Task{ID: "rewrite-history:shop"}, true},
		{store.Task{ID: "chat:#ops@1700000001.000100", Detail: live}, true},
		{store.Task{ID: "ticket:OPS-7#comment-10301", Detail: live}, true},
		{store.Task{ID: "chat:#ops@1700000001.000100", Detail: export}, false},
		{store.Task{ID: "working-tree:shop:.env", Detail: live}, false},
	}
	for _, c := range cases {
		if got := Approvable(c.t); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.t.ID, c.t.Detail, got, c.want)
		}
	}
}

type fakeRedactor struct {
	calls []string
	err   error
}

func (f *fakeRedactor) Redact(_ context.Context, ref string, del bool) (source.Redaction, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s del=%v", ref, del))
	return source.Redaction{Object: "slack:" + ref, Action: "update"}, f.err
}

func (f *fakeRedactor) Clean(context.Context, string) (bool, error) { return false, f.err }

type oneRedactor struct{ r source.Redactor }

func (o oneRedactor) For(string) (source.Redactor, bool) { return o.r, true }

// Only approved live tasks are redacted, chat ones deleted under
// DeleteMessages; an API error quoting the secret reaches neither the
// warning nor the task without it being masked.
func TestRedactApprovedOnlyAndScrubbed(t *testing.T) {
	const leaked = "Zq8tVw3LrP9nHs2KdX7mC4bY"
	detail := func(kv map[string]any) json.RawMessage { b, _ := json.Marshal(kv); return b }
	stored := []store.Task{
		{ID: "chat:#ops@1", Kind: KindChat, State: store.TaskOpen, Detail: detail(map[string]any{"live": true, "approved_by": "bob", "export": "slack:#ops"})},
		{ID: "chat:#ops@2", Kind: KindChat, State: store.TaskOpen, Detail: detail(map[string]any{"live": true, "export": "slack:#ops"})},
		{ID: "chat:#ops@3", Kind: KindChat, State: store.TaskOpen, Detail: detail(map[string]any{"approved_by": "bob", "export": "/exports/slack"})},
		{ID: "chat:#ops@4", Kind: KindChat, State: store.TaskDone, Detail: detail(map[string]any{"live": true, "approved_by": "bob", "export": "slack:#ops"})},
	}
	f := &fakeRedactor{err: errors.New("slack chat.update: invalid_blocks near " + leaked)}
	var warned []string
	o := Options{Secret: secret.FromString(leaked), DeleteMessages: true, Warn: func(s string) { warned = append(warned, s) }}
	got := redactApproved(context.Background(), o, oneRedactor{f}, stored)
	if len(f.calls) != 1 || f.calls[0] != "#ops@1 del=true" || len(got) != 1 {
		t.Fatalf("redacted %v (%d results), want only #ops@1, deleted", f.calls, len(got))
	}
	tasks := withRedactions([]store.Task{{ID: "chat:#ops@1", State: store.TaskOpen}}, got)
	out := strings.Join(warned, "\n") + string(tasks[0].Detail)
	if strings.Contains(out, leaked) || !strings.Contains(out, "invalid_blocks") || tasks[0].State != store.TaskRemaining {
		t.Errorf("state %s, output %s", tasks[0].State, out)
	}
}
