// Package oidctest is an OpenID Connect provider for tests: discovery,
// JWKS, the authorization endpoint (which signs in whoever the test says,
// without a login page), the token endpoint (authorization code grant with
// PKCE S256, client_secret_basic or client_secret_post) and UserInfo, as
// OpenID Connect Core 1.0, Discovery 1.0, RFC 6749 and RFC 7636 define
// them. ID tokens are RS256 JWTs signed with a key made at start.
//
// Tests of the relying party (package oidc) and of the web UI's sign-in
// use it; Override lets a test forge what a broken or hostile provider
// would send (a wrong audience or nonce, an expired token).
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Client is a relying party registered at the issuer.
type Client struct {
	ID, Secret, RedirectURL string
}

// User is who the authorization endpoint signs in.
type User struct {
	Subject string
	Email   string
	// EmailVerified is the email_verified claim; nil leaves it out.
	EmailVerified *bool
	Groups        []string
	// ThinIDToken puts email, email_verified and groups in the UserInfo
	// response only, as providers that keep ID tokens small do.
	ThinIDToken bool
}

// Issuer is a running provider. Its URL is the issuer identifier.
type Issuer struct {
	URL string
	// GroupsClaim names the claim groups are sent in ("groups").
	GroupsClaim string

	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer jose.Signer

	mu        sync.Mutex
	clients   map[string]Client
	user      User
	override  map[string]any
	codes     map[string]grant
	access    map[string]User
	now       func() time.Time
	callbackQ url.Values
}

type grant struct {
	client, redirectURI, nonce, challenge string
	user                                  User
	expires                               time.Time
}

const kid = "oidctest-1"

// signingKey is made once per test binary: RSA key generation is slow, and
// tests that need issuers with different keys have not come up.
var signingKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

// New starts an issuer that knows clients; it is closed when t ends.
func New(t testing.TB, clients ...Client) *Issuer {
	t.Helper()
	key, err := signingKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	is := &Issuer{
		GroupsClaim: "groups",
		key:         key, signer: signer,
		clients: map[string]Client{}, codes: map[string]grant{}, access: map[string]User{},
		now: time.Now,
	}
	for _, c := range clients {
		is.clients[c.ID] = c
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", is.discovery)
	mux.HandleFunc("GET /jwks", is.jwks)
	mux.HandleFunc("GET /authorize", is.authorize)
	mux.HandleFunc("POST /token", is.token)
	mux.HandleFunc("GET /userinfo", is.userinfo)
	is.srv = httptest.NewServer(mux)
	is.URL = is.srv.URL
	t.Cleanup(is.srv.Close)
	return is
}

// AddClient registers another relying party (its redirect URL is often
// known only after its own server started).
func (is *Issuer) AddClient(c Client) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.clients[c.ID] = c
}

// SignIn makes u the user the authorization endpoint signs in from now on.
func (is *Issuer) SignIn(u User) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.user = u
}

// Override sets claims of every ID token issued from now on, after the
// issuer filled in its own; a nil value removes the claim.
func (is *Issuer) Override(claims map[string]any) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.override = claims
}

// SetClock sets the issuer's clock (iat, exp, code expiry).
func (is *Issuer) SetClock(now func() time.Time) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.now = now
}

// AddCallbackParams adds parameters to every redirect back to the client
// (e.g. a forged "iss").
func (is *Issuer) AddCallbackParams(q url.Values) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.callbackQ = q
}

// Bool is a helper for User.EmailVerified.
func Bool(b bool) *bool { return &b }

func (is *Issuer) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                is.URL,
		"authorization_endpoint":                is.URL + "/authorize",
		"token_endpoint":                        is.URL + "/token",
		"userinfo_endpoint":                     is.URL + "/userinfo",
		"jwks_uri":                              is.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile", "groups"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", is.GroupsClaim},
	})
}

func (is *Issuer) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &is.key.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"},
	}})
}

// authorize is the authorization endpoint (OIDC Core 3.1.2). Errors about
// the client or its redirect URI are shown here, never redirected (3.1.2.6).
func (is *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	is.mu.Lock()
	defer is.mu.Unlock()
	c, ok := is.clients[q.Get("client_id")]
	if !ok {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	if q.Get("redirect_uri") != c.RedirectURL {
		http.Error(w, "redirect_uri is not registered for this client", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(c.RedirectURL)
	bq := back.Query()
	fail := func(code, desc string) {
		bq.Set("error", code)
		bq.Set("error_description", desc)
		if s := q.Get("state"); s != "" {
			bq.Set("state", s)
		}
		back.RawQuery = bq.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only the authorization code flow")
		return
	case !hasWord(q.Get("scope"), "openid"):
		fail("invalid_scope", "scope must include openid")
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		fail("invalid_request", "PKCE with S256 is required")
		return
	}
	code := rand.Text()
	is.codes[code] = grant{
		client: c.ID, redirectURI: c.RedirectURL, nonce: q.Get("nonce"),
		challenge: q.Get("code_challenge"), user: is.user, expires: is.now().Add(time.Minute),
	}
	bq.Set("code", code)
	if s := q.Get("state"); s != "" {
		bq.Set("state", s)
	}
	for k, vs := range is.callbackQ {
		for _, v := range vs {
			bq.Set(k, v)
		}
	}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token is the token endpoint (OIDC Core 3.1.3, RFC 6749 4.1.3, RFC 7636 4.6).
func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	c, ok := is.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	code := r.PostForm.Get("code")
	g, ok := is.codes[code]
	delete(is.codes, code) // a code is used once, even when the exchange fails
	switch {
	case !ok || g.client != id || is.now().After(g.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
		return
	case !pkceMatches(r.PostForm.Get("code_verifier"), g.challenge):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge")
		return
	}
	access := rand.Text()
	is.access[access] = g.user
	idToken, err := is.idToken(id, g, access)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "token_type": "Bearer", "expires_in": 3600, "id_token": idToken,
	})
}

func (is *Issuer) idToken(client string, g grant, access string) (string, error) {
	now := is.now()
	sum := sha256.Sum256([]byte(access))
	claims := map[string]any{
		"iss": is.URL, "sub": g.user.Subject, "aud": client,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "auth_time": now.Unix(),
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if !g.user.ThinIDToken {
		is.userClaims(claims, g.user)
	}
	for k, v := range is.override {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := is.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func (is *Issuer) userClaims(claims map[string]any, u User) {
	if u.Email != "" {
		claims["email"] = u.Email
	}
	if u.EmailVerified != nil {
		claims["email_verified"] = *u.EmailVerified
	}
	if u.Groups != nil {
		claims[is.GroupsClaim] = u.Groups
	}
}

// userinfo is the UserInfo endpoint (OIDC Core 5.3).
func (is *Issuer) userinfo(w http.ResponseWriter, r *http.Request) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	is.mu.Lock()
	u, ok := is.access[tok]
	is.mu.Unlock()
	if !strings.EqualFold(scheme, "Bearer") || !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	claims := map[string]any{"sub": u.Subject}
	is.userClaims(claims, u)
	writeJSON(w, http.StatusOK, claims)
}

func pkceMatches(verifier, challenge string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

func hasWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if f == w {
			return true
		}
	}
	return false
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Authorize plays the browser at the authorization endpoint: it requests
// authURL (where the relying party's Begin redirected) and returns where
// the issuer sends the browser back, the client's redirect URL with code
// and state (or error).
func (is *Issuer) Authorize(authURL string) (*url.URL, error) {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("authorization endpoint: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return url.Parse(resp.Header.Get("Location"))
}
