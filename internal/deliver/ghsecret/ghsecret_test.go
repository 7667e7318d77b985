package ghsecret

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v72/github"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/github"
	"github.com/rekeyhq/rekey/internal/provider/github/githubtest"
	"github.com/rekeyhq/rekey/internal/secret"
)

func client(t *testing.T, s *githubtest.Server, token string) *gh.Client {
	t.Helper()
	c, err := gh.NewClient(nil).WithEnterpriseURLs(s.URL, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c.WithAuthToken(token)
}

func value(s string) deliver.Value { return deliver.Value{Secret: secret.FromString(s)} }

// The test server opens the sealed box with the repository's private
// key: what it holds is what was delivered.
func TestWriteRepoSecret(t *testing.T) {
	s := githubtest.New()
	t.Cleanup(s.Close)
	s.AddRepo("acme/api")
	c := client(t, s, s.ClassicToken("root", time.Time{}, "repo"))
	tg, err := New(Config{Client: c, Repo: "acme/api", Name: "db_password"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := tg.Current(ctx); errs.KindOf(err) != errs.NotFound {
		t.Errorf("Current before any write: %v, want NotFound", err)
	}
	ch, err := tg.Plan(ctx, value("s3cret-one"))
	if err != nil || ch.Empty() || ch.Edits[0].Note != "created" || strings.Contains(ch.String(), "s3cret") {
		t.Errorf("Plan = %q, %v; want one edit creating the secret, without the value", ch.String(), err)
	}
	for _, v := range []string{"s3cret-one", "s3cret-one", "s3cret-two"} {
		if err := tg.Write(ctx, value(v)); err != nil {
			t.Fatalf("Write(%s): %v", v, err)
		}
		got, ok := s.Secret("acme/api", "DB_PASSWORD")
		if !ok || string(got) != v {
			t.Errorf("GitHub holds %q (%v), want %q", got, ok, v)
		}
	}
	_, err = tg.Current(ctx)
	if !errors.Is(err, ErrWriteOnly) || errs.KindOf(err) != errs.Unsupported {
		t.Errorf("Current of a written secret: %v, want Unsupported wrapping ErrWriteOnly", err)
	}
	if ch, _ := tg.Plan(ctx, value("x")); !strings.HasPrefix(ch.Edits[0].Note, "replaced") {
		t.Errorf("Plan of an existing secret: %q, want replaced", ch.String())
	}
	if err := tg.Write(ctx, deliver.Value{User: "orders", Secret: secret.FromString("y")}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("Write with a login name: %v, want Invalid", err)
	}
}

func TestWriteOrgSecret(t *testing.T) {
	s := githubtest.New()
	t.Cleanup(s.Close)
	s.AddOrg("acme")
	ctx := context.Background()
	tg, err := New(Config{Client: client(t, s, s.ClassicToken("root", time.Time{}, "admin:org")), Org: "acme", Name: "DEPLOY_TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Write(ctx, value("org-value")); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Secret("acme", "DEPLOY_TOKEN"); !ok || string(got) != "org-value" {
		t.Errorf("GitHub holds %q, want org-value", got)
	}

	// A token without admin:org is refused and nothing changes.
	weak, _ := New(Config{Client: client(t, s, s.ClassicToken("dev", time.Time{}, "repo")), Org: "acme", Name: "DEPLOY_TOKEN"})
	if _, err := weak.Plan(ctx, value("other")); errs.KindOf(err) != errs.Permission {
		t.Errorf("Plan without permission: %v, want Permission", err)
	}
	if err := weak.Write(ctx, value("other")); errs.KindOf(err) != errs.Permission || strings.Contains(err.Error(), "other") || !strings.Contains(err.Error(), "lacks scope admin:org") {
		t.Errorf("Write without permission: %v, want Permission naming the scope admin:org, without the value", err)
	}
	if got, _ := s.Secret("acme", "DEPLOY_TOKEN"); string(got) != "org-value" {
		t.Errorf("a refused write changed the secret to %q", got)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	c := gh.NewClient(nil)
	for _, cfg := range []Config{
		{Client: c, Name: "X"},
		{Client: c, Repo: "a/b", Org: "a", Name: "X"},
		{Client: c, Repo: "a", Name: "X"},
		{Client: c, Repo: "a/b", Name: "GITHUB_TOKEN"},
		{Client: c, Repo: "a/b", Name: "1X"},
		{Repo: "a/b", Name: "X"},
	} {
		if _, err := New(cfg); errs.KindOf(err) != errs.Invalid {
			t.Errorf("New(%+v): %v, want Invalid", cfg, err)
		}
	}
}

// githubRepo is a GitHub with the repository acme/api, and the github
// provider administering it.
func githubRepo(t *testing.T) (*githubtest.Server, *github.Provider) {
	t.Helper()
	s := githubtest.New()
	t.Cleanup(s.Close)
	s.AddRepo("acme/api")
	admin := s.ClassicToken("root", time.Time{}, "repo")
	p, err := github.New(context.Background(), provider.Config{System: "gh", Admin: secret.FromString(admin), Endpoint: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	return s, p.(*github.Provider)
}

// With the github provider's Retry, a rate-limited write is waited out
// and tried again (a primary limit that resets now: no real wait);
// without it the write fails.
func TestWriteWaitsOutRateLimits(t *testing.T) {
	s, gp := githubRepo(t)
	ctx := context.Background()

	once, _ := New(Config{Client: gp.Client(), Repo: "acme/api", Name: "DB"})
	s.RateLimit(1, "primary")
	if err := once.Write(ctx, value("v1")); err == nil {
		t.Fatalf("a rate-limited write without Retry succeeded: the test proves nothing")
	}

	tg, _ := New(Config{Client: gp.Client(), Repo: "acme/api", Name: "DB", Retry: gp.Retry})
	before := s.LimitedCount()
	s.RateLimit(2, "primary")
	if err := tg.Write(ctx, value("v2")); err != nil {
		t.Fatalf("Write through two rate-limited answers: %v", err)
	}
	if got, _ := s.Secret("acme/api", "DB"); string(got) != "v2" || s.LimitedCount()-before != 2 {
		t.Errorf("GitHub holds %q after %d limited answers, want v2 after 2", got, s.LimitedCount()-before)
	}
}

// Past the github provider's bound a rate-limited write fails in one line
// saying so, as Unreachable (a wait, not a missing permission).
func TestRateLimitPastTheBound(t *testing.T) {
	s, gp := githubRepo(t)
	ctx := context.Background()
	tg, _ := New(Config{Client: gp.Client(), Repo: "acme/api", Name: "DB", Retry: gp.Retry})
	for _, kind := range []string{"primary", "secondary"} {
		s.RateLimit(100, kind)
		err := tg.Write(ctx, value("v3"))
		if errs.KindOf(err) != errs.Unreachable || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "rate limited") {
			t.Errorf("%s rate limit past the bound: %v (kind %v), want one Unreachable line saying rate limited", kind, err, errs.KindOf(err))
		}
		s.RateLimit(0, kind)
	}
}
