package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/source/git/gittest"
)

// A database password in the shapes users really leave it in.
const dbPassword = "Qz7vN2wRpLk9xT4m"

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	home := t.TempDir()
	var out, errb bytes.Buffer
	no := false
	code := Main(context.Background(), Env{
		Args:   args,
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string {
			if k == "REKEY_HOME" {
				if v, ok := env[k]; ok {
					return v
				}
				return home
			}
			return env[k]
		},
		Terminal: &no,
	})
	return result{code, out.String(), errb.String()}
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func shopTree(t *testing.T) string {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		".env":                "# orders service\nDATABASE_URL=postgres://orders_svc:" + dbPassword + "@db-prod.internal:5432/orders\n",
		"config/billing.yaml": "db:\n  host: db-prod.internal\n  user: orders_svc\n  password: \"" + dbPassword + "\"\n",
		"src/main.go":         "package main\n\nfunc main() { connect(os.Getenv(\"DATABASE_URL\")) }\n",
	})
	return root
}

func TestScanJSONContract(t *testing.T) {
	root := shopTree(t)
	r := run(t, nil, "", "scan", root, "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, dbPassword) || strings.Contains(r.stderr, dbPassword) {
		t.Fatal("the password is printed in clear")
	}
	fs := jsonLines(t, r.stdout)
	if len(fs) != 2 {
		t.Fatalf("want 2 findings, got %d:\n%s", len(fs), r.stdout)
	}
	for _, k := range []string{"rule", "provider", "severity", "fingerprint", "preview", "path", "line", "column", "commit", "at_head", "location_class", "encoding", "ref"} {
		if _, ok := fs[0][k]; !ok {
			t.Errorf("finding lacks %q: %v", k, fs[0])
		}
	}
	if fs[0]["fingerprint"] != fs[1]["fingerprint"] {
		t.Errorf("the same password has two fingerprints")
	}
	env := fs[0]
	if env["path"] != filepath.Join(root, ".env") || env["line"] != 2.0 || env["location_class"] != "config" || env["encoding"] != "plain" {
		t.Errorf(".env finding %v", env)
	}
	if id, _ := env["identity"].(map[string]any); id["user"] != "orders_svc" || id["host"] != "db-prod.internal" {
		t.Errorf("DSN identity hints %v", env["identity"])
	}
}

func TestScanTableGroupsCopiesBySecret(t *testing.T) {
	r := run(t, nil, "", "scan", shopTree(t))
	if r.code != 1 || !strings.Contains(r.stdout, "2 copies in 2 places") || !strings.Contains(r.stdout, "1 secret, 2 copies") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout, dbPassword) {
		t.Fatal("table prints the password")
	}
}

func TestScanRevealIsExplicit(t *testing.T) {
	r := run(t, nil, "", "scan", shopTree(t), "--format", "json", "--reveal")
	if !strings.Contains(r.stdout, dbPassword) {
		t.Fatal("--reveal did not show the value")
	}
}

func TestScanNothingFoundExitsZero(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"main.go": "package main\n", "values.yaml": "password: \"{{ .Values.db.password }}\"\n"})
	r := run(t, nil, "", "scan", root)
	if r.code != 0 || !strings.Contains(r.stdout, "no secrets found") {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
}

func TestBadInputIsOneLineAndExitTwo(t *testing.T) {
	root := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"scan", filepath.Join(root, "missing")}, "missing"},
		{[]string{"scan", root, "--format", "xml"}, "--format"},
		{[]string{"scan", root, "--no-such-flag"}, "no-such-flag"},
		{[]string{"scan"}, "PATH"},
		{[]string{"scan", "--source", "slack:" + filepath.Join(root, "nope")}, "nope"},
		{[]string{"scan", "--source", "teams:/x"}, "teams"},
		{[]string{"trace", root}, "--secret-file"},
		{[]string{"trace", "--secret-env", "REKEY_TEST_UNSET", root}, "REKEY_TEST_UNSET"},
		{[]string{"trace", "--secret-file", filepath.Join(root, "nofile"), root}, "nofile"},
	}
	for _, c := range cases {
		r := run(t, nil, "", c.args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", c.args, r.code, r.stderr)
		}
		if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: stderr %q, want one line naming %q", c.args, r.stderr, c.want)
		}
	}
}

func TestUnreadableExportFileIsReportedAndScanGoesOn(t *testing.T) {
	root := shopTree(t)
	jira := filepath.Join(t.TempDir(), "jira")
	writeFiles(t, jira, map[string]string{
		"good.json": `{"issues":[{"key":"OPS-7","fields":{"summary":"db creds","description":"use postgres://orders_svc:` + dbPassword + `@db-prod.internal/orders"}}]}`,
		"bad.json":  `{"issues":[{"key":"OPS-8","fields":{"summary": }}]}`,
	})
	r := run(t, nil, "", "scan", root, "--source", "jira:"+jira, "--format", "json")
	if r.code != 1 || !strings.Contains(r.stderr, "bad.json") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	var ticket map[string]any
	for _, f := range jsonLines(t, r.stdout) {
		if f["location_class"] == "ticket" {
			ticket = f
		}
	}
	if ticket == nil || ticket["ref"] != "OPS-7" || ticket["path"] != filepath.Join(jira, "good.json") {
		t.Fatalf("ticket finding %v", ticket)
	}
}

func TestProgressOnlyOnTerminal(t *testing.T) {
	root := shopTree(t)
	var out, errb bytes.Buffer
	yes := true
	Main(context.Background(), Env{Args: []string{"scan", root}, Stdout: &out, Stderr: &errb, Terminal: &yes,
		Getenv: func(k string) string {
			if k == "REKEY_HOME" {
				return t.TempDir()
			}
			return ""
		}})
	if !strings.Contains(errb.String(), "scanned") || !strings.Contains(errb.String(), "MB/s") {
		t.Fatalf("no progress on a terminal: %q", errb.String())
	}
	if r := run(t, nil, "", "scan", root); r.stderr != "" {
		t.Fatalf("progress printed when piped: %q", r.stderr)
	}
}

func TestTraceFindsEncodedCopiesAndNamesRules(t *testing.T) {
	root := shopTree(t)
	b64 := base64.StdEncoding.EncodeToString([]byte(dbPassword))
	writeFiles(t, root, map[string]string{
		"deploy/k8s/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: orders-db\ntype: Opaque\ndata:\n  password: " + b64 + "\n",
		"notes/incident.md":      "the old password started with " + dbPassword[:10] + "****\n",
	})
	secretFile := filepath.Join(t.TempDir(), "leaked")
	if err := os.WriteFile(secretFile, []byte(dbPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "", "trace", "--secret-file", secretFile, root, "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	byPath := map[string]map[string]any{}
	for _, f := range jsonLines(t, r.stdout) {
		rel, _ := filepath.Rel(root, f["path"].(string))
		byPath[rel] = f
	}
	if f := byPath["deploy/k8s/secret.yaml"]; f == nil || f["encoding"] != "base64" || f["match"] != "exact" || f["line"] != 7.0 {
		t.Errorf("k8s copy: %v", f)
	}
	if f := byPath["notes/incident.md"]; f == nil || f["match"] != "partial" || f["rule"] != "trace" {
		t.Errorf("partial copy: %v", f)
	}
	if f := byPath[".env"]; f == nil || f["rule"] == "trace" || f["match"] != "exact" {
		t.Errorf(".env copy should carry the DSN rule: %v", f)
	}
	if len(byPath) != 4 {
		t.Errorf("want 4 copies, got %d: %s", len(byPath), r.stdout)
	}
	// The same secret through stdin and an environment variable.
	if r := run(t, nil, dbPassword, "trace", "--secret-stdin", root, "--format", "json"); r.code != 1 || len(jsonLines(t, r.stdout)) != 4 {
		t.Errorf("stdin: exit %d", r.code)
	}
	if r := run(t, map[string]string{"LEAKED": dbPassword}, "", "trace", "--secret-env", "LEAKED", root); r.code != 1 || strings.Contains(r.stdout, dbPassword) {
		t.Errorf("env: exit %d", r.code)
	}
}

func TestScanHistoryReportsIntroducingCommit(t *testing.T) {
	repo := t.TempDir()
	ids := gittest.BuildRepo(t, repo, []gittest.Commit{
		{Files: map[string]string{"app/settings.py": "DEBUG = False\n", "README.md": "shop\n"}},
		{Files: map[string]string{"app/settings.py": "DEBUG = False\nDATABASE_URL = \"postgres://orders_svc:" + dbPassword + "@db-prod.internal:5432/orders\"\n"}},
		{Files: map[string]string{"app/settings.py": "DEBUG = False\nDATABASE_URL = os.environ[\"DATABASE_URL\"]\n"}},
	})
	gittest.Git(t, repo, "checkout", "-q", "-f", "main")
	writeFiles(t, repo, map[string]string{".env": "DATABASE_URL=postgres://orders_svc:" + dbPassword + "@db-prod.internal:5432/orders\n"})
	r := run(t, nil, "", "scan", "--history", repo, "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	fs := jsonLines(t, r.stdout)
	var hist, work map[string]any
	for _, f := range fs {
		switch f["path"] {
		case filepath.Join(repo, "app/settings.py"):
			hist = f
		case filepath.Join(repo, ".env"):
			work = f
		}
	}
	if hist == nil || hist["commit"] != ids[1] || hist["at_head"] != false || hist["location_class"] != "history" || hist["line"] != 2.0 {
		t.Errorf("history copy: %v", hist)
	}
	if work == nil || work["at_head"] != true || work["location_class"] != "config" {
		t.Errorf("untracked .env copy: %v", work)
	}
	if len(fs) != 2 {
		t.Errorf("want 2 copies, got %d: %s", len(fs), r.stdout)
	}
	// Without --history only the working tree is seen.
	if r := run(t, nil, "", "scan", repo, "--format", "json"); len(jsonLines(t, r.stdout)) != 1 {
		t.Errorf("without --history: %s", r.stdout)
	}
}

func TestSARIFShape(t *testing.T) {
	r := run(t, nil, "", "scan", shopTree(t), "--format", "sarif")
	if r.code != 1 {
		t.Fatalf("exit %d", r.code)
	}
	var log struct {
		Version string `json:"version"`
		Schema  string `json:"$schema"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string `json:"id"`
						ShortDescription struct {
							Text string `json:"text"`
						} `json:"shortDescription"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine   int `json:"startLine"`
							StartColumn int `json:"startColumn"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || log.Schema == "" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "rekey" {
		t.Fatalf("header %+v", log)
	}
	run0 := log.Runs[0]
	if len(run0.Results) != 2 || len(run0.Tool.Driver.Rules) == 0 {
		t.Fatalf("results %d rules %d", len(run0.Results), len(run0.Tool.Driver.Rules))
	}
	for _, res := range run0.Results {
		rule := run0.Tool.Driver.Rules[res.RuleIndex]
		loc := res.Locations[0].PhysicalLocation
		if rule.ID != res.RuleID || rule.ShortDescription.Text == "" || res.Message.Text == "" ||
			loc.ArtifactLocation.URI == "" || loc.Region.StartLine < 1 || loc.Region.StartColumn < 1 ||
			res.PartialFingerprints["rekeySecret/v1"] == "" || (res.Level != "error" && res.Level != "warning" && res.Level != "note") {
			t.Errorf("bad result %+v for rule %+v", res, rule)
		}
	}
	if strings.Contains(r.stdout, dbPassword) {
		t.Fatal("SARIF holds the password")
	}
}

func TestTraceHistoryAndPlainFolderTogether(t *testing.T) {
	repo := t.TempDir()
	ids := gittest.BuildRepo(t, repo, []gittest.Commit{
		{Files: map[string]string{"ops/notes.md": "rotate the db password (" + dbPassword + ") after the migration\n"}},
		{Files: map[string]string{"ops/notes.md": "rotated\n"}},
	})
	gittest.Git(t, repo, "checkout", "-q", "-f", "main")
	plain := t.TempDir()
	writeFiles(t, plain, map[string]string{"backup/pgpass": "db-prod.internal:5432:orders:orders_svc:" + dbPassword + "\n"})
	r := run(t, map[string]string{"LEAKED": dbPassword}, "", "trace", "--secret-env", "LEAKED", "--history", repo, plain, "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	fs := jsonLines(t, r.stdout)
	if len(fs) != 2 {
		t.Fatalf("want 2 copies, got %s", r.stdout)
	}
	hist, file := fs[0], fs[1]
	if hist["path"] != filepath.Join(repo, "ops/notes.md") || hist["commit"] != ids[0] || hist["at_head"] != false || hist["rule"] != "trace" {
		t.Errorf("history copy %v", hist)
	}
	if file["path"] != filepath.Join(plain, "backup/pgpass") || file["at_head"] != true || file["commit"] != "" {
		t.Errorf("plain folder copy %v", file)
	}
}

func TestHistoryOfASubdirectoryNamesTheRepository(t *testing.T) {
	repo := t.TempDir()
	gittest.BuildRepo(t, repo, []gittest.Commit{{Files: map[string]string{"app/main.go": "package main\n"}}})
	gittest.Git(t, repo, "checkout", "-q", "-f", "main")
	r := run(t, nil, "", "scan", "--history", filepath.Join(repo, "app"))
	if r.code != 0 || !strings.Contains(r.stderr, "inside the repository "+repo) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}
