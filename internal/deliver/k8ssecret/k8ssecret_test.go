package k8ssecret

import (
	"context"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider/kubernetes/k8stest"
	"github.com/rekeyhq/rekey/internal/secret"
)

const ns = "shop"

func client(s *k8stest.Server, token string) kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(&rest.Config{Host: s.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: s.CAData()},
		ContentConfig: rest.ContentConfig{ContentType: "application/json"}, QPS: 1000, Burst: 1000})
}

// setup makes a Secret holding another key beside the password, and the
// Deployment reading it.
func setup(t *testing.T) (*k8stest.Server, kubernetes.Interface) {
	s := k8stest.New()
	t.Cleanup(s.Close)
	root := client(s, s.RootToken())
	ctx := context.Background()
	if _, err := root.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "orders-db"},
		Data: map[string][]byte{"password": []byte("old-password"), "host": []byte("db.shop")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	if _, err := root.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &two}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return s, root
}

func target(t *testing.T, c kubernetes.Interface, name string) *Target {
	t.Helper()
	tg, err := New(Config{Client: c, Namespace: ns, Name: name, Key: "password", User: "username", Deployment: "web", Wait: 1})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func generation(t *testing.T, c kubernetes.Interface) int64 {
	d, err := c.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Generation
}

func TestWriteRestartsOnce(t *testing.T) {
	_, root := setup(t)
	ctx := context.Background()
	tg := target(t, root, "orders-db")
	v := deliver.Value{User: "orders_v2", Secret: secret.FromString("new-password")}
	ch, err := tg.Plan(ctx, v)
	if err != nil || len(ch.Edits) != 1 || len(ch.Edits[0].Parts) != 2 || !strings.Contains(ch.String(), "rollout restart deployment/web") {
		t.Fatalf("Plan = %v, %v; want user and password, then the restart", ch, err)
	}
	if strings.Contains(ch.String(), "new-password") {
		t.Fatalf("Plan holds the secret: %s", ch)
	}
	before := generation(t, root)
	if err := tg.Write(ctx, v); err != nil {
		t.Fatal(err)
	}
	if ok, err := deliver.Delivered(ctx, tg, v); err != nil || !ok {
		t.Errorf("Delivered after Write = %v, %v", ok, err)
	}
	sec, _ := root.CoreV1().Secrets(ns).Get(ctx, "orders-db", metav1.GetOptions{})
	if string(sec.Data["host"]) != "db.shop" {
		t.Errorf("Write lost the Secret's other key: %v", sec.Data)
	}
	after := generation(t, root)
	if after == before {
		t.Fatalf("the Deployment was not restarted")
	}
	if err := tg.Write(ctx, v); err != nil {
		t.Fatal(err)
	}
	if generation(t, root) != after {
		t.Errorf("writing what the Secret holds restarted the Deployment again")
	}
}

// A run that crashed between writing the Secret and restarting finds the
// value there and still restarts.
func TestResumeRestarts(t *testing.T) {
	_, root := setup(t)
	ctx := context.Background()
	v := deliver.Value{Secret: secret.FromString("new-password")}
	noRestart, _ := New(Config{Client: root, Namespace: ns, Name: "orders-db", Key: "password"})
	if err := noRestart.Write(ctx, v); err != nil {
		t.Fatal(err)
	}
	before := generation(t, root)
	if err := target(t, root, "orders-db").Write(ctx, v); err != nil {
		t.Fatal(err)
	}
	if generation(t, root) == before {
		t.Errorf("a resumed Write did not restart the Deployment")
	}
}

func TestMissingSecret(t *testing.T) {
	_, root := setup(t)
	ctx := context.Background()
	tg := target(t, root, "fresh")
	if _, err := tg.Current(ctx); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("Current(missing Secret) = %v, want NotFound", err)
	}
	v := deliver.Value{Secret: secret.FromString("new-password")}
	if err := tg.Write(ctx, v); err != nil {
		t.Fatal(err)
	}
	if st, err := tg.Current(ctx); err != nil || !st.Secret.Equal(v.Secret) {
		t.Errorf("after Write into a missing Secret: %v", err)
	}
}

func TestRefused(t *testing.T) {
	s, root := setup(t)
	ctx := context.Background()
	if _, err := root.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "reader"}}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tg := target(t, client(s, s.AddUser("reader")), "orders-db")
	err := tg.Write(ctx, deliver.Value{Secret: secret.FromString("new-password")})
	if errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "update on secrets") || strings.Contains(err.Error(), "password\"") {
		t.Errorf("Write as a reader = %v, want Permission naming update on secrets", err)
	}
	if strings.Contains(err.Error(), "new-password") || strings.Contains(err.Error(), "old-password") {
		t.Errorf("the error holds a secret: %v", err)
	}
}

func TestRolledOut(t *testing.T) {
	two := int32(2)
	dep := func(gen, observed int64, updated, replicas, available int32, reason string) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Spec: appsv1.DeploymentSpec{Replicas: &two},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: replicas, AvailableReplicas: available}}
		if reason != "" {
			d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: reason}}
		}
		return d
	}
	for _, c := range []struct {
		name  string
		d     *appsv1.Deployment
		done  bool
		stuck bool
	}{
		{"done", dep(3, 3, 2, 2, 2, "NewReplicaSetAvailable"), true, false},
		{"not observed", dep(3, 2, 2, 2, 2, ""), false, false},
		{"old replicas left", dep(3, 3, 2, 3, 2, ""), false, false},
		{"not available", dep(3, 3, 2, 2, 1, ""), false, false},
		{"deadline", dep(3, 3, 1, 2, 1, "ProgressDeadlineExceeded"), false, true},
	} {
		done, why := rolledOut(c.d)
		if done != c.done || (why != "") != c.stuck {
			t.Errorf("%s: rolledOut = %v, %q", c.name, done, why)
		}
	}
}

// interloper changes the Secret as root just before the target's first
// update reaches the server, as a concurrent writer would.
type interloper struct {
	next  http.RoundTripper
	root  kubernetes.Interface
	fired bool
}

func (i *interloper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && !i.fired {
		i.fired = true
		s, err := i.root.CoreV1().Secrets(ns).Get(r.Context(), "orders-db", metav1.GetOptions{})
		if err == nil {
			s.Data["host"] = []byte("db2.shop")
			_, err = i.root.CoreV1().Secrets(ns).Update(r.Context(), s, metav1.UpdateOptions{})
		}
		if err != nil {
			return nil, err
		}
	}
	return i.next.RoundTrip(r)
}

// A concurrent change between the read and the update is a 409 Conflict;
// Write reads again and keeps the other writer's change.
func TestConflictRetried(t *testing.T) {
	s, root := setup(t)
	ctx := context.Background()
	il := &interloper{root: root}
	c := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.URL, BearerToken: s.RootToken(), TLSClientConfig: rest.TLSClientConfig{CAData: s.CAData()},
		ContentConfig: rest.ContentConfig{ContentType: "application/json"}, QPS: 1000, Burst: 1000,
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper { il.next = rt; return il }})
	v := deliver.Value{Secret: secret.FromString("new-password")}
	if err := target(t, c, "orders-db").Write(ctx, v); err != nil {
		t.Fatal(err)
	}
	sec, _ := root.CoreV1().Secrets(ns).Get(ctx, "orders-db", metav1.GetOptions{})
	if !il.fired || string(sec.Data["host"]) != "db2.shop" || string(sec.Data["password"]) != "new-password" {
		t.Errorf("after a conflicting write: fired=%v, host %q, password delivered %v", il.fired, sec.Data["host"], string(sec.Data["password"]) == "new-password")
	}
}
