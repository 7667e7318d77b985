package github

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/github/githubtest"
	"github.com/rekeyhq/rekey/internal/secret"
)

const (
	testSystem = "test-github"
	testOrg    = "acme"
	appID      = 4242
	instID     = 77
)

// waits records the rate-limit waits the provider asked for, instead of
// sleeping.
type waits struct{ got []time.Duration }

func (w *waits) options() options {
	return options{attempts: 4, maxWait: time.Hour, wait: func(_ context.Context, d time.Duration) error {
		w.got = append(w.got, d)
		return nil
	}}
}

type fixture struct {
	s      *githubtest.Server
	key    *rsa.PrivateKey
	waits  *waits
	keyPEM string
}

var (
	keyOnce sync.Once
	theKey  *rsa.PrivateKey
	keyErr  error
)

// appKey is the test app's RSA key, made once: 2048-bit keys are slow
// to make.
func appKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() { theKey, keyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return theKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := githubtest.New()
	t.Cleanup(s.Close)
	k := appKey(t)
	s.AddApp(appID, instID, &k.PublicKey, testOrg, map[string]string{
		"organization_personal_access_tokens": "write", "administration": "write", "secrets": "write", "organization_secrets": "write"})
	s.AddRepo(testOrg + "/api")
	s.AddRepo(testOrg + "/web")
	s.AddRepo(testOrg + "/infra")
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	return &fixture{s: s, key: k, waits: &waits{}, keyPEM: pemKey}
}

func (f *fixture) appConfig() provider.Config {
	b, _ := json.Marshal(appAdmin{AppID: appID, InstallationID: instID, PrivateKey: f.keyPEM})
	return provider.Config{System: testSystem, Admin: secret.New(b), Endpoint: f.s.URL, Spec: &inventory.System{Name: testSystem, Type: Type, Org: testOrg}}
}

func (f *fixture) tokenConfig(tok string) provider.Config {
	return provider.Config{System: testSystem, Admin: secret.FromString(tok), Endpoint: f.s.URL, Spec: &inventory.System{Name: testSystem, Type: Type, Org: testOrg}}
}

func (f *fixture) open(t *testing.T, cfg provider.Config) *Provider {
	t.Helper()
	p, err := open(context.Background(), cfg, f.waits.options())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctx() context.Context { return context.Background() }

// fineGrained gives owner a fine-grained token granted to the test
// organisation.
func (f *fixture) fineGrained(owner, selection string, repos []string, perms map[string]map[string]string) (string, int64) {
	tok, _ := f.s.FineGrainedToken(owner, time.Now().Add(30*24*time.Hour), map[string]*githubtest.Grant{
		testOrg: {Selection: selection, Repos: repos, Permissions: perms}})
	return tok, f.s.Grant(tok, testOrg).PatID
}

func TestOpen(t *testing.T) {
	f := newFixture(t)
	admin := f.s.ClassicToken("root", time.Time{}, "repo", "admin:org")
	f.open(t, f.tokenConfig(admin))
	f.open(t, f.appConfig())

	wrong := "ghp_" + strings.Repeat("x", 36)
	_, err := open(ctx(), f.tokenConfig(wrong), f.waits.options())
	if errs.KindOf(err) != errs.Permission || strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), "401 Bad credentials") {
		t.Errorf("a wrong administrator token: %v (kind %v), want Permission naming 401 Bad credentials without the token", err, errs.KindOf(err))
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cfg := f.tokenConfig(admin)
	cfg.Endpoint = "http://" + addr
	_, err = open(ctx(), cfg, f.waits.options())
	if errs.KindOf(err) != errs.Unreachable || strings.Contains(err.Error(), admin) || strings.Contains(err.Error(), "\n") {
		t.Errorf("an endpoint where nothing listens: %v, want one Unreachable line without the token", err)
	}

	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad := f.appConfig()
	b, _ := json.Marshal(appAdmin{AppID: appID, InstallationID: instID, PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))})
	bad.Admin = secret.New(b)
	if _, err := open(ctx(), bad, f.waits.options()); errs.KindOf(err) != errs.Permission {
		t.Errorf("an app key GitHub does not know: %v, want Permission", err)
	}
	bad.Admin = secret.FromString(`{"app_id": 1}`)
	if _, err := open(ctx(), bad, f.waits.options()); errs.KindOf(err) != errs.Invalid {
		t.Errorf("an app admin without installation and key: %v, want Invalid", err)
	}
}

// Without UseLeaked the leaked token is never sent: the match names only
// its kind. With it, one GET /user names the owner and shows a classic
// token's scopes, which Inspect grades.
func TestIdentifyClassic(t *testing.T) {
	f := newFixture(t)
	p := f.open(t, f.appConfig())
	leaked := f.s.ClassicToken("mallory-target", time.Now().Add(48*time.Hour), "repo", "admin:org", "read:user")

	ms, err := p.Identify(ctx(), secret.FromString(leaked))
	if err != nil || len(ms) != 1 || !ms[0].Unproven || ms[0].Ref.Name != "" || ms[0].Ref.Key != KindClassic {
		t.Fatalf("Identify = %+v, %v; want one unproven classic match without a name", ms, err)
	}
	if n := f.s.Requests(leaked); n != 0 {
		t.Errorf("Identify without UseLeaked made %d requests with the leaked token", n)
	}
	if ms, _ := p.Identify(ctx(), secret.FromString("hunter2")); len(ms) != 0 {
		t.Errorf("a password is no GitHub token: %+v", ms)
	}

	ms, err = p.IdentifyKey(ctx(), provider.IdentifyRequest{Secret: secret.FromString(leaked), UseLeaked: true})
	if err != nil || len(ms) != 1 || ms[0].Unproven || ms[0].Ref.Name != "mallory-target" {
		t.Fatalf("IdentifyKey(UseLeaked) = %+v, %v; want the proven owner", ms, err)
	}
	if n := f.s.Requests(leaked); n != 1 {
		t.Errorf("UseLeaked made %d requests with the leaked token, want 1", n)
	}
	id, err := p.Inspect(ctx(), ms[0].Ref)
	if err != nil {
		t.Fatal(err)
	}
	risks := map[string]provider.Risk{}
	for _, pr := range id.Privileges {
		risks[pr.Name] = pr.Risk
	}
	if risks["scope admin:org"] != provider.RiskCritical || risks["scope repo"] != provider.RiskHigh || risks["scope read:user"] != provider.RiskLow || len(risks) != 3 {
		t.Errorf("privileges = %+v, want admin:org critical, repo high, read:user low", id.Privileges)
	}
	if id.ValidUntil == nil || id.ValidUntil.Sub(time.Now().Add(48*time.Hour)).Abs() > time.Minute {
		t.Errorf("ValidUntil = %v, want the token's expiry in 48h", id.ValidUntil)
	}

	// A rate-limited POST is sent again whole: its body reaches GitHub.
	f.s.RateLimit(1, "secondary")
	if err := p.RevokeSecret(ctx(), secret.FromString(leaked)); err != nil {
		t.Fatalf("RevokeSecret: %v", err)
	}
	if !f.s.Revoked(leaked) {
		t.Errorf("the credentials revocation API did not revoke the token")
	}
	if err := p.Verify(ctx(), provider.Credential{Secret: secret.FromString(leaked)}); errs.KindOf(err) != errs.Permission || strings.Contains(err.Error(), leaked) {
		t.Errorf("Verify of a revoked token: %v, want Permission without the token", err)
	}
	if err := p.RevokeSecret(ctx(), secret.FromString(leaked)); err != nil {
		t.Errorf("RevokeSecret twice: %v", err)
	}
	if ms, err := p.IdentifyKey(ctx(), provider.IdentifyRequest{Secret: secret.FromString(leaked), UseLeaked: true}); err != nil || len(ms) != 0 {
		t.Errorf("IdentifyKey of a revoked token = %+v, %v; want no match", ms, err)
	}
}

// A fine-grained token proven with UseLeaked is tied to the
// organisation's listing (its owner holds two tokens there: the proving
// request's last use tells which, through pages of 100); Inspect grades
// its permissions and lists its repositories; Revoke ends its access to
// the organisation, twice is nil.
func TestFineGrainedToken(t *testing.T) {
	f := newFixture(t)
	p := f.open(t, f.appConfig())
	for i := 0; i < 120; i++ {
		f.fineGrained("bystander", "subset", []string{"web"}, map[string]map[string]string{"repository": {"contents": "read"}})
	}
	otherTok, otherPat := f.fineGrained("dev", "all", nil, map[string]map[string]string{"repository": {"metadata": "read"}})
	leaked, patID := f.fineGrained("dev", "subset", []string{"api", "infra"}, map[string]map[string]string{
		"repository": {"administration": "write", "contents": "read"}, "organization": {"members": "read"}})

	ms, err := p.IdentifyKey(ctx(), provider.IdentifyRequest{Secret: secret.FromString(leaked), UseLeaked: true})
	if err != nil || len(ms) != 1 || ms[0].Ref.Name != "dev" || ms[0].Ref.Key != patKey(testOrg, patID) {
		t.Fatalf("IdentifyKey = %+v, %v; want dev with key %s", ms, err, patKey(testOrg, patID))
	}
	// Pages of one repository: the token's second one is on page 2.
	f.s.SetPageCap(1)
	id, err := p.Inspect(ctx(), ms[0].Ref)
	if err != nil {
		t.Fatal(err)
	}
	var admin provider.Privilege
	for _, pr := range id.Privileges {
		if strings.HasPrefix(pr.Name, "repository administration") {
			admin = pr
		}
	}
	if admin.Risk != provider.RiskHigh || !admin.CreatesCredentials {
		t.Errorf("privileges = %+v, want repository administration: write high, creating credentials", id.Privileges)
	}
	var repos []string
	for _, r := range id.Related {
		if r.Kind == "repository" {
			repos = append(repos, r.Name)
		}
	}
	if !slices.Equal(repos, []string{testOrg + "/api", testOrg + "/infra"}) || id.ValidUntil == nil || !id.Exists {
		t.Errorf("Inspect = %+v, want repositories api and infra and an expiry", id)
	}

	owner, err := p.Inspect(ctx(), provider.IdentityRef{System: testSystem, Name: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	var others []string
	for _, r := range owner.Related {
		if r.Kind == "other-key" {
			others = append(others, r.Name)
		}
	}
	if len(others) != 2 || !slices.Contains(others, patKey(testOrg, otherPat)) {
		t.Errorf("the owner's tokens in the organisation = %v, want both of dev's", others)
	}

	if err := p.Revoke(ctx(), ms[0].Ref); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if f.s.Grant(leaked, testOrg) != nil {
		t.Errorf("the token still has access to the organisation")
	}
	if err := p.Revoke(ctx(), ms[0].Ref); err != nil {
		t.Errorf("Revoke twice: %v", err)
	}
	if id, err := p.Inspect(ctx(), ms[0].Ref); err != nil || id.Exists {
		t.Errorf("Inspect after Revoke = %+v, %v; want Exists=false", id, err)
	}

	// A token administrator cannot reach the organisation's review.
	tp := f.open(t, f.tokenConfig(f.s.ClassicToken("root", time.Time{}, "admin:org")))
	err = tp.Revoke(ctx(), provider.IdentityRef{System: testSystem, Name: "dev", Key: patKey(testOrg, otherPat)})
	if errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "GitHub Apps only") {
		t.Errorf("Revoke with a token administrator: %v, want Permission naming GitHub Apps", err)
	}
	if f.s.Grant(otherTok, testOrg) == nil {
		t.Errorf("a refused Revoke ended the token's access")
	}
}

func TestDeployKey(t *testing.T) {
	f := newFixture(t)
	p := f.open(t, f.appConfig())
	keyID := f.s.AddDeployKey(testOrg+"/api", "ci", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE", false)
	keep := f.s.AddDeployKey(testOrg+"/api", "docs", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF", true)
	ref := provider.IdentityRef{System: testSystem, Name: testOrg + "/api", Key: deployKey(testOrg+"/api", keyID)}
	id, err := p.Inspect(ctx(), ref)
	if err != nil || !id.Exists || len(id.Privileges) != 1 || id.Privileges[0].Risk != provider.RiskHigh {
		t.Fatalf("Inspect(deploy key) = %+v, %v; want a high write privilege", id, err)
	}
	if err := p.Revoke(ctx(), ref); err != nil {
		t.Fatal(err)
	}
	if got := f.s.DeployKeys(testOrg + "/api"); !slices.Equal(got, []int64{keep}) {
		t.Errorf("deploy keys after Revoke = %v, want only %d", got, keep)
	}
	if err := p.Revoke(ctx(), ref); err != nil {
		t.Errorf("Revoke twice: %v", err)
	}
}

// Rate limits are waited out as GitHub asks (retry-after for a secondary
// limit) and retried a bounded number of times; past the bound the error
// is one Unreachable line. Counted by requests; nothing sleeps.
func TestRateLimitIsRetriedWithABound(t *testing.T) {
	for _, kind := range []string{"secondary", "secondary-403", "primary"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t)
			p := f.open(t, f.appConfig())
			keyID := f.s.AddDeployKey(testOrg+"/api", "ci", "ssh-ed25519 AAAA", true)
			ref := provider.IdentityRef{System: testSystem, Key: deployKey(testOrg+"/api", keyID)}
			f.waits.got = nil
			f.s.RateLimit(p.opts.attempts-1, kind)
			if id, err := p.Inspect(ctx(), ref); err != nil || !id.Exists {
				t.Fatalf("Inspect through %d rate-limited answers: %+v, %v", p.opts.attempts-1, id, err)
			}
			if len(f.waits.got) != p.opts.attempts-1 {
				t.Errorf("waited %d times, want %d", len(f.waits.got), p.opts.attempts-1)
			}
			if kind != "primary" && f.waits.got[0] != time.Second {
				t.Errorf("waited %v, want the retry-after of 1s", f.waits.got[0])
			}
			before := f.s.LimitedCount()
			f.s.RateLimit(100, kind)
			_, err := p.Inspect(ctx(), ref)
			if errs.KindOf(err) != errs.Unreachable || !strings.Contains(err.Error(), "rate limited") {
				t.Errorf("Inspect while limited: %v, want Unreachable naming the rate limit", err)
			}
			if n := f.s.LimitedCount() - before; n != p.opts.attempts {
				t.Errorf("a limited call was tried %d times, want the bound %d", n, p.opts.attempts)
			}
			f.s.RateLimit(0, kind)
		})
	}
}

// A wait longer than rekey's bound fails at once, without sleeping.
func TestRateLimitLongerThanTheBoundFails(t *testing.T) {
	f := newFixture(t)
	o := f.waits.options()
	o.maxWait = time.Millisecond
	p, err := open(ctx(), f.appConfig(), o)
	if err != nil {
		t.Fatal(err)
	}
	f.s.RateLimit(1, "secondary")
	err = p.Revoke(ctx(), provider.IdentityRef{Key: deployKey(testOrg+"/api", 1)})
	if errs.KindOf(err) != errs.Unreachable || !strings.Contains(err.Error(), "longer than rekey waits") || len(f.waits.got) != 0 {
		t.Errorf("Revoke: %v after %d waits, want Unreachable without waiting", err, len(f.waits.got))
	}
}

// An installation token is the one GitHub credential rekey can create;
// personal tokens are ErrUnsupported (a person supplies the new one).
func TestGenerate(t *testing.T) {
	f := newFixture(t)
	p := f.open(t, f.appConfig())
	c, err := p.Generate(ctx(), provider.GenerateRequest{From: provider.IdentityRef{System: testSystem, Name: "app", Key: p.installationKey()}, Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if TokenKind(c.Secret.Reveal()) != KindInstallation || !c.Enforced || c.ExpiresAt.Sub(time.Now().Add(time.Hour)).Abs() > time.Minute {
		t.Errorf("Generate = %+v, want an installation token ending in an hour", c)
	}
	if err := p.Verify(ctx(), *c); err != nil {
		t.Errorf("Verify of a new installation token: %v", err)
	}
	_, err = p.Generate(ctx(), provider.GenerateRequest{From: provider.IdentityRef{System: testSystem, Name: "dev", Key: KindClassic}, Name: "dev"})
	if !errors.Is(err, provider.ErrUnsupported) || errs.KindOf(err) != errs.Unsupported {
		t.Errorf("Generate of a personal token: %v, want ErrUnsupported", err)
	}
	if _, err := p.Issue(ctx(), provider.IssueRequest{Name: "dev"}); !errors.Is(err, provider.ErrUnsupported) {
		t.Errorf("Issue: %v, want ErrUnsupported", err)
	}
}

func TestGradePermission(t *testing.T) {
	for _, tc := range []struct {
		scope, name, level string
		all                bool
		want               provider.Risk
	}{
		{"repository", "contents", "read", true, provider.RiskLow},
		{"repository", "contents", "write", false, provider.RiskMedium},
		{"repository", "contents", "write", true, provider.RiskHigh},
		{"repository", "workflows", "write", true, provider.RiskCritical},
		{"organization", "administration", "write", false, provider.RiskCritical},
		{"organization", "administration", "read", false, provider.RiskLow},
	} {
		if got := gradePermission(tc.scope, tc.name, tc.level, tc.all); got.Risk != tc.want {
			t.Errorf("%s %s %s all=%v: %s, want %s", tc.scope, tc.name, tc.level, tc.all, got.Risk, tc.want)
		}
	}
	for s, want := range map[string]provider.Risk{"delete_repo": provider.RiskHigh, "workflow": provider.RiskHigh, "write:packages": provider.RiskHigh,
		"admin:org": provider.RiskCritical, "read:org": provider.RiskLow, "write:discussion": provider.RiskMedium} {
		if got := gradeScope(s).Risk; got != want {
			t.Errorf("scope %s: %s, want %s", s, got, want)
		}
	}
}

// When the owner's tokens in the listing cannot be told apart (two used
// since the proving request), the token stays untied rather than guessed.
func TestFineGrainedTokenNotGuessed(t *testing.T) {
	f := newFixture(t)
	p := f.open(t, f.appConfig())
	perms := map[string]map[string]string{"repository": {"contents": "read"}}
	other, _ := f.fineGrained("dev", "all", nil, perms)
	leaked, _ := f.fineGrained("dev", "all", nil, perms)
	f.s.Use(other, time.Now().Add(time.Minute))
	ms, err := p.IdentifyKey(ctx(), provider.IdentifyRequest{Secret: secret.FromString(leaked), UseLeaked: true})
	if err != nil || len(ms) != 1 || ms[0].Ref.Name != "dev" || ms[0].Ref.Key != KindFineGrained {
		t.Errorf("IdentifyKey = %+v, %v; want dev, untied (key %q)", ms, err, KindFineGrained)
	}
}

// A leaked SSH private key is matched to every deploy key holding its
// public half, through every page of the organisation's repositories
// and of their keys, proven by the key itself and without using it.
func TestIdentifyDeployKey(t *testing.T) {
	f := newFixture(t)
	p := f.open(t, f.appConfig())
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(priv)
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	f.s.AddDeployKey(testOrg+"/web", "unrelated", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherSigner.PublicKey()))), false)
	_, third, _ := ed25519.GenerateKey(rand.Reader)
	thirdSigner, _ := ssh.NewSignerFromKey(third)
	f.s.AddDeployKey(testOrg+"/api", "docs", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(thirdSigner.PublicKey()))), true)
	apiKey := f.s.AddDeployKey(testOrg+"/api", "ci", pub, false)
	infraKey := f.s.AddDeployKey(testOrg+"/infra", "ci-copy", pub, true)
	f.s.AddDeployKey("elsewhere/repo", "not ours", pub, true)
	// Pages of one item: the organisation's repositories and api's keys
	// each span several.
	f.s.SetPageCap(1)

	ms, err := p.Identify(ctx(), secret.New(pem.EncodeToMemory(block)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		if m.Unproven {
			t.Errorf("match %+v is unproven: the public half is derived from the key", m)
		}
		got = append(got, m.Ref.Key)
	}
	want := []string{deployKey(testOrg+"/api", apiKey), deployKey(testOrg+"/infra", infraKey)}
	if !slices.Equal(got, want) {
		t.Errorf("Identify(ssh key) = %v, want %v", got, want)
	}
	otherBlock, _ := ssh.MarshalPrivateKey(other, "")
	f.s.AddDeployKey(testOrg+"/web", "gone", "ssh-ed25519 AAAA", false)
	if ms, err := p.Identify(ctx(), secret.New(pem.EncodeToMemory(otherBlock))); err != nil || len(ms) != 1 || ms[0].Ref.Name != testOrg+"/web" {
		t.Errorf("Identify(another key) = %+v, %v; want the web deploy key", ms, err)
	}
}

// TestMissingPermissionIsNamed: a 403 names what GitHub says the
// endpoint accepts (X-Accepted-GitHub-Permissions), and the refused
// revoke leaves the token working.
func TestMissingPermissionIsNamed(t *testing.T) {
	f := newFixture(t)
	const readApp, readInst = 4343, 78
	f.s.AddApp(readApp, readInst, &f.key.PublicKey, testOrg, map[string]string{"organization_personal_access_tokens": "read"})
	b, _ := json.Marshal(appAdmin{AppID: readApp, InstallationID: readInst, PrivateKey: f.keyPEM})
	cfg := f.appConfig()
	cfg.Admin = secret.New(b)
	p := f.open(t, cfg)
	leaked, patID := f.fineGrained("dev", "all", nil, map[string]map[string]string{"repository": {"contents": "read"}})
	err := p.Revoke(ctx(), provider.IdentityRef{System: testSystem, Name: "dev", Key: patKey(testOrg, patID)})
	if errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "lacks permission organization_personal_access_tokens=write") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Revoke by an App that may only read the tokens: %v, want one line naming organization_personal_access_tokens=write", err)
	}
	if f.s.Revoked(leaked) || f.s.Grant(leaked, testOrg) == nil {
		t.Error("a refused Revoke changed the token")
	}
	h := http.Header{}
	h.Set("X-Accepted-OAuth-Scopes", "admin:org, read:org")
	if got := Needed(h); got != "scope admin:org or read:org" {
		t.Errorf("Needed(classic) = %q", got)
	}
}
