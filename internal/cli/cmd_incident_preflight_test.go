package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/testutil"
)

// A run (dry or not) whose administrator lacks what the steps need, or
// whose consumer's file is gone, stops before anything changes: one line
// per problem, exit 2, every step still pending, every file as it was.
func TestRunPreflightStopsBeforeAnyChange(t *testing.T) {
	w := newRotationWorld(t, false)
	defer w.stopConsumers()
	if r := run(t, w.env, "", "incident", "plan", w.id, "--strategy", "graceful"); r.code != 0 {
		t.Fatalf("plan: %s", r.stderr)
	}
	weak, pw := testutil.RandomName("rekey_weak_"), testutil.RandomName("pw")
	w.pg.CreateRole(t, weak, pw, "")
	w.env["SHOP_DB_ADMIN_DSN"] = w.pg.URL(weak, pw, "postgres")
	gone := filepath.Join(w.dir, consumerNames[0], ".env")
	if err := os.Rename(gone, gone+".away"); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, c := range consumerNames[1:] {
		b, _ := os.ReadFile(filepath.Join(w.dir, c, ".env"))
		files[c] = b
	}

	for _, args := range [][]string{{"--dry-run"}, {"--yes"}} {
		r := run(t, w.env, "", append([]string{"incident", "run", w.id}, args...)...)
		if r.code != 2 {
			t.Fatalf("run %v: exit %d, want 2\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{
			"rekey: preflight: consumer " + consumerNames[0] + ": ",
			"rekey: preflight: system shop-db: administrator " + weak + " has neither SUPERUSER nor CREATEROLE",
			"rekey: preflight: system shop-db: administrator " + weak + " is not a member of pg_signal_backend",
			"the preflight found 3 problem(s), listed above; nothing was changed",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("run %v: stderr lacks %q:\n%s", args, want, r.stderr)
			}
		}
		if strings.Contains(r.stderr, pw) || strings.Contains(r.stderr, w.password) {
			t.Error("a password is printed")
		}
		if r.stdout != "" {
			t.Errorf("run %v printed a result: %s", args, r.stdout)
		}
	}
	if e := run(t, w.env, "", "incident", "run", w.id, "--dry-run").stderr; strings.Count(e, "rekey: preflight: ") != 3 {
		t.Log(e)
		t.Errorf("want 3 problem lines (the missing file and two privileges)")
	}
	st := run(t, w.env, "", "incident", "report", w.id, "--format", "json")
	if strings.Contains(st.stdout, `"state": "done"`) || strings.Contains(st.stdout, `"state": "failed"`) {
		t.Errorf("a step ran:\n%s", st.stdout)
	}
	for c, b := range files {
		if now, _ := os.ReadFile(filepath.Join(w.dir, c, ".env")); string(now) != string(b) {
			t.Errorf("%s's file changed", c)
		}
	}
	if !w.oldPasswordWorks() {
		t.Error("the old password no longer works")
	}

	// Fixed: the documented administrator and the file back: the dry run goes.
	if err := os.Rename(gone+".away", gone); err != nil {
		t.Fatal(err)
	}
	w.pg.Exec(t, "ALTER ROLE "+weak+" CREATEROLE; GRANT pg_signal_backend TO "+weak)
	r := run(t, w.env, "", "incident", "run", w.id, "--dry-run")
	if r.code != 0 || strings.Contains(r.stderr, "preflight") {
		t.Errorf("after the fix: exit %d\n%s", r.code, r.stderr)
	}
}
