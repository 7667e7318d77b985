package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// The example cases shipped for the default policy pass: they are the
// default policy's documented behaviour.
func TestBrokerPolicyTestExamplesPass(t *testing.T) {
	r := run(t, nil, "", "broker", "policy", "test", "default",
		"--cases", "../../examples/broker/default-cases.yaml", "--inventory", "../../examples/broker/inventory.yml")
	if r.code != 0 || !strings.Contains(r.stdout, "7 cases, 0 mismatches (policy default.rego@") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

const allowSourcePolicy = `package rekey.broker

allow if input.source == "10.0.0.1"

deny contains "weekend" if input.time == "2026-12-06T03:00:00Z"

max_ttl := 600
`

func TestBrokerPolicyTestMismatchExitsOne(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"p.rego": allowSourcePolicy,
		"cases.json": `[
 {"name": "right", "input": {"source": "10.0.0.1", "time": "2026-12-05T03:00:00Z"}, "allow": true, "reasons": [], "max_ttl": 600},
 {"name": "wrong allow", "input": {"source": "10.0.0.2"}, "allow": true},
 {"input": {"source": "10.0.0.1", "time": "2026-12-06T03:00:00Z"}, "allow": false, "reasons": ["maintenance"]},
 {"name": "wrong cap", "input": {"source": "10.0.0.1"}, "allow": true, "max_ttl": 60}
]`,
	})
	r := run(t, nil, "", "broker", "policy", "test", filepath.Join(dir, "p.rego"), "--cases", filepath.Join(dir, "cases.json"))
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"wrong allow", "#3", "deny [maintenance]", "deny [weekend]", "wrong cap", "max_ttl=60", "4 cases, 3 mismatches"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("no %q in:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "right ") {
		t.Errorf("a matching case is listed:\n%s", r.stdout)
	}

	r = run(t, nil, "", "broker", "policy", "test", filepath.Join(dir, "p.rego"), "--cases", filepath.Join(dir, "cases.json"), "--format", "json")
	var got struct {
		Cases      int `json:"cases"`
		Mismatches []struct {
			Name       string   `json:"name"`
			Line       int      `json:"line"`
			GotReasons []string `json:"got_reasons"`
		} `json:"mismatches"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 1 {
		t.Fatalf("exit %d, %v:\n%s", r.code, err, r.stdout)
	}
	if got.Cases != 4 || len(got.Mismatches) != 3 || got.Mismatches[1].Line != 4 || got.Mismatches[1].GotReasons[0] != "weekend" {
		t.Fatalf("%+v", got)
	}
}

func TestBrokerPolicyTestBadInputExitsTwo(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"good.rego":      allowSourcePolicy,
		"broken.rego":    "package rekey.broker\n\nallow if {\n\tinput.x ==\n}\n",
		"other.rego":     "package other\n\nallow := true\n",
		"cases.yaml":     "- {input: {source: 10.0.0.1}, allow: true}\n",
		"unknown.yaml":   "- input: {}\n  allow: true\n  expect: deny\n",
		"noallow.yaml":   "- input: {}\n  reasons: []\n",
		"notalist.yaml":  "input: {}\n",
		"bad-inv.yml":    "version: 1\nbroker:\n  roles:\n    - { name: r, system: nope, like: x, ttl: 1m, subjects: [a] }\n",
		"stringbool.yml": "- {input: {}, allow: \"yes\"}\n",
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"missing cases file", []string{p("good.rego"), "--cases", p("none.yaml")}, "none.yaml"},
		{"missing policy", []string{p("none.rego"), "--cases", p("cases.yaml")}, "none.rego"},
		{"policy does not compile", []string{p("broken.rego"), "--cases", p("cases.yaml")}, p("broken.rego") + ":5"},
		{"wrong package", []string{p("other.rego"), "--cases", p("cases.yaml")}, p("other.rego") + ":1: package other"},
		{"unknown key in a case", []string{p("good.rego"), "--cases", p("unknown.yaml")}, p("unknown.yaml") + `:3: unknown key "expect"`},
		{"case without allow", []string{p("good.rego"), "--cases", p("noallow.yaml")}, p("noallow.yaml") + ":1: case has no allow"},
		{"not a list", []string{p("good.rego"), "--cases", p("notalist.yaml")}, "want a list of cases"},
		{"allow not a boolean", []string{p("good.rego"), "--cases", p("stringbool.yml")}, "allow: want true or false"},
		{"no --cases", []string{p("good.rego")}, "--cases FILE is required"},
		{"inventory with errors", []string{p("good.rego"), "--cases", p("cases.yaml"), "--inventory", p("bad-inv.yml")}, "see rekey inventory check"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, nil, "", append([]string{"broker", "policy", "test"}, c.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, c.msg) {
				t.Fatalf("exit %d, want 2 and %q in stderr:\n%s", r.code, c.msg, r.stderr)
			}
		})
	}
}
