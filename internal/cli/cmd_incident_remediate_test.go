package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source/git/gittest"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/open"
	"github.com/rekeyhq/rekey/internal/testutil"
	"github.com/rekeyhq/rekey/internal/trace"
)

// remediationWorld is a repository holding one database password the
// ways teams really commit it (Go and Python code, a GitHub Actions
// workflow, .gitlab-ci.yml, a Kubernetes Deployment's env and the Secret
// it should have used, a tfvars file, a committed .env, and an old
// properties file in history only), a Slack and a Jira export quoting it,
// and an inventory listing those places. Its incident is opened by alice.
type remediationWorld struct {
	env            map[string]string
	dir, repo, pw  string
	id, home, head string
}

func newRemediationWorld(t *testing.T) *remediationWorld {
	t.Helper()
	w := &remediationWorld{dir: t.TempDir()}
	w.pw = "Vh3kP9sWq2Lx7Rtz-" + strings.ToLower(fmt.Sprintf("%x", os.Getpid()^len(t.Name())))
	pw := w.pw
	dsn := "postgres://orders_svc:" + pw + "@db-prod.internal:5432/shop"
	w.repo = filepath.Join(w.dir, "shop")
	files := map[string]string{
		"cmd/orders/main.go": `package main

import (
	"database/sql"
	"log"
)

const databaseURL = "` + dsn + `?sslmode=require"

func main() {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
}
`,
		"scripts/report.py": `"""Nightly orders report."""
import psycopg

conn = psycopg.connect(host="db-prod.internal", user="orders_svc", password="` + pw + `")
`,
		".github/workflows/migrate.yml": `name: migrate
on:
  push:
    branches: [main]
jobs:
  migrate:
    runs-on: ubuntu-latest
    env:
      DB_PASSWORD: ` + pw + `
    steps:
      - uses: actions/checkout@v4
      - run: ./scripts/migrate.sh
`,
		".gitlab-ci.yml": `stages: [deploy]
migrate:
  stage: deploy
  image: postgres:16
  script:
    - psql "` + dsn + `" -f migrations/001_orders.sql
`,
		"deploy/orders.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: orders-db
  namespace: shop
type: Opaque
data:
  password: ` + base64.StdEncoding.EncodeToString([]byte(pw)) + `
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders-api
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app: orders-api
  template:
    metadata:
      labels:
        app: orders-api
    spec:
      containers:
        - name: orders-api
          image: registry.example.com/orders-api:1.4.2
          env:
            - name: DB_HOST
              value: db-prod.internal
            - name: DB_PASSWORD
              value: "` + pw + `"
`,
		"terraform/prod.tfvars":  "region      = \"eu-west-1\"\ndb_password = \"" + pw + "\"\n",
		"terraform/variables.tf": "variable \"region\" {\n  type = string\n}\n\nvariable \"db_password\" {\n  type = string\n}\n",
		".env":                   "DATABASE_URL=" + dsn + "\nLOG_LEVEL=debug\n",
		"README.md":              "# shop\n",
	}
	gittest.BuildRepo(t, w.repo, []gittest.Commit{
		{Files: map[string]string{"config/legacy.properties": "db.user=orders_svc\ndb.password=" + pw + "\n", "README.md": "# shop\n"}, Message: "legacy config"},
		{Files: files, Delete: []string{"config/legacy.properties"}, Message: "orders service"},
	})
	w.head = gittest.Git(t, w.repo, "rev-parse", "HEAD")
	writeFiles(t, filepath.Join(w.dir, "slack"), map[string]string{
		"channels.json":       `[{"id": "C05OPS0001", "name": "ops", "created": 1709000000, "creator": "U01ALICE01", "is_archived": false, "is_general": false, "members": ["U01ALICE01"], "topic": {"value": "", "creator": "", "last_set": 0}, "purpose": {"value": "", "creator": "", "last_set": 0}}]`,
		"ops/2024-03-05.json": `[{"type": "message", "user": "U01ALICE01", "text": "prod db password is ` + pw + ` until we rotate", "ts": "1709632800.000100"}]`,
	})
	writeFiles(t, w.dir, map[string]string{
		"jira.json": `{"startAt": 0, "maxResults": 50, "total": 1, "issues": [{"id": "10070", "key": "OPS-7", "fields": {"summary": "orders db migration fails", "description": "see comments", "comment": {"comments": [{"id": "10301", "body": "works with password ` + pw + `", "created": "2024-03-05T10:15:00.000+0100"}], "maxResults": 1, "total": 1, "startAt": 0}}}]}`,
		"rekey.yml": `version: 1
sources:
  - { type: git, path: shop, history: true }
  - { type: slack, path: slack }
  - { type: jira, path: jira.json }
`,
	})
	w.home = filepath.Join(w.dir, "home")
	w.env = map[string]string{"REKEY_HOME": w.home, "LEAKED": pw}
	r := run(t, w.env, "", "--as", "alice", "incident", "open", "--secret-env", "LEAKED", "--inventory", filepath.Join(w.dir, "rekey.yml"))
	if r.code != 0 {
		t.Fatalf("open: exit %d: %s", r.code, r.stderr)
	}
	w.id = strings.TrimSpace(r.stdout)
	return w
}

type remediation struct {
	Incident string
	Branches []struct {
		Repo, Branch, Commit string
		NewCommit            bool `json:"new_commit"`
		Clean                bool
		Changes              []struct{ Path, Name, Reference, Note string }
	}
	History []struct {
		Task, Expressions, Mirror string
		Rewritten                 bool
		MirrorCopies              int `json:"mirror_copies"`
		Copies                    int
	}
	Tasks []store.Task
}

func (w *remediationWorld) remediate(t *testing.T, want int, args ...string) (remediation, result) {
	t.Helper()
	r := run(t, w.env, "", append([]string{"incident", "remediate", w.id, "--secret-env", "LEAKED", "--format", "json"}, args...)...)
	if r.code != want {
		t.Fatalf("remediate %v: exit %d, want %d: %s", args, r.code, want, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, w.pw) {
		t.Fatal("remediate printed the secret")
	}
	var res remediation
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	return res, r
}

// copiesIn traces every blob of rev's tree (or, with all, of every object
// in the repository) and returns the paths holding a copy.
func copiesIn(t *testing.T, repo, rev, pw string) []string {
	t.Helper()
	m, err := trace.New(secret.FromString(pw))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(gittest.Git(t, repo, "ls-tree", "-r", rev), "\n") {
		meta, path, ok := strings.Cut(line, "\t")
		if !ok || !strings.Contains(meta, " blob ") {
			continue
		}
		data, err := gittest.GitInput(repo, nil, "cat-file", "blob", strings.Fields(meta)[2])
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Find(data)) > 0 {
			out = append(out, path)
		}
	}
	return out
}

func TestRemediateWorkingTreesHistoryAndTasks(t *testing.T) {
	w := newRemediationWorld(t)
	status := gittest.Git(t, w.repo, "status", "--porcelain")
	mainGo, _ := os.ReadFile(filepath.Join(w.repo, "cmd/orders/main.go"))

	// The wrong secret is refused.
	bad := run(t, map[string]string{"REKEY_HOME": w.home, "LEAKED": "not-the-leaked-one"}, "", "incident", "remediate", w.id, "--secret-env", "LEAKED")
	if bad.code != 2 || !strings.Contains(bad.stderr, "not the one") {
		t.Fatalf("wrong secret: exit %d: %s", bad.code, bad.stderr)
	}

	res, _ := w.remediate(t, 0)
	if len(res.Branches) != 1 || !res.Branches[0].NewCommit || !res.Branches[0].Clean {
		t.Fatalf("branches: %+v", res.Branches)
	}
	br := res.Branches[0]
	branch := "rekey/" + w.id
	if left := copiesIn(t, w.repo, branch, w.pw); len(left) > 0 {
		t.Fatalf("the branch still holds copies in %v", left)
	}
	// The user's checkout is as it was.
	if got := gittest.Git(t, w.repo, "rev-parse", "HEAD"); got != w.head {
		t.Errorf("HEAD moved to %s", got)
	}
	if got := gittest.Git(t, w.repo, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
		t.Errorf("checked-out branch is %s", got)
	}
	if got := gittest.Git(t, w.repo, "status", "--porcelain"); got != status {
		t.Errorf("working tree changed: %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(w.repo, "cmd/orders/main.go")); string(b) != string(mainGo) {
		t.Error("a working-tree file changed")
	}
	if parent := gittest.Git(t, w.repo, "rev-parse", branch+"^"); parent != w.head {
		t.Errorf("the branch's parent is %s, want HEAD", parent)
	}
	msg := gittest.Git(t, w.repo, "log", "-1", "--format=%B", branch)
	if !strings.Contains(msg, w.id) || !strings.Contains(msg, "deploy/orders.yaml") || strings.Contains(msg, w.pw) {
		t.Errorf("commit message:\n%s", msg)
	}

	show := func(p string) string { return gittest.Git(t, w.repo, "show", branch+":"+p) }
	goSrc := show("cmd/orders/main.go")
	for _, want := range []string{`var databaseURL = os.Getenv("DATABASE_URL")`, `import "os"`} {
		if !strings.Contains(goSrc, want) {
			t.Errorf("main.go lacks %q:\n%s", want, goSrc)
		}
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "main.go", goSrc, 0); err != nil {
		t.Errorf("main.go no longer parses: %v", err)
	}
	checks := map[string][]string{
		"scripts/report.py":             {`password=os.environ["PASSWORD"]`, "import os\nimport psycopg"},
		".github/workflows/migrate.yml": {"DB_PASSWORD: ${{ secrets.DB_PASSWORD }}"},
		".gitlab-ci.yml":                {`psql "$DATABASE_URL" -f`},
		"deploy/orders.yaml": {
			"valueFrom:\n                secretKeyRef:\n                  name: orders-db\n                  key: password",
			`password: "" # rekey ` + w.id,
			"value: db-prod.internal",
		},
		"terraform/prod.tfvars":  {"region      = \"eu-west-1\""},
		"terraform/variables.tf": {"variable \"db_password\" {\n  sensitive = true\n  type = string\n}"},
		".env":                   {"DATABASE_URL=\nLOG_LEVEL=debug"},
		".gitignore":             {"/.env"},
	}
	for p, wants := range checks {
		got := show(p)
		for _, want := range wants {
			if !strings.Contains(got, want) {
				t.Errorf("%s lacks %q:\n%s", p, want, got)
			}
		}
	}
	if got := show("terraform/prod.tfvars"); strings.Contains(got, "db_password") {
		t.Errorf("tfvars still assigns db_password:\n%s", got)
	}

	// History: an expressions file (0600, literal lines for the plain and
	// base64 forms), waiting for the rewrite's approval.
	if len(res.History) != 1 || res.History[0].Task != "rewrite-history:shop" || res.History[0].Expressions == "" {
		t.Fatalf("history: %+v", res.History)
	}
	expr := res.History[0].Expressions
	fi, err := os.Stat(expr)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("expressions file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(expr)
	marker := "==>***REMOVED-" + w.id + "***\n"
	for _, want := range []string{"literal:" + w.pw + marker, "literal:" + strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(w.pw)), "=")} {
		if !strings.Contains(string(b), want) {
			t.Errorf("expressions lack %q", want)
		}
	}

	tasks := taskStates(res.Tasks)
	for id, want := range map[string]string{
		"working-tree:shop:cmd/orders/main.go": store.TaskOpen,
		"working-tree:shop:deploy/orders.yaml": store.TaskOpen,
		"working-tree:shop:.env":               store.TaskOpen,
		"rewrite-history:shop":                 store.TaskOpen,
		"chat:#ops@1709632800.000100":          store.TaskOpen,
		"ticket:OPS-7#comment-10301":           store.TaskOpen,
	} {
		if tasks[id] != want {
			t.Errorf("task %s: %q, want %q (tasks %v)", id, tasks[id], want, tasks)
		}
	}

	// Twice: the same branch, no second commit.
	again, _ := w.remediate(t, 0)
	if len(again.Branches) != 1 || again.Branches[0].NewCommit || again.Branches[0].Commit != br.Commit {
		t.Fatalf("second run: %+v (first commit %s)", again.Branches, br.Commit)
	}
	if n := gittest.Git(t, w.repo, "rev-list", "--count", w.head+".."+branch); n != "1" {
		t.Errorf("%s commits on the branch", n)
	}

	table := run(t, w.env, "", "incident", "remediate", w.id, "--secret-env", "LEAKED")
	for _, want := range []string{"log -p HEAD..rekey/" + w.id, "not pushed", "mode 0600: it holds the secret", "rewrite-history:shop"} {
		if table.code != 0 || !strings.Contains(table.stdout, want) {
			t.Errorf("table output (exit %d) lacks %q:\n%s", table.code, want, table.stdout)
		}
	}

	// The rewrite waits for someone other than the opener.
	_, waiting := w.remediate(t, 3, "--rewrite-history")
	if !strings.Contains(waiting.stderr, "rekey incident approve "+w.id+" rewrite-history:shop") {
		t.Errorf("waiting: %s", waiting.stderr)
	}
	if _, err := os.Stat(filepath.Join(w.home, "remediate", w.id, "shop.git")); err == nil {
		t.Fatal("a mirror was rewritten without approval")
	}
	// The opener under any spelling of her name (issue 10.6).
	for _, as := range []string{"alice", "alice ", "Alice", "ａｌｉｃｅ"} {
		self := run(t, w.env, "", "--as", as, "incident", "approve", w.id, "rewrite-history:shop")
		if self.code != 2 || !strings.Contains(self.stderr, "opened this incident") {
			t.Fatalf("opener approving as %q: exit %d: %s", as, self.code, self.stderr)
		}
	}
	ok := run(t, w.env, "", "--as", "bob", "incident", "approve", w.id, "rewrite-history:shop")
	if ok.code != 0 {
		t.Fatalf("approve: exit %d: %s", ok.code, ok.stderr)
	}

	testutil.NeedTool(t, "git-filter-repo", "make test installs it as root with apt; else apt-get install git-filter-repo")
	done, _ := w.remediate(t, 0, "--rewrite-history")
	h := done.History[0]
	if !h.Rewritten || h.MirrorCopies != 0 || h.Expressions != "" {
		t.Fatalf("rewrite: %+v", h)
	}
	if _, err := os.Stat(expr); !os.IsNotExist(err) {
		t.Errorf("the expressions file was kept after the rewrite: %v", err)
	}
	// The mirror's whole history is clean; the original is untouched.
	tr := run(t, w.env, "", "trace", "--secret-env", "LEAKED", "--history", h.Mirror)
	if tr.code != 0 {
		t.Errorf("trace of the mirror: exit %d: %s%s", tr.code, tr.stdout, tr.stderr)
	}
	if n := strings.Count(gittest.Git(t, h.Mirror, "log", "--all", "-p"), w.pw); n != 0 {
		t.Errorf("the mirror's history holds %d copies", n)
	}
	if got := gittest.Git(t, w.repo, "rev-parse", "HEAD"); got != w.head {
		t.Errorf("original HEAD moved")
	}
	if left := copiesIn(t, w.repo, w.head+"~1", w.pw); len(left) != 1 {
		t.Errorf("original history changed: %v", left)
	}

	// Stored: history remains until pushed, chat and ticket are open.
	st, err := open.Open(context.Background(), filepath.Join(w.home, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.Tasks(context.Background(), w.id)
	if err != nil {
		t.Fatal(err)
	}
	states := taskStates(stored)
	if states["rewrite-history:shop"] != store.TaskRemaining || states["chat:#ops@1709632800.000100"] != store.TaskOpen || states["ticket:OPS-7#comment-10301"] != store.TaskOpen {
		t.Errorf("stored tasks: %v", states)
	}
	for _, tk := range stored {
		if tk.ID == "rewrite-history:shop" && (!strings.Contains(string(tk.Detail), "until the rewrite is pushed") || !strings.Contains(string(tk.Detail), `"approved_by":"bob"`)) {
			t.Errorf("history task detail: %s", tk.Detail)
		}
		if strings.Contains(string(tk.Detail)+tk.Action+tk.Location, w.pw) {
			t.Errorf("task %s holds the secret", tk.ID)
		}
	}
	// A copy in an export is not rekey's to edit: nothing to approve.
	if a := run(t, w.env, "", "--as", "bob", "incident", "approve", w.id, "chat:#ops@1709632800.000100"); a.code != 2 || !strings.Contains(a.stderr, "redact it by hand") {
		t.Errorf("approving an export's chat task: exit %d: %s", a.code, a.stderr)
	}
	if a := run(t, w.env, "", "audit", "verify"); a.code != 0 {
		t.Errorf("audit verify: exit %d: %s%s", a.code, a.stdout, a.stderr)
	}
}

func taskStates(ts []store.Task) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[t.ID] = t.State
	}
	return m
}
