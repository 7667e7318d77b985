package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/source/slackapi/slackapitest"
)

// TestExportFallback: a --source that is not in a layout its kind reads is
// scanned as plain files with a warning, never skipped, and its copies
// keep the export's class.
func TestExportFallback(t *testing.T) {
	dir := t.TempDir()
	slackDir := filepath.Join(dir, "slack-notes")
	token := "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" // the corpus's checksummed token
	if err := os.MkdirAll(slackDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(slackDir, "thread.txt"), []byte("bob: try GITHUB_TOKEN="+token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	jiraFile := filepath.Join(dir, "OPS-42.txt")
	if err := os.WriteFile(jiraFile, []byte("Comment by bob:\nuse "+token+" for now\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "", "scan", "--source", "slack:"+slackDir, "--source", "jira:"+jiraFile, "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{slackDir + ": not a Slack export", jiraFile + ": not a Jira export", "scanning its files as plain text"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
	got := map[string]string{}
	for _, f := range jsonLines(t, r.stdout) {
		got[f["path"].(string)+":"+f["rule"].(string)] = f["location_class"].(string)
	}
	want := map[string]string{
		filepath.Join(slackDir, "thread.txt") + ":github-pat-classic": "chat",
		jiraFile + ":github-pat-classic":                              "ticket",
	}
	if len(got) != len(want) || got[filepath.Join(slackDir, "thread.txt")+":github-pat-classic"] != "chat" || got[jiraFile+":github-pat-classic"] != "ticket" {
		t.Errorf("findings %v, want %v", got, want)
	}
}

// TestTraceThroughALiveSlackSource: --source slack-api reads a workspace
// through the Web API (a local server following Slack's reference) with a
// token given by reference, and trace finds the copy in a thread reply
// at the message's place; a refused token is one line without the token.
func TestTraceThroughALiveSlackSource(t *testing.T) {
	const leak = "Zq8tVw3LrP9nHs2KdX7mC4bY"
	sl := &slackapitest.Server{Token: "xoxp-live-user-token", Self: "U1", Channels: []*slackapitest.Channel{{ID: "C1", Name: "deploys", Member: true,
		Messages: []slackapitest.Message{
			{TS: slackapitest.TS(1), User: "U1", Text: "deploy failed again"},
			{TS: slackapitest.TS(2), ThreadTS: slackapitest.TS(1), User: "U2", Text: "try with\nPGPASSWORD=" + leak},
		}}}}
	sl.Start()
	defer sl.Close()
	env := map[string]string{"LEAK": leak, "SLACK_TOKEN": "xoxp-live-user-token"}
	r := run(t, env, "", "trace", "--secret-env", "LEAK", "--source", "slack-api:"+sl.URL()+"?token=env:SLACK_TOKEN", "--format", "json")
	if r.code != 1 {
		t.Fatalf("trace: exit %d, stderr %s", r.code, r.stderr)
	}
	var f struct {
		Path, Ref string
		Class     string `json:"location_class"`
		Line      int
	}
	if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &f); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if f.Path != "slack:#deploys" || f.Line != 2 || f.Class != "chat" || !strings.HasSuffix(f.Ref, "@"+slackapitest.TS(2)) {
		t.Errorf("finding %+v, want slack:#deploys line 2 in the reply", f)
	}
	if strings.Contains(r.stdout+r.stderr, leak) {
		t.Error("the secret is printed")
	}

	env["SLACK_TOKEN"] = "xoxp-revoked"
	r = run(t, env, "", "trace", "--secret-env", "LEAK", "--source", "slack-api:"+sl.URL()+"?token=env:SLACK_TOKEN")
	if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || strings.Contains(r.stderr, "xoxp-revoked") {
		t.Errorf("refused token: exit %d, stderr %q", r.code, r.stderr)
	}
}
