package cli

import (
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/source"
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
	// Encoding is how the copy is written in its file (plain, base64,
	// json-escaped, split over lines): the per-encoding figures use it.
	Encoding string `json:"encoding"`
}

// class is the location class of a label's copy: chat and ticket for an
// export's message or comment (it has a ref), else the file's class.
func (l label) class() string {
	switch {
	case strings.Contains(l.Ref, "@"):
		return "chat"
	case l.Ref != "":
		return "ticket"
	}
	return string(source.Classify(l.Path))
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

// floor is the recall and precision the corpus must keep, overall and in
// every class and encoding: a regression floor, raised as detection
// improves (docs/performance.md has the figures).
type floor struct {
	recall    float64 // overall
	each      float64 // recall in every class and encoding
	precision float64 // overall and in every class
}

// compareLabels matches findings to labels by path, line, rule and (with
// refs) ref, logs recall and precision overall, per class and per encoding,
// and fails below the floor; every miss and false positive is listed.
func compareLabels(t *testing.T, want []label, got []map[string]any, rel func(string) string, withRef bool, min floor) {
	t.Helper()
	w := map[string]label{}
	classOf := map[string]string{}
	for _, l := range want {
		c := l.class()
		if !withRef {
			l.Ref = ""
		}
		w[keyOf(l)] = l
		classOf[keyOf(l)] = c
	}
	g := map[string]string{} // key → location class of the finding
	for _, f := range got {
		l := label{Path: rel(f["path"].(string)), Line: int(f["line"].(float64)), Rule: f["rule"].(string)}
		if withRef && (f["location_class"] == "chat" || f["location_class"] == "ticket") {
			l.Ref = f["ref"].(string)
		}
		g[keyOf(l)] = f["location_class"].(string)
	}
	type tally struct{ labels, found, extra int }
	byClass, byEnc := map[string]*tally{}, map[string]*tally{}
	var all tally
	count := func(m map[string]*tally, k string) *tally {
		if m[k] == nil {
			m[k] = &tally{}
		}
		return m[k]
	}
	var missing, extra []string
	for k, l := range w {
		enc := cmp.Or(l.Encoding, "plain")
		c, e := count(byClass, classOf[k]), count(byEnc, enc)
		c.labels, e.labels, all.labels = c.labels+1, e.labels+1, all.labels+1
		if _, ok := g[k]; ok {
			c.found, e.found, all.found = c.found+1, e.found+1, all.found+1
		} else {
			missing = append(missing, k)
		}
	}
	for k, class := range g {
		if _, ok := w[k]; !ok {
			extra = append(extra, k)
			count(byClass, class).extra++
			all.extra++
		}
	}
	ratio := func(n, d int) float64 {
		if d == 0 {
			return 1
		}
		return float64(n) / float64(d)
	}
	check := func(name string, tl tally, minRecall float64) {
		r, p := ratio(tl.found, tl.labels), ratio(tl.found, tl.found+tl.extra)
		t.Logf("%-22s recall %5.1f%% (%d/%d)  precision %5.1f%% (%d false positives)", name, 100*r, tl.found, tl.labels, 100*p, tl.extra)
		if r < minRecall || p < min.precision {
			t.Errorf("%s: recall %.3f, precision %.3f: below the floor %.3f/%.3f", name, r, p, minRecall, min.precision)
		}
	}
	check("overall", all, min.recall)
	for _, m := range []struct {
		what string
		m    map[string]*tally
	}{{"class", byClass}, {"encoding", byEnc}} {
		keys := make([]string, 0, len(m.m))
		for k := range m.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			check(m.what+" "+k, *m.m[k], min.each)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Logf("labelled secrets not found:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Logf("findings that are not labelled (false positives):\n  %s", strings.Join(extra, "\n  "))
	}
}

func TestCorpusTreeAndExports(t *testing.T) {
	labels := loadLabels(t)
	tree := filepath.Join(corpus, "tree")
	exports := filepath.Join(corpus, "exports")
	args := []string{"scan", tree, "--format", "json"}
	for _, s := range []string{"slack:slack", "jira:jira.json", "slack:slack-nolist", "slack:alerts", "slack:slackdump", "jira:jira-server.xml", "jira:jira-cloud.csv", "jira:jira-cloud-v3.json"} {
		kind, p, _ := strings.Cut(s, ":")
		args = append(args, "--source", kind+":"+filepath.Join(exports, p))
	}
	r := run(t, nil, "", args...)
	if r.code != 1 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	rel := func(p string) string {
		if strings.HasPrefix(p, tree+"/") {
			return strings.TrimPrefix(p, tree+"/")
		}
		return strings.TrimPrefix(p, corpus+"/")
	}
	compareLabels(t, labels, jsonLines(t, r.stdout), rel, true, corpusFloor)
}

// corpusFloor is what the corpus reaches today, per class and encoding.
var corpusFloor = floor{recall: 1, each: 1, precision: 1}

// TestCorpusAsDirectory scans the whole corpus as one folder, exports
// included, as a responder scanning a folder of exports would: a copy in
// an export must be found in its raw JSON or XML (escaped) at the same line.
func TestCorpusAsDirectory(t *testing.T) {
	var labels []label
	for _, l := range loadLabels(t) {
		if !strings.HasPrefix(l.Path, "exports/") {
			l.Path = "tree/" + l.Path
		}
		labels = append(labels, l)
	}
	r := run(t, nil, "", "scan", corpus, "--format", "json")
	if r.code != 1 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	rel := func(p string) string { return strings.TrimPrefix(p, corpus+"/") }
	compareLabels(t, labels, jsonLines(t, r.stdout), rel, false, corpusFloor)
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
	compareLabels(t, treeLabels, atHead, func(p string) string { return strings.TrimPrefix(p, repo+"/") }, true, corpusFloor)
	if len(gone) != 1 || gone[0]["path"] != filepath.Join(repo, "ops/mailgun.env") || gone[0]["commit"] != ids[1] ||
		gone[0]["location_class"] != "history" || gone[0]["line"] != 1.0 || gone[0]["rule"] != "mailgun-api-key" {
		t.Fatalf("removed secret: %v", gone)
	}
}
