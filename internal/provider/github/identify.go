package github

import (
	"context"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v72/github"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Token kinds, by the prefixes GitHub documents for its tokens.
const (
	KindClassic      = "classic"      // ghp_
	KindFineGrained  = "fine-grained" // github_pat_
	KindInstallation = "installation" // ghs_
	KindOAuth        = "oauth"        // gho_, ghu_, ghr_
)

// TokenKind names a GitHub token's kind by its prefix, "" when s is none.
func TokenKind(s []byte) string {
	v := string(s)
	switch {
	case strings.HasPrefix(v, "ghp_"):
		return KindClassic
	case strings.HasPrefix(v, "github_pat_"):
		return KindFineGrained
	case strings.HasPrefix(v, "ghs_"):
		return KindInstallation
	case strings.HasPrefix(v, "gho_"), strings.HasPrefix(v, "ghu_"), strings.HasPrefix(v, "ghr_"):
		return KindOAuth
	}
	return ""
}

// Identify is IdentifyKey without UseLeaked.
func (p *Provider) Identify(ctx context.Context, s secret.Secret) ([]provider.Match, error) {
	return p.IdentifyKey(ctx, provider.IdentifyRequest{Secret: s})
}

// IdentifyUsingLeaked is IdentifyKey with UseLeaked: one GET /user made
// with the leaked token.
func (p *Provider) IdentifyUsingLeaked(ctx context.Context, s secret.Secret) ([]provider.Match, error) {
	return p.IdentifyKey(ctx, provider.IdentifyRequest{Secret: s, UseLeaked: true})
}

// IdentifyKey finds whose token req.Secret is. GitHub has no
// administrator call that takes a token (or part of one) and names its
// owner, and the organisation's fine-grained token listing holds no part
// of a token, so without UseLeaked the match has no name: the token's kind
// only, Unproven. With UseLeaked (audited by the caller) one GET /user
// made with the leaked token names the owner, shows a classic token's
// scopes and expiry, and proves the token; a fine-grained token is then
// tied to the organisation's listing when the owner has exactly one
// token granted there, or one whose last use is the proving request.
// A token GitHub refuses (401) is no match. A leaked SSH private key is
// matched, without using it, to the deploy keys of the organisation's
// repositories that hold its public half.
func (p *Provider) IdentifyKey(ctx context.Context, req provider.IdentifyRequest) ([]provider.Match, error) {
	kind := TokenKind(req.Secret.Reveal())
	if kind == "" {
		ms, _, err := p.identifyDeployKey(ctx, req.Secret)
		return ms, err
	}
	m := provider.Match{
		Ref:      provider.IdentityRef{System: p.system, Key: kind},
		Method:   "token format " + kind + " (owner unknown: GitHub names a token's owner only to a request made with it)",
		Unproven: true,
	}
	if !req.UseLeaked {
		return []provider.Match{m}, nil
	}
	p.san.Add(string(req.Secret.Reveal()))
	began := time.Now().Add(-time.Second)
	c := p.leakedClient(string(req.Secret.Reveal()))
	var u *gh.User
	var resp *gh.Response
	err := p.call(ctx, func(ctx context.Context) (*gh.Response, error) {
		var err error
		u, resp, err = c.Users.Get(ctx, "")
		return resp, err
	})
	switch code := status(err); {
	case code == 401:
		return nil, nil
	case code == 403 && kind == KindInstallation:
		// An installation token authenticates but is no user.
		m.Method, m.Unproven = "GET /user with the leaked token (an installation token: no user)", false
		m.Ref.Name = "installation"
		return []provider.Match{m}, nil
	case err != nil:
		return nil, p.fail("prove the leaked token", kind, err)
	}
	login := u.GetLogin()
	seen := seenToken{kind: kind}
	if h := resp.Header.Values("X-OAuth-Scopes"); len(h) > 0 {
		seen.scoped = true
		for _, s := range strings.Split(h[0], ",") {
			if s = strings.TrimSpace(s); s != "" {
				seen.scopes = append(seen.scopes, s)
			}
		}
	}
	if e := resp.Header.Get("github-authentication-token-expiration"); e != "" {
		seen.expires, _ = time.Parse("2006-01-02 15:04:05 MST", e)
	}
	p.mu.Lock()
	p.seen[login] = seen
	p.mu.Unlock()
	m.Ref.Name = login
	m.Method, m.Unproven = "GET /user with the leaked token", false
	if kind == KindFineGrained && p.app != nil && p.org != "" {
		pats, err := p.orgPATs(ctx)
		if err != nil {
			return nil, err
		}
		var mine, used []*gh.PersonalAccessToken
		for _, t := range pats {
			if t.GetOwner().GetLogin() == login {
				mine = append(mine, t)
				if t.TokenLastUsedAt != nil && !t.TokenLastUsedAt.Before(began.Truncate(time.Second)) {
					used = append(used, t)
				}
			}
		}
		switch {
		case len(mine) == 1:
			m.Ref.Key = patKey(p.org, mine[0].GetID())
		case len(used) == 1:
			m.Ref.Key = patKey(p.org, used[0].GetID())
		}
	}
	return []provider.Match{m}, nil
}

// patKey is the IdentityRef.Key of a fine-grained token's grant in org.
func patKey(org string, id int64) string {
	return "pat:" + org + ":" + strconv.FormatInt(id, 10)
}

// parsePatKey reads patKey's form.
func parsePatKey(k string) (org string, id int64, ok bool) {
	rest, found := strings.CutPrefix(k, "pat:")
	if !found {
		return "", 0, false
	}
	org, n, found := strings.Cut(rest, ":")
	id, err := strconv.ParseInt(n, 10, 64)
	return org, id, found && err == nil
}

// deployKey is the IdentityRef.Key of a repository's deploy key:
// "deploy-key:OWNER/REPO:ID".
func deployKey(repo string, id int64) string {
	return "deploy-key:" + repo + ":" + strconv.FormatInt(id, 10)
}

func parseDeployKey(k string) (owner, repo string, id int64, ok bool) {
	rest, found := strings.CutPrefix(k, "deploy-key:")
	if !found {
		return "", "", 0, false
	}
	full, n, found := strings.Cut(rest, ":")
	owner, repo, slash := strings.Cut(full, "/")
	id, err := strconv.ParseInt(n, 10, 64)
	return owner, repo, id, found && slash && err == nil
}

// orgPATs lists every fine-grained token granted to the organisation,
// through every page.
func (p *Provider) orgPATs(ctx context.Context) ([]*gh.PersonalAccessToken, error) {
	if p.app == nil {
		return nil, errs.New(p.op("list fine-grained tokens"), errs.Permission, p.org, "the organisation's fine-grained token listing answers GitHub Apps only: give admin as {app_id, installation_id, private_key}")
	}
	all, err := pages(ctx, p, func(ctx context.Context, page int) ([]*gh.PersonalAccessToken, *gh.Response, error) {
		return p.client.Organizations.ListFineGrainedPersonalAccessTokens(ctx, p.org, &gh.ListFineGrainedPATOptions{ListOptions: gh.ListOptions{PerPage: 100, Page: page}})
	})
	if err != nil {
		return nil, p.fail("list fine-grained tokens", p.org, err)
	}
	return all, nil
}

// Verify makes one GET /user with c's token: nil when GitHub accepts it
// (an installation token's 403 "not accessible by integration" is an
// accepted token), errs.Permission when it answers 401.
func (p *Provider) Verify(ctx context.Context, c provider.Credential) error {
	cl := p.leakedClient(string(c.Secret.Reveal()))
	err := p.call(ctx, func(ctx context.Context) (*gh.Response, error) {
		_, resp, err := cl.Users.Get(ctx, "")
		return resp, err
	})
	switch code := status(err); {
	case err == nil, code == 403 && TokenKind(c.Secret.Reveal()) == KindInstallation:
		return nil
	case code == 401:
		return errs.New(p.op("verify"), errs.Permission, c.Ref.Name, "GitHub refuses the token (401 Bad credentials)")
	}
	return p.fail("verify", c.Ref.Name, err)
}
