package remediate

import (
	"encoding/json"
	"testing"

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
