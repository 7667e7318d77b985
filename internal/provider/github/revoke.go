package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	gh "github.com/google/go-github/v72/github"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// Issue is unsupported: GitHub has no API to create a personal access
// token (or set one's value), so a person creates the replacement and the
// plan's manual step takes it.
func (p *Provider) Issue(_ context.Context, req provider.IssueRequest) (*provider.Credential, error) {
	return nil, p.unsupported("issue", req.Name, "GitHub offers no API to create a personal access token: a person creates the new token and gives it to the plan's manual step")
}

// Revoke ends what id names:
//   - "pat:ORG:ID": the fine-grained token's access to the organisation
//     (POST /orgs/ORG/personal-access-tokens/ID {"action":"revoke"}); the
//     token itself lives on, outside the organisation;
//   - "deploy-key:OWNER/REPO:ID": the deploy key is deleted.
//
// Anything else needs the token's value (RevokeSecret). Revoking what is
// already gone is nil.
func (p *Provider) Revoke(ctx context.Context, id provider.IdentityRef) error {
	if org, patID, ok := parsePatKey(id.Key); ok {
		if p.app == nil {
			return errs.New(p.op("revoke"), errs.Permission, id.Key, "the organisation's fine-grained token review answers GitHub Apps only: give admin as {app_id, installation_id, private_key}")
		}
		err := p.call(ctx, func(ctx context.Context) (*gh.Response, error) {
			return p.send(ctx, p.client, http.MethodPost, fmt.Sprintf("orgs/%s/personal-access-tokens/%d", org, patID), map[string]string{"action": "revoke"}, nil)
		})
		if err != nil && status(err) != http.StatusNotFound {
			return p.fail("revoke", id.Key, err)
		}
		return nil
	}
	if owner, repo, keyID, ok := parseDeployKey(id.Key); ok {
		err := p.call(ctx, func(ctx context.Context) (*gh.Response, error) {
			return p.client.Repositories.DeleteKey(ctx, owner, repo, keyID)
		})
		if err != nil && status(err) != http.StatusNotFound {
			return p.fail("revoke", id.Key, err)
		}
		return nil
	}
	return p.unsupported("revoke", id.Name, "GitHub revokes a personal token of someone else only by its value (the engine uses RevokeSecret)")
}

// RevokeSecret submits the token to GitHub's credentials revocation API
// (POST /credentials/revoke {"credentials":[…]}), meant for tokens the
// caller does not own: GitHub revokes it and notifies its owner. On
// github.com the request must be unauthenticated (an authenticated one is
// refused with 403), so it is sent without the administrator's token.
// GitHub answers 202 whether or not it knew the token.
func (p *Provider) RevokeSecret(ctx context.Context, s secret.Secret) error {
	kind := TokenKind(s.Reveal())
	if kind != KindClassic && kind != KindFineGrained && kind != KindOAuth {
		return p.unsupported("revoke", kind, "the credentials revocation API takes personal and OAuth tokens only")
	}
	p.san.Add(string(s.Reveal()))
	c, err := p.newClient(&http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return err
	}
	err = p.call(ctx, func(ctx context.Context) (*gh.Response, error) {
		return p.send(ctx, c, http.MethodPost, "credentials/revoke", map[string][]string{"credentials": {string(s.Reveal())}}, nil)
	})
	var accepted *gh.AcceptedError // 202: GitHub revokes asynchronously
	if err != nil && !errors.As(err, &accepted) {
		return p.fail("revoke through the credentials revocation API", kind, err)
	}
	return nil
}

// Drop removes a deploy key (as Revoke); tokens are not dropped by id:
// an installation token ends within its hour.
func (p *Provider) Drop(ctx context.Context, id provider.IdentityRef) error {
	if _, _, _, ok := parseDeployKey(id.Key); ok {
		return p.Revoke(ctx, id)
	}
	return p.unsupported("drop", id.Name, "a GitHub token rekey holds ends by its expiry or by RevokeSecret")
}

// Renew is unsupported: GitHub has no API to change a token's expiry.
func (p *Provider) Renew(_ context.Context, id provider.IdentityRef, _ time.Time) error {
	return p.unsupported("renew", id.Name, "GitHub offers no API to change a token's expiry")
}

// send makes one request go-github has no method for; each try builds
// its request anew, so a retried POST sends its body again.
func (p *Provider) send(ctx context.Context, c *gh.Client, method, path string, body, into any) (*gh.Response, error) {
	req, err := c.NewRequest(method, path, body)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, req, into)
}
