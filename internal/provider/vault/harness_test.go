package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/provider/vault/vaulttest"
	"github.com/rekeyhq/rekey/internal/secret"
)

const testSystem = "test-vault"

// testOptions keep the retry waits short.
var testOptions = options{retries: 3, minWait: time.Millisecond, maxWait: 2 * time.Millisecond}

// adminPolicy is what rekey's administrator token needs (docs/providers/vault.md).
const adminPolicy = `
path "auth/token/lookup" { capabilities = ["update"] }
path "auth/token/lookup-accessor" { capabilities = ["update"] }
path "auth/token/accessors" { capabilities = ["list", "sudo"] }
path "auth/token/revoke-accessor" { capabilities = ["update"] }
path "auth/token/create-orphan" { capabilities = ["update", "sudo"] }
path "sys/policies/acl/*" { capabilities = ["read"] }
`

// harness backs the suite with the test server: fixtures go through the
// server's API as its root token, or as the fixture's own token, never
// through the provider.
type harness struct {
	s     *vaulttest.Server
	root  *api.Client
	admin string // the administrator token
}

var (
	_ providertest.GeneratedHarness     = harness{}
	_ providertest.GeneratedUnsupported = harness{}
)

func newHarness(t *testing.T) harness {
	s := vaulttest.New()
	t.Cleanup(s.Close)
	h := harness{s: s, root: s.Client(s.RootToken())}
	h.putPolicy(t, "rekey-admin", adminPolicy)
	h.admin = h.token(t, "rekey-admin", []string{"rekey-admin"})
	return h
}

func TestGeneratedSuite(t *testing.T) {
	providertest.RunGenerated(t, newHarness(t))
}

func (h harness) putPolicy(t *testing.T, name, text string) {
	t.Helper()
	if _, err := h.root.Logical().Write("sys/policies/acl/"+name, map[string]any{"policy": text}); err != nil {
		t.Fatalf("put policy %s: %v", name, err)
	}
}

// token creates an orphan token as root and returns its id.
func (h harness) token(t *testing.T, display string, policies []string) string {
	t.Helper()
	tok, _ := h.tokenWithAccessor(t, display, policies)
	return tok
}

func (h harness) tokenWithAccessor(t *testing.T, display string, policies []string) (id, accessor string) {
	t.Helper()
	s, err := h.root.Logical().Write("auth/token/create-orphan", map[string]any{"display_name": display, "policies": policies, "ttl": "1h"})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	return s.Auth.ClientToken, s.Auth.Accessor
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
	wrong := "hvs." + randomName() + randomName() + randomName()
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Endpoint: h.s.URL, Admin: secret.FromString(wrong)}, Password: wrong}
}

// LimitedAdmin may do everything rekey does except revoke-accessor, which
// an exact-path deny takes away.
func (h harness) LimitedAdmin(t *testing.T) (providertest.BadAdmin, string) {
	name := "limited-" + randomName()
	h.putPolicy(t, name, adminPolicy+`path "auth/token/revoke-accessor" { capabilities = ["deny"] }`)
	tok := h.token(t, name, []string{name})
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Endpoint: h.s.URL, Admin: secret.FromString(tok)}, Password: tok}, "update on auth/token/revoke-accessor"
}

// CreateIdentity gives name a token whose policy reads the application's
// KV path (what CanUse does), as a workload's token reads its secrets; a
// risky one also gets a policy creating tokens.
func (h harness) CreateIdentity(t *testing.T, name string, risky bool) (string, string) {
	h.putPolicy(t, "app-"+name, `path "secret/data/app/*" { capabilities = ["read"] }`)
	policies := []string{"app-" + name}
	if risky {
		h.putPolicy(t, "mint-"+name, `path "auth/token/create" { capabilities = ["update"] }`)
		policies = append(policies, "mint-"+name)
	}
	id, accessor := h.tokenWithAccessor(t, name, policies)
	t.Cleanup(func() {
		for _, a := range h.Keys(t, name) {
			_, _ = h.root.Logical().Write("auth/token/revoke-accessor", map[string]any{"accessor": a})
		}
	})
	return accessor, id
}

// CanUse looks the token up as itself, checks it is keyID's, and reads
// the application's KV path (a missing secret is fine; a refusal is not).
func (h harness) CanUse(t *testing.T, _, keyID, sec string) error {
	c := h.s.Client(sec)
	s, err := c.Auth().Token().LookupSelf()
	if err != nil {
		return err
	}
	if got, _ := s.Data["accessor"].(string); got != keyID {
		return errors.New("the token is another one: accessor " + got)
	}
	_, err = c.Logical().Read("secret/data/app/config")
	return err
}

// Keys lists the accessors of name's live tokens.
func (h harness) Keys(t *testing.T, name string) []string {
	var out []string
	for _, d := range h.tokens(t, name) {
		out = append(out, d["accessor"].(string))
	}
	return out
}

func (h harness) tokens(t *testing.T, name string) []map[string]any {
	t.Helper()
	s, err := h.root.Logical().List("auth/token/accessors")
	if err != nil {
		t.Fatalf("list accessors: %v", err)
	}
	var out []map[string]any
	for _, a := range s.Data["keys"].([]any) {
		l, err := h.root.Logical().Write("auth/token/lookup-accessor", map[string]any{"accessor": a})
		if err != nil {
			continue // revoked meanwhile
		}
		if l.Data["display_name"] == "token-"+name {
			out = append(out, l.Data)
		}
	}
	return out
}

func (h harness) Exists(t *testing.T, name string) bool { return len(h.tokens(t, name)) > 0 }

func (h harness) Risky(t *testing.T, name string) bool {
	for _, d := range h.tokens(t, name) {
		for _, p := range d["policies"].([]any) {
			if p == "mint-"+name {
				return true
			}
		}
	}
	return false
}

func (h harness) Signed(_ *testing.T, keyID string) int { return h.s.Signed(keyID) }

// Unsupported: a token can be revoked but not suspended, its policies are
// fixed when it is created, no API lists the tokens it created (they are
// revoked with it), the administrator proves a token without using it,
// a principal holds any number of tokens and is nothing without them.
func (harness) Unsupported() []string {
	return []string{providertest.FeatureDeactivate, providertest.FeatureIsolate, providertest.FeatureSessions,
		providertest.FeatureUseLeaked, providertest.FeatureKeyLimit, providertest.FeatureKeylessPrincipal}
}

func randomName() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "rk" + hex.EncodeToString(b)
}

// SecretInput: a leaked Vault token is the token alone.
func (harness) SecretInput(_, sec string) string { return sec }
