package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// needAdmin is what the administrator token needs for the admin-only
// calls (token information, other users' tokens, service accounts).
const needAdmin = "administrator rights with the api scope"

// user is the user (or service account) username names, or nil.
func (p *Provider) user(ctx context.Context, op, username string) (*gl.User, error) {
	us, _, err := p.c.Users.ListUsers(&gl.ListUsersOptions{Username: gl.Ptr(username)}, gl.WithContext(ctx))
	if err != nil {
		return nil, p.fail(op, username, "the read_api scope", err)
	}
	for _, u := range us {
		if u.Username == username {
			return u, nil
		}
	}
	return nil, nil
}

// userByID is the user with id, or nil.
func (p *Provider) userByID(ctx context.Context, op string, id int64) (*gl.User, error) {
	u, _, err := p.c.Users.GetUser(id, &gl.GetUserOptions{}, gl.WithContext(ctx))
	if status(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, p.fail(op, strconv.FormatInt(id, 10), "the read_api scope", err)
	}
	return u, nil
}

// activeTokens lists the user's active personal access tokens, every
// page (GET /personal_access_tokens?user_id=…&state=active, admin).
func (p *Provider) activeTokens(ctx context.Context, op string, userID int64) ([]*gl.PersonalAccessToken, error) {
	opt := &gl.ListPersonalAccessTokensOptions{UserID: gl.Ptr(userID), State: gl.Ptr("active"), ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	var out []*gl.PersonalAccessToken
	for {
		ts, resp, err := p.c.PersonalAccessTokens.ListPersonalAccessTokens(opt, gl.WithContext(ctx))
		if err != nil {
			return nil, p.fail(op, strconv.FormatInt(userID, 10), needAdmin, err)
		}
		out = append(out, ts...)
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// token is the token id, or nil when GitLab does not know it.
func (p *Provider) token(ctx context.Context, op string, id int64) (*gl.PersonalAccessToken, error) {
	t, _, err := p.c.PersonalAccessTokens.GetSinglePersonalAccessTokenByID(id, gl.WithContext(ctx))
	if status(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, p.fail(op, strconv.FormatInt(id, 10), needAdmin, err)
	}
	return t, nil
}

// lookup asks the token information API (POST /admin/token, GitLab
// 17.5+, administrators) which token value is; nil when it is none.
func (p *Provider) lookup(ctx context.Context, op string, value []byte) (*gl.PersonalAccessToken, error) {
	req, err := p.c.NewRequest(http.MethodPost, "admin/token", map[string]string{"token": string(value)}, []gl.RequestOptionFunc{gl.WithContext(ctx)})
	if err != nil {
		return nil, p.fail(op, "", "", err)
	}
	var t gl.PersonalAccessToken
	_, err = p.c.Do(req, &t)
	if status(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, p.fail(op, "", needAdmin+" (POST /admin/token)", err)
	}
	return &t, nil
}

// tokenShape: GitLab's personal, project and group access tokens start
// with glpat- (the default prefix); other secrets are not sent to GitLab.
func tokenShape(v []byte) bool {
	return strings.HasPrefix(string(v), "glpat-") && len(v) >= 26 && !strings.ContainsAny(string(v), " \t\r\n")
}

const provedMethod = "POST /admin/token by the administrator (the token is looked up, not used)"

// Identify finds a leaked token's owner with the token information API,
// made by the administrator: the token travels in the request body and
// is not used, so nothing is logged as the leaked token. A secret not
// shaped like a GitLab access token is not sent.
func (p *Provider) Identify(ctx context.Context, s secret.Secret) ([]provider.Match, error) {
	v := []byte(strings.TrimSpace(string(s.Reveal())))
	if !tokenShape(v) {
		return nil, nil
	}
	t, err := p.lookup(ctx, "identify", v)
	if err != nil || t == nil {
		return nil, err
	}
	u, err := p.userByID(ctx, "identify", t.UserID)
	if err != nil || u == nil {
		return nil, err
	}
	return []provider.Match{{Ref: p.ref(u.Username, t.ID), Method: provedMethod}}, nil
}

func (p *Provider) ref(username string, id int64) provider.IdentityRef {
	return provider.IdentityRef{System: p.system, Name: username, Key: strconv.FormatInt(id, 10)}
}

// IdentifyKey finds the token whose id is req.KeyID (GET
// /personal_access_tokens/:id as the administrator): the match is
// Unproven. With req.Secret, the token information API proves the secret
// is that token, still without using it. UseLeaked changes nothing: the
// administrator proves a token without a request made as it.
func (p *Provider) IdentifyKey(ctx context.Context, req provider.IdentifyRequest) ([]provider.Match, error) {
	id, err := strconv.ParseInt(req.KeyID, 10, 64)
	if err != nil || id <= 0 {
		return nil, nil
	}
	t, err := p.token(ctx, "identify", id)
	if err != nil || t == nil {
		return nil, err
	}
	u, err := p.userByID(ctx, "identify", t.UserID)
	if err != nil || u == nil {
		return nil, err
	}
	m := provider.Match{Ref: p.ref(u.Username, t.ID), Method: "GET /personal_access_tokens/:id (id only: token not proven)", Unproven: true}
	if req.Secret.IsZero() {
		return []provider.Match{m}, nil
	}
	owner, err := p.lookup(ctx, "identify", []byte(strings.TrimSpace(string(req.Secret.Reveal()))))
	if err != nil {
		return nil, err
	}
	if owner == nil || owner.ID != id {
		return nil, nil
	}
	m.Method, m.Unproven = provedMethod, false
	return []provider.Match{m}, nil
}

// Inspect describes a user's tokens: with id.Key the scopes of that
// token, otherwise of every active one, graded for risk; the token
// inspected as "this-key" and the user's other active tokens as
// "other-key". An administrator user is itself a critical privilege:
// its api-scoped tokens act on the whole instance.
func (p *Provider) Inspect(ctx context.Context, id provider.IdentityRef) (*provider.Identity, error) {
	out := &provider.Identity{Ref: id, Privileges: []provider.Privilege{}, Sessions: []provider.Session{}, Related: []provider.Related{}}
	u, err := p.user(ctx, "inspect", id.Name)
	if err != nil || u == nil {
		return out, err
	}
	out.Exists = true
	toks, err := p.activeTokens(ctx, "inspect", u.ID)
	if err != nil {
		return nil, err
	}
	inspected := toks
	if id.Key != "" {
		inspected = nil
		for _, t := range toks {
			if strconv.FormatInt(t.ID, 10) == id.Key {
				inspected = append(inspected, t)
			}
		}
	}
	out.CanLogin = u.State == "active" && len(inspected) > 0
	var scopes []string
	for _, t := range inspected {
		for _, s := range t.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		if t.ExpiresAt != nil {
			until := time.Time(*t.ExpiresAt)
			if out.ValidUntil == nil || until.After(*out.ValidUntil) {
				out.ValidUntil = &until
			}
		}
	}
	slices.Sort(scopes)
	for _, s := range scopes {
		out.Privileges = append(out.Privileges, scopePrivilege(s))
	}
	if u.IsAdmin {
		out.Privileges = append(out.Privileges, provider.Privilege{Name: "administrator", Risk: provider.RiskCritical, CreatesCredentials: true})
	}
	if res, ok := resourceOf(u); ok {
		// A project or group access token acts with its bot's role there.
		for _, t := range inspected {
			lvl, err := p.accessLevel(ctx, res, t.ID)
			if err != nil {
				return nil, err
			}
			if pr := rolePrivilege(res, lvl); !slices.ContainsFunc(out.Privileges, func(x provider.Privilege) bool { return x.Name == pr.Name }) {
				out.Privileges = append(out.Privileges, pr)
			}
		}
		out.Related = append(out.Related, provider.Related{Kind: "resource", Name: res.String(),
			Detail: "the " + res.kind + " access token's bot user: its tokens act only on this " + res.kind})
	}
	for _, t := range toks {
		kind, detail := "other-key", "another active personal access token of "+u.Username
		if strconv.FormatInt(t.ID, 10) == id.Key {
			kind, detail = "this-key", "the token under inspection"
		}
		detail += fmt.Sprintf(" (%q, scopes %s", t.Name, strings.Join(t.Scopes, ","))
		if t.ExpiresAt != nil {
			detail += ", expires " + time.Time(*t.ExpiresAt).Format(time.DateOnly)
		} else {
			detail += ", never expires"
		}
		out.Related = append(out.Related, provider.Related{Kind: kind, Name: strconv.FormatInt(t.ID, 10), Detail: detail + ")"})
	}
	return out, nil
}
