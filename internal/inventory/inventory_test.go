package inventory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/errs"
)

var (
	detOnce sync.Once
	det     *detect.Detector
)

// opts are the options rekey's CLI passes: its system types and detector.
func opts(t testing.TB, getenv map[string]string) Options {
	t.Helper()
	detOnce.Do(func() {
		var err error
		if det, err = detect.New(rules.All()); err != nil {
			panic(err)
		}
	})
	return Options{
		KnownSystemTypes: []string{"postgres", "mysql", "redis", "aws-iam", "vault", "github", "gitlab", "kubernetes"},
		FindSecrets: func(b []byte) []SecretMatch {
			var out []SecretMatch
			for _, f := range det.Scan(b) {
				out = append(out, SecretMatch{Start: f.Start, End: f.End, Rule: f.Rule.ID})
			}
			return out
		},
		Getenv: func(k string) string { return getenv[k] },
	}
}

// parseOK parses src as inv.yml and fails the test on any error.
func parseOK(t *testing.T, src []byte, env map[string]string) (*Inventory, *Report) {
	t.Helper()
	inv, rep, err := Parse("inv.yml", src, opts(t, env))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("errors: %v", errorStrings(rep))
	}
	return inv, rep
}

func warningStrings(r *Report) []string {
	var out []string
	for _, w := range r.Warnings {
		out = append(out, w.String())
	}
	return out
}

func errorStrings(r *Report) []string {
	var out []string
	for _, p := range r.Errors {
		out = append(out, p.String())
	}
	return out
}

// Each bad file with every error it must produce, as "line:col: text"
// (text is a substring of the message). No other error may appear.
var badFiles = []struct {
	file string
	errs []string
}{
	{"unknown-key.bad.yml", []string{
		`2:1: top level: unknown key "sytems"; did you mean "systems"?`,
		`7:5: identity "orders_svc": missing system`,
		`8:5: identity "orders_svc": unknown key "sytem"; did you mean "system"?`,
		`12:5: consumer "orders-api": unknown key "reloads"; did you mean "reload"?`,
		`13:87: consumer "orders-api": deliver: unknown key "mode"`,
		`14:1: top level: unknown key "colour" (known: version, systems`,
	}},
	{"wrong-type.bad.yml", []string{
		`1:10: version: want the number 1, got a string`,
		`3:3: systems: want a list, got a mapping`,
		`6:13: identity "orders_svc": system: want a string, got a list`,
		`7:18: identity "orders_svc": third_party: want true or false, got a string`,
		`8:11: identity "orders_svc": keep: want a list, got a string`,
		`9:12: identity "orders_svc": owner: want a mapping, got a string`,
		`11:5: consumers[0]: want a mapping, got a string`,
		`12:9: policy: want a mapping, got a list`,
	}},
	{"duplicate.bad.yml", []string{
		`6:5: system "shop-db" defined twice (first at 3:5)`,
		`12:5: identity "orders_svc" of system "shop-db" defined twice (first at 10:5)`,
		`14:5: identities[1]: key "name" repeated (first at 12:5)`,
		`18:30: consumer "orders-api": sources: "10.0.4.0/24" listed twice (first at 18:15)`,
		`19:5: consumer "orders-api" defined twice (first at 16:5)`,
		`22:22: policy: approve: "isolate" listed twice (first at 22:13)`,
	}},
	{"reference.bad.yml", []string{
		`11:13: identity "orders_svc": system "shopdb" is not defined; did you mean "shop-db"?`,
		`18:15: consumer "orders-api": identity "order_svc" is not defined; did you mean "orders_svc"?`,
		`20:15: consumer "worker": identity "app" exists in systems shop-db, cache; write system/name, like "shop-db/app"`,
		`24:15: consumer "ghost": identity "nobody-at-all" is not defined`,
		`25:5: consumer "nameless-identity": missing identity`,
	}},
	{"system.bad.yml", []string{
		`4:11: system "shop-db": type "postgress" is unknown (known: postgres, mysql, redis, aws-iam, vault, github, gitlab, kubernetes); did you mean "postgres"?`,
		`6:11: system "crm db": name: use letters, digits`,
		`7:11: system "crm db": type "oracle" is unknown`,
		`9:5: systems[2]: missing name`,
		`11:5: system "legacy": missing type`,
		`11:5: system "legacy": missing admin`,
	}},
	{"admin.bad.yml", []string{
		`5:12: system "shop-db": admin must be a reference (env:VAR or file:PATH), not an inline value`,
		`8:12: system "crm-db": admin: env: wants a variable name`,
		`11:12: system "cache": admin: file: wants a path`,
		`14:12: system "queue": admin: want a string, got a mapping`,
		`17:12: system "search": admin must be a reference`,
	}},
	{"aws.bad.yml", []string{
		`5:15: system "aws-prod": endpoint: want an http:// or https:// base URL with a host`,
		`6:13: system "aws-prod": region "us-east-one" is not an AWS region name, like us-east-1`,
		`9:12: system "aws-staging": admin holds an AWS key inline`,
		`10:15: system "aws-staging": endpoint holds credentials in its URL`,
		`14:15: system "shop-db": endpoint applies to systems of type aws-iam`,
		`15:13: system "shop-db": region applies to systems of type aws-iam`,
		`18:15: system "aws-dev": endpoint: a base URL has no query or fragment`,
	}},
	{"github.bad.yml", []string{
		`5:12: system "gh": admin holds a GitHub token or App key inline`,
		`6:10: system "gh": org "acme corp" is not a GitHub organisation name`,
		`10:15: system "ghe": endpoint: want an http:// or https:// base URL with a host, like https://github.example.com`,
		`15:10: system "shop-db": org applies to systems of type github`,
		`21:14: consumer "a": deliver: name the secret's repo (OWNER/REPO) or its org`,
		`24:66: consumer "b": deliver: repo and org both given`,
		`27:51: consumer "c": deliver: repo "acme": want OWNER/REPO, like acme/api`,
		`27:63: consumer "c": deliver: name "GITHUB_TOKEN": GitHub reserves names starting with GITHUB_`,
		`30:67: consumer "d": deliver: name "1PASS": a secret name is letters, digits and _, not starting with a digit`,
		`30:86: consumer "d": deliver: visibility applies to an org secret`,
		`30:99: consumer "d": deliver: system "shop-db" is not a github system of this inventory (github systems: gh, ghe)`,
		`33:78: consumer "e": deliver: visibility "public" is unknown (known: all, private, selected)`,
		`33:98: consumer "e": deliver: unknown key "path"`,
		`36:14: consumer "f": deliver: several github systems (gh, ghe): say which writes the secret with system:`,
	}},
	{"gitlab.bad.yml", []string{
		`5:12: inline secret (rule gitlab-pat)`,
		`9:15: system "gl2": endpoint: want an http:// or https:// base URL with a host, like https://gitlab.example.com (self-managed GitLab)`,
		`18:14: consumer "a": deliver: missing project`,
		`21:51: consumer "b": deliver: project "acme api": want a project id or its full path, like acme/api`,
		`21:68: consumer "b": deliver: key "DB-PASSWORD": a CI/CD variable key is letters, digits and _, at most 255`,
		`24:78: consumer "c": deliver: masked: want true or false, got a string`,
		`24:93: consumer "c": deliver: system "shop-db" is not a gitlab system of this inventory (gitlab systems: gl, gl2)`,
		`27:81: consumer "d": deliver: unknown key "path"`,
		`30:14: consumer "e": deliver: several gitlab systems (gl, gl2): say which writes it with system:`,
	}},
	{"kubernetes.bad.yml", []string{
		`6:13: system "k8s": region applies to systems of type aws-iam`,
		`7:10: system "k8s": org applies to systems of type github`,
		`11:15: system "k8s2": endpoint holds credentials in its URL`,
		`12:5: system "k8s3": missing admin`,
		`14:15: system "k8s3": endpoint: want an http:// or https:// base URL with a host, like https://10.0.0.1:6443 (the API server)`,
		`23:14: consumer "a": deliver: missing name`,
		`26:14: consumer "b": deliver: missing key`,
		`26:52: consumer "b": deliver: namespace "Shop": want a lower-case DNS name`,
		`29:63: consumer "c": deliver: key "pass word": a Secret key is letters, digits, '-', '_' and '.'`,
		`29:86: consumer "c": deliver: user_key "user name": a Secret key is letters`,
		`32:83: consumer "d": deliver: user_key is the same as key`,
		`32:102: consumer "d": deliver: restart "deployment/Web": want deployment/NAME`,
		`35:82: consumer "e": deliver: restart "web": want deployment/NAME`,
		`35:95: consumer "e": deliver: system "shop-db" is not a kubernetes system of this inventory (kubernetes systems: k8s, k8s2, k8s3)`,
		`38:73: consumer "f": deliver: unknown key "path"`,
		`41:14: consumer "g": deliver: several kubernetes systems (k8s, k8s2, k8s3): say which writes it with system:`,
	}},
	{"window.bad.yml", []string{
		`9:20: consumer "acme": change_window: want "DAYS HH:MM-HH:MM ZONE"`,
		`12:20: consumer "globex": change_window: days "Funday": unknown day "Funday"`,
		`15:20: consumer "initech": change_window: time "25:00": want HH:MM`,
		`18:20: consumer "umbrella": change_window: unknown time zone "Mars/Olympus_Mons"`,
		`21:20: consumer "hooli": change_window: times "03:00-03:00": the window starts and ends at the same time`,
		`24:20: consumer "stark": change_window: time zone "Local" depends on the machine`,
	}},
	{"consumer-sources.bad.yml", []string{
		`10:9: consumer "orders-api": sources: "10.0.4.0/33" is not a valid CIDR`,
		`11:9: consumer "orders-api": sources: "10.0.4.1/24" has host bits set; did you mean "10.0.4.0/24"?`,
		`12:9: consumer "orders-api": sources: "10.0.4.300" is not a valid IP address`,
		`13:9: consumer "orders-api": sources: "bad host!" is not a CIDR, an IP address, a host name or app:NAME`,
		`14:9: consumer "orders-api": sources: "app:" wants an application name`,
	}},
	{"vault.bad.yml", []string{
		`5:12: inline secret (rule vault-token)`,
		`7:5: system "vault-dr": missing endpoint: a vault system's address`,
		`18:14: consumer "orders-api": deliver: the inventory defines several vault systems (vault-prod, vault-dr): say which with system:`,
		`18:39: consumer "orders-api": deliver: mount: "/secret/": want segments separated by single '/'`,
		`18:55: consumer "orders-api": deliver: path: "orders//db": want segments separated by single '/'`,
		`21:14: consumer "billing": deliver: missing mount`,
		`21:14: consumer "billing": deliver: the inventory defines several vault systems`,
		`21:75: consumer "billing": deliver: user_key is the same as key`,
		`21:85: consumer "billing": deliver: unknown key "format" (known: type, system, mount, path, key, user_key)`,
		`24:88: consumer "reports": deliver: system "shop-db" is of type postgres; a vault-kv delivery writes to a system of type vault`,
		`27:53: consumer "cron": deliver: path: "cron/../db": want segments`,
		`27:70: consumer "cron": deliver: key: has surrounding spaces or control characters`,
		`27:91: consumer "cron": deliver: system "vault-nowhere" is not defined`,
		`30:14: consumer "mailer": deliver: the inventory defines several vault systems`,
	}},
	{"deliver.bad.yml", []string{
		`9:14: consumer "orders-api": deliver: missing path`,
		`9:36: consumer "orders-api": deliver: format "toml" is unknown (known: dotenv, yaml, json, ini)`,
		`12:14: consumer "billing": deliver: missing key`,
		`15:22: consumer "reports": deliver: type "vault" is unknown (known: file`,
		`18:73: consumer "worker": deliver: key: "DATABASE URL" is not a variable name`,
		`21:76: consumer "cron": deliver: key: "db..password" has an empty segment`,
		`21:100: consumer "cron": deliver: user_key: "db..password" has an empty segment`,
		`21:100: consumer "cron": deliver: user_key is the same as key`,
		`24:14: consumer "mailer": deliver: missing type`,
		`27:14: consumer "indexer": deliver: want a mapping, got a string`,
	}},
	{"logs.bad.yml", []string{
		`3:13: logs[0]: type "postgres_csv" is unknown (known: cloudtrail, postgres-stderr, postgres-csv`,
		`; did you mean "postgres-csv"?`,
		`4:5: logs[1]: missing path`,
		`5:13: logs[2]: type jsonl needs fields: where the time and the credential are`,
		`5:26: logs[2]: path: "/var/log/app/[abc" is not a valid glob`,
		`6:13: logs[3]: type "syslog" is unknown`,
		`6:44: logs[3]: unknown key "format" (known: type, path, prefix, fields)`,
		`7:70: logs[4]: prefix (a log_line_prefix) applies to type postgres-stderr only`,
	}},
	{"fields.bad.yml", []string{
		`3:13: logs[0]: type jsonl needs fields`,
		`4:58: logs[1]: fields (a field mapping) applies to type jsonl only`,
		`5:45: logs[2]: fields (a field mapping) applies to type jsonl only`,
		`8:13: logs[3]: fields: missing time`,
		`8:13: logs[3]: fields: missing credential`,
		`8:15: logs[3]: fields: unknown key "agent" (known: time, time_format, credential`,
		`11:37: logs[4]: fields: credential: "user..key_id" has an empty segment`,
		`11:64: logs[4]: fields: time_format: "epoch" is not rfc3339, unix, unix_ms or a Go time layout`,
		`12:24: logs[4]: fields: failure values need outcome`,
		`15:13: logs[5]: fields: want a mapping, got a list`,
		`18:68: logs[6]: fields: failure: want a list, got a number`,
		`21:50: logs[7]: fields: source: want a string, got a mapping`,
		`21:90: logs[7]: fields: failure: "403" listed twice (first at 21:83)`,
	}},
	{"sources.bad.yml", []string{
		`3:13: sources[0]: type "svn" is unknown (known: git, dir, slack, jira, slack-api, jira-api)`,
		`4:44: sources[1]: history applies to git sources only`,
		`5:5: sources[2]: missing path`,
		`6:5: sources[3]: missing type`,
		`7:45: sources[4]: history: want true or false, got a string`,
	}},
	{"live-sources.bad.yml", []string{
		`3:5: sources[0]: missing token: the API token, as env:VAR or file:PATH`,
		`4:31: sources[1]: token must be a reference (env:VAR or file:PATH), not an inline value: the inventory lives in git`,
		`5:5: sources[2]: missing url`,
		`6:28: sources[3]: url: holds credentials in its URL`,
		`7:28: sources[4]: url: want an http:// or https:// base URL with a host`,
		`8:54: sources[5]: a slack-api source is read through its API and has no path`,
		`9:48: sources[6]: jql applies to jira-api sources only`,
		`10:36: sources[7]: token applies to slack-api and jira-api sources only`,
		`11:31: sources[8]: token: env: wants a variable name`,
	}},
	{"policy.bad.yml", []string{
		`3:22: policy: approve: step kind "revokee" is unknown`,
		`did you mean "revoke"?`,
		`3:31: policy: approve: step kind "approve" is unknown`,
		`4:8: policy: ttl: "30": want a duration with a unit, like 720h, 30d or 2w`,
		`5:3: policy: unknown key "timeout" (known: approve, ttl)`,
	}},
	{"ttl.bad.yml", []string{
		`3:12: policy: approve: want a list, got a string`,
		`4:8: policy: ttl: "-1h": must be longer than zero`,
	}},
	{"identity.bad.yml", []string{
		`7:11: identity "support-agent": kind "robot" is unknown (known: agent)`,
		`8:32: identity "support-agent": owner: unknown key "email" (known: team, contact)`,
		`9:21: identity "support-agent": keep: empty entry`,
		`10:5: identities[1]: missing name`,
	}},
	{"notify.bad.yml", []string{
		`3:25: notify[0]: url must be a reference (env:VAR or file:PATH), not an inline value: the inventory lives in git`,
		`4:13: notify[1]: type "pager" is unknown (known: slack, webhook)`,
		`5:5: notify[2]: missing url: the webhook URL, as env:VAR or file:PATH`,
		`6:27: notify[3]: url: env: wants a variable name`,
		`7:5: notify[4]: missing type`,
		`7:26: notify[4]: unknown key "channel" (known: type, url)`,
		`8:5: notify[5]: want a mapping, got a string`,
	}},
	{"version.bad.yml", []string{`1:10: version 2 is not supported: this rekey reads version 1`}},
	{"no-version.bad.yml", []string{`1:1: missing version: 1`}},
	{"two-documents.bad.yml", []string{`3:1: a second YAML document: an inventory is one document`}},
	{"merge.bad.yml", []string{
		`4:3: system "shop-db": unknown key "colour"`,
		`9:5: system "crm-db": missing type`,
		`9:5: system "crm-db": missing admin`,
		`9:9: systems[1]: <<: merges mappings, got a number`,
	}},
}

func TestBadFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yml")
	listed := map[string]bool{}
	for _, c := range badFiles {
		listed[c.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no entry in badFiles", f)
		}
	}
	for _, c := range badFiles {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", c.file)
			o := opts(t, nil)
			o.SkipLocal = true
			_, rep, err := Load(path, o)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := errorStrings(rep)
			for _, want := range c.errs {
				full := want
				if want[0] >= '0' && want[0] <= '9' {
					full = path + ":" + want
				}
				if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, full) }) {
					t.Errorf("no error %q in:\n%s", full, strings.Join(got, "\n"))
				}
			}
			var positioned int
			for _, w := range c.errs {
				if w[0] >= '0' && w[0] <= '9' {
					positioned++
				}
			}
			if len(got) != positioned {
				t.Errorf("want %d errors, got %d:\n%s", positioned, len(got), strings.Join(got, "\n"))
			}
		})
	}
}

func TestGoodExample(t *testing.T) {
	inv, rep, err := Load("testdata/good.yml", opts(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("errors:\n%s", strings.Join(errorStrings(rep), "\n"))
	}
	if len(inv.Systems) != 3 || len(inv.Identities) != 5 || len(inv.Consumers) != 7 || len(inv.Sources) != 7 || len(inv.Logs) != 5 {
		t.Fatalf("counts: %d systems, %d identities, %d consumers, %d sources, %d logs",
			len(inv.Systems), len(inv.Identities), len(inv.Consumers), len(inv.Sources), len(inv.Logs))
	}
	if s := inv.SystemByName("shop-db"); s == nil || s.Type != "postgres" || s.Admin.String() != "env:SHOP_DB_ADMIN_DSN" || s.Admin.Pos.Line != 10 {
		t.Errorf("shop-db: %+v", s)
	}
	if s := inv.SystemByName("crm-db"); s == nil || s.Admin.Scheme != RefFile || s.Admin.Path() != "/etc/rekey/crm-db.dsn" {
		t.Errorf("crm-db: %+v", s)
	}
	orders := inv.IdentityByName("orders_svc")
	if orders == nil || orders.Owner.Contact != "#orders-oncall" || orders.Key() != "shop-db/orders_svc" {
		t.Fatalf("orders_svc: %+v", orders)
	}
	var names []string
	for _, c := range inv.ConsumersOf(orders) {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"orders-api", "billing", "acme-fulfilment"}) {
		t.Errorf("consumers of orders_svc: %v", names)
	}
	if a := inv.IdentityByName("support-agent"); a == nil || !a.IsAgent() {
		t.Errorf("support-agent: %+v", a)
	}
	if r := inv.IdentityByName("reporting"); r == nil || !slices.Equal(r.Keep, []string{"pg_read_all_data"}) {
		t.Errorf("reporting: %+v", r)
	}
	api := inv.ConsumerByName("orders-api")
	if api.Deliver == nil || api.Deliver.Format != "dotenv" || api.Deliver.Key != "DATABASE_URL" ||
		len(api.Prefixes) != 1 || api.Prefixes[0].String() != "10.0.4.0/24" || !slices.Equal(api.Apps, []string{"orders-api"}) {
		t.Errorf("orders-api: %+v %+v", api, api.Deliver)
	}
	if b := inv.ConsumerByName("billing"); b.Deliver.UserKey != "db.user" || !slices.Equal(b.Hosts, []string{"billing-1.internal", "billing-2.internal"}) {
		t.Errorf("billing: %+v", b)
	}
	acme := inv.ConsumerByName("acme-fulfilment")
	if acme.Deliver != nil || !acme.ThirdParty || acme.ChangeWindow == nil || acme.ChangeWindow.String() != "Sat 02:00-04:00 UTC" {
		t.Errorf("acme: %+v", acme)
	}
	if !inv.Sources[0].History || inv.Sources[2].History || inv.Logs[3].Type != "" {
		t.Errorf("sources %+v logs %+v", inv.Sources, inv.Logs)
	}
	want := &JSONFields{Time: "ts", Credential: "user.key_id", Identity: "user.name", Source: "client.ip",
		Action: "http.route", Outcome: "http.status", Failure: []string{"401", "403"}, Pos: Pos{"testdata/good.yml", 102, 13}}
	if diff := cmp.Diff(want, inv.Logs[4].Fields); diff != "" || inv.Logs[4].Type != "jsonl" || inv.Logs[0].Fields != nil {
		t.Errorf("jsonl fields (-want +got):\n%s", diff)
	}
	if inv.Policy.TTL != 720*time.Hour || !inv.Policy.NeedsApproval("rewrite-history") || inv.Policy.NeedsApproval("revoke") {
		t.Errorf("policy: %+v", inv.Policy)
	}
}

// The doc's example is the test's: docs/inventory.md shows testdata/good.yml.
func TestDocExampleIsGoodYAML(t *testing.T) {
	doc, err := os.ReadFile("../../docs/inventory.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	rest := string(doc)
	for {
		_, after, ok := strings.Cut(rest, "\n```yaml\n")
		if !ok {
			break
		}
		block, tail, ok := strings.Cut(after, "\n```\n")
		if !ok {
			t.Fatal("unterminated ```yaml block")
		}
		blocks = append(blocks, block+"\n")
		rest = tail
	}
	if len(blocks) != 1 {
		t.Fatalf("docs/inventory.md has %d ```yaml blocks, want the one full example", len(blocks))
	}
	good, err := os.ReadFile("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if blocks[0] != string(good) {
		t.Error("the example in docs/inventory.md differs from testdata/good.yml: keep them identical")
	}
	_, rep, err := Parse("docs/inventory.md", []byte(blocks[0]), opts(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("the doc's example has errors:\n%s", strings.Join(errorStrings(rep), "\n"))
	}
}

func TestWarningsForWhatThisMachineCannotResolve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("good.dsn", "postgres-dsn\n", 0o600)
	write("open.dsn", "mysql-dsn\n", 0o644)
	write("app.env", "DATABASE_URL=x\n", 0o600)
	if err := os.MkdirAll(filepath.Join(dir, "logs", "2024"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("logs/2024/a.csv", "", 0o644)
	write("inventory.yml", `version: 1
systems:
  - { name: a, type: postgres, admin: env:A_DSN }
  - { name: b, type: postgres, admin: env:B_DSN }
  - { name: c, type: postgres, admin: "file:good.dsn" }
  - { name: d, type: mysql, admin: "file:open.dsn" }
  - { name: e, type: redis, admin: "file:/nonexistent/e.url" }
identities:
  - { name: u, system: a }
consumers:
  - name: present
    identity: u
    deliver: { type: file, path: app.env, format: dotenv, key: DATABASE_URL }
  - name: absent
    identity: u
    deliver: { type: file, path: /nonexistent/app.env, format: dotenv, key: DATABASE_URL }
sources:
  - { type: dir, path: . }
  - { type: git, path: /nonexistent/repo }
logs:
  - { type: postgres-csv, path: "logs/**/*.csv" }
  - { type: postgres-csv, path: "logs/**/*.json" }
`, 0o644)
	_, rep, err := Load(filepath.Join(dir, "inventory.yml"), opts(t, map[string]string{"A_DSN": "postgres://a@db/postgres", "B_DSN": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("errors: %v", errorStrings(rep))
	}
	var got []string
	for _, w := range rep.Warnings {
		got = append(got, strings.TrimPrefix(w.String(), filepath.Join(dir, "inventory.yml")+":"))
	}
	want := []string{
		`4:39: system "b": admin env:B_DSN: variable is unset or empty here`,
		`6:36: system "d": admin file:open.dsn: mode 0644 lets group or others read it; chmod 600 it`,
		`7:36: system "e": admin file:/nonexistent/e.url: no such file here`,
		`16:14: consumer "absent": deliver path "/nonexistent/app.env" does not exist here`,
		`19:5: sources: git path "/nonexistent/repo" does not exist here`,
		`22:5: logs: "logs/**/*.json" matches no file here`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	o := opts(t, nil)
	o.SkipLocal = true
	if _, rep, _ := Load(filepath.Join(dir, "inventory.yml"), o); len(rep.Warnings) != 0 {
		t.Errorf("SkipLocal still warns: %v", rep.Warnings)
	}
}

// dsnWithPassword is built here so that the repository holds no
// credential-shaped literal.
func dsnWithPassword(pw string) string { return "postgres://admin:" + pw + "@db:5432/postgres" }

func TestInlinePasswordIsAnErrorThatHidesIt(t *testing.T) {
	for _, c := range []struct {
		pw, want string
		o        Options
	}{
		// The detector takes this one for a placeholder; the admin rule
		// still sees the password in the URL.
		{"S3cr3tPassw0rd", `inv.yml:5:12: system "shop-db": admin holds a password inline: the inventory lives in git, so treat it as leaked`, opts(t, nil)},
		{"Qz7vN2wRpLk9xT4m", "inv.yml:5:29: inline secret (rule postgres-uri): the inventory lives in git", opts(t, nil)},
		{"Qz7vN2wRpLk9xT4m", `inv.yml:5:12: system "shop-db": admin holds a password inline`, Options{}},
	} {
		data := "version: 1\nsystems:\n  - name: shop-db\n    type: postgres\n    admin: " + dsnWithPassword(c.pw) + "\n"
		_, rep, err := Parse("inv.yml", []byte(data), c.o)
		if err != nil {
			t.Fatal(err)
		}
		got := errorStrings(rep)
		if len(got) != 1 || !strings.HasPrefix(got[0], c.want) {
			t.Errorf("%s: errors %q, want one starting %q", c.pw, got, c.want)
			continue
		}
		if strings.Contains(got[0], c.pw) || strings.Contains(got[0], c.pw[:6]) {
			t.Errorf("the message shows the password: %s", got[0])
		}
	}
	for _, v := range []string{"admin:" + "pw-x@tcp(db:3306)/", "host=db user=admin password" + "=pw-x"} {
		if !holdsPassword(v) {
			t.Errorf("holdsPassword(%q) = false", v)
		}
	}
	for _, v := range []string{"postgres://admin@db/postgres", "redis://cache:6379", "host=db user=admin"} {
		if holdsPassword(v) {
			t.Errorf("holdsPassword(%q) = true", v)
		}
	}
}

func TestTokenPastedAnywhereIsAnError(t *testing.T) {
	var token string
	for _, r := range rules.All() {
		if r.ID == "github-pat-classic" {
			_, token, _ = strings.Cut(r.Examples[0], "=")
		}
	}
	if !strings.HasPrefix(token, "ghp_") {
		t.Fatalf("no example token: %q", token)
	}
	data := `version: 1
systems:
  - name: shop-db
    type: postgres
    admin: env:SHOP_DB_ADMIN_DSN
    notes: "CI pushes with ` + token + ` when deploying"
# old token: ` + token + `
`
	_, rep, err := Parse("inv.yml", []byte(data), opts(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := errorStrings(rep)
	want := []string{"inv.yml:6:28: inline secret (rule github-pat-classic", "inv.yml:7:14: inline secret (rule github-pat-classic"}
	if len(got) != 2 || !strings.HasPrefix(got[0], want[0]) || !strings.HasPrefix(got[1], want[1]) {
		t.Fatalf("errors:\n%s", strings.Join(got, "\n"))
	}
	for _, g := range got {
		if strings.Contains(g, token[4:]) {
			t.Fatalf("the message shows the token: %s", g)
		}
	}

	// A secret where a name, a type or a variable name belongs is
	// reported once, as a secret: another error or a warning would quote it.
	data = "version: 1\nsystems:\n  - name: shop-db\n    type: " + token + "\n    admin: env:A\n" +
		"  - { name: b, type: redis, admin: env:" + token + " }\n" +
		"consumers:\n  - name: c\n    identity: " + token + "\n"
	_, rep, _ = Parse("inv.yml", []byte(data), opts(t, nil))
	got = errorStrings(rep)
	if len(got) != 3 || !strings.HasPrefix(got[0], "inv.yml:4:11: inline secret") || !strings.HasPrefix(got[1], "inv.yml:6:40: inline secret") ||
		!strings.HasPrefix(got[2], "inv.yml:9:15: inline secret") {
		t.Fatalf("errors:\n%s", strings.Join(got, "\n"))
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0].String(), "env:A") {
		t.Fatalf("warnings: %v", rep.Warnings)
	}
}

func TestPasswordlessDSNIsNotASecret(t *testing.T) {
	data := "version: 1\nsystems:\n  - name: shop-db\n    type: postgres\n    admin: env:SHOP_DB_ADMIN_DSN\n" +
		"    notes: connects as postgres://admin@db:5432/postgres with a client certificate\n"
	_, rep, err := Parse("inv.yml", []byte(data), opts(t, nil))
	if err != nil || !rep.OK() {
		t.Fatalf("err %v, errors %v", err, errorStrings(rep))
	}
}

func TestUnreadableIsAnError(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		kind          errs.Kind
		msg           string
	}{
		{"missing.yml", "", errs.NotFound, "missing.yml: no such file"},
		{"empty.yml", "", errs.Invalid, "empty: not an inventory"},
		{"comments.yml", "# nothing yet\n", errs.Invalid, "empty: not an inventory"},
		{"syntax.yml", "version: 1\nsystems:\n  - name: [shop-db\n", errs.Invalid, "not YAML"},
		{"tabs.yml", "version: 1\nsystems:\n\t- name: x\n", errs.Invalid, "syntax"},
		{"text.txt", "This is a README, not an inventory.\n", errs.Invalid, "not an inventory: the document is a string"},
		{"list.yml", "- version: 1\n", errs.Invalid, "not an inventory: the document is a list"},
		{"binary.bin", "\x00\xff\xfe\x01", errs.Invalid, "not YAML: the file is not UTF-8 text"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if c.name != "missing.yml" {
				if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			inv, rep, err := Load(p, opts(t, nil))
			if err == nil {
				t.Fatalf("no error; report %+v", rep)
			}
			if inv != nil || rep != nil {
				t.Error("an error with an inventory or a report")
			}
			if errs.KindOf(err) != c.kind {
				t.Errorf("kind %v, want %v (%v)", errs.KindOf(err), c.kind, err)
			}
			if c.name != "tabs.yml" && !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q lacks %q", err, c.msg)
			}
		})
	}
}

func TestRefResolve(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.dsn"), []byte("postgres-admin-dsn\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SET": "redis-admin-url"}
	getenv := func(k string) string { return env[k] }
	resolve := func(s string) (string, error) {
		r, err := ParseRef(s)
		if err != nil {
			return "", err
		}
		r.Dir = dir
		v, err := r.Resolve(getenv)
		return string(v.Reveal()), err
	}
	if v, err := resolve("env:SET"); err != nil || v != "redis-admin-url" {
		t.Errorf("env:SET = %q, %v", v, err)
	}
	if v, err := resolve("file:admin.dsn"); err != nil || v != "postgres-admin-dsn" {
		t.Errorf("file:admin.dsn = %q, %v", v, err)
	}
	if _, err := resolve("env:UNSET"); errs.KindOf(err) != errs.NotFound || !strings.Contains(err.Error(), "env:UNSET") {
		t.Errorf("env:UNSET: %v", err)
	}
	if _, err := resolve("file:missing.dsn"); errs.KindOf(err) != errs.NotFound || !strings.Contains(err.Error(), "file:missing.dsn") {
		t.Errorf("file:missing.dsn: %v", err)
	}
	for _, bad := range []string{"postgres://admin@db/postgres", "env:", "env:A-B", "file:", "vault:kv/x", "secret"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		} else if bad != "env:" && bad != "file:" && strings.Contains(err.Error(), bad) {
			t.Errorf("ParseRef(%q) quotes the value: %v", bad, err)
		}
	}
	if !errors.Is(func() error { _, err := ParseRef("plain"); return err }(), errNotRef) {
		t.Error("a plain value is not errNotRef")
	}
}

func TestWindow(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		window string
		at     string
		open   bool
		next   string // start of the window open at or next after at
	}{
		{"Sat 02:00-04:00 UTC", "2024-06-01T02:30:00Z", true, "2024-06-01T02:00:00Z"}, // a Saturday
		{"Sat 02:00-04:00 UTC", "2024-06-01T04:00:00Z", false, "2024-06-08T02:00:00Z"},
		{"Sat 02:00-04:00 UTC", "2024-05-31T23:00:00Z", false, "2024-06-01T02:00:00Z"},
		{"sat 02:00-04:00 UTC", "2024-06-01T01:59:59Z", false, "2024-06-01T02:00:00Z"},
		// Berlin is UTC+2 in June: 22:00-06:00 local is 20:00-04:00 UTC.
		{"Mon-Fri 22:00-06:00 Europe/Berlin", "2024-06-03T21:00:00Z", true, "2024-06-03T20:00:00Z"}, // Monday night
		{"Mon-Fri 22:00-06:00 Europe/Berlin", "2024-06-08T03:00:00Z", true, "2024-06-07T20:00:00Z"}, // Saturday 05:00, Friday's window
		{"Mon-Fri 22:00-06:00 Europe/Berlin", "2024-06-08T12:00:00Z", false, "2024-06-10T20:00:00Z"},
		{"Mon-Fri 22:00-06:00 Europe/Berlin", "2024-06-03T03:00:00Z", false, "2024-06-03T20:00:00Z"}, // Monday 05:00: Sunday opens none
		{"Fri-Mon 23:00-24:00 UTC", "2024-06-02T23:30:00Z", true, "2024-06-02T23:00:00Z"},            // Sunday, in a wrapping range
		{"Fri-Mon 23:00-24:00 UTC", "2024-06-04T23:30:00Z", false, "2024-06-07T23:00:00Z"},
		{"Mon,Wed 09:00-10:00 UTC", "2024-06-04T09:30:00Z", false, "2024-06-05T09:00:00Z"},
		{"daily 00:00-01:00 America/New_York", "2024-06-04T04:30:00Z", true, "2024-06-04T04:00:00Z"},
		{"Sunday 02:00-04:00 Europe/Berlin", "2024-03-31T01:30:00Z", true, "2024-03-31T01:00:00Z"}, // DST starts: 02:00 is 03:00 CEST
	}
	for _, c := range cases {
		w, err := ParseWindow(c.window)
		if err != nil {
			t.Fatalf("%s: %v", c.window, err)
		}
		if got := w.Contains(at(c.at)); got != c.open {
			t.Errorf("%s at %s: open %v, want %v", c.window, c.at, got, c.open)
		}
		if start, _ := w.Next(at(c.at)); !start.Equal(at(c.next)) {
			t.Errorf("%s at %s: next %s, want %s", c.window, c.at, start.UTC().Format(time.RFC3339), c.next)
		}
	}
	if w, _ := ParseWindow("Mon-Fri 22:00-06:00 Europe/Berlin"); w.Duration() != 8*time.Hour {
		t.Errorf("duration %v", w.Duration())
	}
	for _, bad := range []string{"", "Sat", "Sat 02:00-04:00", "Sat 2-4 UTC", "Sat 02:00-24:01 UTC", "Sat 24:00-02:00 UTC",
		"Sat 02:60-04:00 UTC", "Xyz 02:00-04:00 UTC", "Mon- 02:00-04:00 UTC", "Sat 02:00-04:00 Nowhere/City", "Sat 02:00-04:00 UTC extra"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted", bad)
		}
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"720h": 720 * time.Hour, "90m": 90 * time.Minute, "30d": 720 * time.Hour, "2w": 336 * time.Hour, "1h30m": 90 * time.Minute} {
		if got, err := ParseTTL(in); err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"30", "0h", "-1h", "d", "1.5d", "30days", "1h30d", "99999999d"} {
		if _, err := ParseTTL(bad); err == nil {
			t.Errorf("ParseTTL(%q) accepted", bad)
		}
	}
}

func TestIdentityLookup(t *testing.T) {
	data := `version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:A }
  - { name: cache, type: redis, admin: env:B }
identities:
  - { name: app, system: shop-db }
  - { name: app, system: cache }
  - { name: solo, system: cache }
consumers:
  - { name: api, identity: shop-db/app }
  - { name: warmer, identity: cache/app }
  - { name: worker, identity: solo }
x-notes: extension keys are ignored
`
	o := opts(t, nil)
	o.SkipLocal = true
	inv, rep, err := Parse("inv.yml", []byte(data), o)
	if err != nil || !rep.OK() {
		t.Fatalf("%v %v", err, errorStrings(rep))
	}
	if inv.IdentityByName("app") != nil {
		t.Error("an ambiguous bare name resolved")
	}
	pg := inv.IdentityByName("shop-db/app")
	if pg == nil || pg.System != "shop-db" {
		t.Fatalf("shop-db/app: %+v", pg)
	}
	if cs := inv.ConsumersOf(pg); len(cs) != 1 || cs[0].Name != "api" {
		t.Errorf("consumers of shop-db/app: %+v", cs)
	}
	if cs := inv.ConsumersOf(inv.IdentityByName("solo")); len(cs) != 1 || cs[0].Name != "worker" {
		t.Errorf("consumers of solo: %+v", cs)
	}
	if inv.IdentityByName("nope/app") != nil || inv.ConsumersOf(nil) != nil {
		t.Error("lookups of nothing found something")
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	data := `version: 1
x-pg: &pg { type: postgres, admin: env:PG_ADMIN }
systems:
  - { <<: *pg, name: a }
  - <<: *pg
    name: b
    admin: env:B_ADMIN
`
	o := opts(t, nil)
	o.SkipLocal = true
	inv, rep, err := Parse("inv.yml", []byte(data), o)
	if err != nil || !rep.OK() {
		t.Fatalf("%v %v", err, errorStrings(rep))
	}
	if a, b := inv.SystemByName("a"), inv.SystemByName("b"); a.Type != "postgres" || a.Admin.Name != "PG_ADMIN" || b.Admin.Name != "B_ADMIN" {
		t.Errorf("a %+v b %+v", a, b)
	}
}

// Merges of merges must not make the work exponential.
func TestMergeBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nx-m0: &m0 {type: postgres}\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "x-m%d: &m%d {<<: [*m%d, *m%d, *m%d]}\n", i, i, i-1, i-1, i-1)
	}
	b.WriteString("systems:\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "  - {<<: *m30, name: s%d, admin: env:X}\n", i)
	}
	start := time.Now()
	inv, rep, err := Parse("bomb.yml", []byte(b.String()), Options{SkipLocal: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	if !rep.OK() {
		t.Errorf("errors: %v", errorStrings(rep)[:1])
	}
	if inv.Systems[199].Type != "postgres" {
		t.Errorf("merged type lost: %+v", inv.Systems[199])
	}
}

func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("version: 1\nsystems: &a [*a]\n"))
	f.Add([]byte("version: 1\nx: &m {<<: *m}\n"))
	o := opts(f, nil)
	o.SkipLocal = true
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, rep, err := Parse("fuzz.yml", data, o)
		if err != nil {
			if inv != nil || rep != nil {
				t.Fatal("an error with a result")
			}
			return
		}
		for _, p := range append(rep.Errors, rep.Warnings...) {
			if p.Pos.Line < 1 || p.Pos.Column < 1 || p.Msg == "" {
				t.Fatalf("problem without a position or message: %+v", p)
			}
		}
		if !rep.OK() {
			return
		}
		// A clean inventory is consistent: every reference resolves.
		for _, id := range inv.Identities {
			if inv.SystemByName(id.System) == nil {
				t.Fatalf("identity %q: system %q not found", id.Name, id.System)
			}
		}
		for i := range inv.Consumers {
			if inv.IdentityOf(&inv.Consumers[i]) == nil {
				t.Fatalf("consumer %q: identity %q not found", inv.Consumers[i].Name, inv.Consumers[i].Identity)
			}
		}
		for _, s := range inv.Systems {
			if s.Admin.IsZero() {
				t.Fatalf("system %q without admin", s.Name)
			}
		}
	})
}

func TestVaultSystemAndKVDelivery(t *testing.T) {
	src := []byte(`version: 1
systems:
  - { name: vault, type: vault, admin: env:VAULT_ADMIN, endpoint: "https://vault.example.com:8200" }
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: orders_svc, system: shop-db }
consumers:
  - name: orders-api
    identity: orders_svc
    deliver: { type: vault-kv, mount: secret, path: apps/orders/db, key: password, user_key: username }
`)
	inv, rep, err := Parse("inv.yml", src, opts(t, map[string]string{"VAULT_ADMIN": "t", "SHOP_DB_ADMIN_DSN": "postgres://a@h/d"}))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("errors: %v", errorStrings(rep))
	}
	if s := inv.Systems[0]; s.Type != TypeVault || s.Endpoint != "https://vault.example.com:8200" || s.Admin.String() != "env:VAULT_ADMIN" {
		t.Errorf("vault system: %+v", s)
	}
	want := Delivery{Type: DeliverVaultKV, System: "vault", Mount: "secret", Path: "apps/orders/db", Key: "password", UserKey: "username"}
	got := *inv.Consumers[0].Deliver
	got.Pos = Pos{}
	if got != want {
		t.Errorf("delivery = %+v, want %+v", got, want)
	}
}

func TestAWSIAMSystem(t *testing.T) {
	src := []byte(`version: 1
systems:
  - { name: chain, type: aws-iam }
  - { name: local, type: aws-iam, admin: env:AWS_LOCAL, endpoint: "http://127.0.0.1:4566", region: eu-central-1 }
  - { name: shapeless, type: aws-iam, admin: env:AWS_BAD }
identities:
  - { name: deployer, system: chain }
`)
	env := map[string]string{
		"AWS_LOCAL": `{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"s"}`,
		"AWS_BAD":   "AKIAIOSFODNN7EXAMPLE:secret",
	}
	inv, rep := parseOK(t, src, env)
	chain, local := inv.Systems[0], inv.Systems[1]
	if !chain.Admin.IsZero() || chain.Endpoint != "" || chain.Region != "" {
		t.Errorf("system without admin, endpoint and region: %+v", chain)
	}
	if local.Admin.String() != "env:AWS_LOCAL" || local.Endpoint != "http://127.0.0.1:4566" || local.Region != "eu-central-1" {
		t.Errorf("system local: %+v", local)
	}
	got := warningStrings(rep)
	want := []string{`inv.yml:5:46: system "shapeless": admin env:AWS_BAD does not hold {"AccessKeyId","SecretAccessKey","SessionToken"?} JSON (the credential_process shape)`}
	if !slices.Equal(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
	if strings.Contains(strings.Join(got, ""), "secret") {
		t.Errorf("a warning quotes the reference's value")
	}
}

func TestGitHubSystem(t *testing.T) {
	src := []byte(`version: 1
systems:
  - { name: gh, type: github, admin: env:GH_APP, org: acme }
  - { name: ghe, type: github, admin: env:GHE_TOKEN, endpoint: "https://ghe.example.com" }
  - { name: odd, type: github, admin: env:GH_ODD }
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: orders_svc, system: shop-db }
consumers:
  - name: ci
    identity: orders_svc
    deliver: { type: github-actions-secret, repo: acme/api, name: DB_PASSWORD, system: gh }
  - name: org-wide
    identity: orders_svc
    deliver: { type: github-actions-secret, org: acme, name: DB_PASSWORD, visibility: selected, system: ghe }
`)
	env := map[string]string{
		"GH_APP":            `{"app_id": 1, "installation_id": 2, "private_key": "-----BEGIN RSA PRIVATE KEY-----"}`,
		"GHE_TOKEN":         "ghp_000000000000000000000000000000000000",
		"GH_ODD":            "two words",
		"SHOP_DB_ADMIN_DSN": "postgres://admin@db/postgres",
	}
	inv, rep := parseOK(t, src, env)
	if gh := inv.Systems[0]; gh.Org != "acme" || gh.Endpoint != "" {
		t.Errorf("system gh: %+v", gh)
	}
	if ghe := inv.Systems[1]; ghe.Endpoint != "https://ghe.example.com" {
		t.Errorf("system ghe: %+v", ghe)
	}
	ci, org := inv.Consumers[0].Deliver, inv.Consumers[1].Deliver
	if ci.Type != DeliverGitHubActionsSecret || ci.Repo != "acme/api" || ci.Name != "DB_PASSWORD" || ci.System != "gh" {
		t.Errorf("deliver of ci: %+v", ci)
	}
	if org.Org != "acme" || org.Visibility != "selected" || org.System != "ghe" {
		t.Errorf("deliver of org-wide: %+v", org)
	}
	got := warningStrings(rep)
	want := []string{`inv.yml:5:39: system "odd": admin env:GH_ODD holds neither a token nor a GitHub App's {app_id, installation_id, private_key}`}
	if !slices.Equal(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
}

func TestLiveSources(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "inventory.yml")
	if err := os.WriteFile(p, []byte(`version: 1
sources:
  - { type: slack-api, token: env:SLACK_TOKEN }
  - { type: jira-api, url: "https://acme.atlassian.net", token: env:JIRA_TOKEN, jql: "project = OPS" }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, rep, err := Load(p, opts(t, map[string]string{"SLACK_TOKEN": "set"}))
	if err != nil || !rep.OK() {
		t.Fatalf("%v %v", err, errorStrings(rep))
	}
	want := []Source{
		{Type: "slack-api", Token: Ref{Scheme: "env", Name: "SLACK_TOKEN", Dir: dir, Pos: Pos{p, 3, 31}}, Pos: Pos{p, 3, 5}},
		{Type: "jira-api", URL: "https://acme.atlassian.net", JQL: "project = OPS", Token: Ref{Scheme: "env", Name: "JIRA_TOKEN", Dir: dir, Pos: Pos{p, 4, 65}}, Pos: Pos{p, 4, 5}},
	}
	if diff := cmp.Diff(want, inv.Sources); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	if len(rep.Warnings) != 1 || rep.Warnings[0].String() != p+":4:65: sources: jira-api token env:JIRA_TOKEN: variable is unset or empty here" {
		t.Errorf("warnings %v", rep.Warnings)
	}
}

func TestGitLabSystemAndCIVariable(t *testing.T) {
	src := []byte(`version: 1
systems:
  - { name: gl, type: gitlab, admin: env:GL_ADMIN, endpoint: "https://gitlab.example.com" }
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: orders_svc, system: shop-db }
consumers:
  - name: ci
    identity: orders_svc
    deliver: { type: gitlab-ci-variable, project: acme/platform/api, key: DB_PASSWORD, protected: true, masked: true }
  - name: by-id
    identity: orders_svc
    deliver: { type: gitlab-ci-variable, project: 42, key: DB_PASSWORD, system: gl }
`)
	env := map[string]string{"GL_ADMIN": "glpat-000000000000000000000", "SHOP_DB_ADMIN_DSN": "postgres://admin@db/postgres"}
	inv, _ := parseOK(t, src, env)
	if gl := inv.Systems[0]; gl.Type != TypeGitLab || gl.Endpoint != "https://gitlab.example.com" {
		t.Errorf("system gl: %+v", gl)
	}
	ci, byID := inv.Consumers[0].Deliver, inv.Consumers[1].Deliver
	if ci.Type != DeliverGitLabCIVariable || ci.Project != "acme/platform/api" || ci.Key != "DB_PASSWORD" || !ci.Protected || !ci.Masked || ci.System != "gl" {
		t.Errorf("deliver of ci: %+v", ci)
	}
	if byID.Project != "42" || byID.Protected || byID.Masked || byID.System != "gl" {
		t.Errorf("deliver of by-id: %+v", byID)
	}
}

// Notify targets are references, resolved where the server runs: one
// that does not resolve here is a warning, as an admin reference is.
func TestNotifyTargets(t *testing.T) {
	inv, rep := parseOK(t, []byte(`version: 1
notify:
  - { type: slack, url: env:SLACK_WEBHOOK_URL }
  - { type: webhook, url: file:hook.url }
`), map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.example/T/B/x"})
	want := []NotifyTarget{
		{Type: NotifySlack, URL: Ref{Scheme: RefEnv, Name: "SLACK_WEBHOOK_URL", Pos: Pos{"inv.yml", 3, 25}}, Pos: Pos{"inv.yml", 3, 5}},
		{Type: NotifyWebhook, URL: Ref{Scheme: RefFile, Name: "hook.url", Pos: Pos{"inv.yml", 4, 27}}, Pos: Pos{"inv.yml", 4, 5}},
	}
	if diff := cmp.Diff(want, inv.Notify, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Dir" }, cmp.Ignore())); diff != "" {
		t.Errorf("notify (-want +got):\n%s", diff)
	}
	if w := warningStrings(rep); len(w) != 1 || !strings.Contains(w[0], "notify: webhook url file:hook.url: no such file here") {
		t.Errorf("warnings: %q", w)
	}
}

// TestRevokePrefix: a vault identity may name a lease prefix to end; any
// other identity may not, and a token or malformed path is refused.
func TestRevokePrefix(t *testing.T) {
	src := func(system, prefix string) []byte {
		return []byte("version: 1\nsystems:\n  - { name: vault, type: vault, admin: env:VAULT, endpoint: \"https://vault.example.com:8200\" }\n" +
			"  - { name: shop-db, type: postgres, admin: env:DB }\nidentities:\n  - { name: orders, system: " + system + ", revoke_prefix: \"" + prefix + "\" }\n")
	}
	inv, _ := parseOK(t, src("vault", "database/creds/orders"), nil)
	if got := inv.IdentityByName("vault/orders").RevokePrefix; got != "database/creds/orders" {
		t.Errorf("revoke_prefix %q", got)
	}
	for _, tt := range []struct{ system, prefix, want string }{
		{"shop-db", "database/creds/orders", "is of type postgres; revoke_prefix names leases of a system of type vault"},
		{"vault", "auth/token/create", "is not a secrets engine's lease path"},
		{"vault", "database//orders", "want segments separated by single '/'"},
	} {
		_, rep, err := Parse("inv.yml", src(tt.system, tt.prefix), opts(t, nil))
		if err != nil {
			t.Fatal(err)
		}
		if es := strings.Join(errorStrings(rep), "\n"); !strings.Contains(es, tt.want) {
			t.Errorf("%s %q: errors %q, want one with %q", tt.system, tt.prefix, es, tt.want)
		}
	}
}
