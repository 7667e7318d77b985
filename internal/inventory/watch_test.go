package inventory

import (
	"slices"
	"strings"
	"testing"
)

const watchBase = "version: 1\nsystems:\n  - { name: shop-db, type: postgres, admin: env:DSN }\n"

func TestWatchSection(t *testing.T) {
	inv, _ := parseOK(t, []byte(watchBase+`watch:
  nats:
    - { url: "nats://127.0.0.1:4222", subject: "logs.pg.>", type: postgres-json, durable: rekey }
    - { url: "tls://nats.example.org:4222", subject: logs.trail, type: cloudtrail, durable: rekey-trail }
  trigger: [use-after-revocation, new-source]
  auto_contain: [canary-use]
`), nil)
	w := inv.Watch
	if w == nil || len(w.NATS) != 2 || w.NATS[0].Subject != "logs.pg.>" || w.NATS[1].Type != "cloudtrail" || w.NATS[1].Durable != "rekey-trail" {
		t.Fatalf("watch: %+v", w)
	}
	for kind, want := range map[string][2]bool{
		"new-source": {true, false}, "canary-use": {true, true}, "use-after-revocation": {true, false}, "off-hours": {false, false},
	} {
		if got := [2]bool{w.Triggers(kind), w.Contains(kind)}; got != want {
			t.Errorf("%s: triggers, contains = %v, want %v", kind, got, want)
		}
	}
	var none *Watch
	if none.Triggers("canary-use") || none.Contains("canary-use") {
		t.Error("an inventory without watch: triggers something")
	}
}

func TestWatchSectionErrors(t *testing.T) {
	src := watchBase + `watch:
  nats:
    - { url: "http://127.0.0.1:4222", subject: "logs..pg", type: postgres-jsn, durable: "re.key" }
    - { url: "nats://u:p@127.0.0.1:4222", subject: a, type: jsonl, durable: d }
    - { subject: b, type: cloudtrail, colour: red }
  trigger: [canary-use, new-sorce, canary-use]
  auto_contain: [rotate]
  interval: 5s
`
	_, rep, err := Parse("inv.yml", []byte(src), opts(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`6:14: watch: nats[0]: url: "http://127.0.0.1:4222" is not a NATS URL`,
		`6:48: watch: nats[0]: subject: "logs..pg" is not a NATS subject`,
		`6:66: watch: nats[0]: type "postgres-jsn" is unknown`,
		`6:89: watch: nats[0]: durable: "re.key": use letters`,
		`7:14: watch: nats[1]: url: the URL carries credentials`,
		`7:61: watch: nats[1]: type: jsonl needs a field mapping`,
		`8:7: watch: nats[2]: missing url`,
		`8:7: watch: nats[2]: missing durable`,
		`8:39: watch: nats[2]: unknown key "colour"`,
		`9:25: watch: trigger: finding kind "new-sorce" is unknown`,
		`9:36: watch: trigger: "canary-use" listed twice`,
		`10:18: watch: auto_contain: finding kind "rotate" is unknown`,
		`11:3: watch: unknown key "interval"`,
	}
	got := errorStrings(rep)
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, "inv.yml:"+w) }) {
			t.Errorf("no error %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("want %d errors, got %d:\n%s", len(want), len(got), strings.Join(got, "\n"))
	}
}
