package github

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/logstest"
	"github.com/rekeyhq/rekey/internal/secret"
)

var cases = []logstest.Case{{Input: "testdata/stream.jsonl"}, {Input: "testdata/export.json"}}

func TestConformance(t *testing.T) { logstest.Run(t, New(), cases) }

func FuzzParse(f *testing.F) { logstest.Fuzz(f, New(), cases) }

func BenchmarkParse(b *testing.B) { logstest.Benchmark(b, New(), "testdata/stream.jsonl") }

// The tokens of the fixtures (GitHub's documentation example OAuth token
// and a made-up fine-grained one) and their hashes, computed with
// printf %s TOKEN | openssl dgst -sha256 -binary | base64.
const (
	classicToken = "gho_16C7e42F292c6912E7710c838347Ae178B4a"
	classicHash  = "vDrnI/V8a54/2Atpn8xCD2B0sLFxgDlmnSJjHVCKwKc="
	fineToken    = "github_pat_11ABCDEFG0example_token"
	fineHash     = "BHIjzo6w9muRhlOxpUdH0TI1sqBgyB5ENX3wnrGDqeA="
)

func TestHashToken(t *testing.T) {
	for tok, want := range map[string]string{classicToken: classicHash, fineToken: fineHash} {
		if got := HashToken(secret.New([]byte(tok))); got != want {
			t.Errorf("HashToken = %s, want %s", got, want)
		}
	}
	// And against openssl itself, where it is installed.
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl")
	}
	cmd := exec.Command("sh", "-c", "printf %s \"$TOKEN\" | openssl dgst -sha256 -binary | base64")
	cmd.Env = append(os.Environ(), "TOKEN="+fineToken+"-other")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := HashToken(secret.New([]byte(fineToken + "-other"))); got != strings.TrimSpace(string(out)) {
		t.Errorf("HashToken = %s, openssl says %s", got, out)
	}
}

func parse(t *testing.T, p *Parser, in string) ([]logs.Event, logs.Stats) {
	t.Helper()
	var evs []logs.Event
	st, err := p.Parse(context.Background(), "f", strings.NewReader(in), func(e logs.Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, st
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLeakedTokenFindsItsEvents(t *testing.T) {
	h := HashToken(secret.New([]byte(classicToken)))
	evs, st := parse(t, NewFiltered(h), read(t, "testdata/stream.jsonl"))
	if st.Records != 12 || len(evs) != 6 {
		t.Fatalf("%d events, %+v", len(evs), st)
	}
	for _, e := range evs {
		if e.Credential != classicHash || e.Identity != "ci-bot" || e.Detail["programmatic_access_type"] != "Personal access token (classic)" {
			t.Errorf("%+v", e)
		}
	}
	e := evs[0]
	if e.Action != "git.clone" || e.Source != "10.40.1.15" || e.UserAgent != "git/2.43.0" || e.Outcome != logs.Success ||
		e.Detail["repo"] != "acme-corp/payments" || e.Detail["country"] != "US" || e.Detail["token_scopes"] != "repo,workflow" ||
		e.Detail["org"] != "acme-corp" || e.Detail["document_id"] != "d00Qx3bT9vK2mRz7LpW8sA" || e.Detail["operation_type"] != "access" ||
		!e.Time.Equal(time.UnixMilli(1772442000000)) {
		t.Errorf("%+v", e)
	}
	if evs[2].Action != "repo.download_zip" || evs[2].Detail["country"] != "NL" {
		t.Errorf("%+v", evs[2])
	}
}

func TestDerived(t *testing.T) {
	evs, _ := parse(t, New(), read(t, "testdata/stream.jsonl"))
	want := map[string]map[string]string{
		"public_key.create":                    {"derived_user": "ci-bot"},
		"hook.create":                          {"derived_key_id": "hook_id:493021117", "derived_user": "ci-bot"},
		"deploy_key.create":                    {"derived_user": "ci-bot"},
		"personal_access_token.access_granted": {"derived_key_id": "token_id:4815162", "derived_user": "release-bot"},
		"org.add_member":                       {"derived_user": "mallory-ext"},
		"oauth_access.create":                  {"derived_user": "mallory-ext"},
		"integration_installation.create":      {"derived_user": "shady-sync"},
	}
	for _, e := range evs {
		w, ok := want[e.Action]
		if !ok {
			if e.Detail["derived"] != "" {
				t.Errorf("%s derived", e.Action)
			}
			continue
		}
		delete(want, e.Action)
		if e.Detail["derived"] != "true" {
			t.Errorf("%s not derived", e.Action)
		}
		for k, v := range w {
			if e.Detail[k] != v {
				t.Errorf("%s: %s = %q, want %q", e.Action, k, e.Detail[k], v)
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("missing %v", want)
	}
}

func TestCredentialChoice(t *testing.T) {
	evs, _ := parse(t, New(), read(t, "testdata/stream.jsonl"))
	byAction := map[string]logs.Event{}
	for _, e := range evs {
		byAction[e.Action] = e
	}
	if evs[0].Credential != classicHash || evs[6].Credential != fineHash {
		t.Errorf("hashed_token: %+v %+v", evs[0], evs[6])
	}
	granted := byAction["personal_access_token.access_granted"]
	if granted.Credential != "octo-admin" || granted.Detail["token_id"] != "4815162" {
		t.Errorf("the owner granting a token uses no token: %+v", granted)
	}
	denied := byAction["personal_access_token.request_denied"]
	if denied.Outcome != logs.Failure || denied.Detail["derived"] != "" {
		t.Errorf("a refusal: %+v", denied)
	}
	// Programmatic access that names the token's id without its hash.
	in := `{"@timestamp":1772442000000,"action":"repo.download_zip","actor":"release-bot","actor_ip":"20.42.7.9","programmatic_access_type":"Fine-grained personal access token","token_id":4815162}` + "\n" +
		`{"created_at":"2026-03-02T09:00:00.250Z","action":"git.clone","actor":"release-bot","token_id":"4815162","programmatic_access_type":"Fine-grained personal access token"}` + "\n"
	evs, st := parse(t, New(), in)
	if len(evs) != 2 || st.MalformedCount != 0 {
		t.Fatalf("%+v %+v", evs, st)
	}
	for _, e := range evs {
		if e.Credential != "token_id:4815162" || e.Identity != "release-bot" {
			t.Errorf("%+v", e)
		}
	}
	if !evs[1].Time.Equal(time.Date(2026, 3, 2, 9, 0, 0, 250e6, time.UTC)) {
		t.Errorf("created_at as RFC 3339: %v", evs[1].Time)
	}
}

func TestExportAndStreamAgree(t *testing.T) {
	stream, _ := parse(t, New(), read(t, "testdata/stream.jsonl"))
	export, st := parse(t, New(), read(t, "testdata/export.json"))
	if st.Records != 6 || len(export) != 6 {
		t.Fatalf("%+v", st)
	}
	picked := append(append([]logs.Event{}, stream[:3]...), stream[6:9]...)
	for i, e := range export {
		s := picked[i]
		if e.Line != 1 || i > 0 && e.Offset <= export[i-1].Offset {
			t.Errorf("export event %d at %d:%d", i, e.Line, e.Offset)
		}
		e.Line, e.Offset, s.Line, s.Offset = 0, 0, 0, 0
		if e.Credential != s.Credential || e.Action != s.Action || !e.Time.Equal(s.Time) || len(e.Detail) != len(s.Detail) {
			t.Errorf("export %+v != stream %+v", e, s)
		}
	}
}

func TestMalformed(t *testing.T) {
	in := `{"@timestamp":1772442000000,"actor":"x"}
{"@timestamp":"yesterday","action":"git.clone","actor":"x"}
{"@timestamp":1772442000000,"action":"git.clone"}
{"@timestamp":1772442000000,"action":"git.clone","actor":"x","actor_location":"US","hook_id":{"a":1}}
`
	evs, st := parse(t, New(), in)
	if st.MalformedCount != 3 || st.Malformed[2].Line != 3 {
		t.Fatalf("%+v", st)
	}
	if len(evs) != 1 || evs[0].Credential != "x" {
		t.Errorf("a field of the wrong type is skipped: %+v", evs)
	}
}

func TestSniff(t *testing.T) {
	mine, files := logstest.SniffOwn(t, New(), "github")
	if mine != 2 {
		t.Errorf("%d of mine among %d files", mine, files)
	}
}
