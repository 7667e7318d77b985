package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/incident"
)

// show --inventory prints the inventory as it was when the incident was
// opened, whatever became of the file since.
func TestIncidentShowInventory(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"REKEY_HOME": filepath.Join(dir, "home"), "REKEY_ACTOR": "alice", "LEAKED": "s3cr3t-Vq8wLz2pRt6yXn4K"}
	original := "version: 1\n# where the app's copy lives\nsources:\n  - {type: dir, path: src}\n"
	writeFiles(t, dir, map[string]string{"src/app.env": "TOKEN=" + env["LEAKED"] + "\n", "rekey.yml": original})
	inv := filepath.Join(dir, "rekey.yml")
	r := run(t, env, "", "incident", "open", "--secret-env", "LEAKED", "--inventory", inv)
	if r.code != 0 {
		t.Fatalf("open: %s", r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	if err := os.WriteFile(inv, []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "", "incident", "show", id, "--inventory")
	if r.code != 0 || r.stdout != original {
		t.Errorf("show --inventory: exit %d\n%q\nwant %q\n%s", r.code, r.stdout, original, r.stderr)
	}
	r = run(t, env, "", "incident", "show", id, "--format", "json")
	var s incident.Summary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || s.ID != id || s.OpenedBy != "alice" || s.State != "open" {
		t.Errorf("show: %+v %v\n%s", s, err, r.stderr)
	}
	// The file gone, scope and report read the copy.
	if err := os.Remove(inv); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"incident", "scope", id}, {"incident", "report", id}} {
		r := run(t, env, "", cmd...)
		if r.code != 0 || !strings.Contains(r.stderr, "using the copy kept when the incident was opened") {
			t.Errorf("%v without the file: exit %d: %s", cmd, r.code, r.stderr)
		}
	}
	if r := run(t, env, "", "incident", "show", "INC-20990101-0000", "--inventory"); r.code != 2 {
		t.Errorf("an unknown incident: exit %d", r.code)
	}
}
