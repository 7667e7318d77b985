package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
