package vault

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
)

func openTest(t *testing.T, h harness) *Provider {
	t.Helper()
	p, err := open(context.Background(), h.Admin(t), testOptions)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGrade(t *testing.T) {
	cases := []struct {
		policy  string
		risk    provider.Risk
		creates bool
	}{
		{`path "*" { capabilities = ["create", "update", "read"] }`, provider.RiskCritical, true},
		{`path "sys/*" { capabilities = ["update"] }`, provider.RiskCritical, true},
		{`path "sys/policies/acl/*" { capabilities = ["create", "update"] }`, provider.RiskCritical, true},
		{`path "auth/token/create" { capabilities = ["update", "sudo"] }`, provider.RiskCritical, true},
		{`path "auth/token/create*" { capabilities = ["update"] }`, provider.RiskHigh, true},
		{`path "auth/token/*" { capabilities = ["update"] }`, provider.RiskHigh, true},
		{`path "auth/approle/role/+/secret-id" { capabilities = ["update"] }`, provider.RiskHigh, true},
		{`path "secret/*" { capabilities = ["read", "list"] }`, provider.RiskMedium, false},
		{`path "secret/data/*" { capabilities = ["read"] }`, provider.RiskMedium, false},
		{`path "secret/data/orders/*" { capabilities = ["read"] }`, provider.RiskLow, false},
		{`path "auth/token/create" { capabilities = ["deny"] }`, provider.RiskLow, false},
		// Vault's default policy: a token's own paths and cubbyhole.
		{defaultPolicyText, provider.RiskLow, false},
		{`{"path": {"sys/*": {"capabilities": ["sudo"]}}}`, provider.RiskCritical, true},
	}
	for _, c := range cases {
		pol, err := parsePolicy(c.policy)
		if err != nil {
			t.Fatalf("%s: %v", c.policy, err)
		}
		risk, creates, why := grade(pol)
		if risk != c.risk || creates != c.creates {
			t.Errorf("grade(%s) = %s, creates %v (%v); want %s, %v", c.policy, risk, creates, why, c.risk, c.creates)
		}
	}
}

const defaultPolicyText = `
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }
path "cubbyhole/*" { capabilities = ["create", "read", "update", "delete", "list"] }
`

// Identify sends Vault only what looks like a Vault token: a database
// password is no request at all, and a token Vault does not know is no
// match.
func TestIdentifyOtherSecrets(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	before := h.s.Requests()
	if ms, err := p.Identify(context.Background(), secret.FromString("P'w\\%orders-password")); err != nil || ms != nil {
		t.Errorf("Identify(a password) = %v, %v; want nothing", ms, err)
	}
	if n := h.s.Requests(); n != before {
		t.Errorf("Identify(a password) made %d requests to Vault", n-before)
	}
	if ms, err := p.Identify(context.Background(), secret.FromString("hvs.AAAAAAAAAAAAAAAAAAAAAAAA")); err != nil || ms != nil {
		t.Errorf("Identify(unknown token) = %v, %v; want nothing", ms, err)
	}
	batch, err := h.root.Logical().Write("auth/token/create", map[string]any{"type": "batch", "policies": []string{"default"}, "ttl": "1h"})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := p.Identify(context.Background(), secret.FromString(batch.Auth.ClientToken))
	if errs.KindOf(err) != errs.Unsupported || !strings.Contains(err.Error(), "batch token") || strings.Contains(err.Error(), batch.Auth.ClientToken) {
		t.Errorf("Identify(batch token) = %v, %v; want Unsupported saying it is a batch token, without the token", ms, err)
	}
}

// Revoking a leaked token revokes the tokens and leases it created (Vault's
// token hierarchy), while the replacement rekey generated, an orphan, keeps
// working.
func TestRevokeTakesChildrenAndSparesTheReplacement(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	name := randomName()
	accessor, leaked := h.CreateIdentity(t, name, true)
	child, err := h.s.Client(leaked).Logical().Write("auth/token/create", map[string]any{"policies": []string{"app-" + name}})
	if err != nil {
		t.Fatalf("the leaked token creates a child: %v", err)
	}
	c, err := p.Generate(ctx, provider.GenerateRequest{From: provider.IdentityRef{System: testSystem, Name: name, Key: accessor}, Name: name, Drop: []string{"mint-" + name}, Began: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.Inspect(ctx, provider.IdentityRef{System: testSystem, Name: name, Key: c.KeyID})
	if err != nil {
		t.Fatal(err)
	}
	if providertest.FindPrivilege(id, "mint-"+name) != nil {
		t.Errorf("the replacement holds the dropped policy: %+v", id.Privileges)
	}
	providertest.WantRelated(t, id, "this-key", c.KeyID, "orphan")
	providertest.WantRelated(t, id, "other-key", accessor, "policies [app-"+name)
	if id.ValidUntil == nil || time.Until(*id.ValidUntil) < 50*time.Minute {
		t.Errorf("the replacement's expiry %v, want the source's one-hour TTL", id.ValidUntil)
	}
	leakedLease, _ := h.s.IssueLease(leaked, "database/creds/orders", time.Hour)
	newLease, _ := h.s.IssueLease(string(c.Secret.Reveal()), "database/creds/orders", time.Hour)
	if err := p.Revoke(ctx, provider.IdentityRef{System: testSystem, Name: name, Key: accessor}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.root.Logical().Write("sys/leases/lookup", map[string]any{"lease_id": leakedLease}); err == nil {
		t.Errorf("a lease the leaked token created outlived its revocation")
	}
	if _, err := h.root.Logical().Write("sys/leases/lookup", map[string]any{"lease_id": newLease}); err != nil {
		t.Errorf("the replacement's lease went with the leaked token: %v", err)
	}
	if err := h.CanUse(t, name, child.Auth.Accessor, child.Auth.ClientToken); err == nil {
		t.Errorf("a child of the revoked token still works")
	}
	if err := h.CanUse(t, name, c.KeyID, string(c.Secret.Reveal())); err != nil {
		t.Errorf("the replacement stopped working with the leaked token's revocation: %v", err)
	}
	// Nor does it die with the administrator token that created it.
	if _, err := h.root.Logical().Write("auth/token/revoke", map[string]any{"token": h.admin}); err != nil {
		t.Fatal(err)
	}
	if err := h.CanUse(t, name, c.KeyID, string(c.Secret.Reveal())); err != nil {
		t.Errorf("the replacement stopped working with the administrator token's revocation: %v", err)
	}
}

// Granting policies the administrator does not hold takes sudo on
// auth/token/create-orphan; without it Generate names what is missing and
// creates nothing.
func TestGenerateWithoutSudoNamesIt(t *testing.T) {
	h := newHarness(t)
	pol := strings.Replace(adminPolicy, `path "auth/token/create-orphan" { capabilities = ["update", "sudo"] }`, `path "auth/token/create-orphan" { capabilities = ["update"] }`, 1)
	h.putPolicy(t, "nosudo", pol)
	cfg := h.Admin(t)
	cfg.Admin = secret.FromString(h.token(t, "nosudo", []string{"nosudo"}))
	p, err := open(context.Background(), cfg, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	name := randomName()
	accessor, _ := h.CreateIdentity(t, name, false)
	_, err = p.Generate(context.Background(), provider.GenerateRequest{From: provider.IdentityRef{System: testSystem, Name: name, Key: accessor}, Name: name})
	if err == nil || !strings.Contains(err.Error(), "sudo") || !strings.Contains(err.Error(), pathCreateOrphan) {
		t.Errorf("Generate without sudo: %v, want an error naming sudo on %s", err, pathCreateOrphan)
	}
	if keys := h.Keys(t, name); !slices.Equal(keys, []string{accessor}) {
		t.Errorf("after a refused Generate, %s holds %v", name, keys)
	}
}

func TestOpenChecksItsInputs(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		cfg  provider.Config
		want string
	}{
		{provider.Config{System: testSystem, Admin: secret.FromString(h.admin)}, "needs endpoint"},
		{provider.Config{System: testSystem, Endpoint: h.s.URL}, "must hold a Vault token"},
	} {
		_, err := open(context.Background(), c.cfg, testOptions)
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("open(%+v): %v, want Invalid mentioning %q", c.cfg.Endpoint, err, c.want)
		}
	}
}

// Vault's rate limit quotas answer 429; the client retries them with
// backoff, a bounded number of times.
func TestThrottlingIsRetriedWithABound(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	name := randomName()
	accessor, _ := h.CreateIdentity(t, name, false)
	ref := provider.IdentityRef{System: testSystem, Name: name, Key: accessor}
	h.s.Throttle(testOptions.retries)
	if _, err := p.Inspect(context.Background(), ref); err != nil {
		t.Errorf("Inspect throttled %d times: %v", testOptions.retries, err)
	}
	h.s.Throttle(testOptions.retries + 1)
	err := p.Revoke(context.Background(), ref)
	if errs.KindOf(err) != errs.Unreachable || !strings.Contains(err.Error(), "still throttled after 4 attempts") {
		t.Errorf("Revoke throttled past the bound: %v, want Unreachable saying it was still throttled", err)
	}
	h.s.Throttle(0)
	if keys := h.Keys(t, name); len(keys) != 1 {
		t.Errorf("a throttled Revoke changed the tokens: %v", keys)
	}
}

// An accessor alone (what an audit log names) finds the token's principal
// but proves nothing about a secret; an unknown accessor is no match.
func TestIdentifyKeyByAccessorAlone(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	name := randomName()
	accessor, _ := h.CreateIdentity(t, name, false)
	ms, err := p.IdentifyKey(context.Background(), provider.IdentifyRequest{KeyID: accessor})
	want := provider.IdentityRef{System: testSystem, Name: name, Key: accessor}
	if err != nil || len(ms) != 1 || ms[0].Ref != want || !ms[0].Unproven {
		t.Errorf("IdentifyKey(accessor) = %+v, %v; want one unproven match %+v", ms, err, want)
	}
	if ms, err := p.IdentifyKey(context.Background(), provider.IdentifyRequest{KeyID: "nosuchaccessor"}); err != nil || len(ms) != 0 {
		t.Errorf("IdentifyKey(unknown accessor) = %+v, %v; want nothing", ms, err)
	}
}

// A token from an auth method login carries its entity: Inspect grades the
// entity's policies (Via the entity) and lists the entity; the replacement,
// made in the token store outside the entity, holds those policies as its
// own, so the consumer keeps what it could do.
func TestEntityPolicies(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	h.putPolicy(t, "app-read", `path "secret/data/app/*" { capabilities = ["read"] }`)
	h.putPolicy(t, "policy-admin", `path "sys/policies/acl/*" { capabilities = ["create", "update", "read"] }`)
	h.putPolicy(t, "orders-read", `path "secret/data/orders/*" { capabilities = ["read"] }`)
	ent := h.s.CreateEntity("alice", "policy-admin", "orders-read")
	tok, accessor := h.s.Login(ent, "userpass-alice", time.Hour, "app-read")
	ms, err := p.Identify(ctx, secret.FromString(tok))
	want := provider.IdentityRef{System: testSystem, Name: "userpass-alice", Key: accessor}
	if err != nil || len(ms) != 1 || ms[0].Ref != want {
		t.Fatalf("Identify = %+v, %v; want %+v", ms, err, want)
	}
	id, err := p.Inspect(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "policy-admin", Risk: provider.RiskCritical, Via: "entity:" + ent, CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "app-read", Risk: provider.RiskLow})
	providertest.WantRelated(t, id, "entity", ent, "other logins")
	c, err := p.Generate(ctx, provider.GenerateRequest{From: want, Name: "userpass-alice", Drop: []string{"policy-admin"}, Began: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Client(string(c.Secret.Reveal())).Logical().Read("secret/data/orders/db"); err != nil {
		t.Errorf("the replacement cannot do what the entity's policy let the source do: %v", err)
	}
	if _, err := h.s.Client(string(c.Secret.Reveal())).Logical().Read("sys/policies/acl/default"); err == nil {
		t.Errorf("the replacement holds the dropped entity policy")
	}
	if c.Ref.Name != "userpass-alice" {
		t.Errorf("replacement principal %q, want the source's", c.Ref.Name)
	}
}

// The administrator policy docs/providers/vault.md gives is the one the
// suite runs with.
func TestDocAdminPolicyIsTheSuites(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/providers/vault.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "\n```hcl\n")
	block, _, ok2 := strings.Cut(block, "\n```\n")
	if !ok || !ok2 {
		t.Fatal("docs/providers/vault.md has no ```hcl block")
	}
	documented, err := parsePolicy(block)
	if err != nil {
		t.Fatal(err)
	}
	used, err := parsePolicy(adminPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(used, documented); diff != "" {
		t.Errorf("the documented administrator policy differs from the suite's (-suite +doc):\n%s", diff)
	}
}

// Every login of an auth method shares its display name ("approle"): a
// Generate retry revokes only the tokens rekey made for the same source,
// and a principal-wide Revoke of such a name is refused.
func TestSharedDisplayNameIsNotRevokedWhole(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	h.putPolicy(t, "app-read", `path "secret/data/app/*" { capabilities = ["read"] }`)
	_, leakedAcc := h.s.Login("", "approle", time.Hour, "app-read")
	began := time.Now().Add(-time.Second)
	from := provider.IdentityRef{System: testSystem, Name: "approle", Key: leakedAcc}
	lost, err := p.Generate(ctx, provider.GenerateRequest{From: from, Name: "approle", Began: began})
	if err != nil {
		t.Fatal(err)
	}
	otherTok, otherAcc := h.s.Login("", "approle", time.Hour, "app-read") // another workload logs in meanwhile
	got, err := p.Generate(ctx, provider.GenerateRequest{From: from, Name: "approle", Began: began})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CanUse(t, "", otherAcc, otherTok); err != nil {
		t.Errorf("another login of the auth method was revoked by the retry: %v", err)
	}
	if err := h.CanUse(t, "", lost.KeyID, string(lost.Secret.Reveal())); err == nil {
		t.Errorf("the lost replacement still works after the retry")
	}
	if err := h.CanUse(t, "", got.KeyID, string(got.Secret.Reveal())); err != nil {
		t.Errorf("the retry's token: %v", err)
	}
	err = p.Revoke(ctx, provider.IdentityRef{System: testSystem, Name: "approle"})
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "accessor") {
		t.Errorf("Revoke(every approle token) = %v, want Invalid asking for the accessor", err)
	}
	if err := h.CanUse(t, "", otherAcc, otherTok); err != nil {
		t.Errorf("a refused principal-wide Revoke revoked a login: %v", err)
	}
}

// RevokePrefix ends every lease under the path, whichever token made it,
// and none beside it (database/creds/orders-admin is not under
// database/creds/orders); it needs sudo, and the refusal names it.
func TestRevokePrefix(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.putPolicy(t, "leases", adminPolicy+`path "sys/leases/revoke-prefix/*" { capabilities = ["update", "sudo"] }`)
	admin := h.token(t, "rekey-leases", []string{"leases"})
	p, err := open(context.Background(), provider.Config{System: testSystem, Endpoint: h.s.URL, Admin: secret.FromString(admin)}, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	a, b := h.token(t, "orders", nil), h.token(t, "other", nil)
	under := []string{}
	for _, tok := range []string{a, b} {
		id, _ := h.s.IssueLease(tok, "database/creds/orders", time.Hour)
		under = append(under, id)
	}
	beside, _ := h.s.IssueLease(a, "database/creds/orders-admin", time.Hour)
	live := func(id string) bool {
		_, err := h.root.Logical().Write("sys/leases/lookup", map[string]any{"lease_id": id})
		return err == nil
	}
	if err := openTest(t, h).RevokePrefix(ctx, "database/creds/orders"); errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "sudo on sys/leases/revoke-prefix/database/creds/orders/") {
		t.Errorf("RevokePrefix without sudo: %v, want a permission error naming sudo on the path", err)
	}
	if !live(under[0]) {
		t.Fatal("a refused RevokePrefix ended a lease")
	}
	if err := p.RevokePrefix(ctx, "database/creds/orders"); err != nil {
		t.Fatal(err)
	}
	for _, id := range under {
		if live(id) {
			t.Errorf("lease %s under the prefix survived", id)
		}
	}
	if !live(beside) {
		t.Error("a lease beside the prefix (orders-admin) was ended")
	}
	if err := p.RevokePrefix(ctx, "database/creds/orders/"); err != nil {
		t.Errorf("RevokePrefix with nothing left: %v", err)
	}
}
