package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// TestPlanRefusedWhileTracing: an incident whose tracing (started
// through rekey serve's API) has sources pending is neither planned nor
// run: one line names how many are pending, and nothing is stored.
func TestPlanRefusedWhileTracing(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	writeFiles(t, dir, map[string]string{
		"rekey.yml":   "version: 1\nsources:\n  - { type: dir, path: src }\n",
		"src/app.env": "DB_PASSWORD=Tr4ced-Secret-Value-91x\n",
	})
	env := map[string]string{"REKEY_HOME": home, "LEAKED": "Tr4ced-Secret-Value-91x"}
	r := run(t, env, "", "--as", "alice", "incident", "open", "--secret-env", "LEAKED", "--inventory", filepath.Join(dir, "rekey.yml"))
	if r.code != 0 {
		t.Fatalf("open: exit %d: %s", r.code, r.stderr)
	}
	inc := strings.TrimSpace(r.stdout)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(home, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartTrace(ctx, inc, []byte("key\nsealed"), []store.TraceSource{{Type: "dir", Path: "/srv/a"}, {Type: "dir", Path: "/srv/b"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, args := range [][]string{{"incident", "plan", inc}, {"incident", "run", inc, "--yes"}, {"incident", "run", inc, "--dry-run"}} {
		r := run(t, env, "", args...)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "2 of 2 sources pending") {
			t.Errorf("%v while tracing: exit %d: %q, want one line naming the 2 pending sources", args, r.code, r.stderr)
		}
	}
	st, err = sqlite.Open(ctx, filepath.Join(home, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok, err := st.GetPlan(ctx, inc); err != nil || ok {
		t.Errorf("a plan was stored while tracing: %v, %v", ok, err)
	}
}
