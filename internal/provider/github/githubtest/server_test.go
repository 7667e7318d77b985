package githubtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/nacl/box"
)

// do sends one raw request, as GitHub's reference shows it.
func do(t *testing.T, method, url, token string, body any) (*http.Response, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, r)
	req.Header.Set("Accept", "application/vnd.github+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 && b[0] == '{' {
		_ = json.Unmarshal(b, &out)
	}
	return resp, out
}

func TestErrorsFollowTheReference(t *testing.T) {
	s := New()
	defer s.Close()
	resp, body := do(t, "GET", s.URL+"/user", "ghp_unknown", nil)
	if resp.StatusCode != 401 || body["message"] != "Bad credentials" || body["documentation_url"] == nil || body["status"] != "401" {
		t.Errorf("unknown token: %d %v, want 401 {message: Bad credentials, documentation_url, status: \"401\"}", resp.StatusCode, body)
	}
	tok := s.ClassicToken("dev", time.Time{}, "repo", "gist")
	resp, body = do(t, "GET", s.URL+"/user", tok, nil)
	if resp.StatusCode != 200 || body["login"] != "dev" || resp.Header.Get("X-OAuth-Scopes") != "repo, gist" {
		t.Errorf("GET /user: %d %v scopes %q", resp.StatusCode, body, resp.Header.Get("X-OAuth-Scopes"))
	}
	// The credentials revocation API refuses authenticated requests and
	// more than 1000 credentials; anonymous, it answers 202 and the token
	// stops working.
	if resp, _ := do(t, "POST", s.URL+"/credentials/revoke", tok, map[string]any{"credentials": []string{tok}}); resp.StatusCode != 403 {
		t.Errorf("authenticated revoke: %d, want 403", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", s.URL+"/credentials/revoke", "", map[string]any{"credentials": make([]string, 1001)}); resp.StatusCode != 422 {
		t.Errorf("1001 credentials: %d, want 422", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", s.URL+"/credentials/revoke", "", map[string]any{"credentials": []string{tok}}); resp.StatusCode != 202 {
		t.Errorf("revoke: %d, want 202", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", s.URL+"/api/v3/user", tok, nil); resp.StatusCode != 401 {
		t.Errorf("a revoked token (under /api/v3): %d, want 401", resp.StatusCode)
	}
	// The organisation's token review answers GitHub Apps only.
	s.AddOrg("acme")
	pat := s.ClassicToken("owner", time.Time{}, "admin:org")
	if resp, body := do(t, "GET", s.URL+"/orgs/acme/personal-access-tokens", pat, nil); resp.StatusCode != 403 || !strings.Contains(body["message"].(string), "personal access token") {
		t.Errorf("listing with a PAT: %d %v, want 403", resp.StatusCode, body)
	}
}

func TestPaginationLinks(t *testing.T) {
	s := New()
	defer s.Close()
	for i := 0; i < 5; i++ {
		s.AddDeployKey("acme/api", "k"+strconv.Itoa(i), "ssh-ed25519 AAAA", true)
	}
	tok := s.ClassicToken("dev", time.Time{}, "repo")
	req, _ := http.NewRequest("GET", s.URL+"/repos/acme/api/keys?per_page=2&page=2", nil)
	req.Header.Set("Authorization", "token "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var keys []map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&keys)
	link := resp.Header.Get("Link")
	for _, want := range []string{`page=3&per_page=2>; rel="next"`, `page=3&per_page=2>; rel="last"`, `page=1&per_page=2>; rel="first"`, `page=1&per_page=2>; rel="prev"`} {
		if !strings.Contains(link, want) {
			t.Errorf("Link %q lacks %q", link, want)
		}
	}
	if len(keys) != 2 || keys[0]["title"] != "k2" {
		t.Errorf("page 2 = %v, want k2 and k3", keys)
	}
}

// A value sealed for the repository's public key is opened; a stale
// key_id or a value sealed for another key is 422.
func TestActionsSecretIsOpened(t *testing.T) {
	s := New()
	defer s.Close()
	s.AddRepo("acme/api")
	tok := s.ClassicToken("dev", time.Time{}, "repo")
	_, pk := do(t, "GET", s.URL+"/repos/acme/api/actions/secrets/public-key", tok, nil)
	raw, _ := base64.StdEncoding.DecodeString(pk["key"].(string))
	var pub [32]byte
	copy(pub[:], raw)
	sealed, _ := box.SealAnonymous(nil, []byte("v1"), &pub, rand.Reader)
	put := func(keyID string, sealed []byte) int {
		resp, _ := do(t, "PUT", s.URL+"/repos/acme/api/actions/secrets/DB", tok, map[string]string{"key_id": keyID, "encrypted_value": base64.StdEncoding.EncodeToString(sealed)})
		return resp.StatusCode
	}
	if c := put(pk["key_id"].(string), sealed); c != 201 {
		t.Fatalf("PUT: %d, want 201", c)
	}
	if c := put(pk["key_id"].(string), sealed); c != 204 {
		t.Errorf("PUT again: %d, want 204", c)
	}
	if v, _ := s.Secret("acme/api", "DB"); string(v) != "v1" {
		t.Errorf("opened %q, want v1", v)
	}
	other, _, _ := box.GenerateKey(rand.Reader)
	wrong, _ := box.SealAnonymous(nil, []byte("v2"), other, rand.Reader)
	if c := put(pk["key_id"].(string), wrong); c != 422 {
		t.Errorf("sealed for another key: %d, want 422", c)
	}
	if c := put("stale", sealed); c != 422 {
		t.Errorf("stale key_id: %d, want 422", c)
	}
	_, meta := do(t, "GET", s.URL+"/repos/acme/api/actions/secrets/DB", tok, nil)
	if meta["name"] != "DB" || meta["value"] != nil {
		t.Errorf("secret metadata = %v, want a name and no value", meta)
	}
}

// An installation token is minted for an RS256 JWT of the app that
// expires within ten minutes.
func TestInstallationTokenNeedsTheAppsJWT(t *testing.T) {
	s := New()
	defer s.Close()
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	s.AddApp(9, 10, &k.PublicKey, "acme", map[string]string{"secrets": "write"})
	sign := func(key *rsa.PrivateKey, exp time.Duration) string {
		j, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Issuer: "9", IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(exp))}).SignedString(key)
		return j
	}
	resp, body := do(t, "POST", s.URL+"/app/installations/10/access_tokens", sign(k, 5*time.Minute), nil)
	if resp.StatusCode != 201 || !strings.HasPrefix(body["token"].(string), "ghs_") || body["expires_at"] == nil {
		t.Fatalf("mint: %d %v", resp.StatusCode, body)
	}
	if resp, _ := do(t, "POST", s.URL+"/app/installations/10/access_tokens", sign(k, time.Hour), nil); resp.StatusCode != 401 {
		t.Errorf("a JWT valid for an hour: %d, want 401", resp.StatusCode)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if resp, _ := do(t, "POST", s.URL+"/app/installations/10/access_tokens", sign(other, 5*time.Minute), nil); resp.StatusCode != 401 {
		t.Errorf("a JWT signed by another key: %d, want 401", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", s.URL+"/app/installations/11/access_tokens", sign(k, 5*time.Minute), nil); resp.StatusCode != 404 {
		t.Errorf("another installation: %d, want 404", resp.StatusCode)
	}
}
