package review

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/cloudtrail"
)

// parse reads a CloudTrail fixture with the parser the CLI uses.
func parse(t *testing.T, path string, p *cloudtrail.Parser, emit func(logs.Event)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := p.Parse(context.Background(), path, f, func(e logs.Event) error { emit(e); return nil }); err != nil {
		t.Fatal(err)
	}
}

// The CloudTrail parser's fixture, written from AWS's documented record
// shapes: alice's key creates a key for bob, a login profile for bob and
// assumes the deploy role; the session key and bob's console login are
// then used. Without a leak time the review has no baseline and judges by
// sensitive actions; the second pass finds the derived credentials' use.
func TestCloudTrailFixture(t *testing.T) {
	const fixture = "../logs/cloudtrail/testdata/delivered.json"
	r := New(Config{Credential: "AKIAIOSFODNN7EXAMPLE"})
	parse(t, fixture, cloudtrail.NewFiltered(FilterKeys("AKIAIOSFODNN7EXAMPLE")...), r.Add)
	keys := r.NextRelated()
	if len(keys) == 0 {
		t.Fatal("no derived credential found")
	}
	parse(t, fixture, cloudtrail.NewFiltered(keys...), r.AddRelated)
	if more := r.NextRelated(); len(more) != 0 {
		t.Fatalf("a third pass for %v", more)
	}
	rep := r.Result()
	rel := map[string]Related{}
	for _, x := range rep.Related {
		rel[x.Credential] = x
	}
	if k := rel["AKIAEXAMPLENEWKEY777"]; k.Kind != "access-key" || k.Principal != "bob" || k.Via != "iam:CreateAccessKey" || k.CreatedAt.IsZero() || len(k.Evidence) != 1 || k.Evidence[0].Line == 0 {
		t.Errorf("access key %+v", k)
	}
	s := rel["ASIAY34FZKBOKMUTVV7A"]
	if s.Kind != "session" || s.Principal != "arn:aws:sts::123456789012:assumed-role/deploy/deploy-session" || s.Activity.Events != 2 ||
		strings.Join(s.Activity.Sources, ",") != "198.51.100.7" || len(s.Activity.Actions) != 2 {
		t.Errorf("session %+v", s)
	}
	// bob's console sign-in, and a refused one from elsewhere.
	if b := rel["bob"]; b.Kind != "login-profile" || b.Activity.Events != 2 || b.Activity.Failures != 1 || b.Activity.Actions[0] != "signin:ConsoleLogin" {
		t.Errorf("login profile %+v", b)
	}
	k := kinds(rep)
	if len(k[KindNoBaseline]) != 1 || len(k[KindDerivedCredential]) != 3 {
		t.Errorf("findings:\n%s", dump(rep))
	}
	text := dump(rep)
	for _, want := range []string{"iam:CreateAccessKey (credential creation)", "iam:CreateUser (credential creation) during the exposure, 1 time from 203.0.113.10 (every attempt was refused)",
		"reconnaissance", "sts:AssumeRole (role assumption)"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
	// The other principals' and the AWS service's records are not the key's.
	if rep.Events != 12 {
		t.Errorf("%d events of the key", rep.Events)
	}
}
