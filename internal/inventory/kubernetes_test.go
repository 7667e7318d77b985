package inventory

import (
	"slices"
	"strings"
	"testing"
)

// parseK8s parses src with the kubernetes system type known, and a
// postgres system's admin variable set.
func parseK8s(t *testing.T, src string) (*Inventory, *Report) {
	t.Helper()
	o := opts(t, map[string]string{"SHOP_DB_ADMIN_DSN": "postgres://admin@db/postgres"})
	o.KnownSystemTypes = append(slices.Clone(o.KnownSystemTypes), TypeKubernetes)
	inv, rep, err := Parse("inv.yml", []byte(src), o)
	if err != nil {
		t.Fatal(err)
	}
	return inv, rep
}

const k8sHead = `version: 1
systems:
  - { name: prod, type: kubernetes, admin: file:prod.kubeconfig, endpoint: "https://10.0.0.1:6443" }
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: orders_svc, system: shop-db }
consumers:
`

func TestKubernetesSecretDelivery(t *testing.T) {
	inv, rep := parseK8s(t, k8sHead+`  - name: web
    identity: orders_svc
    deliver: { type: kubernetes-secret, namespace: shop, name: orders-db, key: password, user_key: username, restart: deployment/orders-web }
`)
	if !rep.OK() {
		t.Fatalf("errors: %v", errorStrings(rep))
	}
	if s := inv.Systems[0]; s.Type != TypeKubernetes || s.Endpoint != "https://10.0.0.1:6443" {
		t.Errorf("system prod: %+v", s)
	}
	d := inv.Consumers[0].Deliver
	if d.Type != DeliverKubernetesSecret || d.Namespace != "shop" || d.Name != "orders-db" || d.Key != "password" || d.UserKey != "username" || d.Restart != "deployment/orders-web" || d.System != "prod" {
		t.Errorf("deliver: %+v", d)
	}
}

func TestKubernetesSecretDeliveryErrors(t *testing.T) {
	_, rep := parseK8s(t, k8sHead+`  - name: web
    identity: orders_svc
    deliver: { type: kubernetes-secret, name: Orders_DB, key: "pass word", restart: statefulset/db }
  - name: twice
    identity: orders_svc
    deliver: { type: kubernetes-secret, name: db, key: k, user_key: k, system: shop-db }
`)
	got := errorStrings(rep)
	for _, want := range []string{
		`name "Orders_DB": want a lower-case DNS name`,
		`key "pass word": a Secret key is letters`,
		`restart "statefulset/db": want deployment/NAME`,
		`user_key is the same as key`,
		`system "shop-db" is not a kubernetes system`,
	} {
		if !slices.ContainsFunc(got, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("no error saying %q in %q", want, got)
		}
	}
}
