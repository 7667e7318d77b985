package gitlab

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
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

// Throttling is retried with the injected backoff, up to a bound, then
// reported as one line of kind Unreachable.
func TestThrottleRetriedWithBound(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	name := randomName()
	h.CreateIdentity(t, name, false)
	h.s.Throttle(testOptions.retries)
	if id, err := p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: name}); err != nil || !id.Exists {
		t.Fatalf("Inspect after %d throttled answers = %+v, %v; want the identity", testOptions.retries, id, err)
	}
	h.s.Throttle(testOptions.retries + 1)
	_, err := p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: name})
	if errs.KindOf(err) != errs.Unreachable || !strings.Contains(err.Error(), "throttled") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Inspect throttled past the bound: %v (kind %v), want one line of kind Unreachable saying throttled", err, errs.KindOf(err))
	}
}

// Each documented scope is graded; the risky ones are high or critical.
func TestScopeRisk(t *testing.T) {
	for scope, want := range map[string]provider.Risk{
		"sudo": provider.RiskCritical, "admin_mode": provider.RiskCritical, "api": provider.RiskHigh,
		"write_repository": provider.RiskHigh, "create_runner": provider.RiskHigh, "read_repository": provider.RiskMedium,
		"read_api": provider.RiskLow, "read_user": provider.RiskLow,
	} {
		if got := scopePrivilege(scope); got.Risk != want {
			t.Errorf("scope %s graded %s, want %s", scope, got.Risk, want)
		}
	}
	if !scopePrivilege("api").CreatesCredentials || scopePrivilege("read_api").CreatesCredentials {
		t.Errorf("api must create credentials, read_api must not")
	}
}

// Inspect names the expiry and the administrator flag; Identify does not
// send a secret that is no GitLab token.
func TestInspectExpiryAndAdmin(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	u := h.s.CreateUser(randomName(), true)
	tok, _ := h.s.CreateToken(u.ID, "ops", []string{"sudo", "api"}, "2027-01-31")
	id, err := p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: u.Username, Key: strconv.FormatInt(tok.ID, 10)})
	if err != nil {
		t.Fatal(err)
	}
	if id.ValidUntil == nil || id.ValidUntil.Format(time.DateOnly) != "2027-01-31" {
		t.Errorf("ValidUntil = %v, want 2027-01-31", id.ValidUntil)
	}
	var names []string
	for _, pr := range id.Privileges {
		names = append(names, pr.Name+":"+string(pr.Risk))
	}
	if got := strings.Join(names, " "); got != "api:high sudo:critical administrator:critical" {
		t.Errorf("privileges %s", got)
	}
	before := h.s.Signed(tok.ID)
	if ms, err := p.Identify(context.Background(), secret.FromString("not-a-gitlab-token-at-all-xxxxxxxx")); err != nil || len(ms) != 0 {
		t.Errorf("Identify(a non-GitLab secret) = %+v, %v", ms, err)
	}
	if h.s.Signed(tok.ID) != before {
		t.Errorf("Identify used the token")
	}
}

// Rotate revokes the old token at once and returns a working one with
// the same scopes and the expiry asked.
func TestRotateRevokesOldAtOnce(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	name := randomName()
	oldID, oldSec := h.CreateIdentity(t, name, false)
	want := time.Now().AddDate(0, 1, 0)
	c, err := p.Rotate(context.Background(), provider.IdentityRef{System: testSystem, Name: name, Key: oldID}, want)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CanUse(t, name, oldID, oldSec); err == nil {
		t.Errorf("the old token works after Rotate")
	}
	if err := h.CanUse(t, name, c.KeyID, string(c.Secret.Reveal())); err != nil {
		t.Errorf("the rotated token: %v", err)
	}
	if c.ExpiresAt.Format(time.DateOnly) != want.Format(time.DateOnly) || !c.Enforced {
		t.Errorf("expires %v enforced %v, want %s", c.ExpiresAt, c.Enforced, want.Format(time.DateOnly))
	}
	if _, err := p.Rotate(context.Background(), provider.IdentityRef{System: testSystem, Name: name, Key: oldID}, time.Time{}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("Rotate of a revoked token: %v (kind %v), want Invalid", err, errs.KindOf(err))
	}
}
