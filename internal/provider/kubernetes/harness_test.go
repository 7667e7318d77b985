package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/kubernetes/k8stest"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
)

const (
	testSystem = "test-k8s"
	testNS     = "default"
)

// adminRules is what rekey's administrator needs (docs/providers/kubernetes.md).
var adminRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"secrets", "serviceaccounts"}, Verbs: []string{"get", "list", "create", "delete"}},
	{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "clusterroles", "rolebindings", "clusterrolebindings"}, Verbs: []string{"get", "list", "create", "delete"}},
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "delete"}},
}

// harness backs the suite with k8stest: fixtures go through the API as the
// root user, or as the fixture's own token, never through the provider.
type harness struct {
	s     *k8stest.Server
	root  kubernetes.Interface
	admin string // the administrator's token
}

var (
	_ providertest.GeneratedHarness     = harness{}
	_ providertest.GeneratedUnsupported = harness{}
)

func newHarness(t *testing.T) harness {
	s := k8stest.New()
	t.Cleanup(s.Close)
	h := harness{s: s}
	h.root = h.client(s.RootToken())
	h.admin = h.adminUser(t, "rekey-admin", adminRules)
	return h
}

func TestGeneratedSuite(t *testing.T) {
	providertest.RunGenerated(t, newHarness(t))
}

func (h harness) client(token string) kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(&rest.Config{Host: h.s.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: h.s.CAData()},
		ContentConfig: rest.ContentConfig{ContentType: "application/json"}, QPS: 1000, Burst: 1000})
}

// adminUser makes a user bound cluster-wide to a ClusterRole of rules and
// returns its token.
func (h harness) adminUser(t *testing.T, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx := context.Background()
	if _, err := h.root.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: name}}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}
	if _, err := h.root.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return h.s.AddUser(name)
}

// kubeconfig is a kubeconfig for server and token, as kubectl writes one.
func (h harness) kubeconfig(server, token string) secret.Secret {
	return secret.FromString(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: test
  context:
    cluster: test
    user: admin
    namespace: %s
current-context: test
`, server, base64.StdEncoding.EncodeToString(h.s.CAData()), token, testNS))
}

func (harness) System() string { return testSystem }

func (harness) Factory() provider.Factory { return New }

func (h harness) Admin(*testing.T) provider.Config {
	return provider.Config{System: testSystem, Admin: h.kubeconfig(h.s.URL, h.admin)}
}

func (h harness) Unreachable(t *testing.T) providertest.BadAdmin {
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: h.kubeconfig("https://"+providertest.ClosedAddress(t), h.admin)}, Password: h.admin}
}

func (h harness) WrongAdmin(*testing.T) providertest.BadAdmin {
	wrong := randomName() + randomName()
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: h.kubeconfig(h.s.URL, wrong)}, Password: wrong}
}

// LimitedAdmin may do everything rekey does but delete Secrets.
func (h harness) LimitedAdmin(t *testing.T) (providertest.BadAdmin, string) {
	rules := slices.Clone(adminRules)
	rules[0] = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets", "serviceaccounts"}, Verbs: []string{"get", "list", "create"}}
	tok := h.adminUser(t, "limited-"+randomName(), rules)
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: h.kubeconfig(h.s.URL, tok)}, Password: tok}, "delete on secrets"
}

func (h harness) role(t *testing.T, name, sa string, rules []rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.root.RbacV1().Roles(testNS).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: testNS}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}
	if _, err := h.root.RbacV1().RoleBindings(testNS).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = h.root.RbacV1().RoleBindings(testNS).Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = h.root.RbacV1().Roles(testNS).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// CreateIdentity makes a service account with a token Secret and a Role
// reading ConfigMaps (what CanUse does); a risky one also gets a Role
// creating Secrets, which mints tokens.
func (h harness) CreateIdentity(t *testing.T, name string, risky bool) (string, string) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.root.CoreV1().ServiceAccounts(testNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, k := range h.Keys(t, name) {
			_ = h.root.CoreV1().Secrets(testNS).Delete(context.Background(), k, metav1.DeleteOptions{})
		}
		_ = h.root.CoreV1().ServiceAccounts(testNS).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	h.role(t, "app-"+name, name, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}})
	if risky {
		h.role(t, "mint-"+name, name, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "get"}}})
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: name}},
		Type: corev1.SecretTypeServiceAccountToken}
	got, err := h.root.CoreV1().Secrets(testNS).Create(ctx, sec, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got.Name, string(got.Data["token"])
}

// accountToken creates service account sa in ns and its token Secret
// name, which the server fills.
func (h harness) accountToken(t *testing.T, ns, sa, name string) *corev1.Secret {
	t.Helper()
	ctx := context.Background()
	if _, err := h.root.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sec, err := h.root.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{corev1.ServiceAccountNameKey: sa}},
		Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// CanUse reads a ConfigMap as the token: a missing one is fine, a refusal
// is not.
func (h harness) CanUse(_ *testing.T, _, _, sec string) error {
	_, err := h.client(sec).CoreV1().ConfigMaps(testNS).Get(context.Background(), "app-config", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Keys lists the token Secrets of name.
func (h harness) Keys(t *testing.T, name string) []string {
	l, err := h.root.CoreV1().Secrets(testNS).List(context.Background(), metav1.ListOptions{FieldSelector: "type=" + k8stest.TokenSecretType})
	if err != nil {
		t.Fatalf("list secrets: %v", err)
	}
	var out []string
	for _, s := range l.Items {
		if s.Annotations[corev1.ServiceAccountNameKey] == name {
			out = append(out, s.Name)
		}
	}
	return out
}

func (h harness) Exists(t *testing.T, name string) bool {
	_, err := h.root.CoreV1().ServiceAccounts(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("get service account: %v", err)
	}
	return err == nil
}

// Risky: a RoleBinding names the account and a mint- Role.
func (h harness) Risky(t *testing.T, name string) bool {
	l, err := h.root.RbacV1().RoleBindings(testNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list rolebindings: %v", err)
	}
	for _, b := range l.Items {
		if strings.HasPrefix(b.RoleRef.Name, "mint-") && slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool { return s.Kind == "ServiceAccount" && s.Name == name }) {
			return true
		}
	}
	return false
}

func (h harness) Signed(_ *testing.T, keyID string) int { return h.s.Signed(keyID) }

// Unsupported: a token Secret can be deleted, not suspended; rekey does
// not edit a live account's roles (they are shared); a legacy token opens
// no sessions of its own; the administrator proves a token by reading its
// Secret; an account holds any number of token Secrets.
func (harness) Unsupported() []string {
	return []string{providertest.FeatureDeactivate, providertest.FeatureIsolate, providertest.FeatureSessions,
		providertest.FeatureUseLeaked, providertest.FeatureKeyLimit}
}

// SecretInput: a leaked token is the token alone.
func (harness) SecretInput(_, sec string) string { return sec }

func randomName() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "rk" + hex.EncodeToString(b)
}
