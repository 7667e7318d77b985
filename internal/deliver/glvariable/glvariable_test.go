package glvariable

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/gitlabapi"
	"github.com/rekeyhq/rekey/internal/provider/gitlab/gitlabtest"
	"github.com/rekeyhq/rekey/internal/secret"
)

type fixture struct {
	s       *gitlabtest.Server
	project *gitlabtest.Project
	token   string // a maintainer's api token
}

func newFixture(t *testing.T) fixture {
	s := gitlabtest.New()
	t.Cleanup(s.Close)
	u := s.CreateUser("ci-bot", false)
	_, tok := s.CreateToken(u.ID, "deliver", []string{"api"}, "")
	return fixture{s: s, project: s.CreateProject("acme/api", u.ID), token: tok}
}

var noWait = gitlabapi.Options{Retries: 2, Sleep: func(time.Duration) time.Duration { return time.Millisecond }}

func (f fixture) target(t *testing.T, project, key string, protected, masked bool) *Target {
	t.Helper()
	tg, err := New(Config{Endpoint: f.s.URL, Token: secret.FromString(f.token), Project: project, Key: key, Protected: protected, Masked: masked, API: noWait})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func value(s string) deliver.Value { return deliver.Value{Secret: secret.FromString(s)} }

// Write creates the variable with its flags, Current reads it back, a
// second Write of the same value changes nothing, a new value updates it,
// by project path and by id alike.
func TestWriteCreatesThenUpdates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tg := f.target(t, "acme/api", "DB_PASSWORD", true, true)
	if _, err := tg.Current(ctx); errs.KindOf(err) != errs.NotFound {
		t.Fatalf("Current of a missing variable: %v, want NotFound", err)
	}
	ch, err := tg.Plan(ctx, value("glpat-first-value-1234"))
	if err != nil || ch.Empty() {
		t.Fatalf("Plan = %+v, %v; want a change", ch, err)
	}
	if err := tg.Write(ctx, value("glpat-first-value-1234")); err != nil {
		t.Fatal(err)
	}
	v := f.s.ProjectVariable(f.project.ID, "DB_PASSWORD")
	if v == nil || v.Value != "glpat-first-value-1234" || !v.Protected || !v.Masked || !v.Raw {
		t.Fatalf("variable after Write: %+v", v)
	}
	if ok, err := deliver.Delivered(ctx, tg, value("glpat-first-value-1234")); err != nil || !ok {
		t.Errorf("Delivered = %v, %v", ok, err)
	}
	if ch, err := tg.Plan(ctx, value("glpat-first-value-1234")); err != nil || !ch.Empty() {
		t.Errorf("Plan of what is there = %+v, %v; want empty", ch, err)
	}
	byID := f.target(t, strconv.FormatInt(f.project.ID, 10), "DB_PASSWORD", false, false)
	if err := byID.Write(ctx, value("second value with spaces")); err != nil {
		t.Fatal(err)
	}
	v = f.s.ProjectVariable(f.project.ID, "DB_PASSWORD")
	if v.Value != "second value with spaces" || v.Protected || v.Masked {
		t.Errorf("variable after the update: %+v", v)
	}
}

// A value GitLab cannot mask is refused with a clear error before any
// request; the variable keeps its value.
func TestMaskedRefusesUnmaskableValue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tg := f.target(t, "acme/api", "TOKEN", false, true)
	if err := tg.Write(ctx, value("glpat-original-value-99")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"short", "has a space in it", "pipe|chars|here"} {
		err := tg.Write(ctx, value(bad))
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "cannot mask") || strings.Contains(err.Error(), bad) {
			t.Errorf("Write(%q) masked: %v, want Invalid saying GitLab cannot mask it, without the value", bad, err)
		}
		if _, err := tg.Plan(ctx, value(bad)); errs.KindOf(err) != errs.Invalid {
			t.Errorf("Plan(%q) masked: %v, want Invalid", bad, err)
		}
	}
	if v := f.s.ProjectVariable(f.project.ID, "TOKEN"); v.Value != "glpat-original-value-99" {
		t.Errorf("a refused write changed the variable to %q", v.Value)
	}
}

// A project the token cannot see, and a revoked token, are one-line
// errors of the right kind; throttling is retried up to the bound.
func TestErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.target(t, "acme/other", "K", false, false).Current(ctx); errs.KindOf(err) != errs.NotFound || !strings.Contains(err.Error(), "no such project") {
		t.Errorf("Current in an invisible project: %v", err)
	}
	tg := f.target(t, "acme/api", "K", false, false)
	f.s.Throttle(2)
	if err := tg.Write(ctx, value("abcdefgh")); err != nil {
		t.Errorf("Write after 2 throttled answers: %v", err)
	}
	f.s.Throttle(3)
	if err := tg.Write(ctx, value("abcdefgh2")); errs.KindOf(err) != errs.Unreachable {
		t.Errorf("Write throttled past the bound: %v, want Unreachable", err)
	}
	bad, err := New(Config{Endpoint: f.s.URL, Token: secret.FromString("glpat-notatokenatall000"), Project: "acme/api", Key: "K", API: noWait})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Write(ctx, value("abcdefgh")); errs.KindOf(err) != errs.Permission || strings.Contains(err.Error(), "glpat-notatokenatall000") {
		t.Errorf("Write with a wrong token: %v, want Permission without the token", err)
	}
}
