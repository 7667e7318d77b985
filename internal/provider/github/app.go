package github

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	gh "github.com/google/go-github/v72/github"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

// parseKey reads a GitHub App's private key: PEM, PKCS#1 (as GitHub
// downloads it) or PKCS#8.
func parseKey(s string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("not a PEM private key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, errors.New("not an RSA private key in PKCS#1 or PKCS#8")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("a GitHub App key is RSA")
	}
	return rk, nil
}

// jwt is the app's JSON web token: RS256, issued a minute in the past
// (clock drift, as GitHub advises) and valid for nine minutes (GitHub
// accepts at most ten).
func (a *appAuth) jwt() (string, error) {
	now := time.Now()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(a.appID, 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	})
	return t.SignedString(a.key)
}

// mint asks POST /app/installations/{id}/access_tokens for a new
// installation token.
func (a *appAuth) mint(ctx context.Context) (*gh.InstallationToken, error) {
	j, err := a.jwt()
	if err != nil {
		return nil, errs.E(a.p.op("mint an installation token"), errs.Invalid, "admin", err)
	}
	c, err := a.p.newClient(&http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	c = c.WithAuthToken(j)
	var tok *gh.InstallationToken
	err = a.p.call(ctx, func(ctx context.Context) (*gh.Response, error) {
		t, resp, err := c.Apps.CreateInstallationToken(ctx, a.installation, nil)
		tok = t
		return resp, err
	})
	if err != nil {
		return nil, a.p.fail("mint an installation token", "installation "+strconv.FormatInt(a.installation, 10), err)
	}
	a.p.san.Add(tok.GetToken())
	return tok, nil
}

// token is the current installation token, minted again when it ends in
// less than five minutes.
func (a *appAuth) token(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.current != "" && time.Until(a.expires) > 5*time.Minute {
		return a.current, nil
	}
	t, err := a.mint(ctx)
	if err != nil {
		return "", err
	}
	a.current, a.expires = t.GetToken(), t.GetExpiresAt().Time
	return a.current, nil
}

// RoundTrip authenticates each administrator request as the installation.
func (a *appAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := a.token(r.Context())
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return http.DefaultTransport.RoundTrip(r)
}

// Generate mints a GitHub App installation token (an hour long, ended by
// GitHub itself) when the administrator is that app: the only GitHub
// credential rekey can create. Anything else is ErrUnsupported: GitHub has
// no API to create a personal access token or to add a deploy key's
// private half, so a person supplies the new one. A token nobody sealed
// ends by itself within the hour, so there are no orphans to remove.
func (p *Provider) Generate(ctx context.Context, req provider.GenerateRequest) (*provider.Credential, error) {
	if p.app == nil || req.From.Key != p.installationKey() {
		return nil, p.unsupported("generate", req.From.Name, "GitHub offers no API to create a personal access token or a deploy key: a person creates the new one and gives it to the plan's manual step")
	}
	t, err := p.app.mint(ctx)
	if err != nil {
		return nil, err
	}
	return &provider.Credential{
		Ref:       provider.IdentityRef{System: p.system, Name: req.Name, Key: p.installationKey()},
		Secret:    secret.FromString(t.GetToken()),
		ExpiresAt: t.GetExpiresAt().Time,
		Enforced:  true,
	}, nil
}

// installationKey is the IdentityRef.Key of the app's installation tokens.
func (p *Provider) installationKey() string {
	if p.app == nil {
		return ""
	}
	return "installation:" + strconv.FormatInt(p.app.installation, 10)
}
