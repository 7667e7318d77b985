package remediate

import (
	"context"
	"encoding/base64"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source/git/gittest"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/trace"
)

// An AWS key pair as awsiamtest issues them: the id is public, the
// secret access key is what leaked.
const (
	leakedID  = "AKIA3EXAMPLE7DEPLOY1"
	leakedKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY3EXAMPLE1"
	// otherID is another key of the same account (a staging job's): it
	// shares the leaked id's prefix and must stay.
	otherID = "AKIA3EXAMPLE7STAGIN2"
)

func keyWorkspace(t *testing.T, id string) *workspace {
	t.Helper()
	w := &workspace{incident: "INC-20261206-4a7c", fallback: "AWS_SECRET_ACCESS_KEY", files: map[string][]byte{}, modes: map[string]string{},
		read: func(string) ([]byte, bool) { return nil, false }}
	k, err := newKeyID(id, "AWS_ACCESS_KEY_ID")
	if err != nil {
		t.Fatal(err)
	}
	w.key = k
	return w
}

// TestKeyIDIsReplacedBesideTheSecret: in each file holding the leaked
// secret access key, the leaked key's id beside it gets a reference of the
// same style as the secret's (a repository secret in a GitHub workflow, a
// CI/CD variable in GitLab CI, a Terraform variable, the environment in
// code and scripts, the Kubernetes Secret's key an env entry reads), so
// that merged, CI never pairs the new secret with the deleted key's id.
// Only that exact id goes: another key's id, one that merely starts with
// it, and a truncated one stay.
func TestKeyIDIsReplacedBesideTheSecret(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		path, in  string
		want      []string
		keep      []string // still there: not the leaked key's id
		names     []string // the key id changes' variables, in order
		noteWords string
	}{
		{".github/workflows/deploy.yml",
			"name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      AWS_ACCESS_KEY_ID: " + leakedID + "\n      AWS_SECRET_ACCESS_KEY: " + leakedKey +
				"\n    steps:\n      - uses: actions/checkout@v4\n      - run: aws s3 sync public s3://shop-assets\n" +
				"  staging:\n    runs-on: ubuntu-latest\n    env:\n      AWS_ACCESS_KEY_ID: " + otherID + "\n      AWS_SECRET_ACCESS_KEY: ${{ secrets.STAGING_KEY }}\n    steps:\n      - run: aws s3 ls\n",
			[]string{"AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}\n      AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}"},
			[]string{"AWS_ACCESS_KEY_ID: " + otherID}, []string{"AWS_ACCESS_KEY_ID"}, "repository secret AWS_ACCESS_KEY_ID"},
		{".gitlab-ci.yml",
			"deploy:\n  stage: deploy\n  image: amazon/aws-cli:2.15.0\n  variables:\n    AWS_ACCESS_KEY_ID: " + leakedID + "\n    AWS_SECRET_ACCESS_KEY: \"" + leakedKey +
				"\"\n    ROTATED_FROM: " + leakedID + "X\n  script:\n    - aws s3 sync public s3://shop-assets\n",
			[]string{"AWS_ACCESS_KEY_ID: $AWS_ACCESS_KEY_ID\n", `AWS_SECRET_ACCESS_KEY: "$AWS_SECRET_ACCESS_KEY"`},
			[]string{"ROTATED_FROM: " + leakedID + "X"}, []string{"AWS_ACCESS_KEY_ID"}, "CI/CD variable"},
		{"terraform/main.tf",
			"provider \"aws\" {\n  region     = \"us-east-1\"\n  access_key = \"" + leakedID + "\"\n  secret_key = \"" + leakedKey + "\"\n}\n\n" +
				"# staging's key: " + leakedID[:12] + "…\nresource \"aws_s3_bucket\" \"assets\" {\n  bucket = \"shop-assets\"\n}\n",
			[]string{"access_key = var.access_key\n  secret_key = var.secret_key"},
			[]string{"# staging's key: " + leakedID[:12] + "…"}, []string{"access_key"}, "TF_VAR_access_key"},
		{"deploy/s3.py",
			"import boto3\n\ns3 = boto3.client(\"s3\", aws_access_key_id=\"" + leakedID + "\", aws_secret_access_key=\"" + leakedKey + "\")\n",
			[]string{`aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"]`, "import os\n"},
			nil, []string{"AWS_ACCESS_KEY_ID"}, "program's environment"},
		{"bin/publish.sh",
			"#!/bin/sh\nexport AWS_ACCESS_KEY_ID=" + leakedID + "\nexport AWS_SECRET_ACCESS_KEY='" + leakedKey + "'\naws s3 sync public s3://shop-assets\n",
			[]string{`export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID}"`, `export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY}"`},
			nil, []string{"AWS_ACCESS_KEY_ID"}, "environment that runs the script"},
		{"aws/credentials.ini",
			"[deploy]\naws_access_key_id = " + leakedID + "\naws_secret_access_key = " + leakedKey + "\n\n[staging]\naws_access_key_id = " + otherID + "\n",
			[]string{"aws_access_key_id = ${AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}"},
			[]string{"aws_access_key_id = " + otherID}, []string{"AWS_ACCESS_KEY_ID"}, "where this file is read"},
		{"k8s/api.yaml",
			"apiVersion: v1\nkind: Secret\nmetadata:\n  name: aws-deploy\ndata:\n  AWS_ACCESS_KEY_ID: " + b64(leakedID) + "\n  AWS_SECRET_ACCESS_KEY: " + b64(leakedKey) + "\n---\n" +
				"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          env:\n" +
				"            - name: AWS_ACCESS_KEY_ID\n              value: " + leakedID + "\n            - name: AWS_SECRET_ACCESS_KEY\n              value: " + leakedKey + "\n",
			[]string{"AWS_ACCESS_KEY_ID: \"\" # rekey", "AWS_SECRET_ACCESS_KEY: \"\" # rekey",
				"- name: AWS_ACCESS_KEY_ID\n              valueFrom:\n                secretKeyRef:\n                  name: aws-deploy\n                  key: AWS_ACCESS_KEY_ID\n",
				"- name: AWS_SECRET_ACCESS_KEY\n              valueFrom:\n                secretKeyRef:\n                  name: aws-deploy\n                  key: AWS_SECRET_ACCESS_KEY\n"},
			nil, []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"}, "Secret aws-deploy"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			w := keyWorkspace(t, leakedID)
			m, err := trace.New(secret.FromString(leakedKey))
			if err != nil {
				t.Fatal(err)
			}
			in := []byte(c.in)
			ms := m.Find(in)
			if styleOf(c.path, in) == styleK8s {
				w.secrets, w.key.secrets = k8sSecrets(in, ms), k8sSecrets(in, w.key.find(in))
			}
			w.rewrite(c.path, in, ms)
			w.finishTF([]string{c.path})
			got := string(w.files[c.path])
			for _, bad := range []string{leakedKey, leakedID + "\n", leakedID + `"`, b64(leakedID)} {
				if strings.Contains(got, bad) {
					t.Errorf("still holds %q:\n%s", bad, got)
				}
			}
			for _, want := range append(c.want, c.keep...) {
				if !strings.Contains(got, want) {
					t.Errorf("lacks %q:\n%s", want, got)
				}
			}
			var names []string
			for _, ch := range w.changes {
				if ch.KeyID == "" {
					continue
				}
				names = append(names, ch.Name)
				if ch.KeyID != leakedID || ch.Reference == "" || !strings.Contains(ch.Note, c.noteWords) || !strings.Contains(ch.Note, "the new key's id") {
					t.Errorf("key id change %+v: want the id, a reference and a note naming %q and the new key's id", ch, c.noteWords)
				}
			}
			if strings.Join(names, ",") != strings.Join(c.names, ",") {
				t.Errorf("key id changes name %v, want %v", names, c.names)
			}
			if c.path == "terraform/main.tf" && !strings.Contains(string(w.files["terraform/variables.tf"]), "variable \"access_key\" {") {
				t.Errorf("access_key is not declared:\n%s", w.files["terraform/variables.tf"])
			}
		})
	}

	// A credential without a public id: the id-like text stays.
	w := keyWorkspace(t, "")
	m, _ := trace.New(secret.FromString(leakedKey))
	in := []byte(cases[0].in)
	w.rewrite(cases[0].path, in, m.Find(in))
	if got := string(w.files[cases[0].path]); !strings.Contains(got, "AWS_ACCESS_KEY_ID: "+leakedID+"\n") || strings.Contains(got, leakedKey) || len(w.changes) != 1 {
		t.Errorf("without a key id: %+v\n%s", w.changes, got)
	}
}

// TestKeyIDInsideTheSecretsReference: a URL holding both the id and the
// secret is replaced whole by the secret's reference; the id needs no
// change of its own. The two written together (KEY_ID:SECRET) each get
// one.
func TestKeyIDInsideTheSecretsReference(t *testing.T) {
	m, _ := trace.New(secret.FromString(leakedKey))
	w := keyWorkspace(t, leakedID)
	in := []byte("backup:\n  target: s3://" + leakedID + ":" + percentSlash(leakedKey) + "@shop-backups/db\n  pair: " + leakedID + ":" + leakedKey + "\n")
	w.rewrite("config/backup.yaml", in, m.Find(in))
	got := string(w.files["config/backup.yaml"])
	if !strings.Contains(got, "target: ${BACKUP_TARGET}\n") || !strings.Contains(got, "pair: ${AWS_ACCESS_KEY_ID}:${BACKUP_PAIR}\n") || strings.Contains(got, leakedID) {
		t.Errorf("got:\n%s", got)
	}
	keys := 0
	for _, ch := range w.changes {
		if ch.KeyID != "" {
			keys++
		}
	}
	if keys != 1 || len(w.changes) != 3 {
		t.Errorf("changes %+v: want the URL's, the pair's secret and the pair's id", w.changes)
	}
}

// percentSlash percent-encodes the slash of a secret access key, as a
// URL's userinfo holds it.
func percentSlash(s string) string { return strings.ReplaceAll(s, "/", "%2F") }

// TestRunReplacesTheKeyIDOnTheBranch: through Run, on a repository with
// the pair in a workflow and Terraform, the branch holds neither the
// secret nor the leaked key's id, another key's id is kept, and each
// file's task says both were replaced.
func TestRunReplacesTheKeyIDOnTheBranch(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	ctx := context.Background()
	dir := t.TempDir()
	repo := filepath.Join(dir, "shop")
	files := map[string]string{
		".github/workflows/deploy.yml": "name: deploy\non: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      AWS_ACCESS_KEY_ID: " + leakedID +
			"\n      AWS_SECRET_ACCESS_KEY: " + leakedKey + "\n    steps:\n      - run: aws s3 sync public s3://shop-assets\n",
		"terraform/main.tf": "provider \"aws\" {\n  access_key = \"" + leakedID + "\"\n  secret_key = \"" + leakedKey + "\"\n}\n",
		"README.md":         "Staging deploys with key " + otherID + " (read-only).\n",
	}
	gittest.BuildRepo(t, repo, []gittest.Commit{{Files: files, Message: "deploy from CI"}})

	invFile := filepath.Join(dir, "rekey.yml")
	inv, _, err := inventory.Parse(invFile, []byte("version: 1\nsources:\n  - { type: git, path: shop }\n"), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fp, err := secret.NewFingerprinter([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	s := secret.FromString(leakedKey)
	inc, _, err := st.OpenIncident(ctx, store.Incident{Fingerprint: fp.Of(s), Preview: s.Preview(), Created: time.Now().UTC(), Inventory: invFile})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, Options{Incident: inc, Secret: s, KeyID: leakedID, Inventory: inv, Store: st, Fingerprinter: fp, Home: filepath.Join(dir, "home")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Branches) != 1 || !res.Branches[0].Clean {
		t.Fatalf("branches %+v", res.Branches)
	}
	branch := BranchName(inc.ID)
	for p := range files {
		got := gittest.Git(t, repo, "show", branch+":"+p)
		if strings.Contains(got, leakedID) || strings.Contains(got, leakedKey) {
			t.Errorf("%s on %s still holds the pair:\n%s", p, branch, got)
		}
	}
	if got := gittest.Git(t, repo, "show", branch+":README.md"); !strings.Contains(got, otherID) {
		t.Errorf("another key's id was touched: %s", got)
	}
	if got := gittest.Git(t, repo, "show", branch+":.github/workflows/deploy.yml"); !strings.Contains(got, "AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}") {
		t.Errorf("workflow on the branch:\n%s", got)
	}
	msg := gittest.Git(t, repo, "log", "-1", "--format=%B", branch)
	if !strings.Contains(msg, "terraform/main.tf:2  access_key → var.access_key") {
		t.Errorf("the commit message does not list the key id's change:\n%s", msg)
	}
	tasks := map[string]store.Task{}
	for _, tk := range res.Tasks {
		tasks[tk.ID] = tk
	}
	for p, ref := range map[string]string{".github/workflows/deploy.yml": "${{ secrets.AWS_ACCESS_KEY_ID }}", "terraform/main.tf": "var.access_key"} {
		tk, ok := tasks["working-tree:shop:"+p]
		want := fmt.Sprintf("the leaked key's id %s beside it is replaced too: %s:", leakedID, p)
		if !ok || !strings.Contains(tk.Action, want) || !strings.Contains(tk.Action, ref) || !strings.Contains(string(tk.Detail), `"key_id":"`+leakedID+`"`) {
			t.Errorf("task for %s: %+v; want an action saying %q with %s", p, tk, want, ref)
		}
	}
}

// TestKeyIDTooShortIsRefused: an id trace cannot search for is an input
// error, before anything is written.
func TestKeyIDTooShortIsRefused(t *testing.T) {
	if _, err := newKeyID("AK", "AWS_ACCESS_KEY_ID"); err == nil {
		t.Error("a 2-character key id was accepted")
	}
}
