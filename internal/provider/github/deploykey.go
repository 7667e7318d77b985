package github

import (
	"context"

	gh "github.com/google/go-github/v72/github"
	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/keys"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// identifyDeployKey finds the deploy keys of the organisation's
// repositories whose public key is the leaked private key's: the public
// half is derived from the private one, so a match is proven without
// using the key (nothing signs with it). ok is false when s is no private
// key.
func (p *Provider) identifyDeployKey(ctx context.Context, s secret.Secret) (ms []provider.Match, ok bool, err error) {
	// Any secret reaches here (a password, a token of another service):
	// what keys cannot read, or an encrypted key without its public half,
	// is simply not a deploy key's.
	k, err := keys.Parse(s)
	if err != nil || k.Fingerprints == nil || k.Fingerprints.SSH == "" {
		return nil, false, nil
	}
	if p.org == "" {
		return nil, true, nil
	}
	repos, err := p.orgRepos(ctx)
	if err != nil {
		return nil, true, err
	}
	for _, r := range repos {
		owner, name := r.GetOwner().GetLogin(), r.GetName()
		dks, err := p.deployKeys(ctx, owner, name)
		if err != nil {
			return nil, true, err
		}
		for _, dk := range dks {
			pub, _, _, _, perr := ssh.ParseAuthorizedKey([]byte(dk.GetKey()))
			if perr != nil || ssh.FingerprintSHA256(pub) != k.Fingerprints.SSH {
				continue
			}
			full := owner + "/" + name
			ms = append(ms, provider.Match{
				Ref:    provider.IdentityRef{System: p.system, Name: full, Key: deployKey(full, dk.GetID())},
				Method: "deploy key " + dk.GetTitle() + " holds the leaked key's public half (" + k.Fingerprints.SSH + ")",
			})
		}
	}
	return ms, true, nil
}

// orgRepos lists the organisation's repositories the administrator sees.
func (p *Provider) orgRepos(ctx context.Context) ([]*gh.Repository, error) {
	all, err := pages(ctx, p, func(ctx context.Context, page int) ([]*gh.Repository, *gh.Response, error) {
		return p.client.Repositories.ListByOrg(ctx, p.org, &gh.RepositoryListByOrgOptions{ListOptions: gh.ListOptions{PerPage: 100, Page: page}})
	})
	if err != nil {
		return nil, p.fail("list repositories", p.org, err)
	}
	return all, nil
}

// deployKeys lists a repository's deploy keys; a repository the
// administrator may not see has none.
func (p *Provider) deployKeys(ctx context.Context, owner, repo string) ([]*gh.Key, error) {
	all, err := pages(ctx, p, func(ctx context.Context, page int) ([]*gh.Key, *gh.Response, error) {
		return p.client.Repositories.ListKeys(ctx, owner, repo, &gh.ListOptions{PerPage: 100, Page: page})
	})
	if status(err) == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, p.fail("list deploy keys", owner+"/"+repo, err)
	}
	return all, nil
}

// pages collects every page of a list: list returns one page's items and
// the response whose NextPage (from the Link header) is the next one.
func pages[T any](ctx context.Context, p *Provider, list func(ctx context.Context, page int) ([]T, *gh.Response, error)) ([]T, error) {
	var all []T
	page := 0
	for {
		var items []T
		var next int
		err := p.call(ctx, func(ctx context.Context) (*gh.Response, error) {
			its, resp, err := list(ctx, page)
			items = its
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == 0 {
			return all, nil
		}
		page = next
	}
}
