package live_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/jiraapi/jiraapitest"
	"github.com/rekeyhq/rekey/internal/source/live"
	"github.com/rekeyhq/rekey/internal/source/slackapi/slackapitest"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		kind, loc string
		want      live.Spec
		err       string
	}{
		{"slack-api", "env:SLACK_TOKEN", live.Spec{Type: "slack-api", Token: inventory.Ref{Scheme: "env", Name: "SLACK_TOKEN"}}, ""},
		{"slack-api", "http://127.0.0.1:9/api?token=file:/run/slack.tok", live.Spec{Type: "slack-api", URL: "http://127.0.0.1:9/api", Token: inventory.Ref{Scheme: "file", Name: "/run/slack.tok"}}, ""},
		{"jira-api", "https://acme.atlassian.net?token=env:JIRA_TOKEN&jql=project%3DOPS", live.Spec{Type: "jira-api", URL: "https://acme.atlassian.net", JQL: "project=OPS", Token: inventory.Ref{Scheme: "env", Name: "JIRA_TOKEN"}}, ""},
		{"slack-api", "xoxb-1234-inline-token", live.Spec{}, "--source slack-api: want slack-api:env:VAR"},
		{"jira-api", "https://acme.atlassian.net?token=ATATT3inline", live.Spec{}, "--source jira-api: token= must be a reference"},
		{"jira-api", "https://me:pw@acme.atlassian.net?token=env:T", live.Spec{}, "--source jira-api: want jira-api:https://HOST?token=env:VAR"},
		{"slack-api", "https://slack.com/api?token=env:T&jql=x", live.Spec{}, "jql= applies to jira-api only"},
	} {
		got, err := live.ParseSpec(tc.kind, tc.loc)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s:%s: error %v, want %q", tc.kind, tc.loc, err, tc.err)
			}
			if err != nil && (strings.Contains(err.Error(), "ATATT3inline") || strings.Contains(err.Error(), "xoxb-1234") || strings.Contains(err.Error(), "pw@")) {
				t.Errorf("error quotes the value: %v", err)
			}
		case err != nil:
			t.Errorf("%s:%s: %v", tc.kind, tc.loc, err)
		default:
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s:%s (-want +got):\n%s", tc.kind, tc.loc, diff)
			}
		}
	}
}

// TestBothWays reads a Slack workspace and a Jira site configured as an
// inventory would, finds the copies, redacts each through the redactor
// its path selects, and reads them again clean.
func TestBothWays(t *testing.T) {
	const leak = "ghp_R3kEyL1v3T3stT0k3nV4lu3Xx0123456789"
	sl := &slackapitest.Server{Token: "xoxp-live-user-token", Self: "U1", Channels: []*slackapitest.Channel{{ID: "C1", Name: "deploys", Member: true,
		Messages: []slackapitest.Message{{TS: slackapitest.TS(1), User: "U1", Text: "token " + leak}}}}}
	sl.Start()
	defer sl.Close()
	ji := &jiraapitest.Server{Token: "pat-live", Issues: []*jiraapitest.Issue{{ID: "1", Key: "OPS-1",
		Fields: map[string]any{"summary": "ci broken"}, Comments: []*jiraapitest.Comment{{ID: "7", Body: jiraapitest.Doc("use " + leak)}}}}}
	ji.Start()
	defer ji.Close()
	env := map[string]string{"SLACK": "xoxp-live-user-token", "JIRA": "pat-live"}
	d := live.Deps{Getenv: func(k string) string { return env[k] }}
	specs := []live.Spec{
		live.FromInventory(inventory.Source{Type: "slack-api", URL: sl.URL(), Token: inventory.Ref{Scheme: "env", Name: "SLACK"}}),
		live.FromInventory(inventory.Source{Type: "jira-api", URL: ji.URL(), Token: inventory.Ref{Scheme: "env", Name: "JIRA"}}),
	}
	found := func() map[string]string {
		out := map[string]string{}
		for _, sp := range specs {
			src, err := sp.Source(d)
			if err != nil {
				t.Fatal(err)
			}
			err = src.Walk(context.Background(), func(ch source.Chunk) error {
				if strings.Contains(string(ch.Data), leak) {
					out[ch.Loc.Path] = ch.Loc.Ref
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	copies := found()
	want := map[string]string{"slack:#deploys": "#deploys@" + slackapitest.TS(1), ji.URL() + "/browse/OPS-1": "OPS-1#comment-7"}
	if diff := cmp.Diff(want, copies); diff != "" {
		t.Fatalf("copies (-want +got):\n%s", diff)
	}
	rs, err := live.NewRedactors(specs, secret.FromString(leak), "[REDACTED by rekey INC-1]", d)
	if err != nil {
		t.Fatal(err)
	}
	for path, ref := range copies {
		r, ok := rs.For(path)
		if !ok {
			t.Fatalf("no redactor for %s", path)
		}
		if rec, err := r.Redact(context.Background(), ref, false); err != nil || rec.Action != "update" || strings.Contains(rec.After, leak) {
			t.Errorf("%s %s: %+v %v", path, ref, rec, err)
		}
	}
	if left := found(); len(left) != 0 {
		t.Errorf("a re-trace still finds %v", left)
	}
	if _, ok := rs.For("/exports/slack/deploys/2024-01-01.json"); ok {
		t.Error("an export's path got a live redactor")
	}
}

func TestUnsetTokenNamesReference(t *testing.T) {
	sp := live.Spec{Type: "slack-api", Token: inventory.Ref{Scheme: "env", Name: "NOPE"}}
	_, err := sp.Source(live.Deps{Getenv: func(string) string { return "" }})
	if err == nil || err.Error() != "slack-api token: resolve env:NOPE: variable is unset or empty" {
		t.Errorf("error %v", err)
	}
}
