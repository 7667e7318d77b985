package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/claim"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// bareIncident opens an incident for the secret in env[var] with an
// inventory of one folder source (no system to search) and returns its id.
func bareIncident(t *testing.T, env map[string]string, variable string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"src/app.env": "TOKEN=" + env[variable] + "\n",
		"rekey.yml":   "version: 1\nsources:\n  - {type: dir, path: src}\n",
	})
	r := run(t, env, "", "incident", "open", "--secret-env", variable, "--inventory", filepath.Join(dir, "rekey.yml"))
	if r.code != 0 {
		t.Fatalf("open: exit %d: %s", r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func listJSON(t *testing.T, env map[string]string, args ...string) []incident.Summary {
	t.Helper()
	r := run(t, env, "", append([]string{"incident", "list", "--format", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("list: exit %d: %s", r.code, r.stderr)
	}
	var out []incident.Summary
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	return out
}

func ids(list []incident.Summary) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID+":"+string(s.State))
	}
	return out
}

// list shows open incidents by default, closed ones and all on request;
// close records its reason in the audit log and the report; the same
// secret opened after a close is a new incident.
func TestIncidentListAndClose(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"REKEY_HOME": home, "REKEY_ACTOR": "alice",
		"LEAKED": "s3cr3t-Vq8wLz2pRt6yXn4K", "OTHER": "an0ther-Hb5cNm7jKs2dQw9E"}
	if got := listJSON(t, env); len(got) != 0 {
		t.Fatalf("an empty store lists %v", got)
	}
	first := bareIncident(t, env, "LEAKED")
	second := bareIncident(t, env, "OTHER")
	list := listJSON(t, env)
	if len(list) != 2 || list[0].ID != first || list[0].OpenedBy != "alice" || list[0].Identity != "unknown" || list[0].State != store.Open {
		t.Fatalf("list %+v", list)
	}

	for _, bad := range [][]string{
		{"incident", "close", first},                                // no reason
		{"incident", "close", first, "--reason", "  "},              // an empty one
		{"incident", "close", "INC-20990101-0000", "--reason", "x"}, // unknown
		{"incident", "list", "--state", "gone"},
		{"incident", "list", "--format", "yaml"},
	} {
		if r := run(t, env, "", bad...); r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", bad, r.code, r.stderr)
		}
	}

	env["REKEY_ACTOR"] = "bob"
	r := run(t, env, "", "incident", "close", first, "--reason", "rotated and reviewed")
	if r.code != 0 || !strings.HasPrefix(r.stdout, first+" closed at ") {
		t.Fatalf("close: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "", "incident", "close", first, "--reason", "again"); r.code != 2 || !strings.Contains(r.stderr, "already closed") {
		t.Errorf("closing twice: exit %d: %s", r.code, r.stderr)
	}
	if got := ids(listJSON(t, env)); len(got) != 1 || got[0] != second+":open" {
		t.Errorf("open list %v", got)
	}
	if got := ids(listJSON(t, env, "--state", "closed")); len(got) != 1 || got[0] != first+":closed" {
		t.Errorf("closed list %v", got)
	}
	if got := listJSON(t, env, "--state", "all"); len(got) != 2 || got[0].ClosedAt == nil {
		t.Errorf("all %+v", got)
	}
	tbl := run(t, env, "", "incident", "list", "--state", "all")
	if tbl.code != 0 || !strings.Contains(tbl.stdout, "ID") || !strings.Contains(tbl.stdout, first) || !strings.Contains(tbl.stdout, "closed") {
		t.Errorf("table: %s", tbl.stdout)
	}

	rep := run(t, env, "", "incident", "report", first)
	if rep.code != 0 || !strings.Contains(rep.stdout, "State **closed**") || !strings.Contains(rep.stdout, "by bob: rotated and reviewed") {
		t.Errorf("the report does not say it is closed:\n%s", rep.stdout)
	}
	if a := run(t, env, "", "audit", "verify"); a.code != 0 {
		t.Errorf("audit verify: %s", a.stderr)
	}

	again := bareIncident(t, env, "LEAKED")
	if again == first {
		t.Fatalf("the secret of a closed incident reopened it (%s)", first)
	}
	if got := ids(listJSON(t, env)); len(got) != 2 || got[1] != again+":open" {
		t.Errorf("after reopening: %v", got)
	}
}

// An incident another worker holds (a run going on) cannot be closed.
func TestIncidentCloseIsRefusedWhileClaimed(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"REKEY_HOME": home, "REKEY_ACTOR": "alice", "LEAKED": "s3cr3t-Vq8wLz2pRt6yXn4K"}
	id := bareIncident(t, env, "LEAKED")
	st, err := sqlite.Open(context.Background(), filepath.Join(home, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cl, err := claim.For(st, claim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cl.Claim(context.Background(), id, "runner")
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "", "incident", "close", id, "--reason", "done")
	if r.code != 2 || !strings.Contains(r.stderr, "is being worked on by runner") {
		t.Errorf("close while claimed: exit %d: %s", r.code, r.stderr)
	}
	if inc, err := st.GetIncident(context.Background(), id); err != nil || inc.State != store.Open {
		t.Errorf("the incident is %s (%v), want open", inc.State, err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "", "incident", "close", id, "--reason", "done"); r.code != 0 {
		t.Errorf("close after the run: exit %d: %s", r.code, r.stderr)
	}
}
