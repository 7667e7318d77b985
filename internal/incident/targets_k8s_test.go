package incident

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/kubeapi"
	"github.com/rekeyhq/rekey/internal/provider/kubernetes/k8stest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// TestTargetDeliversToKubernetesSecret: a consumer that reads its secret
// from a Kubernetes Secret gets it there, written with its kubernetes
// system's kubeconfig, and its Deployment is restarted.
func TestTargetDeliversToKubernetesSecret(t *testing.T) {
	k := k8stest.New()
	t.Cleanup(k.Close)
	kubeconfig := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n"+
		"users:\n- name: u\n  user:\n    token: %s\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: shop}\ncurrent-context: x\n",
		k.URL, base64.StdEncoding.EncodeToString(k.CAData()), k.RootToken())
	src := []byte("version: 1\nsystems:\n  - { name: prod, type: kubernetes, admin: env:KUBECONFIG_DATA }\n" +
		"  - { name: shop-db, type: postgres, admin: env:DSN }\nidentities:\n  - { name: orders_svc, system: shop-db }\n" +
		"consumers:\n  - name: orders-api\n    identity: orders_svc\n    deliver: { type: kubernetes-secret, name: orders-db, key: password, restart: deployment/web }\n")
	getenv := func(k string) string {
		return map[string]string{"KUBECONFIG_DATA": kubeconfig, "DSN": "postgres://a@h/d"}[k]
	}
	inv, rep, err := inventory.Parse("inv.yml", src, inventory.Options{Getenv: getenv})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	ctx := context.Background()
	c, err := kubeapi.New([]byte(kubeconfig), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tg, err := Systems{Inventory: inv, Getenv: getenv}.Target(inv.ConsumerByName("orders-api"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDelivery(ctx, tg); err != nil {
		t.Errorf("preflight of a Secret not written yet: %v", err)
	}
	v := deliver.Value{Secret: secret.FromString("n3w-Orders-Pa55")}
	if err := tg.Write(ctx, v); err != nil {
		t.Fatal(err)
	}
	if ok, err := deliver.Delivered(ctx, tg, v); err != nil || !ok {
		t.Errorf("Delivered = %v, %v after the write", ok, err)
	}
	if d, _ := c.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{}); d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Errorf("the Deployment was not restarted: %+v", d.Spec.Template.Annotations)
	}
}
