package kubernetes

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
)

func TestGrade(t *testing.T) {
	rule := func(verbs, resources []string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{{APIGroups: []string{""}, Verbs: verbs, Resources: resources}}
	}
	for _, c := range []struct {
		name    string
		rules   []rbacv1.PolicyRule
		risk    provider.Risk
		creates bool
	}{
		{"everything", rule([]string{"*"}, []string{"*"}), provider.RiskCritical, true},
		{"impersonate", rule([]string{"impersonate"}, []string{"users"}), provider.RiskCritical, true},
		{"read secrets", rule([]string{"get", "list"}, []string{"secrets"}), provider.RiskHigh, false},
		{"mint tokens", rule([]string{"create"}, []string{"serviceaccounts/token"}), provider.RiskHigh, true},
		{"exec", rule([]string{"create"}, []string{"pods/exec"}), provider.RiskHigh, false},
		{"all verbs on secrets", rule([]string{"*"}, []string{"secrets"}), provider.RiskHigh, true},
		{"deploy", rule([]string{"patch"}, []string{"deployments"}), provider.RiskMedium, false},
		{"read configmaps", rule([]string{"get"}, []string{"configmaps"}), provider.RiskLow, false},
	} {
		if got := grade(c.rules); got.Risk != c.risk || got.CreatesCredentials != c.creates {
			t.Errorf("%s: graded %s (creates credentials %v), want %s (%v)", c.name, got.Risk, got.CreatesCredentials, c.risk, c.creates)
		}
	}
}

// Inspect sees a ClusterRoleBinding to cluster-admin through the group of
// every service account of the namespace, as critical and Via that group.
func TestInspectGroupBinding(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	name := randomName()
	key, _ := h.CreateIdentity(t, name, false)
	if _, err := h.root.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	group := "system:serviceaccounts:" + testNS
	if _, err := h.root.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ns-admins"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: group}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := New(ctx, h.Admin(t))
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.Inspect(ctx, provider.IdentityRef{System: testSystem, Name: name, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "ClusterRole/cluster-admin", Risk: provider.RiskCritical, Via: group, CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "Role/app-" + name, Risk: provider.RiskLow})
}

// Generate waits for the token controller: a token Secret filled only on
// its third read still comes back with its token.
func TestGenerateWaitsForTokenController(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	name := randomName()
	key, _ := h.CreateIdentity(t, name, false)
	p, err := New(ctx, h.Admin(t))
	if err != nil {
		t.Fatal(err)
	}
	h.s.TokenDelay(3)
	c, err := p.(provider.Generator).Generate(ctx, provider.GenerateRequest{From: provider.IdentityRef{System: testSystem, Name: name, Key: key}, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CanUse(t, name, c.KeyID, string(c.Secret.Reveal())); err != nil {
		t.Errorf("the generated token does not work: %v", err)
	}
}

// Identify finds a token of another namespace, named namespace/account.
func TestIdentifyOtherNamespace(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	sec := h.accountToken(t, "jobs", "batch", "batch-token")
	p, err := New(ctx, h.Admin(t))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := p.Identify(ctx, secret.New(sec.Data["token"]))
	if err != nil || len(ms) != 1 || ms[0].Ref.Name != "jobs/batch" || ms[0].Ref.Key != "batch-token" || ms[0].Unproven {
		t.Errorf("Identify = %+v, %v; want jobs/batch key batch-token, proven", ms, err)
	}
	if ms, err := p.Identify(ctx, secret.FromString("not-a-token")); err != nil || len(ms) != 0 {
		t.Errorf("Identify(a password) = %+v, %v; want no match", ms, err)
	}
}

// Every list follows its pages: with pages of one item (and a continue
// token that expires once, which restarts the list), Identify finds a
// token behind other namespaces' Secrets, Inspect sees every binding and
// Revoke deletes every token Secret of the account.
func TestListsFollowPages(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	name := randomName()
	key, tok := h.CreateIdentity(t, name, false)
	for i := range 3 {
		sa := fmt.Sprintf("other%d", i)
		if _, err := h.root.CoreV1().ServiceAccounts("aa").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.root.CoreV1().Secrets("aa").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: sa + "-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: sa}},
			Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.root.CoreV1().Secrets(testNS).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-extra%d", name, i), Annotations: map[string]string{corev1.ServiceAccountNameKey: name}},
			Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		h.role(t, fmt.Sprintf("zz%d-%s", i, name), name, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}})
	}
	p, err := New(ctx, h.Admin(t))
	if err != nil {
		t.Fatal(err)
	}
	h.s.SetPageCap(1)
	h.s.ExpireContinue()
	ms, err := p.Identify(ctx, secret.FromString(tok))
	if err != nil || len(ms) != 1 || ms[0].Ref.Key != key {
		t.Fatalf("Identify = %+v, %v; want key %s", ms, err, key)
	}
	id, err := p.Inspect(ctx, ms[0].Ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Privileges) != 4 || len(id.Related) != 4 {
		t.Errorf("Inspect saw %d privileges and %d token Secrets, want 4 and 4: %+v", len(id.Privileges), len(id.Related), id)
	}
	if err := p.(provider.Rotator).Revoke(ctx, provider.IdentityRef{System: testSystem, Name: name}); err != nil {
		t.Fatal(err)
	}
	if keys := h.Keys(t, name); len(keys) != 0 {
		t.Errorf("after Revoke the account still holds %v", keys)
	}
}
