package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Labels and annotations rekey puts on what it creates.
const (
	// replacesAnnotation on a token Secret names the Secret it replaces,
	// so a retry finds the orphans of an earlier call.
	replacesAnnotation = "rekey.dev/replaces"
	// forLabel on a binding names the service account rekey made it for
	// (a split), so Drop removes it with the account.
	forLabel = "rekey.dev/for"
)

// Issue is unsupported: the token controller generates a token Secret's
// token, so rekey cannot hand it one; Generate replaces it.
func (p *Provider) Issue(context.Context, provider.IssueRequest) (*provider.Credential, error) {
	return nil, p.unsupported("issue", "the token controller generates service-account tokens (the engine must use provider.Generator)")
}

// Renew is unsupported: a legacy token Secret does not expire.
func (p *Provider) Renew(context.Context, provider.IdentityRef, time.Time) error {
	return p.unsupported("renew", "a legacy service-account token does not expire")
}

// Generate creates a token Secret for the service account req.Name; when
// req.Name is not req.From's account (a split) it first creates that
// account in From's namespace with a binding to each role From's own
// bindings name, minus req.Drop ("Role/x", as Inspect names them). Before
// that it deletes the token Secrets of req.Name created at or after
// req.Began that replace the same source and are neither sealed nor
// From.Key: an earlier call's, whose token was lost before it was sealed.
//
// On a real cluster the token controller fills the new Secret's token
// shortly after it is created; Generate reads it back until it is there
// (k8stest fills it at once). A service account may hold any number of
// token Secrets.
func (p *Provider) Generate(ctx context.Context, req provider.GenerateRequest) (*provider.Credential, error) {
	ns, fromSA := p.split(req.From.Name)
	tns, sa := p.split(req.Name)
	if tns != ns {
		return nil, errs.New(p.op("generate"), errs.Invalid, req.Name, "a split service account must be in the namespace of "+req.From.Name)
	}
	if _, err := p.c.CoreV1().ServiceAccounts(ns).Get(ctx, fromSA, metav1.GetOptions{}); err != nil {
		return nil, p.fail("generate", req.From.Name, "get on serviceaccounts in "+ns, err)
	}
	if sa != fromSA {
		if err := p.splitAccount(ctx, ns, fromSA, sa, req.Drop); err != nil {
			return nil, err
		}
	}
	if !req.Began.IsZero() {
		toks, err := p.saTokens(ctx, "generate", ns, sa)
		if err != nil {
			return nil, err
		}
		began := req.Began.Truncate(time.Second)
		for _, t := range toks {
			mine := t.Annotations[replacesAnnotation] == req.From.Key
			if mine && !t.CreationTimestamp.Time.Before(began) && !slices.Contains(req.Sealed, t.Name) && t.Name != req.From.Key {
				if err := p.deleteSecret(ctx, "generate", ns, t.Name); err != nil {
					return nil, err
				}
			}
		}
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: sa + "-rekey-" + randomSuffix(), Namespace: ns,
			Annotations: map[string]string{corev1.ServiceAccountNameKey: sa, replacesAnnotation: req.From.Key}},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	created, err := p.c.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{})
	if err != nil {
		return nil, p.fail("generate", req.Name, "create on secrets in "+ns, err)
	}
	tok, err := p.waitToken(ctx, ns, created.Name)
	if err != nil {
		return nil, err
	}
	c := &provider.Credential{Ref: provider.IdentityRef{System: p.system, Name: req.Name, Key: created.Name}, KeyID: created.Name, Secret: tok}
	p.san.Add(string(tok.Reveal()))
	return c, nil
}

// splitAccount creates service account sa beside from with bindings to from's
// roles minus drop; what exists already is kept, so a retry converges.
func (p *Provider) splitAccount(ctx context.Context, ns, from, sa string, drop []string) error {
	acct := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns, Labels: map[string]string{forLabel: sa}}}
	if _, err := p.c.CoreV1().ServiceAccounts(ns).Create(ctx, acct, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return p.fail("generate", p.join(ns, sa), "create on serviceaccounts in "+ns, err)
	}
	bs, err := p.bindings(ctx, "generate", ns, from)
	if err != nil {
		return err
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}}
	for _, b := range bs {
		if b.via != "" || slices.Contains(drop, b.privilege()) {
			continue
		}
		om := metav1.ObjectMeta{Name: "rekey-" + sa + "-" + b.role.Name, Labels: map[string]string{forLabel: sa}}
		var err error
		need := "create on rolebindings in " + ns
		if b.kind == "RoleBinding" {
			om.Namespace = ns
			_, err = p.c.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: om, Subjects: subject, RoleRef: b.role}, metav1.CreateOptions{})
		} else {
			need = "create on clusterrolebindings"
			om.Name = "rekey-" + ns + "-" + sa + "-" + b.role.Name
			_, err = p.c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: om, Subjects: subject, RoleRef: b.role}, metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return p.fail("generate", p.join(ns, sa), need, err)
		}
	}
	return nil
}

// waitToken reads the new Secret until the token controller has filled
// its token, a few times with a growing wait.
func (p *Provider) waitToken(ctx context.Context, ns, name string) (secret.Secret, error) {
	wait := 50 * time.Millisecond
	for range 8 {
		sec, found, err := p.tokenSecret(ctx, "generate", ns, name)
		if err != nil {
			return secret.Secret{}, err
		}
		if found && len(sec.Data["token"]) > 0 {
			return secret.New(sec.Data["token"]), nil
		}
		select {
		case <-ctx.Done():
			return secret.Secret{}, errs.E(p.op("generate"), errs.Unreachable, ns+"/"+name, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
	return secret.Secret{}, errs.New(p.op("generate"), errs.Unreachable, ns+"/"+name, "the token controller did not fill the token Secret's token (is the service account's namespace being deleted?)")
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Verify compares c's secret with the token its token Secret holds, as
// the administrator, and checks the service account is there: a legacy
// token authenticates exactly while both exist. A mismatch or a missing
// Secret is errs.Permission.
func (p *Provider) Verify(ctx context.Context, c provider.Credential) error {
	ns, sa := p.split(c.Ref.Name)
	key := c.KeyID
	if key == "" {
		key = c.Ref.Key
	}
	sec, found, err := p.tokenSecret(ctx, "verify", ns, key)
	if err != nil {
		return err
	}
	if !found || sec.Annotations[corev1.ServiceAccountNameKey] != sa || !holds(*sec, c.Secret.Reveal()) {
		return errs.New(p.op("verify"), errs.Permission, c.Ref.Name, "the token is not the one token Secret "+key+" holds (revoked, or another token)")
	}
	if _, err := p.c.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return errs.New(p.op("verify"), errs.Permission, c.Ref.Name, "the service account is gone, so its tokens no longer authenticate")
		}
		return p.fail("verify", c.Ref.Name, "get on serviceaccounts in "+ns, err)
	}
	return nil
}

// Revoke deletes the token Secret id.Key (every token Secret of the
// account when it is empty): the cluster stops accepting a legacy token
// once its Secret is gone. A bound token's key deletes what the token is
// bound to, or recreates the service account (revokeBound), which ends
// the tokens of every pod running as it: the plan has a person approve
// that first. Missing ones are not errors.
func (p *Provider) Revoke(ctx context.Context, id provider.IdentityRef) error {
	ns, sa := p.split(id.Name)
	if isBound(id.Key) {
		return p.revokeBound(ctx, ns, sa, id.Key)
	}
	if id.Key != "" {
		return p.deleteSecret(ctx, "revoke", ns, id.Key)
	}
	toks, err := p.saTokens(ctx, "revoke", ns, sa)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if err := p.deleteSecret(ctx, "revoke", ns, t.Name); err != nil {
			return err
		}
	}
	return nil
}

// Drop removes the token Secret id.Key; without a key, the service
// account rekey created in a split, its token Secrets and the bindings
// rekey made for it. An account rekey did not create is refused.
func (p *Provider) Drop(ctx context.Context, id provider.IdentityRef) error {
	ns, sa := p.split(id.Name)
	if id.Key != "" {
		return p.deleteSecret(ctx, "drop", ns, id.Key)
	}
	acct, err := p.c.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return p.fail("drop", id.Name, "get on serviceaccounts in "+ns, err)
	}
	if acct.Labels[forLabel] != sa {
		return errs.New(p.op("drop"), errs.Invalid, id.Name, "rekey did not create this service account; it drops only what it created")
	}
	if err := p.Revoke(ctx, provider.IdentityRef{System: id.System, Name: id.Name}); err != nil {
		return err
	}
	sel := metav1.ListOptions{LabelSelector: forLabel + "=" + sa}
	rbs, err := p.roleBindings(ctx, ns, sel)
	if err != nil {
		return p.fail("drop", id.Name, "list on rolebindings in "+ns, err)
	}
	for _, b := range rbs {
		if err := p.c.RbacV1().RoleBindings(ns).Delete(ctx, b.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return p.fail("drop", id.Name, "delete on rolebindings in "+ns, err)
		}
	}
	crbs, err := p.clusterRoleBindings(ctx, sel)
	if err != nil {
		return p.fail("drop", id.Name, "list on clusterrolebindings", err)
	}
	for _, b := range crbs {
		if len(b.Subjects) == 1 && b.Subjects[0].Namespace == ns {
			if err := p.c.RbacV1().ClusterRoleBindings().Delete(ctx, b.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return p.fail("drop", id.Name, "delete on clusterrolebindings", err)
			}
		}
	}
	if err := p.c.CoreV1().ServiceAccounts(ns).Delete(ctx, sa, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return p.fail("drop", id.Name, "delete on serviceaccounts in "+ns, err)
	}
	return nil
}

func (p *Provider) deleteSecret(ctx context.Context, op, ns, name string) error {
	err := p.c.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	return p.fail(op, ns+"/"+name, "delete on secrets in "+ns, err)
}
