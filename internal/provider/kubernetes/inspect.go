package kubernetes

import (
	"context"
	"slices"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekeyhq/rekey/internal/provider"
)

// binding is a RoleBinding or ClusterRoleBinding naming a service account.
type binding struct {
	kind, namespace, name string // the binding
	role                  rbacv1.RoleRef
	via                   string // the group subject it names, "" when the account itself
}

// privilege names a binding's role as Inspect reports it ("Role/x",
// "ClusterRole/cluster-admin"); Drop takes these names.
func (b binding) privilege() string { return b.role.Kind + "/" + b.role.Name }

// Inspect describes a service account: every RoleBinding of its namespace
// and ClusterRoleBinding naming it (or its groups system:serviceaccounts
// and system:serviceaccounts:NS), each graded by its role's rules, and
// its token Secrets (the one inspected as this-key, the others other-key).
// It can log in when it holds a token Secret, or when id.Key is a bound
// token's (bound.go) whose pod, Secret or account uid is still there.
func (p *Provider) Inspect(ctx context.Context, id provider.IdentityRef) (*provider.Identity, error) {
	ns, sa := p.split(id.Name)
	out := &provider.Identity{Ref: id, Privileges: []provider.Privilege{}, Sessions: []provider.Session{}, Related: []provider.Related{}}
	acct, err := p.c.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return out, nil
	}
	if err != nil {
		return nil, p.fail("inspect", id.Name, "get on serviceaccounts in "+ns, err)
	}
	out.Exists = true
	toks, err := p.saTokens(ctx, "inspect", ns, sa)
	if err != nil {
		return nil, err
	}
	for _, t := range toks {
		kind := "other-key"
		if t.Name == id.Key {
			kind = "this-key"
		}
		out.Related = append(out.Related, provider.Related{Kind: kind, Name: t.Name, Detail: "token Secret of the service account, created " + t.CreationTimestamp.UTC().Format("2006-01-02T15:04:05Z")})
		out.CanLogin = out.CanLogin || id.Key == "" || t.Name == id.Key
	}
	if isBound(id.Key) {
		r, live, err := p.inspectBound(ctx, ns, acct, id.Key)
		if err != nil {
			return nil, err
		}
		out.Related = append(out.Related, r)
		out.CanLogin = out.CanLogin || live
	}
	bs, err := p.bindings(ctx, "inspect", ns, sa)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		rules, err := p.rules(ctx, b)
		if err != nil {
			return nil, err
		}
		pr := grade(rules)
		pr.Name, pr.Via = b.privilege(), b.via
		if b.role.Kind == "ClusterRole" && b.role.Name == "cluster-admin" {
			pr.Risk, pr.CreatesCredentials = provider.RiskCritical, true
		}
		out.Privileges = append(out.Privileges, pr)
	}
	return out, nil
}

// bindings lists the bindings naming service account sa of ns.
func (p *Provider) bindings(ctx context.Context, op, ns, sa string) ([]binding, error) {
	names := func(subjects []rbacv1.Subject) (bool, string) {
		via := ""
		for _, s := range subjects {
			switch {
			case s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && s.Namespace == ns:
				return true, ""
			case s.Kind == rbacv1.GroupKind && (s.Name == "system:serviceaccounts" || s.Name == "system:serviceaccounts:"+ns):
				via = s.Name
			}
		}
		return via != "", via
	}
	var out []binding
	rbs, err := p.roleBindings(ctx, ns, metav1.ListOptions{})
	if err != nil {
		return nil, p.fail(op, p.join(ns, sa), "list on rolebindings in "+ns, err)
	}
	for _, b := range rbs {
		if ok, via := names(b.Subjects); ok {
			out = append(out, binding{kind: "RoleBinding", namespace: ns, name: b.Name, role: b.RoleRef, via: via})
		}
	}
	crbs, err := p.clusterRoleBindings(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, p.fail(op, p.join(ns, sa), "list on clusterrolebindings", err)
	}
	for _, b := range crbs {
		if ok, via := names(b.Subjects); ok {
			out = append(out, binding{kind: "ClusterRoleBinding", name: b.Name, role: b.RoleRef, via: via})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].kind+out[i].name < out[j].kind+out[j].name })
	return out, nil
}

func (p *Provider) roleBindings(ctx context.Context, ns string, opts metav1.ListOptions) ([]rbacv1.RoleBinding, error) {
	return listAll(ctx, opts, p.c.RbacV1().RoleBindings(ns).List, func(l *rbacv1.RoleBindingList) []rbacv1.RoleBinding { return l.Items })
}

func (p *Provider) clusterRoleBindings(ctx context.Context, opts metav1.ListOptions) ([]rbacv1.ClusterRoleBinding, error) {
	return listAll(ctx, opts, p.c.RbacV1().ClusterRoleBindings().List, func(l *rbacv1.ClusterRoleBindingList) []rbacv1.ClusterRoleBinding { return l.Items })
}

// rules reads the binding's role; a missing role grants nothing.
func (p *Provider) rules(ctx context.Context, b binding) ([]rbacv1.PolicyRule, error) {
	if b.role.Kind == "Role" {
		r, err := p.c.RbacV1().Roles(b.namespace).Get(ctx, b.role.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, p.fail("inspect", b.privilege(), "get on roles in "+b.namespace, err)
		}
		return r.Rules, nil
	}
	r, err := p.c.RbacV1().ClusterRoles().Get(ctx, b.role.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, p.fail("inspect", b.privilege(), "get on clusterroles", err)
	}
	return r.Rules, nil
}

// grade is the worst risk of a role's rules:
//   - critical: any verb on any resource, impersonate, escalate or bind
//     named as such (each makes the holder anyone; "*" on roles is graded
//     as writing roles);
//   - high: reading Secrets (every token of the namespace), creating
//     Secrets or serviceaccounts/token (minting tokens), writing roles or
//     bindings, pods/exec and pods/attach (the pod's own token and
//     mounted Secrets); all but exec and attach create credentials;
//   - medium: writes to workloads (a pod runs as any service account);
//   - low: the rest.
func grade(rules []rbacv1.PolicyRule) provider.Privilege {
	pr := provider.Privilege{Risk: provider.RiskLow}
	raise := func(r provider.Risk, creates bool) {
		if r.Rank() < pr.Risk.Rank() {
			pr.Risk = r
		}
		pr.CreatesCredentials = pr.CreatesCredentials || creates
	}
	for _, r := range rules {
		verb := func(vs ...string) bool {
			return slices.Contains(r.Verbs, "*") || slices.ContainsFunc(vs, func(v string) bool { return slices.Contains(r.Verbs, v) })
		}
		res := func(names ...string) bool {
			return slices.Contains(r.Resources, "*") || slices.ContainsFunc(names, func(n string) bool { return slices.Contains(r.Resources, n) })
		}
		switch {
		case slices.Contains(r.Verbs, "*") && slices.Contains(r.Resources, "*"):
			raise(provider.RiskCritical, true)
		case slices.ContainsFunc([]string{"impersonate", "escalate", "bind"}, func(v string) bool { return slices.Contains(r.Verbs, v) }):
			raise(provider.RiskCritical, true)
		case res("secrets") && verb("create", "update", "patch"), res("serviceaccounts/token") && verb("create"),
			res("roles", "clusterroles", "rolebindings", "clusterrolebindings") && verb("create", "update", "patch"):
			raise(provider.RiskHigh, true)
		case res("secrets") && verb("get", "list", "watch"):
			raise(provider.RiskHigh, false)
		case res("pods/exec", "pods/attach") && verb("create", "get"):
			raise(provider.RiskHigh, false)
		case res("pods", "deployments", "daemonsets", "statefulsets", "jobs", "cronjobs", "replicasets") && verb("create", "update", "patch"):
			raise(provider.RiskMedium, false)
		}
	}
	return pr
}
