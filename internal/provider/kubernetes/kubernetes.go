// Package kubernetes is the provider for Kubernetes service-account
// tokens, through client-go's typed clients. A principal is a service
// account, named "name" in the kubeconfig context's namespace or
// "namespace/name" elsewhere; a key is a legacy token Secret (type
// kubernetes.io/service-account-token), named by the Secret's name, its
// public id. The administrator finds a leaked token by reading token
// Secrets and comparing their data.token with it in constant time: no
// request is made with the leaked token. The token controller generates a
// token Secret's token, so replacement goes through provider.Generator.
//
// Bound (projected) tokens are not Secrets: the administrator has the API
// server review one (TokenReview), and its key names what it dies with,
// its pod, a Secret, or its service account (bound.go). Revoking one
// deletes that object; for an account-only token that means recreating
// the account, which breaks every pod running as it, so the plan has a
// person approve it first.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/kubeapi"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Type is the inventory's system type.
const Type = "kubernetes"

var (
	_ provider.Provider      = (*Provider)(nil)
	_ provider.KeyIdentifier = (*Provider)(nil)
	_ provider.Rotator       = (*Provider)(nil)
	_ provider.Generator     = (*Provider)(nil)
)

// Provider talks to one cluster as the kubeconfig's user.
type Provider struct {
	system    string
	namespace string // the kubeconfig context's, "default" without one
	host      string
	c         kubernetes.Interface
	san       provider.Sanitizer
}

// New opens the provider: cfg.Admin holds a kubeconfig (its current
// context), cfg.Endpoint, when set, replaces the cluster's server URL. It
// checks the credential by listing service accounts in the namespace.
func New(ctx context.Context, cfg provider.Config) (provider.Provider, error) {
	p, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func open(ctx context.Context, pc provider.Config) (*Provider, error) {
	p := &Provider{system: pc.System}
	raw := pc.Admin.Reveal()
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil, errs.New(p.op("open"), errs.Invalid, "admin", "the administrator reference must hold a kubeconfig")
	}
	c, err := kubeapi.New(raw, pc.Endpoint)
	if err != nil {
		return nil, errs.E(p.op("open"), errs.Invalid, "admin", err)
	}
	p.san.Add(c.Token, c.Password)
	p.host, p.namespace = c.Host, c.Namespace
	p.c = c
	if _, err := c.CoreV1().ServiceAccounts(p.namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, p.fail("open", "", "list on serviceaccounts", err)
	}
	return p, nil
}

// Close has nothing to release.
func (p *Provider) Close() error { return nil }

func (p *Provider) op(what string) string { return "kubernetes " + p.system + ": " + what }

// split reads a principal's name: "namespace/name" or "name" in the
// provider's namespace.
func (p *Provider) split(name string) (ns, sa string) {
	if ns, sa, ok := strings.Cut(name, "/"); ok {
		return ns, sa
	}
	return p.namespace, name
}

// join is split's inverse.
func (p *Provider) join(ns, sa string) string {
	if ns == p.namespace {
		return sa
	}
	return ns + "/" + sa
}

// fail turns a client error into one line with a kind; need is the verb
// and resource the call needed, named when the cluster refuses it.
func (p *Provider) fail(op, what, need string, err error) error {
	if err == nil {
		return nil
	}
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		msg := st.Message
		var kind errs.Kind
		switch {
		case st.Code == http.StatusUnauthorized:
			kind, msg = errs.Permission, "the kubeconfig's credential is refused ("+msg+")"
		case st.Code == http.StatusForbidden:
			kind, msg = errs.Permission, "the administrator lacks "+need+" ("+msg+")"
		case st.Code == http.StatusNotFound:
			kind = errs.NotFound
		case st.Code == http.StatusConflict || st.Code == http.StatusUnprocessableEntity || st.Code == http.StatusBadRequest:
			kind = errs.Invalid
		case st.Code == http.StatusTooManyRequests || st.Code >= 500:
			kind = errs.Unreachable
		default:
			kind = errs.Other
		}
		if msg == "" {
			msg = http.StatusText(int(st.Code))
		}
		return errs.New(p.op(op), kind, what, p.san.Clean(msg))
	}
	if cause, ok := provider.NetCause(err); ok {
		return errs.New(p.op(op), errs.Unreachable, what, "cannot reach "+p.host+": "+cause)
	}
	return p.san.Scrub(errs.E(p.op(op), errs.Other, what, errors.New(p.san.Clean(err.Error()))))
}

// unsupported is an errs.Unsupported wrapping provider.ErrUnsupported.
func (p *Provider) unsupported(op, why string) error {
	return errs.E(p.op(op), errs.Unsupported, "", fmt.Errorf("%s (%w)", why, provider.ErrUnsupported))
}
