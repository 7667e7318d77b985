package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/provider/kubernetes/k8stest"
)

// A leaked bound service-account token is identified through a
// TokenReview, its plan revokes it by the pod it is bound to after a
// second person approves, and once run the API server refuses it.
func TestIncidentBoundKubernetesToken(t *testing.T) {
	ctx := context.Background()
	srv := k8stest.New()
	t.Cleanup(srv.Close)
	root := k8sRoot(srv)
	if _, err := root.CoreV1().ServiceAccounts("shop").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "orders"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := root.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orders-web-1"}, Spec: corev1.PodSpec{ServiceAccountName: "orders"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.CoreV1().ServiceAccounts("shop").CreateToken(ctx, "orders", &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		BoundObjectRef: &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leaked := tr.Status.Token

	dir := t.TempDir()
	inv := k8sInventory(t, srv, dir, "")
	env := map[string]string{"LEAKED": leaked, "REKEY_HOME": filepath.Join(dir, "home")}

	o, r := openJSON(t, env, inv)
	if o.Identity == nil || o.Identity.System != "cluster" || o.Identity.Name != "shop/orders" {
		t.Fatalf("identity %+v; want cluster/shop/orders\n%s", o.Identity, r.stderr)
	}
	pl := run(t, env, "", "incident", "plan", o.ID, "--format", "json")
	if pl.code != 0 {
		t.Fatalf("plan: %d %s", pl.code, pl.stderr)
	}
	var p struct {
		Steps []struct{ ID, Key, Approval, Summary string }
	}
	keytest.Must(t, json.Unmarshal([]byte(pl.stdout), &p))
	key := "pod/" + pod.Name + "/" + string(pod.UID)
	found := false
	for _, st := range p.Steps {
		if strings.HasPrefix(st.ID, "revoke:") {
			found = true
			if st.Key != key || st.Approval != "manual" || !strings.Contains(st.Summary, "delete pod "+pod.Name) {
				t.Errorf("revoke step %+v; want key %s, a person's approval, a summary naming the pod", st, key)
			}
		}
	}
	if !found {
		t.Fatalf("no revoke step in %s", pl.stdout)
	}
	if r := run(t, env, "", "--as", "alice", "incident", "run", o.ID, "--yes"); r.code != 3 {
		t.Fatalf("run: %d, want 3 (waiting for the approval)\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := root.CoreV1().Pods("shop").Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("the pod is gone before anyone approved: %v", err)
	}
	for _, st := range p.Steps {
		if st.Approval != "" {
			if r := run(t, env, "", "--as", "bob", "incident", "approve", o.ID, st.ID); r.code != 0 {
				t.Fatalf("approve %s: %d %s", st.ID, r.code, r.stderr)
			}
		}
	}
	if r := run(t, env, "", "--as", "alice", "incident", "run", o.ID, "--yes"); r.code != 0 {
		t.Fatalf("run after the approval: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := root.CoreV1().Pods("shop").Get(ctx, pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the pod the token is bound to is still there: %v", err)
	}
	rev, err := root.AuthenticationV1().TokenReviews().Create(ctx, &authv1.TokenReview{Spec: authv1.TokenReviewSpec{Token: leaked}}, metav1.CreateOptions{})
	if err != nil || rev.Status.Authenticated {
		t.Errorf("TokenReview after the run: %+v, %v; want unauthenticated", rev.Status, err)
	}
}

func k8sRoot(srv *k8stest.Server) kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL, BearerToken: srv.RootToken(),
		TLSClientConfig: rest.TLSClientConfig{CAData: srv.CAData()}, ContentConfig: rest.ContentConfig{ContentType: "application/json"}})
}

// k8sInventory writes a kubeconfig for srv's root user and an inventory
// with one kubernetes system, cluster, followed by rest.
func k8sInventory(t *testing.T, srv *k8stest.Server, dir, rest string) string {
	t.Helper()
	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	keytest.WriteFile(t, kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, certificate-authority-data: %s}
users:
- name: admin
  user: {token: %s}
contexts:
- name: test
  context: {cluster: test, user: admin, namespace: default}
current-context: test
`, srv.URL, base64.StdEncoding.EncodeToString(srv.CAData()), srv.RootToken())), 0o600)
	inv := filepath.Join(dir, "inventory.yml")
	keytest.WriteFile(t, inv, []byte("version: 1\nsystems:\n  - {name: cluster, type: kubernetes, admin: \"file:"+kubeconfig+"\"}\n"+rest), 0o644)
	return inv
}

// A leaked legacy token Secret with a consumer reading a Kubernetes
// Secret: respond --yes generates a token Secret beside it, delivers it
// and restarts the Deployment, verifies it, then deletes the leaked one;
// the old token is refused and the new one works.
func TestRespondToALeakedKubernetesTokenSecret(t *testing.T) {
	ctx := context.Background()
	srv := k8stest.New()
	t.Cleanup(srv.Close)
	root := k8sRoot(srv)
	if _, err := root.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "orders"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sec, err := root.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "orders-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "orders"}},
		Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	leaked := string(sec.Data["token"])
	if _, err := root.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web-sa-token"},
		Data: map[string][]byte{"token": []byte(leaked)}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	inv := k8sInventory(t, srv, dir, `identities:
  - { name: orders, system: cluster }
consumers:
  - name: web
    identity: orders
    deliver: { type: kubernetes-secret, name: web-sa-token, key: token, restart: deployment/web }
`)
	env := map[string]string{"LEAKED": leaked, "REKEY_HOME": filepath.Join(dir, "home")}
	r := run(t, env, "", "respond", "--secret-env", "LEAKED", "--inventory", inv, "--yes")
	if r.code != 0 {
		t.Fatalf("respond --yes: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := root.CoreV1().Secrets("default").Get(ctx, "orders-token", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the leaked token Secret is still there: %v", err)
	}
	got, err := root.CoreV1().Secrets("default").Get(ctx, "web-sa-token", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fresh := string(got.Data["token"])
	for tok, want := range map[string]bool{leaked: false, fresh: true} {
		rev, err := root.AuthenticationV1().TokenReviews().Create(ctx, &authv1.TokenReview{Spec: authv1.TokenReviewSpec{Token: tok}}, metav1.CreateOptions{})
		if err != nil || rev.Status.Authenticated != want || (want && rev.Status.User.Username != "system:serviceaccount:default:orders") {
			t.Errorf("TokenReview of the %v token: %+v, %v", map[bool]string{false: "leaked", true: "delivered"}[want], rev.Status, err)
		}
	}
	if strings.Contains(r.stdout+r.stderr, leaked) || strings.Contains(r.stdout+r.stderr, fresh) {
		t.Error("a token is printed")
	}
}
