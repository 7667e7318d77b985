package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const jitInventory = `version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:A }
  - { name: cache, type: redis, admin: env:B }
identities:
  - { name: orders_svc, system: shop-db }
  - { name: orders_tmpl, system: shop-db }
  - { name: app, system: cache }
consumers:
  - { name: api, identity: orders_svc, jit: { role: orders-rw } }
  - { name: worker, identity: orders_svc, jit: { role: nope } }
  - { name: cron, identity: orders_svc, jit: { role: orders-rw, ttl: 5m } }
  - { name: cacher, identity: app, jit: { role: orders-rw } }
  - { name: plain, identity: orders_svc }
broker:
  issuers:
    - { name: k8s, issuer: "https://k8s.example.com", audience: rekey }
  roles:
    - { name: orders-rw, system: shop-db, like: orders_tmpl, ttl: 15m, subjects: ["system:serviceaccount:orders:*"] }
`

// A consumer's jit: names a broker role of its identity's system.
func TestConsumerJIT(t *testing.T) {
	p := filepath.Join(t.TempDir(), "inventory.yml")
	if err := os.WriteFile(p, []byte(jitInventory), 0o600); err != nil {
		t.Fatal(err)
	}
	o := opts(t, nil)
	o.SkipLocal = true
	inv, rep, err := Load(p, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`11:48: consumer "worker": jit: role "nope" is not a role of the broker: section`,
		`12:65: consumer "cron": jit: unknown key "ttl"`,
		`13:41: consumer "cacher": jit: role "orders-rw" issues logins in system "shop-db", not in "cache"`,
	}
	got := errorStrings(rep)
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
			t.Errorf("no error %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("want %d errors, got:\n%s", len(want), strings.Join(got, "\n"))
	}
	if c := inv.ConsumerByName("api"); c == nil || c.JIT == nil || c.JIT.Role != "orders-rw" {
		t.Fatalf("api: %+v", c)
	}
	if c := inv.ConsumerByName("plain"); c.JIT != nil {
		t.Fatalf("plain: %+v", c.JIT)
	}
}
