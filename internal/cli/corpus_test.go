package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/source/git/gittest"
)

// The labelled corpus (testdata/corpus) holds realistic files of every
// location class, a Slack and a Jira export, with each planted secret listed
// in labels.json by path, line and rule. Everything else in it (documented
// example keys, templated references, placeholders, hashes, UUIDs, a token
// with a wrong checksum, code that reads secrets from the environment) is a
// negative: the scan must report exactly the labels.
const corpus = "../../testdata/corpus"

type label struct {
	Path string `json:"path"`
	Line int    `json:"line"`
	Rule string `json:"rule"`
	Ref  string `json:"ref,omitempty"`
}

func loadLabels(t *testing.T) []label {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var l struct{ Labels []label }
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Labels) < 20 {
		t.Fatalf("only %d labels", len(l.Labels))
	}
	return l.Labels
}

func keyOf(l label) string { return l.Path + ":" + strconv.Itoa(l.Line) + " " + l.Rule + " " + l.Ref }

func compareLabels(t *testing.T, want []label, got []map[string]any, rel func(string) string) {
	t.Helper()
	w := map[string]bool{}
	for _, l := range want {
		w[keyOf(l)] = true
	}
	g := map[string]bool{}
	for _, f := range got {
		l := label{Path: rel(f["path"].(string)), Line: int(f["line"].(float64)), Rule: f["rule"].(string)}
		if f["location_class"] == "chat" || f["location_class"] == "ticket" {
			l.Ref = f["ref"].(string)
		}
		g[keyOf(l)] = true
	}
	var missing, extra []string
	for k := range w {
		if !g[k] {
			missing = append(missing, k)
		}
	}
	for k := range g {
		if !w[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("labelled secrets not found:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("findings that are not labelled (false positives):\n  %s", strings.Join(extra, "\n  "))
	}
}

func TestCorpusTreeAndExports(t *testing.T) {
	labels := loadLabels(t)
	tree := filepath.Join(corpus, "tree")
	exports := filepath.Join(corpus, "exports")
	r := run(t, nil, "", "scan", tree, "--source", "slack:"+filepath.Join(exports, "slack"), "--source", "jira:"+filepath.Join(exports, "jira.json"), "--format", "json")
	if r.code != 1 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	rel := func(p string) string {
		if strings.HasPrefix(p, tree+"/") {
			return strings.TrimPrefix(p, tree+"/")
		}
		return strings.TrimPrefix(p, corpus+"/")
	}
	compareLabels(t, labels, jsonLines(t, r.stdout), rel)
}

// TestCorpusHistory commits the corpus tree, then adds a secret in one
// commit and removes it in the next: history must report the tree's
// labels at HEAD, and the removed secret once, as history only, with the
// commit that added it.
func TestCorpusHistory(t *testing.T) {
	labels := loadLabels(t)
	tree := filepath.Join(corpus, "tree")
	files := map[string]string{}
	err := filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(tree, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	removed := "MAILGUN_API_KEY=key-" + strings.Repeat("3f9a1c7e", 4) + "\nMAILGUN_DOMAIN=mg.shop.example\n"
	repo := t.TempDir()
	ids := gittest.BuildRepo(t, repo, []gittest.Commit{
		{Files: files, Message: "import the shop"},
		{Files: map[string]string{"ops/mailgun.env": removed}, Message: "mailgun for receipts"},
		{Delete: []string{"ops/mailgun.env"}, Message: "remove mailgun credentials"},
	})
	gittest.Git(t, repo, "checkout", "-q", "-f", "main")
	r := run(t, nil, "", "scan", "--history", repo, "--format", "json")
	if r.code != 1 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var atHead []map[string]any
	var gone []map[string]any
	for _, f := range jsonLines(t, r.stdout) {
		if f["at_head"] == true {
			atHead = append(atHead, f)
			if f["commit"] != ids[0] {
				t.Errorf("HEAD copy %v: commit %v, want %s", f["path"], f["commit"], ids[0])
			}
		} else {
			gone = append(gone, f)
		}
	}
	var treeLabels []label
	for _, l := range labels {
		if !strings.HasPrefix(l.Path, "exports/") {
			treeLabels = append(treeLabels, l)
		}
	}
	compareLabels(t, treeLabels, atHead, func(p string) string { return strings.TrimPrefix(p, repo+"/") })
	if len(gone) != 1 || gone[0]["path"] != filepath.Join(repo, "ops/mailgun.env") || gone[0]["commit"] != ids[1] ||
		gone[0]["location_class"] != "history" || gone[0]["line"] != 1.0 || gone[0]["rule"] != "mailgun-api-key" {
		t.Fatalf("removed secret: %v", gone)
	}
}
