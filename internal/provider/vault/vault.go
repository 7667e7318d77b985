// Package vault is the provider for Vault (and OpenBao, which keeps its
// API) tokens, through the official client github.com/hashicorp/vault/api
// pointed at the inventory's endpoint. A token is named by its accessor,
// its public id; the principal a token belongs to is its display name
// (without the "token-" prefix auth/token/create adds). The administrator
// finds a leaked token's accessor, policies and TTL with auth/token/lookup,
// which takes the token in the request body: that is the administrator's
// request, not one authenticated as the leaked token. Vault generates a
// token's secret itself, so replacement goes through provider.Generator.
package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Type is the inventory's system type.
const Type = "vault"

var (
	_ provider.Provider      = (*Provider)(nil)
	_ provider.KeyIdentifier = (*Provider)(nil)
	_ provider.Rotator       = (*Provider)(nil)
	_ provider.Generator     = (*Provider)(nil)
)

// Provider talks to one Vault as its administrator token.
type Provider struct {
	system   string
	endpoint string
	c        *api.Client
	opts     options
	san      provider.Sanitizer
}

// options bound the client's retries of throttling (429) and server
// errors (5xx), with the client's own backoff; tests shorten the waits.
type options struct {
	retries          int
	minWait, maxWait time.Duration
}

var defaultOptions = options{retries: 4, minWait: time.Second, maxWait: 10 * time.Second}

// New opens the provider: cfg.Endpoint is Vault's address, cfg.Admin the
// administrator's token. It checks the token with auth/token/lookup-self,
// which Vault's default policy allows.
func New(ctx context.Context, cfg provider.Config) (provider.Provider, error) {
	p, err := open(ctx, cfg, defaultOptions)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func open(ctx context.Context, pc provider.Config, o options) (*Provider, error) {
	p := &Provider{system: pc.System, endpoint: pc.Endpoint, opts: o}
	if pc.Endpoint == "" {
		return nil, errs.New(p.op("open"), errs.Invalid, "", "a vault system needs endpoint: (Vault's address, like https://vault.example.com:8200)")
	}
	token := strings.TrimSpace(string(pc.Admin.Reveal()))
	if token == "" {
		return nil, errs.New(p.op("open"), errs.Invalid, "admin", "the administrator reference must hold a Vault token")
	}
	p.san.Add(token)
	// DefaultConfig reads VAULT_* variables; everything that decides where
	// and as whom rekey talks is set from the inventory instead.
	conf := api.DefaultConfig()
	if conf.Error != nil {
		return nil, errs.E(p.op("open"), errs.Invalid, "", conf.Error)
	}
	conf.Address = pc.Endpoint
	conf.MaxRetries = o.retries
	conf.MinRetryWait, conf.MaxRetryWait = o.minWait, o.maxWait
	c, err := api.NewClient(conf)
	if err != nil {
		return nil, p.fail("open", "", "", "", err)
	}
	c.ClearNamespace()
	c.SetToken(token)
	p.c = c
	if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		return nil, p.fail("open", "", "", "", err)
	}
	return p, nil
}

// Close has nothing to release: the client holds no state rekey owns.
func (p *Provider) Close() error { return nil }

func (p *Provider) op(what string) string { return "vault " + p.system + ": " + what }

// tokenShape is a Vault token: a service, batch or recovery token of
// Vault 1.10 and later (hvs., hvb., hvr.) or the older s., b., r. forms.
var tokenShape = regexp.MustCompile(`^(hv[sbr]|[sbr])\.[A-Za-z0-9_.-]{20,}$`)

// as is a client authenticated with another token (the one verified).
func (p *Provider) as(token []byte) (*api.Client, error) {
	c, err := p.c.Clone()
	if err != nil {
		return nil, err
	}
	c.SetToken(string(token))
	return c, nil
}

// responseError is the API error in err, or nil.
func responseError(err error) *api.ResponseError {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

// says reports whether err is an API answer whose errors mention msg
// ("invalid accessor", "bad token").
func says(err error, msg string) bool {
	re := responseError(err)
	if re == nil {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, msg) {
			return true
		}
	}
	return false
}

// fail turns a client error into one line with a kind. Vault answers a
// missing capability with a bare "permission denied"; the provider knows
// the path it called and the capability it needed (need), so the message
// names both. No secret reaches it: request bodies are not echoed, and the
// sanitizer is the belt to those braces.
func (p *Provider) fail(op, what, need, path string, err error) error {
	if err == nil {
		return nil
	}
	if re := responseError(err); re != nil {
		msg := strings.Join(re.Errors, "; ")
		msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "1 error occurred:", "")), " ")
		msg = strings.TrimPrefix(msg, "* ")
		var kind errs.Kind
		switch {
		case re.StatusCode == http.StatusForbidden && path == "":
			kind, msg = errs.Permission, "the administrator token is refused ("+msg+")"
		case re.StatusCode == http.StatusForbidden:
			kind, msg = errs.Permission, "the administrator token lacks "+need+" on "+path+" ("+msg+")"
		case re.StatusCode == http.StatusNotFound:
			kind = errs.NotFound
		case re.StatusCode == http.StatusTooManyRequests:
			kind, msg = errs.Unreachable, fmt.Sprintf("still throttled after %d attempts (%s)", p.opts.retries+1, msg)
		case re.StatusCode >= 500:
			kind = errs.Unreachable
		case re.StatusCode == http.StatusBadRequest:
			kind = errs.Invalid
		default:
			kind = errs.Other
		}
		if msg == "" {
			msg = http.StatusText(re.StatusCode)
		}
		return errs.New(p.op(op), kind, what, p.san.Clean(msg))
	}
	if cause, ok := provider.NetCause(err); ok {
		return errs.New(p.op(op), errs.Unreachable, what, "cannot reach "+p.endpoint+": "+cause)
	}
	return p.san.Scrub(errs.E(p.op(op), errs.Other, what, errors.New(p.san.Clean(err.Error()))))
}

// unsupported is an errs.Unsupported wrapping provider.ErrUnsupported.
func (p *Provider) unsupported(op, why string) error {
	return errs.E(p.op(op), errs.Unsupported, "", fmt.Errorf("%s (%w)", why, provider.ErrUnsupported))
}
