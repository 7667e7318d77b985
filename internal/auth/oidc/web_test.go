package oidc_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/auth/oidc"
	"github.com/rekeyhq/rekey/internal/auth/oidc/oidctest"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/token"
	"github.com/rekeyhq/rekey/internal/web"
)

// TestSignInThroughTheWebUI signs in as a browser would: a cookie jar, real
// redirects between the web UI and the issuer, the provider's hooks in the
// web UI as `rekey serve` plugs them.
func TestSignInThroughTheWebUI(t *testing.T) {
	if oidc.CallbackPath != web.CallbackPath {
		t.Fatalf("the provider redirects to %s, the web UI serves %s", oidc.CallbackPath, web.CallbackPath)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	var ui http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ui.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	const secret = "web-test-secret"
	is := oidctest.New(t, oidctest.Client{ID: "rekey", Secret: secret, RedirectURL: srv.URL + oidc.CallbackPath})
	is.SignIn(oidctest.User{Subject: "u-pat", Email: "pat@example.org", EmailVerified: oidctest.Bool(true), Groups: []string{"sec-leads"}})
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := oidc.New(ctx, oidc.Config{Issuer: is.URL, ClientID: "rekey", ClientSecretFile: secretFile,
		RedirectURL: srv.URL + oidc.CallbackPath, RoleMap: map[string]auth.Role{"sec-leads": auth.Approver}})
	if err != nil {
		t.Fatal(err)
	}
	ui = web.New(web.Config{Store: st, Auth: &token.Authenticator{Store: st},
		Deps: func(context.Context, auth.Principal) (incident.Deps, error) { return incident.Deps{Store: st}, nil },
		OIDC: &web.OIDC{Name: "Example SSO", Start: p.Begin, Callback: p.Callback}})

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := browser.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// /auth/oidc/login → the issuer → the callback, which signs in and
	// moves on by a page of this site.
	if code, body := get("/auth/oidc/login"); code != http.StatusOK || !strings.Contains(body, "url=/incidents") {
		t.Fatalf("sign-in ended with %d:\n%s", code, body)
	}
	u, _ := url.Parse(srv.URL + oidc.CallbackPath)
	for _, c := range jar.Cookies(u) {
		if strings.Contains(c.Name, "rekey_oidc") {
			t.Errorf("the flow cookie %s outlived the sign-in", c.Name)
		}
	}
	if code, body := get("/incidents"); code != http.StatusOK || !strings.Contains(body, "pat@example.org") {
		t.Fatalf("incidents after sign-in: %d\n%s", code, body)
	}

	// Someone the provider has not verified gets the sign-in page back.
	is.SignIn(oidctest.User{Subject: "u-eve", Email: "eve@example.org", EmailVerified: oidctest.Bool(false)})
	jar2, _ := cookiejar.New(nil)
	browser.Jar = jar2
	if code, body := get("/auth/oidc/login"); code != http.StatusUnauthorized || !strings.Contains(body, "has not verified eve@example.org") {
		t.Errorf("an unverified email: %d\n%s", code, body)
	}
}
