package gitlab

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// needRevoke is what revoking another user's token takes.
const needRevoke = "the api scope (DELETE /personal_access_tokens/:id)"

// Issue is unsupported: GitLab generates a token's value itself.
func (p *Provider) Issue(context.Context, provider.IssueRequest) (*provider.Credential, error) {
	return nil, p.unsupported("issue", "GitLab generates tokens itself (the engine must use provider.Generator)")
}

// replacesTag marks the name of a token rekey generated with the id of
// the token it replaces, so a retry finds its own orphans and no other.
func replacesTag(id int64) string { return " (rekey replaces " + strconv.FormatInt(id, 10) + ")" }

// Generate creates a personal access token for req.Name (POST
// /users/:id/personal_access_tokens, administrators) with the scopes and
// expiry of the token req.From names (its id in From.Key, or the user's
// newest active token), minus req.Drop. The old token keeps working: this
// is the graceful path. A req.Name that does not exist becomes a service
// account (POST /service_accounts): a split gives each consumer its own
// non-human user. GitLab's rotate endpoint, which revokes the old token
// at once, is not used here: it is an emergency step.
//
// Before creating, Generate revokes tokens of req.Name created at or
// after req.Began that replace the same source and are neither in
// req.Sealed nor From.Key: an earlier call's token whose value was lost
// before the caller sealed it. A user holds any number of tokens.
func (p *Provider) Generate(ctx context.Context, req provider.GenerateRequest) (*provider.Credential, error) {
	if _, ok, err := p.resourceOfName(ctx, "generate", req.From.Name); err != nil {
		return nil, err
	} else if ok {
		// Each project or group access token has a bot user of its own, so
		// a second token for the same principal cannot exist.
		return nil, p.unsupported("generate", "a project or group access token has its own bot user and cannot get a second token beside it: rotate it (emergency) instead")
	}
	from, err := p.source(ctx, req.From)
	if err != nil {
		return nil, err
	}
	u, err := p.user(ctx, "generate", req.Name)
	if err != nil {
		return nil, err
	}
	if u == nil {
		u, _, err = p.c.Users.CreateServiceAccountUser(&gl.CreateServiceAccountUserOptions{Name: gl.Ptr(req.Name), Username: gl.Ptr(req.Name)}, gl.WithContext(ctx))
		if err != nil {
			return nil, p.fail("generate", req.Name, needAdmin+" (POST /service_accounts)", err)
		}
	}
	tag := replacesTag(from.ID)
	if !req.Began.IsZero() {
		toks, err := p.activeTokens(ctx, "generate", u.ID)
		if err != nil {
			return nil, err
		}
		began := req.Began.Truncate(time.Second)
		for _, t := range toks {
			id := strconv.FormatInt(t.ID, 10)
			if strings.HasSuffix(t.Name, tag) && t.CreatedAt != nil && !t.CreatedAt.Before(began) && !slices.Contains(req.Sealed, id) && id != req.From.Key {
				if err := p.revokeID(ctx, "generate", t.ID); err != nil {
					return nil, err
				}
			}
		}
	}
	var scopes []string
	for _, s := range from.Scopes {
		if !slices.Contains(req.Drop, s) {
			scopes = append(scopes, s)
		}
	}
	if len(scopes) == 0 {
		return nil, errs.New(p.op("generate"), errs.Invalid, req.Name, "no scope is left once the dropped ones are removed: GitLab refuses a token without scopes")
	}
	name := strings.TrimSuffix(from.Name, replacesTagOf(from.Name)) + tag
	opt := &gl.CreatePersonalAccessTokenOptions{Name: gl.Ptr(name), Scopes: gl.Ptr(scopes)}
	if from.ExpiresAt != nil {
		opt.ExpiresAt = from.ExpiresAt
	}
	t, _, err := p.c.Users.CreatePersonalAccessToken(u.ID, opt, gl.WithContext(ctx))
	if err != nil {
		return nil, p.fail("generate", req.Name, needAdmin+" (POST /users/:id/personal_access_tokens)", err)
	}
	if t.Token == "" {
		return nil, errs.New(p.op("generate"), errs.Other, req.Name, "GitLab answered the token creation without a token")
	}
	return p.credential(req.Name, t), nil
}

// credential is the new token t of username, its value added to what
// errors never show.
func (p *Provider) credential(username string, t *gl.PersonalAccessToken) *provider.Credential {
	p.san.Add(t.Token)
	c := &provider.Credential{Ref: p.ref(username, t.ID), Secret: secret.FromString(t.Token), KeyID: strconv.FormatInt(t.ID, 10)}
	if t.ExpiresAt != nil {
		c.ExpiresAt, c.Enforced = time.Time(*t.ExpiresAt), true
	}
	return c
}

// replacesTagOf is the replaces tag ending name, or "".
func replacesTagOf(name string) string {
	if i := strings.LastIndex(name, " (rekey replaces "); i >= 0 && strings.HasSuffix(name, ")") {
		return name[i:]
	}
	return ""
}

// source is the token a new one copies: ref.Key, or the user's newest
// active token.
func (p *Provider) source(ctx context.Context, ref provider.IdentityRef) (*gl.PersonalAccessToken, error) {
	if ref.Key != "" {
		id, err := strconv.ParseInt(ref.Key, 10, 64)
		if err != nil {
			return nil, errs.New(p.op("generate"), errs.Invalid, ref.Key, "a GitLab token id is a number")
		}
		t, err := p.token(ctx, "generate", id)
		if err == nil && (t == nil || !t.Active) {
			err = errs.New(p.op("generate"), errs.NotFound, ref.Key, "no active token has this id (revoked or expired): nothing to copy the scopes of")
		}
		return t, err
	}
	u, err := p.user(ctx, "generate", ref.Name)
	if err != nil {
		return nil, err
	}
	var toks []*gl.PersonalAccessToken
	if u != nil {
		if toks, err = p.activeTokens(ctx, "generate", u.ID); err != nil {
			return nil, err
		}
	}
	if len(toks) == 0 {
		return nil, errs.New(p.op("generate"), errs.NotFound, ref.Name, "this user has no active token: nothing to copy the scopes of")
	}
	slices.SortFunc(toks, func(a, b *gl.PersonalAccessToken) int { return int(b.ID - a.ID) })
	return toks[0], nil
}

// Verify looks the token up as itself (GET /personal_access_tokens/self,
// which every scope may call), as a client would use it, and checks it is
// the token c names.
func (p *Provider) Verify(ctx context.Context, c provider.Credential) error {
	keyID := c.KeyID
	if keyID == "" {
		keyID = c.Ref.Key
	}
	client, err := p.client(strings.TrimSpace(string(c.Secret.Reveal())))
	if err != nil {
		return p.fail("verify", keyID, "", err)
	}
	t, _, err := client.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
	if code := status(err); code == http.StatusUnauthorized || code == http.StatusForbidden {
		return errs.New(p.op("verify"), errs.Permission, keyID, "the token is refused (revoked, expired or wrong)")
	}
	if err != nil {
		return p.san.Scrub(p.fail("verify", keyID, "", err), string(c.Secret.Reveal()))
	}
	if got := strconv.FormatInt(t.ID, 10); keyID != "" && got != keyID {
		return errs.New(p.op("verify"), errs.Permission, keyID, "the secret is another token (id "+got+")")
	}
	return nil
}

// Revoke revokes the token ref.Key (DELETE /personal_access_tokens/:id),
// or with ref.Key empty every active token of the user. A token already
// revoked, or a missing user or token, is not an error.
func (p *Provider) Revoke(ctx context.Context, ref provider.IdentityRef) error {
	return p.revoke(ctx, "revoke", ref)
}

func (p *Provider) revoke(ctx context.Context, op string, ref provider.IdentityRef) error {
	if ref.Key != "" {
		id, err := strconv.ParseInt(ref.Key, 10, 64)
		if err != nil {
			return errs.New(p.op(op), errs.Invalid, ref.Key, "a GitLab token id is a number")
		}
		return p.revokeID(ctx, op, id)
	}
	u, err := p.user(ctx, op, ref.Name)
	if err != nil || u == nil {
		return err
	}
	toks, err := p.activeTokens(ctx, op, u.ID)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if err := p.revokeID(ctx, op, t.ID); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) revokeID(ctx context.Context, op string, id int64) error {
	_, err := p.c.PersonalAccessTokens.RevokePersonalAccessTokenByID(id, gl.WithContext(ctx))
	switch status(err) {
	case 0:
		if err == nil {
			return nil
		}
	case http.StatusNotFound:
		return nil
	case http.StatusBadRequest:
		// GitLab answers 400 for a token it cannot revoke, an already
		// revoked one among them: revoked is what was asked.
		if t, gerr := p.token(ctx, op, id); gerr == nil && (t == nil || !t.Active) {
			return nil
		}
	}
	return p.fail(op, strconv.FormatInt(id, 10), needRevoke, err)
}

// Drop revokes the token ref.Key, or with ref.Key empty every token of
// the user and, for a service account (what Generate creates for a
// split), the account itself (DELETE /users/:id). A human user is never
// deleted: only its tokens are revoked. A missing user is not an error.
func (p *Provider) Drop(ctx context.Context, ref provider.IdentityRef) error {
	if err := p.revoke(ctx, "drop", ref); err != nil || ref.Key != "" {
		return err
	}
	u, err := p.user(ctx, "drop", ref.Name)
	if err != nil || u == nil || !u.Bot {
		return err
	}
	_, err = p.c.Users.DeleteUser(u.ID, gl.WithContext(ctx))
	if err != nil && status(err) != http.StatusNotFound {
		return p.fail("drop", ref.Name, needAdmin+" (DELETE /users/:id)", err)
	}
	return nil
}

// Rotate replaces the token ref.Key with GitLab's rotate endpoint (POST
// /personal_access_tokens/:id/rotate): GitLab revokes the old token at
// once and returns a new one with the same name and scopes, expiring at
// expires (GitLab's default, one week, when zero). It is an emergency
// step: consumers fail until the new token is delivered, so a plan must
// deliver right after it. It is not idempotent — a second call rotates
// the new token — so the caller seals the answer before anything else.
func (p *Provider) Rotate(ctx context.Context, ref provider.IdentityRef, expires time.Time) (*provider.Credential, error) {
	id, err := strconv.ParseInt(ref.Key, 10, 64)
	if err != nil {
		return nil, errs.New(p.op("rotate"), errs.Invalid, ref.Key, "rotate needs the token's id")
	}
	opt := &gl.RotatePersonalAccessTokenOptions{}
	if !expires.IsZero() {
		opt.ExpiresAt = gl.Ptr(gl.ISOTime(expires))
	}
	var t *gl.PersonalAccessToken
	if res, ok, rerr := p.resourceOfName(ctx, "rotate", ref.Name); rerr != nil {
		return nil, rerr
	} else if ok {
		t, err = p.rotateResource(ctx, res, id, expires)
	} else {
		t, _, err = p.c.PersonalAccessTokens.RotatePersonalAccessTokenByID(id, opt, gl.WithContext(ctx))
	}
	if err != nil {
		return nil, p.fail("rotate", ref.Key, "the api scope (POST /personal_access_tokens/:id/rotate)", err)
	}
	if t.Token == "" {
		return nil, errs.New(p.op("rotate"), errs.Other, ref.Key, "GitLab answered the rotation without a token")
	}
	return p.credential(ref.Name, t), nil
}

// resourceOfName is the project or group whose access token bot username
// is; false for anyone else (or no one).
func (p *Provider) resourceOfName(ctx context.Context, op, username string) (resource, bool, error) {
	if !resourceBot.MatchString(username) {
		return resource{}, false, nil
	}
	u, err := p.user(ctx, op, username)
	if err != nil || u == nil {
		return resource{}, false, err
	}
	r, ok := resourceOf(u)
	return r, ok, nil
}
