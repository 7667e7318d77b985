package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/source/git/gittest"
)

// TestRemediateReplacesTheKeyIDGivenWithTheSecret: an AWS key pair given
// as KEY_ID:SECRET to an incident no system identified (no aws-iam system
// in the inventory) still has its id replaced beside the secret on the
// branch, from the id given with the secret; another key's id stays.
func TestRemediateReplacesTheKeyIDGivenWithTheSecret(t *testing.T) {
	dir := t.TempDir()
	const id, other, key = "AKIA3EXAMPLE7DEPLOY1", "AKIA3EXAMPLE7STAGIN2", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY3EXAMPLE1"
	repo := filepath.Join(dir, "shop")
	workflow := "name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      AWS_ACCESS_KEY_ID: " + id + "\n      AWS_SECRET_ACCESS_KEY: " + key +
		"\n    steps:\n      - run: aws s3 sync public s3://shop-assets\n  staging:\n    runs-on: ubuntu-latest\n    env:\n      AWS_ACCESS_KEY_ID: " + other + "\n    steps:\n      - run: aws s3 ls\n"
	gittest.BuildRepo(t, repo, []gittest.Commit{{Files: map[string]string{".github/workflows/deploy.yml": workflow}, Message: "deploy from CI"}})
	writeFiles(t, dir, map[string]string{"rekey.yml": "version: 1\nsources:\n  - { type: git, path: shop }\n"})
	env := map[string]string{"REKEY_HOME": filepath.Join(dir, "home"), "LEAKED": id + ":" + key}
	r := run(t, env, "", "--as", "alice", "incident", "open", "--secret-env", "LEAKED", "--inventory", filepath.Join(dir, "rekey.yml"))
	if r.code != 0 {
		t.Fatalf("open: exit %d: %s", r.code, r.stderr)
	}
	inc := strings.TrimSpace(r.stdout)
	r = run(t, env, "", "incident", "remediate", inc, "--secret-env", "LEAKED")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, key) {
		t.Fatalf("remediate: exit %d (or the secret printed): %s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "AWS_ACCESS_KEY_ID → ${{ secrets.AWS_ACCESS_KEY_ID }}") {
		t.Errorf("the output does not list the key id's change:\n%s", r.stdout)
	}
	got := gittest.Git(t, repo, "show", "rekey/"+inc+":.github/workflows/deploy.yml")
	if strings.Contains(got, id) || strings.Contains(got, key) || !strings.Contains(got, "AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}") ||
		!strings.Contains(got, "AWS_ACCESS_KEY_ID: "+other) {
		t.Errorf("the workflow on the branch:\n%s", got)
	}
}
