package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/auth/oidc/oidctest"
)

const (
	clientID    = "rekey-test"
	redirectURL = "http://127.0.0.1:8420" + CallbackPath
)

type rig struct {
	is     *oidctest.Issuer
	p      *Provider
	secret string
}

func writeSecret(t *testing.T, secret string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func newRig(t *testing.T, mutate func(*Config)) *rig {
	t.Helper()
	secret := "s3cr3t-" + rand.Text()
	is := oidctest.New(t, oidctest.Client{ID: clientID, Secret: secret, RedirectURL: redirectURL})
	is.SignIn(oidctest.User{Subject: "u-alice", Email: "Alice@Example.org", EmailVerified: oidctest.Bool(true), Groups: []string{"eng"}})
	cfg := Config{
		Issuer: is.URL, ClientID: clientID, ClientSecretFile: writeSecret(t, secret, 0o600),
		RedirectURL: redirectURL,
		RoleMap:     map[string]auth.Role{"sec-responders": auth.Responder, "sec-approvers": auth.Approver, "root": auth.Admin},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &rig{is: is, p: p, secret: secret}
}

// begin runs Begin and returns its cookie and the authorization URL.
func (r *rig) begin(t *testing.T) (*http.Cookie, *url.URL) {
	t.Helper()
	w := httptest.NewRecorder()
	r.p.Begin(w, httptest.NewRequest("GET", "http://127.0.0.1:8420/auth/oidc/login", nil))
	res := w.Result()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("Begin: status %d", res.StatusCode)
	}
	cs := res.Cookies()
	if len(cs) != 1 {
		t.Fatalf("Begin set %d cookies, want 1", len(cs))
	}
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return cs[0], u
}

// callback plays the browser: Begin, the provider's sign-in, and the
// request that arrives at the callback (with the flow cookie).
func (r *rig) callback(t *testing.T) *http.Request {
	t.Helper()
	c, authURL := r.begin(t)
	back, err := r.is.Authorize(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", back.String(), nil)
	req.AddCookie(c)
	return req
}

// withCookie replaces the request's cookie with c (none when nil).
func withCookie(req *http.Request, c *http.Cookie) *http.Request {
	req.Header.Del("Cookie")
	if c != nil {
		req.AddCookie(c)
	}
	return req
}

func (r *rig) signIn(t *testing.T) (auth.Principal, error) {
	t.Helper()
	return r.p.Finish(context.Background(), r.callback(t))
}

func TestSignInMapsTheHighestRole(t *testing.T) {
	r := newRig(t, nil)
	r.is.SignIn(oidctest.User{Subject: "u-alice", Email: "Alice@Example.org", EmailVerified: oidctest.Bool(true),
		Groups: []string{"eng", "sec-responders", "sec-approvers"}})
	got, err := r.signIn(t)
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Principal{Name: "Alice@Example.org", Role: auth.Approver, Via: "oidc"}
	if got != want {
		t.Errorf("principal = %+v, want %+v", got, want)
	}
}

func TestUnknownGroupIsViewer(t *testing.T) {
	for _, groups := range [][]string{{"eng", "sales"}, nil} {
		r := newRig(t, nil)
		r.is.SignIn(oidctest.User{Subject: "u-bob", Email: "bob@example.org", EmailVerified: oidctest.Bool(true), Groups: groups})
		got, err := r.signIn(t)
		if err != nil {
			t.Fatal(err)
		}
		if got.Role != auth.Viewer || got.Name != "bob@example.org" {
			t.Errorf("groups %v: principal = %+v, want bob@example.org as viewer", groups, got)
		}
	}
}

func TestBeginAsksForCodeWithPKCEAndNonce(t *testing.T) {
	r := newRig(t, nil)
	c, u := r.begin(t)
	q := u.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": clientID, "redirect_uri": redirectURL, "code_challenge_method": "S256",
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 43 {
			t.Errorf("%s = %q: want at least 256 bits", k, q.Get(k))
		}
	}
	if scope := " " + q.Get("scope") + " "; !strings.Contains(scope, " openid ") || !strings.Contains(scope, " email ") || !strings.Contains(scope, " groups ") {
		t.Errorf("scope = %q, want openid, email and groups (the issuer lists groups)", q.Get("scope"))
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != CallbackPath || c.MaxAge <= 0 || c.MaxAge > 600 {
		t.Errorf("cookie = %+v: want HttpOnly, SameSite=Lax, Path=%s, Max-Age <= 600", c, CallbackPath)
	}
	if strings.Contains(c.Value, q.Get("state")) || strings.Contains(c.Value, q.Get("nonce")) {
		t.Error("the cookie holds the state or nonce in clear")
	}
}

func TestHTTPSRedirectMakesSecureCookie(t *testing.T) {
	secret := "s"
	is := oidctest.New(t)
	p, err := New(context.Background(), Config{Issuer: is.URL, ClientID: clientID, ClientSecretFile: writeSecret(t, secret, 0o600),
		RedirectURL: "https://rekey.example.org" + CallbackPath})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	p.Begin(w, httptest.NewRequest("GET", "/auth/oidc/login", nil))
	c := w.Result().Cookies()[0]
	if !c.Secure || !strings.HasPrefix(c.Name, "__Secure-") {
		t.Errorf("cookie %s secure=%v: want a Secure __Secure- cookie under https", c.Name, c.Secure)
	}
}

// refusedWith signs in and checks that Finish refuses with a message
// containing want.
func refusedWith(t *testing.T, r *rig, req *http.Request, want string) {
	t.Helper()
	p, err := r.p.Finish(context.Background(), req)
	if err == nil {
		t.Fatalf("signed in as %+v, want a refusal (%s)", p, want)
	}
	if !errors.Is(err, ErrSignIn) || !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("error %q does not wrap ErrSignIn and auth.ErrUnauthenticated", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to say %q", err, want)
	}
	if code := req.URL.Query().Get("code"); code != "" && strings.Contains(err.Error(), code) {
		t.Errorf("error %q holds the authorization code", err)
	}
	if strings.Contains(err.Error(), r.secret) {
		t.Errorf("error %q holds the client secret", err)
	}
}

func TestIDTokenChecks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		override map[string]any
		want     string
	}{
		{"wrong nonce", map[string]any{"nonce": "not-the-one-we-sent"}, "nonce does not match"},
		{"no nonce", map[string]any{"nonce": nil}, "nonce does not match"},
		{"wrong audience", map[string]any{"aud": "another-client"}, "audience"},
		{"expired", map[string]any{"exp": time.Now().Add(-time.Minute).Unix(), "iat": time.Now().Add(-10 * time.Minute).Unix()}, "expired"},
		{"wrong issuer", map[string]any{"iss": "https://evil.example"}, "different provider"},
		{"several audiences, no azp", map[string]any{"aud": []string{clientID, "other"}}, "several audiences"},
		{"several audiences, azp another", map[string]any{"aud": []string{clientID, "other"}, "azp": "other"}, "several audiences"},
		{"wrong at_hash", map[string]any{"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "at_hash"},
		{"unverified email", map[string]any{"email_verified": false}, "has not verified Alice@Example.org"},
		{"unverified email as string", map[string]any{"email_verified": "false"}, "has not verified"},
		{"email_verified not a boolean", map[string]any{"email_verified": "yes"}, "has not verified"},
		{"not an address", map[string]any{"email": "Alice <alice@example.org>"}, "not an address"},
		{"mixed scripts", map[string]any{"email": "\u0430lice@example.org"}, "cannot name an actor"},
		{"groups not strings", map[string]any{"groups": []any{1, 2}}, `"groups" claim`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.is.Override(tc.override)
			refusedWith(t, r, r.callback(t), tc.want)
		})
	}
}

func TestLenientClaims(t *testing.T) {
	for _, tc := range []struct {
		name     string
		override map[string]any
		role     auth.Role
	}{
		{"no email_verified", map[string]any{"email_verified": nil}, auth.Viewer},
		{"email_verified as string", map[string]any{"email_verified": "true"}, auth.Viewer},
		{"groups as one string", map[string]any{"groups": "root"}, auth.Admin},
		{"several audiences with azp", map[string]any{"aud": []string{clientID, "other"}, "azp": clientID}, auth.Viewer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.is.Override(tc.override)
			p, err := r.signIn(t)
			if err != nil {
				t.Fatal(err)
			}
			if p.Role != tc.role || p.Name != "Alice@Example.org" {
				t.Errorf("principal = %+v, want alice@example.org as %s", p, tc.role)
			}
		})
	}
}

func TestThinIDTokenReadsUserInfo(t *testing.T) {
	r := newRig(t, nil)
	r.is.SignIn(oidctest.User{Subject: "u-carol", Email: "carol@example.org", EmailVerified: oidctest.Bool(true),
		Groups: []string{"sec-responders"}, ThinIDToken: true})
	p, err := r.signIn(t)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "carol@example.org" || p.Role != auth.Responder {
		t.Errorf("principal = %+v, want carol@example.org as responder (from UserInfo)", p)
	}

	r.is.SignIn(oidctest.User{Subject: "u-dave", Email: "dave@example.org", EmailVerified: oidctest.Bool(false), ThinIDToken: true})
	refusedWith(t, r, r.callback(t), "has not verified dave@example.org")
}

func TestUserInfoForAnotherSubject(t *testing.T) {
	r := newRig(t, nil)
	r.is.SignIn(oidctest.User{Subject: "u-carol", Email: "carol@example.org", ThinIDToken: true})
	r.is.Override(map[string]any{"sub": "u-mallory"})
	refusedWith(t, r, r.callback(t), "another subject")
}

func TestNoEmail(t *testing.T) {
	r := newRig(t, nil)
	r.is.SignIn(oidctest.User{Subject: "u-erin"})
	refusedWith(t, r, r.callback(t), "no email claim")
}

func TestStateAndCookieChecks(t *testing.T) {
	t.Run("tampered state", func(t *testing.T) {
		r := newRig(t, nil)
		req := r.callback(t)
		q := req.URL.Query()
		q.Set("state", q.Get("state")+"x")
		req.URL.RawQuery = q.Encode()
		refusedWith(t, r, req, "state parameter does not match")
	})
	t.Run("another browser's callback", func(t *testing.T) {
		// The attacker's own code and state, delivered to the victim's
		// browser (login CSRF): the victim's cookie belongs to another flow.
		r := newRig(t, nil)
		victim, _ := r.begin(t)
		req := withCookie(r.callback(t), victim)
		refusedWith(t, r, req, "state parameter does not match")
	})
	t.Run("no cookie", func(t *testing.T) {
		r := newRig(t, nil)
		refusedWith(t, r, withCookie(r.callback(t), nil), "no sign-in in progress")
	})
	t.Run("tampered cookie", func(t *testing.T) {
		r := newRig(t, nil)
		c, authURL := r.begin(t)
		back, err := r.is.Authorize(authURL.String())
		if err != nil {
			t.Fatal(err)
		}
		b := []byte(c.Value)
		b[len(b)/2] ^= 1
		req := httptest.NewRequest("GET", back.String(), nil)
		req.AddCookie(&http.Cookie{Name: c.Name, Value: string(b)})
		refusedWith(t, r, req, "cookie is not valid")
	})
	t.Run("cookie from another client secret", func(t *testing.T) {
		r := newRig(t, nil)
		other := newRig(t, nil)
		c, _ := other.begin(t)
		refusedWith(t, r, withCookie(r.callback(t), c), "cookie is not valid")
	})
	t.Run("too slow", func(t *testing.T) {
		now := time.Now()
		r := newRig(t, func(c *Config) { c.Now = func() time.Time { return now } })
		req := r.callback(t)
		now = now.Add(flowTTL + time.Second)
		refusedWith(t, r, req, "took longer than")
	})
	t.Run("code used twice", func(t *testing.T) {
		r := newRig(t, nil)
		req := r.callback(t)
		if _, err := r.p.Finish(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		refusedWith(t, r, req, "invalid_grant")
	})
	t.Run("provider error", func(t *testing.T) {
		r := newRig(t, nil)
		c, _ := r.begin(t)
		req := httptest.NewRequest("GET", redirectURL+"?error=access_denied&error_description=user+said+no%0Aforged+line", nil)
		req.AddCookie(c)
		refusedWith(t, r, req, "answered access_denied user said no forged line")
	})
	t.Run("mixed-up issuer", func(t *testing.T) {
		r := newRig(t, nil)
		r.is.AddCallbackParams(url.Values{"iss": {"https://other-idp.example"}})
		refusedWith(t, r, r.callback(t), "names issuer")
	})
	t.Run("right issuer named", func(t *testing.T) {
		r := newRig(t, nil)
		r.is.AddCallbackParams(url.Values{"iss": {r.is.URL}})
		if _, err := r.signIn(t); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWrongClientSecret(t *testing.T) {
	r := newRig(t, nil)
	r.is.AddClient(oidctest.Client{ID: clientID, Secret: "rotated", RedirectURL: redirectURL})
	refusedWith(t, r, r.callback(t), "invalid_client")
}

func TestForgetExpiresTheCookie(t *testing.T) {
	r := newRig(t, nil)
	c, _ := r.begin(t)
	w := httptest.NewRecorder()
	r.p.Forget(w)
	got := w.Result().Cookies()
	if len(got) != 1 || got[0].Name != c.Name || got[0].Path != c.Path || got[0].MaxAge >= 0 {
		t.Errorf("Forget set %+v, want %s expired at %s", got, c.Name, c.Path)
	}
}

func TestCallbackSignsInAndForgets(t *testing.T) {
	r := newRig(t, nil)
	w := httptest.NewRecorder()
	p, err := r.p.Callback(w, r.callback(t))
	if err != nil || p.Name != "Alice@Example.org" {
		t.Fatalf("Callback: %+v, %v", p, err)
	}
	if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("Callback set %+v, want the flow cookie expired", cs)
	}
	r.is.Override(map[string]any{"nonce": "x"})
	w = httptest.NewRecorder()
	if _, err := r.p.Callback(w, r.callback(t)); err == nil {
		t.Fatal("a wrong nonce signed in")
	}
	if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("a failed Callback set %+v, want the flow cookie expired too", cs)
	}
}

func TestNewRefuses(t *testing.T) {
	is := oidctest.New(t)
	good := writeSecret(t, "s", 0o600)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no secret file", Config{Issuer: is.URL, ClientID: clientID, RedirectURL: redirectURL}, "client secret file is required"},
		{"readable secret", Config{Issuer: is.URL, ClientID: clientID, RedirectURL: redirectURL, ClientSecretFile: writeSecret(t, "s", 0o644)}, "chmod 600"},
		{"empty secret", Config{Issuer: is.URL, ClientID: clientID, RedirectURL: redirectURL, ClientSecretFile: writeSecret(t, "", 0o600)}, "file is empty"},
		{"missing secret", Config{Issuer: is.URL, ClientID: clientID, RedirectURL: redirectURL, ClientSecretFile: "/nonexistent/secret"}, "/nonexistent/secret"},
		{"relative redirect", Config{Issuer: is.URL, ClientID: clientID, RedirectURL: CallbackPath, ClientSecretFile: good}, "not an absolute"},
		{"unreachable issuer", Config{Issuer: "http://127.0.0.1:1", ClientID: clientID, RedirectURL: redirectURL, ClientSecretFile: good}, "discovery at http://127.0.0.1:1"},
		{"issuer mismatch", Config{Issuer: is.URL + "/", ClientID: clientID, RedirectURL: redirectURL, ClientSecretFile: good}, "discovery"},
		{"bad role", Config{Issuer: is.URL, ClientID: clientID, RedirectURL: redirectURL, ClientSecretFile: good, RoleMap: map[string]auth.Role{"ops": "root"}}, `group "ops"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error saying %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}
