// Package github is the provider for GitHub credentials: classic and
// fine-grained personal access tokens, GitHub App installation tokens and
// deploy keys, through go-github pointed at the inventory's endpoint
// (github.com's API or a GitHub Enterprise Server).
//
// GitHub offers no API to create a personal access token, so rekey cannot
// issue one (Issue is ErrUnsupported: a person supplies the new token in a
// manual step). It can mint GitHub App installation tokens (Generate) when
// the administrator is a GitHub App. Revocation goes through the
// organisation's fine-grained token review (GitHub App only), the
// credentials revocation API (for tokens rekey does not own) and deploy
// key deletion.
package github

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v72/github"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Type is the inventory system type.
const Type = "github"

var (
	_ provider.Provider      = (*Provider)(nil)
	_ provider.KeyIdentifier = (*Provider)(nil)
	_ provider.Rotator       = (*Provider)(nil)
	_ provider.Generator     = (*Provider)(nil)
	_ provider.SecretRevoker = (*Provider)(nil)
)

// Provider talks to one GitHub (or GitHub Enterprise Server) as its
// administrator: a token, or a GitHub App's installation.
type Provider struct {
	system string
	org    string // the organisation whose token listing rekey reads
	base   string // "" for api.github.com
	client *gh.Client
	app    *appAuth // nil when the administrator is a token
	opts   options
	san    provider.Sanitizer

	mu   sync.Mutex
	seen map[string]seenToken // login → what proving a leaked token showed
}

// seenToken is what one GET /user with a leaked token showed: a classic
// token's scopes and its expiry, which no administrator call can read.
type seenToken struct {
	kind    string
	scopes  []string
	expires time.Time
	scoped  bool // the X-OAuth-Scopes header was present
}

// options are the rate-limit waits, which tests make instant.
type options struct {
	// attempts bounds the tries of a rate-limited call.
	attempts int
	// maxWait caps one wait GitHub asks for; a longer one fails at once.
	maxWait time.Duration
	// wait sleeps d or until ctx ends.
	wait func(ctx context.Context, d time.Duration) error
}

var defaultOptions = options{attempts: 4, maxWait: 2 * time.Minute, wait: sleep}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// appAdmin is the GitHub App shape of the inventory's admin reference.
type appAdmin struct {
	AppID          int64  `json:"app_id"`
	InstallationID int64  `json:"installation_id"`
	PrivateKey     string `json:"private_key"`
}

// New opens the provider. cfg.Admin is a token, or the JSON
// {app_id, installation_id, private_key} of a GitHub App installed on the
// organisation (the organisation's fine-grained token endpoints answer
// GitHub Apps only). It checks the administrator with one request.
func New(ctx context.Context, cfg provider.Config) (provider.Provider, error) {
	return open(ctx, cfg, defaultOptions)
}

func open(ctx context.Context, pc provider.Config, o options) (*Provider, error) {
	p := &Provider{system: pc.System, base: pc.Endpoint, opts: o, seen: map[string]seenToken{}}
	if pc.Spec != nil {
		p.org = pc.Spec.Org
	}
	raw := strings.TrimSpace(string(pc.Admin.Reveal()))
	if raw == "" {
		return nil, errs.New(p.op("open"), errs.Invalid, "admin", "the administrator reference is empty: give a token, or a GitHub App's {app_id, installation_id, private_key}")
	}
	p.san.Add(raw)
	httpc := &http.Client{Timeout: 30 * time.Second}
	if strings.HasPrefix(raw, "{") {
		var a appAdmin
		if err := json.Unmarshal([]byte(raw), &a); err != nil || a.AppID == 0 || a.InstallationID == 0 || a.PrivateKey == "" {
			return nil, errs.New(p.op("open"), errs.Invalid, "admin", "a GitHub App administrator is the JSON {app_id, installation_id, private_key}")
		}
		key, err := parseKey(a.PrivateKey)
		if err != nil {
			return nil, errs.New(p.op("open"), errs.Invalid, "admin", "private_key: "+err.Error())
		}
		p.app = &appAuth{p: p, appID: a.AppID, installation: a.InstallationID, key: key}
		httpc.Transport = p.app
	}
	c, err := p.newClient(httpc)
	if err != nil {
		return nil, err
	}
	p.client = c
	if p.app != nil {
		// Minting the first installation token proves the app's key.
		if _, err := p.app.token(ctx); err != nil {
			return nil, err
		}
		return p, nil
	}
	p.client = c.WithAuthToken(raw)
	if err := p.call(ctx, func(ctx context.Context) (*gh.Response, error) {
		_, resp, err := p.client.Users.Get(ctx, "")
		return resp, err
	}); err != nil {
		return nil, p.fail("open", "", err)
	}
	return p, nil
}

// newClient is a go-github client for the endpoint: api.github.com when
// it is empty, else a GitHub Enterprise Server base (go-github adds
// /api/v3/ unless the host is an api. host).
func (p *Provider) newClient(httpc *http.Client) (*gh.Client, error) {
	c := gh.NewClient(httpc)
	if p.base == "" {
		return c, nil
	}
	c, err := c.WithEnterpriseURLs(p.base, p.base)
	if err != nil {
		return nil, errs.E(p.op("open"), errs.Invalid, "endpoint", err)
	}
	return c, nil
}

// leakedClient is a client authenticated as a leaked or new token.
func (p *Provider) leakedClient(token string) *gh.Client {
	c, err := p.newClient(&http.Client{Timeout: 30 * time.Second})
	if err != nil {
		c = gh.NewClient(nil)
	}
	return c.WithAuthToken(token)
}

// Close has nothing to release.
func (p *Provider) Close() error { return nil }

func (p *Provider) op(what string) string { return "github " + p.system + ": " + what }

// call runs f, waiting and trying again while GitHub answers with a rate
// limit (403 or 429 with x-ratelimit-remaining: 0 or retry-after), at
// most opts.attempts tries and never a wait over opts.maxWait. Every try
// bypasses go-github's own pre-emptive refusal, which remembers the last
// limit by the clock: the waits here are the ones GitHub asked for, and
// GitHub's answer is the authority on whether the limit still holds.
func (p *Provider) call(ctx context.Context, f func(context.Context) (*gh.Response, error)) error {
	var err error
	ctx = context.WithValue(ctx, gh.BypassRateLimitCheck, true)
	for i := 0; i < p.opts.attempts; i++ {
		_, err = f(ctx)
		d, limited := rateWait(err)
		if !limited {
			return err
		}
		if i == p.opts.attempts-1 {
			break
		}
		if d > p.opts.maxWait {
			return &rateLimited{err: err, attempts: i + 1, wait: d}
		}
		if werr := p.opts.wait(ctx, d); werr != nil {
			return werr
		}
	}
	return &rateLimited{err: err, attempts: p.opts.attempts}
}

// rateLimited is a call GitHub kept refusing for its rate limit.
type rateLimited struct {
	err      error
	attempts int
	wait     time.Duration
}

func (r *rateLimited) Error() string {
	if r.wait > 0 {
		return fmt.Sprintf("rate limited: GitHub asks to wait %s, longer than rekey waits", r.wait.Round(time.Second))
	}
	return fmt.Sprintf("still rate limited after %d attempts", r.attempts)
}

func (r *rateLimited) Unwrap() error { return r.err }

// rateWait says whether err is a rate limit and how long GitHub asks to
// wait: retry-after for a secondary limit, x-ratelimit-reset for the
// primary one.
func rateWait(err error) (time.Duration, bool) {
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) {
		if ab.RetryAfter != nil {
			return max(*ab.RetryAfter, 0), true
		}
		return time.Minute, true
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return max(time.Until(rl.Rate.Reset.Time), 0), true
	}
	// go-github knows a secondary limit only as a 403 naming its
	// documentation; GitHub documents 429 too, and retry-after or, failing
	// that, x-ratelimit-reset as the wait.
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && (er.Response.StatusCode == http.StatusTooManyRequests ||
		er.Response.StatusCode == http.StatusForbidden && er.Response.Header.Get("retry-after") != "") {
		h := er.Response.Header
		if s, err := strconv.Atoi(h.Get("retry-after")); err == nil {
			return time.Duration(max(s, 0)) * time.Second, true
		}
		if s, err := strconv.ParseInt(h.Get("x-ratelimit-reset"), 10, 64); err == nil {
			return max(time.Until(time.Unix(s, 0)), 0), true
		}
		return time.Minute, true
	}
	return 0, false
}

// status is the HTTP status of a GitHub error answer, 0 when err is none.
func status(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// Needed names what a 403 says the endpoint accepts, from the headers
// GitHub documents for it: X-Accepted-GitHub-Permissions for fine-grained
// and App tokens ("secrets=write"; sets of alternatives separated by ";"),
// X-Accepted-OAuth-Scopes for classic tokens; "" when neither says.
func Needed(h http.Header) string {
	if p := strings.TrimSpace(h.Get("X-Accepted-GitHub-Permissions")); p != "" {
		return "permission " + strings.ReplaceAll(p, ";", " or")
	}
	if s := strings.TrimSpace(h.Get("X-Accepted-OAuth-Scopes")); s != "" {
		return "scope " + strings.ReplaceAll(s, ",", " or")
	}
	return ""
}

// fail turns a client error into one line with a kind; no token reaches
// it (GitHub's messages hold none; the sanitizer makes sure).
func (p *Provider) fail(op, what string, err error) error {
	if err == nil {
		return nil
	}
	var rl *rateLimited
	if errors.As(err, &rl) {
		return errs.New(p.op(op), errs.Unreachable, what, rl.Error())
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		var kind errs.Kind
		var msg string
		switch code := er.Response.StatusCode; code {
		case http.StatusUnauthorized:
			kind, msg = errs.Permission, "the administrator credential is refused (401 "+er.Message+")"
		case http.StatusForbidden:
			kind, msg = errs.Permission, fmt.Sprintf("the administrator credential may not %s %s (403 %s)", er.Response.Request.Method, er.Response.Request.URL.Path, er.Message)
			if need := Needed(er.Response.Header); need != "" {
				msg = fmt.Sprintf("the administrator credential lacks %s to %s %s (403 %s)", need, er.Response.Request.Method, er.Response.Request.URL.Path, er.Message)
			}
		case http.StatusNotFound:
			kind, msg = errs.NotFound, "404 "+er.Message
		case http.StatusUnprocessableEntity:
			kind, msg = errs.Invalid, "422 "+er.Message
		default:
			kind, msg = errs.Other, fmt.Sprintf("%d %s", code, er.Message)
		}
		return errs.New(p.op(op), kind, what, p.san.Clean(msg))
	}
	if cause, ok := provider.NetCause(err); ok {
		return errs.New(p.op(op), errs.Unreachable, what, "cannot reach "+p.endpoint()+": "+cause)
	}
	return p.san.Scrub(errs.E(p.op(op), errs.Other, what, err))
}

func (p *Provider) endpoint() string {
	if p.base != "" {
		return p.base
	}
	return "api.github.com"
}

// unsupported is an errs.Unsupported wrapping provider.ErrUnsupported.
func (p *Provider) unsupported(op, what, why string) error {
	return errs.E(p.op(op), errs.Unsupported, what, fmt.Errorf("%s (%w)", why, provider.ErrUnsupported))
}

// appAuth authenticates as a GitHub App installation: a JWT signed with
// the app's key mints an installation token (an hour long), renewed five
// minutes before it ends.
type appAuth struct {
	p            *Provider
	appID        int64
	installation int64
	key          *rsa.PrivateKey

	mu      sync.Mutex
	current string
	expires time.Time
}

// Client is the administrator's go-github client, for a delivery target
// (package deliver/ghsecret) that writes with this system's administrator.
func (p *Provider) Client() *gh.Client { return p.client }

// Retry runs f as the provider runs its own calls: waiting out GitHub's
// rate limits as asked, a bounded number of times (ghsecret.Config.Retry).
func (p *Provider) Retry(ctx context.Context, f func(context.Context) (*gh.Response, error)) error {
	return p.call(ctx, f)
}
