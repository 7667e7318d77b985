package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// TestLeakTimeFromChatAndTicketsAndReplacedLater: with copies only in a
// Slack export and a Jira export, the incident's leak time is the
// earliest of them (the Jira comment's created time, before the Slack
// message's ts). A --leaked-at given later, to open again, to respond on
// resume and to incident review, replaces it each time, in the audit log;
// a bad one changes nothing.
func TestLeakTimeFromChatAndTicketsAndReplacedLater(t *testing.T) {
	pg := testutil.SharedPostgres(t)
	role := testutil.RandomName("leak_")
	password := "Lk-" + testutil.RandomName("pw") + "-9Zq"
	pg.CreateRole(t, role, password, "")

	dir := t.TempDir()
	writeFiles(t, filepath.Join(dir, "slack"), map[string]string{
		"channels.json":           `[{"id":"C1","name":"deploys"}]`,
		"deploys/2024-03-06.json": `[{"type":"message","user":"U1","ts":"1709715600.000100","text":"db password is ` + password + `"}]`,
	})
	writeFiles(t, dir, map[string]string{
		"jira.json": `{"issues":[{"key":"OPS-1","fields":{"summary":"db down","created":"2024-03-01T10:00:00.000+0000",` +
			`"comment":{"comments":[{"id":"5","body":"works with PGPASSWORD=` + password + `","created":"2024-03-02T08:30:00.000+0000"}]}}}]}`,
	})
	invPath := filepath.Join(dir, "rekey.yml")
	inv := fmt.Sprintf(`version: 1
systems:
  - name: shop-db
    type: postgres
    admin: env:SHOP_DB_ADMIN_DSN
identities:
  - name: %s
    system: shop-db
consumers:
  - name: orders-api
    identity: %s
    sources: ["app:orders-api"]
sources:
  - { type: slack, path: slack }
  - { type: jira, path: jira.json }
`, role, role)
	if err := os.WriteFile(invPath, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"REKEY_HOME": filepath.Join(dir, "home"), "SHOP_DB_ADMIN_DSN": pg.AdminURL(), "LEAKED": password, "REKEY_ACTOR": "alice"}

	var opened struct {
		ID       string     `json:"id"`
		Existing bool       `json:"existing"`
		LeakedAt *time.Time `json:"leaked_at"`
	}
	r := run(t, env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", invPath, "--format", "json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &opened) != nil {
		t.Fatalf("open: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if want := time.Date(2024, 3, 2, 8, 30, 0, 0, time.UTC); opened.LeakedAt == nil || !opened.LeakedAt.Equal(want) {
		t.Fatalf("leaked_at %v, want the Jira comment's time %s (the earliest copy)", opened.LeakedAt, want)
	}
	id := opened.ID

	stored := func() (time.Time, []store.AuditEntry) {
		t.Helper()
		st, err := sqlite.Open(context.Background(), filepath.Join(env["REKEY_HOME"], store.DBFile))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		inc, err := st.GetIncident(context.Background(), id)
		if err != nil || inc.LeakedAt == nil {
			t.Fatalf("incident: %v %+v", err, inc)
		}
		all, err := st.AuditLog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var changes []store.AuditEntry
		for _, e := range all {
			if e.Action == "incident.leaked-at" {
				changes = append(changes, e)
			}
		}
		return inc.LeakedAt.UTC(), changes
	}

	r = run(t, env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", invPath, "--leaked-at", "2024-02-01T00:00:00Z", "--format", "json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &opened) != nil || !opened.Existing {
		t.Fatalf("open again: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if at, ch := stored(); !at.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) || len(ch) != 1 ||
		!strings.Contains(string(ch[0].Detail), `"from":"2024-03-02T08:30:00Z"`) || !strings.Contains(string(ch[0].Detail), `"by":"--leaked-at"`) {
		t.Fatalf("after open --leaked-at: %s, audit %+v", at, ch)
	}

	// respond on resume: stage 1 takes the new time; off a terminal
	// without --yes it stops (exit 2) before changing any system.
	r = run(t, env, "", "respond", "--secret-env", "LEAKED", "--inventory", invPath, "--leaked-at", "2024-02-20T00:00:00Z")
	if r.code != 2 || !strings.Contains(r.stdout, "resuming the open incident "+id) {
		t.Fatalf("respond: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if at, ch := stored(); !at.Equal(time.Date(2024, 2, 20, 0, 0, 0, 0, time.UTC)) || len(ch) != 2 {
		t.Fatalf("after respond --leaked-at: %s, audit %d change(s)", at, len(ch))
	}

	r = run(t, env, "", "incident", "review", id, "--leaked-at", "2024-02-25T12:00:00Z", "--format", "json")
	var rev struct {
		Windows struct {
			Exposure struct{ Start *time.Time } `json:"exposure"`
		} `json:"windows"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rev) != nil {
		t.Fatalf("review: %d %s %s", r.code, r.stdout, r.stderr)
	}
	want := time.Date(2024, 2, 25, 12, 0, 0, 0, time.UTC)
	if rev.Windows.Exposure.Start == nil || !rev.Windows.Exposure.Start.Equal(want) {
		t.Errorf("the review's exposure starts at %v, want %s", rev.Windows.Exposure.Start, want)
	}
	if at, ch := stored(); !at.Equal(want) || len(ch) != 3 {
		t.Fatalf("after review --leaked-at: %s, audit %d change(s)", at, len(ch))
	}

	r = run(t, env, "", "incident", "review", id, "--leaked-at", "yesterday")
	if r.code != 2 || !strings.Contains(r.stderr, "--leaked-at") {
		t.Errorf("a bad --leaked-at: %d %s", r.code, r.stderr)
	}
	if at, ch := stored(); !at.Equal(want) || len(ch) != 3 {
		t.Errorf("a bad --leaked-at changed the incident: %s, %d change(s)", at, len(ch))
	}
}
