// Package gitlab is the provider for GitLab personal access tokens,
// through the official client gitlab.com/gitlab-org/api/client-go/v2
// pointed at the inventory's endpoint (default https://gitlab.com). A
// token is named by its numeric id, its public id; the principal is the
// user (or service account) it belongs to, by username. The administrator
// identifies a leaked token with the token information API (POST
// /admin/token), which takes the token in the request body: the
// administrator's request, not one authenticated as the leaked token.
// GitLab generates a token's value itself, so replacement goes through
// provider.Generator.
package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/gitlabapi"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Type is the inventory's system type.
const Type = "gitlab"

// DefaultEndpoint is GitLab.com.
const DefaultEndpoint = gitlabapi.DefaultEndpoint

var (
	_ provider.Provider      = (*Provider)(nil)
	_ provider.KeyIdentifier = (*Provider)(nil)
	_ provider.Rotator       = (*Provider)(nil)
	_ provider.Generator     = (*Provider)(nil)
)

// Provider talks to one GitLab instance as its administrator token.
type Provider struct {
	system   string
	endpoint string
	c        *gl.Client
	opts     gitlabapi.Options
	san      provider.Sanitizer
}

// defaultOptions: 4 retries of a throttled request, each wait as GitLab
// asks and at most a minute.
var defaultOptions = gitlabapi.Options{}

// New opens the provider: cfg.Endpoint is GitLab's base URL (default
// GitLab.com), cfg.Admin an administrator's personal access token. It
// checks the token with GET /user.
func New(ctx context.Context, cfg provider.Config) (provider.Provider, error) {
	p, err := open(ctx, cfg, defaultOptions)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func open(ctx context.Context, pc provider.Config, o gitlabapi.Options) (*Provider, error) {
	p := &Provider{system: pc.System, endpoint: pc.Endpoint, opts: o}
	if p.endpoint == "" {
		p.endpoint = DefaultEndpoint
	}
	token := strings.TrimSpace(string(pc.Admin.Reveal()))
	if token == "" {
		return nil, errs.New(p.op("open"), errs.Invalid, "admin", "the administrator reference must hold a GitLab personal access token")
	}
	p.san.Add(token)
	c, err := p.client(token)
	if err != nil {
		return nil, errs.New(p.op("open"), errs.Invalid, "endpoint", p.san.Clean(err.Error()))
	}
	p.c = c
	if _, _, err := c.Users.CurrentUser(gl.WithContext(ctx)); err != nil {
		return nil, p.fail("open", "", "", err)
	}
	return p, nil
}

// client is a client for the endpoint authenticated as token.
func (p *Provider) client(token string) (*gl.Client, error) {
	return gitlabapi.New(p.endpoint, token, p.opts)
}

// Close has nothing to release.
func (p *Provider) Close() error { return nil }

func (p *Provider) op(what string) string { return "gitlab " + p.system + ": " + what }

// status is the HTTP status of an API error, or 0.
func status(err error) int {
	if errors.Is(err, gl.ErrNotFound) {
		return http.StatusNotFound
	}
	var er *gl.ErrorResponse
	if errors.As(err, &er) {
		return er.StatusCode
	}
	return 0
}

// fail turns a client error into one line with a kind. GitLab answers a
// token without the scope an endpoint needs with 403 insufficient_scope,
// and a non-administrator with 403 Forbidden; need names what the call
// takes, so the message says what is missing.
func (p *Provider) fail(op, what, need string, err error) error {
	if err == nil {
		return nil
	}
	var er *gl.ErrorResponse
	if errors.As(err, &er) || errors.Is(err, gl.ErrNotFound) {
		code := status(err)
		msg := ""
		if er != nil {
			msg = er.Message
		}
		var kind errs.Kind
		switch {
		case code == http.StatusUnauthorized:
			kind, msg = errs.Permission, "the administrator token is refused (401 Unauthorized: revoked, expired or wrong)"
		case code == http.StatusForbidden && need != "":
			kind, msg = errs.Permission, "the administrator token lacks "+need+" ("+msg+")"
		case code == http.StatusForbidden:
			kind, msg = errs.Permission, "the administrator token is refused ("+msg+")"
		case code == http.StatusNotFound:
			kind, msg = errs.NotFound, "not found"
		case code == http.StatusTooManyRequests:
			kind, msg = errs.Unreachable, fmt.Sprintf("still throttled after %d attempts (429)", p.opts.Attempts())
		case code >= 500:
			kind = errs.Unreachable
		case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
			kind = errs.Invalid
		default:
			kind = errs.Other
		}
		if msg == "" {
			msg = http.StatusText(code)
		}
		return errs.New(p.op(op), kind, what, p.san.Clean(oneLine(msg)))
	}
	if cause, ok := provider.NetCause(err); ok {
		return errs.New(p.op(op), errs.Unreachable, what, "cannot reach "+p.endpoint+": "+cause)
	}
	return errs.New(p.op(op), errs.Other, what, p.san.Clean(oneLine(err.Error())))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// unsupported is an errs.Unsupported wrapping provider.ErrUnsupported.
func (p *Provider) unsupported(op, why string) error {
	return errs.E(p.op(op), errs.Unsupported, "", fmt.Errorf("%s (%w)", why, provider.ErrUnsupported))
}

// Renew is unsupported: GitLab moves a token's expiry only by rotating
// it, which replaces its value.
func (p *Provider) Renew(context.Context, provider.IdentityRef, time.Time) error {
	return p.unsupported("renew", "GitLab changes a token's expiry only by rotating it (a new value)")
}
