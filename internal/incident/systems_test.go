package incident

import (
	"context"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
)

func TestConfigCarriesTheSystemEntry(t *testing.T) {
	ref, err := inventory.ParseRef("env:ADMIN")
	if err != nil {
		t.Fatal(err)
	}
	inv := &inventory.Inventory{Systems: []inventory.System{
		{Name: "db", Type: "postgres", Admin: ref},
		{Name: "aws", Type: "aws-iam", Endpoint: "http://127.0.0.1:1", Region: "eu-west-1"},
	}}
	env := map[string]string{"ADMIN": "postgres://admin:pw@127.0.0.1/"}
	s := Systems{Registry: provider.NewRegistry(), Inventory: inv, Getenv: func(k string) string { return env[k] }}

	cfg, err := s.Config(&inv.Systems[0])
	if err != nil || string(cfg.Admin.Reveal()) != env["ADMIN"] || cfg.Spec != &inv.Systems[0] {
		t.Fatalf("postgres config %+v, %v", cfg, err)
	}
	// No admin: the SDK's default chain, nothing to resolve.
	cfg, err = s.Config(&inv.Systems[1])
	if err != nil || !cfg.Admin.IsZero() || cfg.Endpoint != "http://127.0.0.1:1" || cfg.Region != "eu-west-1" || cfg.Getenv == nil {
		t.Fatalf("aws-iam config %+v, %v", cfg, err)
	}
	if got := s.AdminSecrets(); len(got) != 1 || !got[0].Equal(secret.FromString(env["ADMIN"])) {
		t.Errorf("admin secrets: %d", len(got))
	}

	delete(env, "ADMIN")
	if _, err := s.Config(&inv.Systems[0]); errs.KindOf(err) != errs.Invalid {
		t.Errorf("an unset admin: %v, want invalid", err)
	}
	if _, err := s.Open(context.Background(), "nope"); errs.KindOf(err) != errs.NotFound {
		t.Errorf("an unknown system: %v", err)
	}
	if _, err := s.Open(context.Background(), "aws"); errs.KindOf(err) != errs.Unsupported {
		t.Errorf("a type not in the registry: %v", err)
	}
}
