package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/source/git/gittest"
	"github.com/rekeyhq/rekey/internal/store"
)

// TestRemediationAfterASplitSaysWhichLoginEachCopyNeeds: after a split
// the shared login no longer logs in. A CI workflow and a Kubernetes
// Secret that name it beside the leaked password are not any one
// consumer's, so rekey cannot pick the new login for them: each task says
// the file, the line, the retired user and the logins to choose from,
// instead of leaving a copy that names a dead login unremarked.
func TestRemediationAfterASplitSaysWhichLoginEachCopyNeeds(t *testing.T) {
	w := newRotationWorld(t, false)
	if r := run(t, w.env, "", "incident", "plan", w.id, "--strategy", "split"); r.code != 0 {
		t.Fatalf("plan: %d %s", r.code, r.stderr)
	}
	if r := run(t, w.env, "", "incident", "run", w.id, "--yes"); r.code != 0 {
		t.Fatalf("run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	w.stopConsumers()

	repo := filepath.Join(w.dir, "shop")
	gittest.BuildRepo(t, repo, []gittest.Commit{{Files: map[string]string{
		".github/workflows/ci.yml": "jobs:\n  test:\n    env:\n      PGUSER: " + w.role + "\n      PGPASSWORD: " + w.password + "\n",
		"k8s/secret.yaml":          "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  username: " + w.role + "\n  password: " + w.password + "\n",
	}}})
	gittest.Git(t, repo, "checkout", "-q", "-f", "main")
	invPath := filepath.Join(w.dir, "rekey.yml")
	inv, err := os.ReadFile(invPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(invPath, append(inv, []byte("sources:\n  - { type: git, path: shop }\n")...), 0o644); err != nil {
		t.Fatal(err)
	}

	r := run(t, w.env, "", "incident", "remediate", w.id, "--secret-env", "LEAKED", "--format", "json")
	if r.code != 0 {
		t.Fatalf("remediate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	var res struct{ Tasks []store.Task }
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	var leases []struct{ Login, Consumer string }
	if r := run(t, w.env, "", "leases", "--format", "json"); json.Unmarshal([]byte(r.stdout), &leases) != nil || len(leases) != len(consumerNames) {
		t.Fatalf("leases: %s", r.stdout)
	}
	want := map[string]string{".github/workflows/ci.yml": "PGUSER still names login " + w.role, "k8s/secret.yaml": "username still names login " + w.role}
	for file, say := range want {
		var action string
		for _, tk := range res.Tasks {
			if tk.Kind == "working-tree" && strings.HasSuffix(tk.ID, ":"+file) {
				action = tk.Action
			}
		}
		if !strings.Contains(action, file+":") || !strings.Contains(action, say) {
			t.Errorf("%s: task %q does not say %q", file, action, say)
		}
		for _, l := range leases {
			if !strings.Contains(action, l.Login+" (consumer "+l.Consumer+")") {
				t.Errorf("%s: task %q does not offer %s", file, action, l.Login)
			}
		}
	}
	if strings.Contains(r.stdout+r.stderr, w.password) {
		t.Error("remediate printed the leaked password")
	}
}
