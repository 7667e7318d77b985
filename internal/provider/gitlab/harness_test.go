package gitlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/gitlabapi"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/gitlab/gitlabtest"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
)

const testSystem = "test-gitlab"

// testOptions retry throttling without sleeping.
var testOptions = gitlabapi.Options{Retries: 3, Sleep: func(time.Duration) time.Duration { return time.Millisecond }}

// harness backs the suite with the test server: fixtures are made on the
// server directly and checked with fresh requests as the token itself,
// never through the provider.
type harness struct {
	s     *gitlabtest.Server
	admin string
}

var (
	_ providertest.GeneratedHarness     = harness{}
	_ providertest.GeneratedUnsupported = harness{}
	_ providertest.SecretInput          = harness{}
)

func newHarness(t *testing.T) harness {
	s := gitlabtest.New()
	t.Cleanup(s.Close)
	return harness{s: s, admin: s.RootToken()}
}

func TestGeneratedSuite(t *testing.T) {
	providertest.RunGenerated(t, newHarness(t))
}

func (harness) System() string { return testSystem }

func (harness) Factory() provider.Factory {
	return func(ctx context.Context, cfg provider.Config) (provider.Provider, error) {
		p, err := open(ctx, cfg, testOptions)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

func (h harness) Admin(*testing.T) provider.Config {
	return provider.Config{System: testSystem, Endpoint: h.s.URL, Admin: secret.FromString(h.admin)}
}

func (h harness) Unreachable(t *testing.T) providertest.BadAdmin {
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Endpoint: "http://" + providertest.ClosedAddress(t), Admin: secret.FromString(h.admin)}, Password: h.admin}
}

func (h harness) WrongAdmin(*testing.T) providertest.BadAdmin {
	wrong := "glpat-" + randomName() + randomName()
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Endpoint: h.s.URL, Admin: secret.FromString(wrong)}, Password: wrong}
}

// LimitedAdmin is an administrator whose token has read_api but not api:
// it may look tokens up but not revoke them.
func (h harness) LimitedAdmin(*testing.T) (providertest.BadAdmin, string) {
	u := h.s.CreateUser("limited-"+randomName(), true)
	_, tok := h.s.CreateToken(u.ID, "limited", []string{"read_api"}, "")
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Endpoint: h.s.URL, Admin: secret.FromString(tok)}, Password: tok}, "api scope"
}

// CreateIdentity gives a new user a read_api token (api when risky).
func (h harness) CreateIdentity(_ *testing.T, name string, risky bool) (string, string) {
	u := h.s.CreateUser(name, false)
	scopes := []string{"read_api"}
	if risky {
		scopes = []string{"api", "read_api"}
	}
	tok, v := h.s.CreateToken(u.ID, "ci", scopes, time.Now().AddDate(0, 6, 0).Format(time.DateOnly))
	return strconv.FormatInt(tok.ID, 10), v
}

// CanUse looks the token up as itself, checks it is keyID, and reads
// the current user, which read_api allows.
func (h harness) CanUse(_ *testing.T, name, keyID, sec string) error {
	var self struct {
		ID int64 `json:"id"`
	}
	if err := h.get(sec, "/api/v4/personal_access_tokens/self", &self); err != nil {
		return err
	}
	if strconv.FormatInt(self.ID, 10) != keyID {
		return errors.New("the token is another one: id " + strconv.FormatInt(self.ID, 10))
	}
	var u struct {
		Username string `json:"username"`
	}
	if err := h.get(sec, "/api/v4/user", &u); err != nil {
		return err
	}
	if u.Username != name {
		return errors.New("the token is " + u.Username + "'s")
	}
	return nil
}

func (h harness) get(token, path string, v any) error {
	req, _ := http.NewRequest(http.MethodGet, h.s.URL+path, nil)
	req.Header.Set("PRIVATE-TOKEN", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(path + ": " + resp.Status)
	}
	return decodeJSON(resp, v)
}

// Keys lists the ids of name's active tokens.
func (h harness) Keys(_ *testing.T, name string) []string {
	u := h.s.UserByName(name)
	if u == nil {
		return nil
	}
	var out []string
	for _, t := range h.s.Tokens(u.ID) {
		if t.Active(time.Now()) {
			out = append(out, strconv.FormatInt(t.ID, 10))
		}
	}
	return out
}

func (h harness) Exists(_ *testing.T, name string) bool { return h.s.UserByName(name) != nil }

func (h harness) Risky(_ *testing.T, name string) bool {
	u := h.s.UserByName(name)
	if u == nil {
		return false
	}
	for _, t := range h.s.Tokens(u.ID) {
		if t.Active(time.Now()) {
			for _, s := range t.Scopes {
				if s == "api" {
					return true
				}
			}
		}
	}
	return false
}

func (h harness) Signed(_ *testing.T, keyID string) int {
	id, _ := strconv.ParseInt(keyID, 10, 64)
	return h.s.Signed(id)
}

// Unsupported: a token can be revoked but not suspended, its scopes are
// fixed when it is created, GitLab keeps no sessions derived from it, the
// administrator proves a token without using it, a user holds any number
// of tokens and outlives them (keyless-principal is supported).
func (harness) Unsupported() []string {
	return []string{providertest.FeatureDeactivate, providertest.FeatureIsolate, providertest.FeatureSessions,
		providertest.FeatureUseLeaked, providertest.FeatureKeyLimit}
}

// SecretInput: a leaked GitLab token is the token alone.
func (harness) SecretInput(_, sec string) string { return sec }

func randomName() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "rk" + hex.EncodeToString(b)
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
