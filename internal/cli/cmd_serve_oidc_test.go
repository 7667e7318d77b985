package cli

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/auth/oidc/oidctest"
)

// TestServeSignsPeopleInWithOIDC follows a browser through rekey serve's
// --oidc-* flags: the sign-in redirects to the issuer, the issuer back
// to /auth/oidc/callback, and the person lands signed in under their
// email with the role their group maps to.
func TestServeSignsPeopleInWithOIDC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	public := "http://" + addr
	is := oidctest.New(t, oidctest.Client{ID: "rekey", Secret: "s3cret-client", RedirectURL: public + "/auth/oidc/callback"})
	is.SignIn(oidctest.User{Subject: "u-1", Email: "alice@example.org", EmailVerified: oidctest.Bool(true), Groups: []string{"sec-oncall"}})
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte("s3cret-client\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--listen", addr, "--public-url", public,
		"--oidc-issuer", is.URL, "--oidc-client-id", "rekey", "--oidc-client-secret-file", secretFile,
		"--oidc-role", "sec-oncall=approver")

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get("http://" + s.addr + "/auth/oidc/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Signed in") {
		t.Fatalf("after the sign-in round trip: %d %s", resp.StatusCode, body)
	}
	// The callback ends on a page of this site (a SameSite=Strict cookie
	// set on the provider's redirect is not sent until a same-site
	// navigation); the browser then goes on to the incidents.
	resp, err = client.Get("http://" + s.addr + "/incidents")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "alice@example.org") || !strings.Contains(string(body), "approver") {
		t.Fatalf("the page after sign-in does not show alice as an approver:\n%s", body)
	}
	if strings.Contains(string(body), "s3cret-client") {
		t.Fatal("the client secret reached a page")
	}
}
