package kubernetes

import (
	"context"
	"crypto/subtle"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

const provedMethod = "token Secret's data.token compared by the administrator (the token is not used)"

// looksLikeToken: a service-account token is a JWT (header.claims.signature,
// the header base64 of `{"`). Anything else is not compared at all.
func looksLikeToken(tok []byte) bool {
	return strings.HasPrefix(string(tok), "eyJ") && strings.Count(string(tok), ".") == 2
}

// Identify finds the token Secret holding the leaked token among every
// namespace's token Secrets (the administrator's namespace alone when it
// may not list Secrets cluster-wide), comparing in constant time. A token
// no Secret holds, a bound one, is reviewed by the API server
// (identifyBound). No request is authenticated with the leaked token.
func (p *Provider) Identify(ctx context.Context, s secret.Secret) ([]provider.Match, error) {
	tok := []byte(strings.TrimSpace(string(s.Reveal())))
	if !looksLikeToken(tok) {
		return nil, nil
	}
	list, err := p.secrets(ctx, "")
	if apierrors.IsForbidden(err) {
		list, err = p.secrets(ctx, p.namespace)
	}
	if err != nil {
		return nil, p.fail("identify", "", "list on secrets", err)
	}
	var out []provider.Match
	for _, sec := range list {
		if holds(sec, tok) {
			out = append(out, provider.Match{Ref: p.ref(sec), Method: provedMethod})
		}
	}
	if len(out) == 0 {
		return p.identifyBound(ctx, tok)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref.Key < out[j].Ref.Key })
	return out, nil
}

// secrets lists the token Secrets of ns ("": every namespace).
func (p *Provider) secrets(ctx context.Context, ns string) ([]corev1.Secret, error) {
	opts := metav1.ListOptions{FieldSelector: "type=" + string(corev1.SecretTypeServiceAccountToken)}
	return listAll(ctx, opts, p.c.CoreV1().Secrets(ns).List, func(l *corev1.SecretList) []corev1.Secret { return l.Items })
}

// holds reports whether sec is a token Secret whose token is tok.
func holds(sec corev1.Secret, tok []byte) bool {
	return sec.Type == corev1.SecretTypeServiceAccountToken && len(sec.Data["token"]) > 0 &&
		subtle.ConstantTimeCompare(sec.Data["token"], tok) == 1
}

func (p *Provider) ref(sec corev1.Secret) provider.IdentityRef {
	return provider.IdentityRef{System: p.system, Name: p.join(sec.Namespace, sec.Annotations[corev1.ServiceAccountNameKey]), Key: sec.Name}
}

// IdentifyKey finds the token Secret named req.KeyID ("name" in the
// provider's namespace or "namespace/name"): the match is Unproven. With
// req.Secret, the Secret's token is compared with it; another token, or
// none, is no match. UseLeaked changes nothing: the comparison needs no
// request made with the leaked token.
func (p *Provider) IdentifyKey(ctx context.Context, req provider.IdentifyRequest) ([]provider.Match, error) {
	ns, name := p.split(req.KeyID)
	sec, found, err := p.tokenSecret(ctx, "identify", ns, name)
	if err != nil || !found {
		return nil, err
	}
	m := provider.Match{Ref: p.ref(*sec), Method: "token Secret by name (token not proven)", Unproven: true}
	if req.Secret.IsZero() {
		return []provider.Match{m}, nil
	}
	if !holds(*sec, []byte(strings.TrimSpace(string(req.Secret.Reveal())))) {
		return nil, nil
	}
	m.Method, m.Unproven = provedMethod, false
	return []provider.Match{m}, nil
}

// tokenSecret reads a token Secret; found is false when it is missing or
// not a service-account token.
func (p *Provider) tokenSecret(ctx context.Context, op, ns, name string) (*corev1.Secret, bool, error) {
	sec, err := p.c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, p.fail(op, ns+"/"+name, "get on secrets in "+ns, err)
	}
	if sec.Type != corev1.SecretTypeServiceAccountToken {
		return nil, false, nil
	}
	return sec, true, nil
}

// saTokens lists the token Secrets of service account sa in ns.
func (p *Provider) saTokens(ctx context.Context, op, ns, sa string) ([]corev1.Secret, error) {
	list, err := p.secrets(ctx, ns)
	if err != nil {
		return nil, p.fail(op, ns+"/"+sa, "list on secrets in "+ns, err)
	}
	var out []corev1.Secret
	for _, s := range list {
		if s.Annotations[corev1.ServiceAccountNameKey] == sa {
			out = append(out, s)
		}
	}
	return out, nil
}
