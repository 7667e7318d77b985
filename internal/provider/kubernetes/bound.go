package kubernetes

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

// A bound token (TokenRequest, projected into pods) is no Secret: its key
// names what it dies with, "pod/NAME/UID", "secret/NAME/UID" or
// "serviceaccount/UID" for one bound to its account alone. A token
// Secret's name is a DNS subdomain, which holds no '/', so the two kinds
// of key cannot be confused.
const (
	boundPod     = "pod"
	boundSecret  = "secret"
	boundAccount = "serviceaccount"
)

// Extra keys the API server puts on a pod-bound token's user.
const (
	extraPodName = "authentication.kubernetes.io/pod-name"
	extraPodUID  = "authentication.kubernetes.io/pod-uid"
)

const reviewedMethod = "TokenReview by the administrator (the API server checked the token; no request was authenticated with it)"

func isBound(key string) bool { return strings.Contains(key, "/") }

// boundKey splits a bound token's key; ok is false for a token Secret's.
func boundKey(key string) (kind, name, uid string, ok bool) {
	parts := strings.Split(key, "/")
	switch {
	case len(parts) == 3 && (parts[0] == boundPod || parts[0] == boundSecret):
		return parts[0], parts[1], parts[2], true
	case len(parts) == 2 && parts[0] == boundAccount:
		return parts[0], "", parts[1], true
	}
	return "", "", "", false
}

// claims are the parts of a service-account JWT's payload rekey reads,
// unverified: a hint (which audiences to review it for, which Secret a
// legacy token names), never a proof.
type claims struct {
	Sub string    `json:"sub"`
	Aud audiences `json:"aud"`
	Exp int64     `json:"exp"`
	K8s struct {
		Namespace      string `json:"namespace"`
		ServiceAccount ref    `json:"serviceaccount"`
		Pod            *ref   `json:"pod"`
		Secret         *ref   `json:"secret"`
	} `json:"kubernetes.io"`
	LegacySecret string `json:"kubernetes.io/serviceaccount/secret.name"`
}

type ref struct{ Name, UID string }

// audiences reads aud, a string or a list of them (RFC 7519).
type audiences []string

func (a *audiences) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audiences{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// unverified decodes a JWT's payload without checking its signature.
func unverified(tok []byte) (claims, bool) {
	var c claims
	parts := strings.Split(string(tok), ".")
	if len(parts) != 3 {
		return c, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return c, false
	}
	return c, true
}

// identifyBound asks the API server, through a TokenReview made as the
// administrator, whose token tok is, for the audiences its unverified
// claims name (the API server's own when none); only a token whose
// unverified sub names a service account is asked about. An
// unauthenticated token (expired, revoked, another cluster's, not a
// service account's) is no match. An administrator who may not create
// TokenReviews gets an unproven match from a bound token's unverified
// claims, unless they say it has expired.
func (p *Provider) identifyBound(ctx context.Context, tok []byte) ([]provider.Match, error) {
	c, parsed := unverified(tok)
	if !parsed || !strings.HasPrefix(c.Sub, "system:serviceaccount:") {
		// Another issuer's JWT (an OIDC ID token, a SaaS API token) is
		// not sent to the cluster, whose audit log may keep request
		// bodies.
		return nil, nil
	}
	tr := &authv1.TokenReview{Spec: authv1.TokenReviewSpec{Token: string(tok), Audiences: c.Aud}}
	res, err := p.c.AuthenticationV1().TokenReviews().Create(ctx, tr, metav1.CreateOptions{})
	if apierrors.IsForbidden(err) {
		sa := c.K8s.ServiceAccount
		if sa.Name == "" || c.K8s.Namespace == "" || (c.Exp != 0 && time.Now().Unix() >= c.Exp) {
			return nil, nil
		}
		key := boundAccount + "/" + sa.UID
		switch {
		case c.K8s.Pod != nil:
			key = boundPod + "/" + c.K8s.Pod.Name + "/" + c.K8s.Pod.UID
		case c.K8s.Secret != nil:
			key = boundSecret + "/" + c.K8s.Secret.Name + "/" + c.K8s.Secret.UID
		}
		return []provider.Match{{Ref: provider.IdentityRef{System: p.system, Name: p.join(c.K8s.Namespace, sa.Name), Key: key},
			Method: "the bound token's unverified claims (the administrator may not create tokenreviews, so the cluster did not check it)", Unproven: true}}, nil
	}
	if err != nil {
		return nil, p.fail("identify", "", "create on tokenreviews", err)
	}
	u := res.Status.User
	rest, ok := strings.CutPrefix(u.Username, "system:serviceaccount:")
	ns, sa, ok2 := strings.Cut(rest, ":")
	if !res.Status.Authenticated || !ok || !ok2 {
		return nil, nil
	}
	var key string
	switch {
	case len(u.Extra[extraPodName]) == 1 && len(u.Extra[extraPodUID]) == 1:
		key = boundPod + "/" + u.Extra[extraPodName][0] + "/" + u.Extra[extraPodUID][0]
	case c.LegacySecret != "":
		// A legacy token the administrator could not read the Secret of
		// (it may list Secrets in its namespace only).
		key = c.LegacySecret
	case c.K8s.Secret != nil:
		key = boundSecret + "/" + c.K8s.Secret.Name + "/" + c.K8s.Secret.UID
	case u.UID != "":
		key = boundAccount + "/" + u.UID
	default:
		return nil, nil
	}
	return []provider.Match{{Ref: provider.IdentityRef{System: p.system, Name: p.join(ns, sa), Key: key}, Method: reviewedMethod}}, nil
}

// inspectBound describes the object a bound token dies with, as the
// inspected key, and whether it (so the token) is still there.
func (p *Provider) inspectBound(ctx context.Context, ns string, acct *corev1.ServiceAccount, key string) (provider.Related, bool, error) {
	kind, name, uid, _ := boundKey(key)
	r := provider.Related{Kind: "this-key", Name: key}
	var live bool
	switch kind {
	case boundPod, boundSecret:
		got, err := p.boundUID(ctx, kind, ns, name)
		if err != nil {
			return r, false, err
		}
		live = got == uid
		r.Detail = "bound token of Secret " + name + ": it stops working when that Secret is deleted"
		if kind == boundPod {
			r.Detail = "bound token of pod " + name + ": it stops working when that pod is deleted (its controller starts another, with a new token)"
		}
	default:
		live = string(acct.UID) == uid
		r.Detail = "bound token of the service account alone: it stops working only when it expires or the account is deleted and recreated, which breaks the tokens of every pod running as it"
	}
	if !live {
		r.Detail += " (already gone: the token no longer works)"
	}
	return r, live, nil
}

// boundUID is the uid of the pod or Secret name, "" when it is gone.
func (p *Provider) boundUID(ctx context.Context, kind, ns, name string) (string, error) {
	var o metav1.Object
	var err error
	if kind == boundPod {
		o, err = p.c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	} else {
		o, err = p.c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", p.fail("inspect", ns+"/"+name, "get on "+kind+"s in "+ns, err)
	}
	return string(o.GetUID()), nil
}

// revokeBound makes a bound token stop working: it deletes the pod or
// Secret it is bound to, or deletes and recreates its service account
// (same name, labels, annotations and pull secrets; a new uid), each
// guarded by the uid the key names so that an object recreated since is
// left alone. What is already gone is not an error.
func (p *Provider) revokeBound(ctx context.Context, ns, sa, key string) error {
	kind, name, uid, ok := boundKey(key)
	if !ok {
		return errs.New(p.op("revoke"), errs.Invalid, key, "not a bound token's key (pod/NAME/UID, secret/NAME/UID or serviceaccount/UID)")
	}
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: (*types.UID)(&uid)}}
	gone := func(err error) bool { return err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) }
	switch kind {
	case boundPod:
		if err := p.c.CoreV1().Pods(ns).Delete(ctx, name, opts); !gone(err) {
			return p.fail("revoke", ns+"/"+name, "delete on pods in "+ns, err)
		}
		return nil
	case boundSecret:
		if err := p.c.CoreV1().Secrets(ns).Delete(ctx, name, opts); !gone(err) {
			return p.fail("revoke", ns+"/"+name, "delete on secrets in "+ns, err)
		}
		return nil
	}
	acct, err := p.c.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// Deleted by an earlier call that stopped before recreating it.
		acct = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}
	case err != nil:
		return p.fail("revoke", p.join(ns, sa), "get on serviceaccounts in "+ns, err)
	case string(acct.UID) != uid:
		return nil
	default:
		if err := p.c.CoreV1().ServiceAccounts(ns).Delete(ctx, sa, opts); !gone(err) {
			return p.fail("revoke", p.join(ns, sa), "delete on serviceaccounts in "+ns, err)
		}
	}
	again := &corev1.ServiceAccount{
		ObjectMeta:                   metav1.ObjectMeta{Name: sa, Namespace: ns, Labels: acct.Labels, Annotations: acct.Annotations},
		Secrets:                      acct.Secrets,
		ImagePullSecrets:             acct.ImagePullSecrets,
		AutomountServiceAccountToken: acct.AutomountServiceAccountToken,
	}
	if _, err := p.c.CoreV1().ServiceAccounts(ns).Create(ctx, again, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return p.fail("revoke", p.join(ns, sa), "create on serviceaccounts in "+ns, err)
	}
	return nil
}
