package gitlab

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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

// Throttling is retried, waiting what Retry-After asks, up to a bound,
// then reported as one line of kind Unreachable.
func TestThrottleRetriedWithBound(t *testing.T) {
	h := newHarness(t)
	var waits []time.Duration
	o := testOptions
	o.Sleep = func(d time.Duration) time.Duration { waits = append(waits, d); return time.Millisecond }
	p, err := open(context.Background(), h.Admin(t), o)
	if err != nil {
		t.Fatal(err)
	}
	name := randomName()
	h.CreateIdentity(t, name, false)
	h.s.Throttle(o.Retries)
	if id, err := p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: name}); err != nil || !id.Exists {
		t.Fatalf("Inspect after %d throttled answers = %+v, %v; want the identity", o.Retries, id, err)
	}
	if len(waits) != o.Retries || waits[0] != time.Second {
		t.Errorf("waits %v, want %d of the server's Retry-After (1s)", waits, o.Retries)
	}
	h.s.Throttle(o.Retries + 1)
	_, err = p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: name})
	if errs.KindOf(err) != errs.Unreachable || !strings.Contains(err.Error(), "throttled after 4 attempts") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Inspect throttled past the bound: %v (kind %v), want one line of kind Unreachable saying throttled after 4 attempts", err, errs.KindOf(err))
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

// A project access token (a bot user's token) is identified without
// being used, inspected with its role in the project, rotated with the
// project's rotate endpoint, and refused a second token beside it; a
// group owner's token is critical.
func TestResourceAccessTokens(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	ctx := context.Background()
	proj := h.s.CreateProject("acme/api")
	tok, val := h.s.CreateResourceToken(proj.ID, "deploy", []string{"api"}, 40, "2027-03-01")
	key := strconv.FormatInt(tok.ID, 10)
	ms, err := p.Identify(ctx, secret.FromString(val))
	if err != nil || len(ms) != 1 || ms[0].Ref.Key != key || !strings.HasPrefix(ms[0].Ref.Name, "project_"+strconv.FormatInt(proj.ID, 10)+"_bot_") {
		t.Fatalf("Identify(project token) = %+v, %v", ms, err)
	}
	if h.s.Signed(tok.ID) != 0 {
		t.Errorf("Identify used the project token")
	}
	ref := ms[0].Ref
	id, err := p.Inspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pr := range id.Privileges {
		got = append(got, pr.Name+":"+string(pr.Risk))
	}
	want := "api:high maintainer of project " + strconv.FormatInt(proj.ID, 10) + ":high"
	if strings.Join(got, " ") != want {
		t.Errorf("privileges %v, want %s", got, want)
	}
	if providertest.FindRelated(id, "resource", "project "+strconv.FormatInt(proj.ID, 10)) == nil {
		t.Errorf("related %+v, want the project", id.Related)
	}
	if _, err := p.Generate(ctx, provider.GenerateRequest{From: ref, Name: ref.Name}); !errors.Is(err, provider.ErrUnsupported) {
		t.Errorf("Generate beside a project token: %v, want ErrUnsupported", err)
	}
	c, err := p.Rotate(ctx, ref, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CanUse(t, ref.Name, key, val); err == nil {
		t.Errorf("the old project token works after Rotate")
	}
	if err := h.CanUse(t, ref.Name, c.KeyID, string(c.Secret.Reveal())); err != nil {
		t.Errorf("the rotated project token: %v", err)
	}
	if err := p.Revoke(ctx, provider.IdentityRef{System: testSystem, Name: ref.Name, Key: c.KeyID}); err != nil {
		t.Fatal(err)
	}
	if err := h.CanUse(t, ref.Name, c.KeyID, string(c.Secret.Reveal())); err == nil {
		t.Errorf("the project token works after Revoke")
	}

	grp := h.s.CreateGroup("acme")
	gt, gv := h.s.CreateResourceToken(grp.ID, "ops", []string{"read_api"}, 50, "")
	ms, err = p.Identify(ctx, secret.FromString(gv))
	if err != nil || len(ms) != 1 {
		t.Fatalf("Identify(group token) = %+v, %v", ms, err)
	}
	id, err = p.Inspect(ctx, provider.IdentityRef{System: testSystem, Name: ms[0].Ref.Name, Key: strconv.FormatInt(gt.ID, 10)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(id.Privileges, func(pr provider.Privilege) bool {
		return pr.Risk == provider.RiskCritical && strings.HasPrefix(pr.Name, "owner of group")
	}) {
		t.Errorf("group owner token privileges %+v, want a critical owner of group", id.Privileges)
	}
}

// Inspect reads every page of a user's tokens (pages of two here).
func TestInspectReadsEveryPage(t *testing.T) {
	h := newHarness(t)
	p := openTest(t, h)
	u := h.s.CreateUser(randomName(), false)
	for i := 0; i < 5; i++ {
		h.s.CreateToken(u.ID, "t"+strconv.Itoa(i), []string{"read_api"}, "")
	}
	h.s.SetPageCap(2)
	id, err := p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: u.Username})
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Related) != 5 {
		t.Errorf("Inspect lists %d tokens, want 5", len(id.Related))
	}
}
