// Package oidc signs people in to `rekey serve` with an OpenID Connect
// provider: the authorization code flow with state, nonce and PKCE (S256),
// the ID token checked by go-oidc (signature, issuer, audience, expiry)
// and here (nonce, authorized party, email_verified), and the result a
// Principal whose name is the person's email and whose role comes from the
// groups the provider says they are in.
//
// It stops at the Principal: the web UI turns that into its own session.
// Between Begin and Finish the flow's secrets (state, nonce, PKCE verifier)
// travel in one short-lived cookie, sealed with AES-GCM under a key derived
// from the client secret, so that any replica of the server that knows the
// client can finish a sign-in another one began, and nothing is kept in
// memory or the store for a sign-in that is never finished.
package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rekeyhq/rekey/internal/actor"
	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/safefile"
)

// CallbackPath is where the web UI (package web) receives the provider's
// redirect; the redirect URL registered at the provider is the server's
// public URL plus this path.
const CallbackPath = "/auth/oidc/callback"

// flowTTL bounds a sign-in from Begin to Finish: long enough to type a
// password and answer a second factor, short enough that a forgotten tab's
// cookie is soon worthless.
const flowTTL = 10 * time.Minute

// Config describes the relying party.
type Config struct {
	// Issuer is the provider's issuer identifier; its discovery document is
	// read from Issuer + "/.well-known/openid-configuration".
	Issuer   string
	ClientID string
	// ClientSecretFile holds the client secret (a secret is never a flag
	// value). It must be a regular file that only its owner can read.
	ClientSecretFile string
	// RedirectURL is this server's callback, as registered at the provider.
	RedirectURL string
	// RoleMap gives the role of the members of a group; a person in several
	// mapped groups gets the most powerful of their roles (auth.Roles order).
	RoleMap map[string]auth.Role
	// DefaultRole is the role of a person in no mapped group (viewer).
	DefaultRole auth.Role
	// GroupsClaim names the claim that lists a person's groups ("groups").
	GroupsClaim string
	// HTTPClient reaches the provider (a client with a 10 s timeout when nil).
	HTTPClient *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Provider is a configured relying party. It is safe for concurrent use.
type Provider struct {
	cfg      Config
	oauth    oauth2.Config
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	client   *http.Client
	cookie   cookieCodec
}

// New reads the client secret, discovers the provider and returns the
// relying party. It fails when the provider cannot be reached, since a
// server that cannot sign anyone in should not start as if it could.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("oidc: issuer, client id and redirect URL are all required")
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("oidc: redirect URL %q is not an absolute http(s) URL", cfg.RedirectURL)
	}
	if cfg.DefaultRole == "" {
		cfg.DefaultRole = auth.Viewer
	}
	if _, err := auth.ParseRole(string(cfg.DefaultRole)); err != nil {
		return nil, fmt.Errorf("oidc: default role: %w", err)
	}
	for g, r := range cfg.RoleMap {
		if _, err := auth.ParseRole(string(r)); err != nil {
			return nil, fmt.Errorf("oidc: group %q: %w", g, err)
		}
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	secret, err := readSecretFile(cfg.ClientSecretFile)
	if err != nil {
		return nil, err
	}
	cctx := gooidc.ClientContext(ctx, client)
	prov, err := gooidc.NewProvider(cctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery at %s: %w", cfg.Issuer, err)
	}
	var disc struct {
		Scopes     []string `json:"scopes_supported"`
		Challenges []string `json:"code_challenge_methods_supported"`
	}
	if err := prov.Claims(&disc); err != nil {
		return nil, fmt.Errorf("oidc: discovery at %s: %w", cfg.Issuer, err)
	}
	if len(disc.Challenges) > 0 && !slices.Contains(disc.Challenges, "S256") {
		return nil, fmt.Errorf("oidc: %s does not support PKCE with S256 (code_challenge_methods_supported: %s)",
			cfg.Issuer, strings.Join(disc.Challenges, ", "))
	}
	scopes := []string{gooidc.ScopeOpenID, "email"}
	// Some providers send groups only when asked with a "groups" scope;
	// others refuse a scope they do not know, so ask only those that list it.
	if slices.Contains(disc.Scopes, "groups") {
		scopes = append(scopes, "groups")
	}
	codec, err := newCookieCodec(secret, cfg)
	if err != nil {
		return nil, err
	}
	return &Provider{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: string(secret),
			Endpoint: prov.Endpoint(), RedirectURL: cfg.RedirectURL, Scopes: scopes,
		},
		provider: prov,
		verifier: prov.Verifier(&gooidc.Config{ClientID: cfg.ClientID, Now: cfg.Now}),
		client:   client,
		cookie:   codec,
	}, nil
}

// readSecretFile reads the client secret; like libpq's .pgpass, a file
// others can read is refused rather than trusted.
func readSecretFile(path string) ([]byte, error) {
	const op = "oidc client secret"
	if path == "" {
		return nil, errors.New("oidc: a client secret file is required (--oidc-client-secret-file)")
	}
	f, err := safefile.OpenRegular(op, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s: mode %04o lets group or others read it; chmod 600 it", op, path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, path, err)
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s %s: file is empty", op, path)
	}
	return b, nil
}

// Begin starts a sign-in: it sets the flow cookie and redirects the
// browser to the provider's authorization endpoint.
func (p *Provider) Begin(w http.ResponseWriter, r *http.Request) {
	f := flow{
		State:    randomToken(),
		Nonce:    randomToken(),
		Verifier: oauth2.GenerateVerifier(),
		Expires:  p.cfg.Now().Add(flowTTL).Unix(),
	}
	http.SetCookie(w, p.cookie.cookie(f, flowTTL))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.oauth.AuthCodeURL(f.State,
		gooidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// Forget expires the flow cookie; the web UI calls it once Finish has
// returned, whatever the outcome, so that a finished sign-in cannot be
// replayed from the same browser.
func (p *Provider) Forget(w http.ResponseWriter) {
	http.SetCookie(w, p.cookie.expired())
}

// Callback is Finish followed by Forget: the shape of the web UI's hook
// for the provider's redirect back (package web, OIDC.Callback).
func (p *Provider) Callback(w http.ResponseWriter, r *http.Request) (auth.Principal, error) {
	defer p.Forget(w)
	return p.Finish(r.Context(), r)
}

// ErrSignIn is matched (errors.Is) by every error of Finish that means
// "this person is not signed in", as opposed to the provider being
// unreachable; so is auth.ErrUnauthenticated.
var ErrSignIn = errors.New("sign-in refused")

type signInError struct{ msg string }

func (e *signInError) Error() string { return "oidc sign-in refused: " + e.msg }

func (e *signInError) Is(target error) bool {
	return target == ErrSignIn || target == auth.ErrUnauthenticated
}

func refused(format string, args ...any) error {
	return &signInError{msg: fmt.Sprintf(format, args...)}
}

// Finish completes the sign-in the provider redirected back from: it
// checks the state against the flow cookie, exchanges the code (with the
// PKCE verifier), verifies the ID token and its nonce, and returns who
// signed in. Errors are one line a person can be shown; none holds a code
// or a token.
func (p *Provider) Finish(ctx context.Context, r *http.Request) (auth.Principal, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return auth.Principal{}, refused("the identity provider answered %s", printable(e+" "+q.Get("error_description"), 200))
	}
	c, err := r.Cookie(p.cookie.name)
	if err != nil {
		return auth.Principal{}, refused("no sign-in in progress in this browser (start again; cookies must be allowed)")
	}
	f, err := p.cookie.open(c.Value)
	if err != nil {
		return auth.Principal{}, refused("the sign-in cookie is not valid (start again)")
	}
	if p.cfg.Now().Unix() > f.Expires {
		return auth.Principal{}, refused("the sign-in took longer than %s (start again)", flowTTL)
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return auth.Principal{}, refused("the state parameter does not match this browser's sign-in (start again)")
	}
	// RFC 9207: a provider that names itself must be the one we sent the
	// browser to (a mix-up attack swaps providers between two clients).
	if iss := q.Get("iss"); iss != "" && iss != p.cfg.Issuer {
		return auth.Principal{}, refused("the response names issuer %q, not %q", printable(iss, 200), p.cfg.Issuer)
	}
	code := q.Get("code")
	if code == "" {
		return auth.Principal{}, refused("the identity provider sent no authorization code")
	}
	cctx := gooidc.ClientContext(ctx, p.client)
	tok, err := p.oauth.Exchange(cctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return auth.Principal{}, refused("the token endpoint answered %s", printable(re.ErrorCode+" "+re.ErrorDescription, 200))
		}
		return auth.Principal{}, fmt.Errorf("oidc: token exchange at %s: %s", p.cfg.Issuer, exchangeFailure(err))
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return auth.Principal{}, refused("the token response holds no id_token")
	}
	idt, err := p.verifier.Verify(cctx, raw)
	if err != nil {
		return auth.Principal{}, refused("the ID token is not valid: %s", printable(err.Error(), 300))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return auth.Principal{}, refused("the ID token's nonce does not match this sign-in")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return auth.Principal{}, refused("the ID token's at_hash does not match the access token")
		}
	}
	var cl claims
	if err := idt.Claims(&cl.raw); err != nil {
		return auth.Principal{}, refused("the ID token's claims cannot be read: %v", err)
	}
	if len(idt.Audience) > 1 && cl.str("azp") != p.cfg.ClientID {
		// OIDC Core 3.1.3.7 (4, 5): a token meant for several parties
		// must name us as the one it was issued to.
		return auth.Principal{}, refused("the ID token has several audiences and azp is not this client")
	}
	if !cl.has("email") || !cl.has(p.cfg.GroupsClaim) {
		// Providers that keep ID tokens small serve the email and groups
		// scopes from UserInfo only (OIDC Core 5.4).
		if err := p.addUserInfo(cctx, tok, idt.Subject, &cl); err != nil {
			return auth.Principal{}, err
		}
	}
	return p.principal(cl)
}

func (p *Provider) addUserInfo(ctx context.Context, tok *oauth2.Token, sub string, cl *claims) error {
	if p.provider.UserInfoEndpoint() == "" {
		return nil
	}
	ui, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("oidc: userinfo at %s: %s", p.cfg.Issuer, printable(err.Error(), 200))
	}
	if ui.Subject != sub {
		// OIDC Core 5.3.2: the UserInfo response may be for someone else.
		return refused("the UserInfo response is for another subject")
	}
	var extra map[string]any
	if err := ui.Claims(&extra); err != nil {
		return refused("the UserInfo response cannot be read: %v", err)
	}
	for k, v := range extra {
		if _, ok := cl.raw[k]; !ok {
			cl.raw[k] = v
		}
	}
	return nil
}

func (p *Provider) principal(cl claims) (auth.Principal, error) {
	email := cl.str("email")
	if email == "" {
		return auth.Principal{}, refused("the identity provider sent no email claim (the client needs the email scope)")
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || strings.ContainsFunc(email, unicode.IsSpace) {
		return auth.Principal{}, refused("the email claim %q is not an address", printable(email, 100))
	}
	if v, present, ok := cl.boolean("email_verified"); present && (!ok || !v) {
		return auth.Principal{}, refused("the identity provider has not verified %s", email)
	}
	groups, err := cl.strings(p.cfg.GroupsClaim)
	if err != nil {
		return auth.Principal{}, refused("%v", err)
	}
	// Names are compared by actor.Key (case folded, one script): an
	// address it refuses could pass for someone else's.
	if _, err := actor.Key(email); err != nil {
		return auth.Principal{}, refused("the email claim %q cannot name an actor", printable(email, 100))
	}
	return auth.Principal{Name: email, Role: p.role(groups), Via: "oidc"}, nil
}

// role is the most powerful role among the mapped groups, else the default.
func (p *Provider) role(groups []string) auth.Role {
	best := -1
	for _, g := range groups {
		r, ok := p.cfg.RoleMap[g]
		if !ok {
			continue
		}
		if i := slices.Index(auth.Roles, r); i > best {
			best = i
		}
	}
	if best < 0 {
		return p.cfg.DefaultRole
	}
	return auth.Roles[best]
}

// claims are an ID token's (and perhaps UserInfo's) claims, read leniently
// where providers are known to differ.
type claims struct{ raw map[string]any }

func (c claims) has(k string) bool { _, ok := c.raw[k]; return ok }

func (c claims) str(k string) string {
	s, _ := c.raw[k].(string)
	return s
}

// boolean reads a boolean claim; some providers send "true" as a string.
func (c claims) boolean(k string) (v, present, ok bool) {
	x, present := c.raw[k]
	switch x := x.(type) {
	case bool:
		return x, present, true
	case string:
		switch x {
		case "true":
			return true, present, true
		case "false":
			return false, present, true
		}
	}
	return false, present, false
}

// strings reads a list of strings; a single string is a list of one.
func (c claims) strings(k string) ([]string, error) {
	switch x := c.raw[k].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("the %q claim holds a %T, not a string", k, e)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("the %q claim is a %T, not a list of strings", k, x)
	}
}

// exchangeFailure describes a failed token request without its URL's
// query or the request body (neither should hold anything, but the code
// and verifier travel in the body).
func exchangeFailure(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return printable(ue.Err.Error(), 200)
	}
	return printable(err.Error(), 200)
}

// printable makes text from the network safe to show on one line.
func printable(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || !unicode.IsPrint(r) && r != ' ' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}
