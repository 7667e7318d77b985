package github

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	gh "github.com/google/go-github/v72/github"

	"github.com/rekeyhq/rekey/internal/provider"
)

// grade is a permission's risk and whether it lets the holder mint other
// credentials.
type grade struct {
	risk    provider.Risk
	creates bool
}

// classicRisk grades a classic token's OAuth scopes; creates marks scopes
// that let the holder mint other credentials (SSH and GPG keys, org
// membership and apps, hooks).
var classicRisk = map[string]grade{
	"admin:org":        {provider.RiskCritical, true},
	"admin:enterprise": {provider.RiskCritical, true},
	"site_admin":       {provider.RiskCritical, true},
	"delete_repo":      {provider.RiskHigh, false},
	"workflow":         {provider.RiskHigh, false}, // workflows read every Actions secret
	"write:packages":   {provider.RiskHigh, false}, // supply chain
	"repo":             {provider.RiskHigh, false}, // every private repository the owner reaches
	"admin:public_key": {provider.RiskHigh, true},
	"admin:gpg_key":    {provider.RiskHigh, true},
	"admin:repo_hook":  {provider.RiskHigh, false},
	"admin:org_hook":   {provider.RiskHigh, false},
	"write:org":        {provider.RiskHigh, false},
	"public_repo":      {provider.RiskMedium, false},
	"user":             {provider.RiskMedium, false},
	"gist":             {provider.RiskLow, false},
}

// gradeScope grades one classic scope; read-only scopes are low.
func gradeScope(s string) provider.Privilege {
	g, ok := classicRisk[s]
	if !ok {
		g.risk = provider.RiskLow
		if strings.HasPrefix(s, "write:") || strings.HasPrefix(s, "admin:") {
			g.risk = provider.RiskMedium
		}
	}
	return provider.Privilege{Name: "scope " + s, Risk: g.risk, CreatesCredentials: g.creates}
}

// fineRisk grades a fine-grained permission held for writing (or admin).
// On every repository of the organisation a repository permission counts
// one step higher.
var fineRisk = map[string]grade{
	"organization/administration":                              {provider.RiskCritical, true},
	"organization/members":                                     {provider.RiskCritical, true},
	"organization/organization_personal_access_tokens":         {provider.RiskCritical, true},
	"organization/organization_secrets":                        {provider.RiskHigh, false},
	"organization/secrets":                                     {provider.RiskHigh, false},
	"repository/administration":                                {provider.RiskHigh, true}, // deploy keys, collaborators
	"repository/secrets":                                       {provider.RiskHigh, false},
	"repository/workflows":                                     {provider.RiskHigh, false},
	"repository/packages":                                      {provider.RiskHigh, false},
	"repository/actions":                                       {provider.RiskMedium, false},
	"repository/contents":                                      {provider.RiskMedium, false},
	"organization/organization_personal_access_token_requests": {provider.RiskHigh, true},
}

// gradePermission grades one fine-grained permission at level on the
// token's repositories (all: every repository of the organisation).
func gradePermission(scope, name, level string, all bool) provider.Privilege {
	pr := provider.Privilege{Name: fmt.Sprintf("%s %s: %s", scope, name, level), Risk: provider.RiskLow}
	if level != "write" && level != "admin" {
		return pr
	}
	g, ok := fineRisk[scope+"/"+name]
	if !ok {
		g.risk = provider.RiskMedium
	}
	pr.Risk, pr.CreatesCredentials = g.risk, g.creates
	if all && scope == "repository" {
		switch pr.Risk {
		case provider.RiskMedium:
			pr.Risk = provider.RiskHigh
		case provider.RiskHigh:
			pr.Risk = provider.RiskCritical
		}
		pr.Name += " on every repository"
	}
	return pr
}

// Inspect describes what the token or key id names:
//   - Key "pat:ORG:ID": the organisation's listing of that fine-grained
//     token (permissions, repositories, expiry, last use);
//   - Key "deploy-key:OWNER/REPO:ID": that deploy key;
//   - otherwise what proving the leaked token showed (a classic token's
//     scopes and expiry), and, with a GitHub App administrator, the
//     owner's fine-grained tokens in the organisation as related.
//
// It has no side effects; what does not exist is Exists=false.
func (p *Provider) Inspect(ctx context.Context, id provider.IdentityRef) (*provider.Identity, error) {
	out := &provider.Identity{Ref: id, Privileges: []provider.Privilege{}, Sessions: []provider.Session{}, Related: []provider.Related{}}
	if org, patID, ok := parsePatKey(id.Key); ok {
		return p.inspectPAT(ctx, out, org, patID)
	}
	if owner, repo, keyID, ok := parseDeployKey(id.Key); ok {
		return p.inspectDeployKey(ctx, out, owner, repo, keyID)
	}
	p.mu.Lock()
	seen, ok := p.seen[id.Name]
	p.mu.Unlock()
	if ok {
		out.Exists, out.CanLogin = true, true
		for _, s := range seen.scopes {
			out.Privileges = append(out.Privileges, gradeScope(s))
		}
		if !seen.expires.IsZero() {
			e := seen.expires
			out.ValidUntil = &e
		}
	}
	if id.Name != "" && p.app != nil && p.org != "" {
		pats, err := p.orgPATs(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range pats {
			if t.GetOwner().GetLogin() == id.Name {
				out.Related = append(out.Related, provider.Related{Kind: "other-key", Name: patKey(p.org, t.GetID()),
					Detail: fmt.Sprintf("a fine-grained token of %s granted to %s (%s repositories), last used %s", id.Name, p.org, t.GetRepositorySelection(), when(t.TokenLastUsedAt))})
			}
		}
	}
	return out, nil
}

func when(t *gh.Timestamp) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func (p *Provider) inspectPAT(ctx context.Context, out *provider.Identity, org string, patID int64) (*provider.Identity, error) {
	if org != p.org {
		return nil, p.unsupported("inspect", out.Ref.Key, "the token's organisation "+org+" is not this system's organisation "+p.org)
	}
	pats, err := p.orgPATs(ctx)
	if err != nil {
		return nil, err
	}
	var t *gh.PersonalAccessToken
	for _, x := range pats {
		if x.GetID() == patID {
			t = x
		}
	}
	if t == nil {
		return out, nil
	}
	out.Exists, out.CanLogin = true, !t.GetTokenExpired()
	if t.TokenExpiresAt != nil {
		e := t.TokenExpiresAt.Time
		out.ValidUntil = &e
	}
	all := t.GetRepositorySelection() == "all"
	if perms := t.GetPermissions(); perms != nil {
		for _, sc := range []struct {
			name string
			m    map[string]string
		}{{"organization", perms.Org}, {"repository", perms.Repo}, {"other", perms.Other}} {
			names := make([]string, 0, len(sc.m))
			for n := range sc.m {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				out.Privileges = append(out.Privileges, gradePermission(sc.name, n, sc.m[n], all))
			}
		}
	}
	switch t.GetRepositorySelection() {
	case "all":
		out.Related = append(out.Related, provider.Related{Kind: "repository", Name: org + "/*", Detail: "every repository of " + org})
	case "subset":
		repos, err := p.patRepos(ctx, org, patID)
		if err != nil {
			return nil, err
		}
		for _, r := range repos {
			out.Related = append(out.Related, provider.Related{Kind: "repository", Name: r.GetFullName(), Detail: "the token may reach it"})
		}
	}
	out.Related = append(out.Related, provider.Related{Kind: "last-used", Name: when(t.TokenLastUsedAt), Detail: "as the organisation's listing shows"})
	return out, nil
}

func (p *Provider) patRepos(ctx context.Context, org string, patID int64) ([]*gh.Repository, error) {
	all, err := pages(ctx, p, func(ctx context.Context, page int) ([]*gh.Repository, *gh.Response, error) {
		var repos []*gh.Repository
		resp, err := p.send(ctx, p.client, http.MethodGet, fmt.Sprintf("orgs/%s/personal-access-tokens/%d/repositories?per_page=100&page=%d", org, patID, page), nil, &repos)
		return repos, resp, err
	})
	if err != nil {
		return nil, p.fail("list a token's repositories", patKey(org, patID), err)
	}
	return all, nil
}

func (p *Provider) inspectDeployKey(ctx context.Context, out *provider.Identity, owner, repo string, keyID int64) (*provider.Identity, error) {
	keys, err := p.deployKeys(ctx, owner, repo)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.GetID() != keyID {
			continue
		}
		out.Exists, out.CanLogin = true, true
		pr := provider.Privilege{Name: "read " + owner + "/" + repo, Risk: provider.RiskLow}
		if !k.GetReadOnly() {
			pr = provider.Privilege{Name: "write " + owner + "/" + repo + " (push, including workflows)", Risk: provider.RiskHigh}
		}
		out.Privileges = append(out.Privileges, pr)
		out.Related = append(out.Related, provider.Related{Kind: "deploy-key", Name: k.GetTitle(), Detail: "created " + when(k.CreatedAt)})
	}
	return out, nil
}
