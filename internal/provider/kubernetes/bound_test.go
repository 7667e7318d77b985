package kubernetes

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// boundToken asks the API server (as root) for a token of service
// account sa, bound to ref when it is set.
func (h harness) boundToken(t *testing.T, sa string, ref *authv1.BoundObjectReference, aud ...string) string {
	t.Helper()
	tr, err := h.root.CoreV1().ServiceAccounts(testNS).CreateToken(context.Background(), sa,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{Audiences: aud, BoundObjectRef: ref}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// reviewed is what a TokenReview (as root) says of tok.
func (h harness) reviewed(t *testing.T, tok string, aud ...string) authv1.TokenReviewStatus {
	t.Helper()
	tr, err := h.root.AuthenticationV1().TokenReviews().Create(context.Background(),
		&authv1.TokenReview{Spec: authv1.TokenReviewSpec{Token: tok, Audiences: aud}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status
}

// A bound token is identified through a TokenReview (never used), keyed by
// what it is bound to; Inspect shows it live; Revoke deletes the pod or
// Secret it is bound to, or recreates its service account, after which
// the API server no longer accepts it; Revoke again is nil.
func TestBoundTokens(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	name := randomName()
	h.CreateIdentity(t, name, false)
	labels := map[string]string{"team": "shop"}
	acct, err := h.root.CoreV1().ServiceAccounts(testNS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	acct.Labels = labels
	if acct, err = h.root.CoreV1().ServiceAccounts(testNS).Update(ctx, acct, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := h.root.CoreV1().Pods(testNS).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-" + name},
		Spec: corev1.PodSpec{ServiceAccountName: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := h.root.CoreV1().Secrets(testNS).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "holder-" + name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(ctx, h.Admin(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		ref  *authv1.BoundObjectReference
		aud  []string
		key  func() string
		gone func() bool
	}{
		{"pod", &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}, nil,
			func() string { return "pod/" + pod.Name + "/" + string(pod.UID) },
			func() bool {
				_, err := h.root.CoreV1().Pods(testNS).Get(ctx, pod.Name, metav1.GetOptions{})
				return apierrors.IsNotFound(err)
			}},
		{"secret", &authv1.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: holder.Name, UID: holder.UID}, []string{"vault"},
			func() string { return "secret/" + holder.Name + "/" + string(holder.UID) },
			func() bool {
				_, err := h.root.CoreV1().Secrets(testNS).Get(ctx, holder.Name, metav1.GetOptions{})
				return apierrors.IsNotFound(err)
			}},
		{"account", nil, nil,
			func() string { return "serviceaccount/" + string(acct.UID) },
			func() bool {
				now, err := h.root.CoreV1().ServiceAccounts(testNS).Get(ctx, name, metav1.GetOptions{})
				return err == nil && now.UID != acct.UID && now.Labels["team"] == "shop"
			}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			tok := h.boundToken(t, name, tc.ref, tc.aud...)
			ms, err := p.Identify(ctx, secret.FromString(tok))
			want := provider.IdentityRef{System: testSystem, Name: name, Key: tc.key()}
			if err != nil || len(ms) != 1 || ms[0].Ref != want || ms[0].Unproven || ms[0].Method != reviewedMethod {
				t.Fatalf("Identify = %+v, %v; want %+v, proven by a TokenReview", ms, err, want)
			}
			id, err := p.Inspect(ctx, ms[0].Ref)
			if err != nil || !id.CanLogin {
				t.Fatalf("Inspect = %+v, %v; want it able to log in", id, err)
			}
			providertest.WantRelated(t, id, "this-key", want.Key, "stops working")
			if err := p.(provider.Rotator).Revoke(ctx, ms[0].Ref); err != nil {
				t.Fatal(err)
			}
			if !tc.gone() {
				t.Errorf("after Revoke the %s the token is bound to is still there", tc.what)
			}
			if st := h.reviewed(t, tok, tc.aud...); st.Authenticated {
				t.Errorf("after Revoke the API server still accepts the token: %+v", st)
			}
			if ms, err := p.Identify(ctx, secret.FromString(tok)); err != nil || len(ms) != 0 {
				t.Errorf("Identify after Revoke = %+v, %v; want no match", ms, err)
			}
			if err := p.(provider.Rotator).Revoke(ctx, want); err != nil {
				t.Errorf("Revoke twice: %v", err)
			}
			if n := h.s.BoundUses(jti(t, tok)); n != 0 {
				t.Errorf("%d requests were authenticated with the leaked token, want none", n)
			}
		})
	}
}

func jti(t *testing.T, tok string) string {
	t.Helper()
	var c struct{ JTI string }
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil || json.Unmarshal(raw, &c) != nil || c.JTI == "" {
		t.Fatalf("token has no jti claim")
	}
	return c.JTI
}

// open opens the provider as the user whose token is adminToken.
func (h harness) open(t *testing.T, adminToken string) provider.Provider {
	t.Helper()
	cfg := h.Admin(t)
	cfg.Admin = h.kubeconfig(h.s.URL, adminToken)
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// An administrator who may not create TokenReviews gets an unproven match
// from the bound token's unverified claims.
func TestBoundTokenClaimsHint(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	name := randomName()
	h.CreateIdentity(t, name, false)
	tok := h.boundToken(t, name, nil)
	acct, err := h.root.CoreV1().ServiceAccounts(testNS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := h.open(t, h.adminUser(t, "no-review", adminRules[:2])).Identify(ctx, secret.FromString(tok))
	if err != nil || len(ms) != 1 || !ms[0].Unproven || ms[0].Ref.Name != name || ms[0].Ref.Key != "serviceaccount/"+string(acct.UID) {
		t.Errorf("Identify = %+v, %v; want an unproven match on %s", ms, err, name)
	}
}

// An expired bound token is no match, whether the API server reviews it
// or only its claims are read; another issuer's JWT is not even sent to
// the cluster.
func TestExpiredBoundToken(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	name := randomName()
	h.CreateIdentity(t, name, false)
	tok := h.boundToken(t, name, nil)
	p, err := New(ctx, h.Admin(t))
	if err != nil {
		t.Fatal(err)
	}
	if ms, err := p.Identify(ctx, secret.FromString(tok)); err != nil || len(ms) != 1 {
		t.Fatalf("Identify of a live token = %+v, %v; want a match", ms, err)
	}
	// The server's clock only: the claims' exp is read against rekey's.
	h.s.Advance(2 * time.Hour)
	if ms, err := p.Identify(ctx, secret.FromString(tok)); err != nil || len(ms) != 0 {
		t.Errorf("Identify of a token the server says expired = %+v, %v; want no match", ms, err)
	}
	body, _ := json.Marshal(map[string]any{"exp": time.Now().Add(-time.Minute).Unix(), "sub": "system:serviceaccount:" + testNS + ":" + name,
		"kubernetes.io": map[string]any{"namespace": testNS, "serviceaccount": map[string]string{"name": name, "uid": "u"}}})
	stale := "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(body) + ".c2ln"
	before := h.s.Reviews()
	other, _ := json.Marshal(map[string]any{"sub": "auth0|alice", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()})
	if ms, err := p.Identify(ctx, secret.FromString("eyJhbGciOiJSUzI1NiJ9."+base64.RawURLEncoding.EncodeToString(other)+".c2ln")); err != nil || len(ms) != 0 || h.s.Reviews() != before {
		t.Errorf("Identify of another issuer's JWT = %+v, %v, %d TokenReview(s); want no match, and the token not sent to the cluster", ms, err, h.s.Reviews()-before)
	}
	if ms, err := h.open(t, h.adminUser(t, "no-review", adminRules[:2])).Identify(ctx, secret.FromString(stale)); err != nil || len(ms) != 0 {
		t.Errorf("Identify by claims of an expired token = %+v, %v; want no match", ms, err)
	}
}

// An administrator who may read token Secrets of its own namespace only
// still finds a legacy token of another namespace: the TokenReview
// authenticates it and its claims name its Secret.
func TestLegacyTokenElsewhereThroughReview(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	sec := h.accountToken(t, "jobs", "batch", "batch-token")
	name := "ns-admin-" + randomName()
	tok := h.adminUser(t, name, adminRules[1:3])
	if _, err := h.root.RbacV1().Roles(testNS).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets", "serviceaccounts"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.root.RbacV1().RoleBindings(testNS).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: name}}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ms, err := h.open(t, tok).Identify(ctx, secret.New(sec.Data["token"]))
	if err != nil || len(ms) != 1 || ms[0].Ref.Name != "jobs/batch" || ms[0].Ref.Key != "batch-token" || ms[0].Unproven {
		t.Errorf("Identify = %+v, %v; want jobs/batch key batch-token, proven by the review", ms, err)
	}
}
