package incident

import (
	"context"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider/vault/vaulttest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// TestTargetDeliversToVaultKV: a consumer that reads its secret from Vault
// gets it there through a run's target, and preflight reads that target
// (a token that may not read it is a problem before anything changes).
func TestTargetDeliversToVaultKV(t *testing.T) {
	v := vaulttest.New()
	t.Cleanup(v.Close)
	src := []byte("version: 1\nsystems:\n  - { name: vault, type: vault, admin: env:VAULT_TOKEN, endpoint: \"" + v.URL + "\" }\n" +
		"  - { name: shop-db, type: postgres, admin: env:DSN }\nidentities:\n  - { name: orders_svc, system: shop-db }\n" +
		"consumers:\n  - name: orders-api\n    identity: orders_svc\n    deliver: { type: vault-kv, mount: secret, path: apps/orders, key: password }\n" +
		"  - name: batch\n    identity: orders_svc\n")
	token := v.RootToken()
	getenv := func(k string) string { return map[string]string{"VAULT_TOKEN": token, "DSN": "postgres://a@h/d"}[k] }
	inv, rep, err := inventory.Parse("inv.yml", src, inventory.Options{Getenv: getenv})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	s := Systems{Inventory: inv, Getenv: getenv}
	ctx := context.Background()

	tg, err := s.Target(inv.ConsumerByName("orders-api"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDelivery(ctx, tg); err != nil {
		t.Errorf("preflight of a secret not written yet: %v", err)
	}
	if err := tg.Write(ctx, deliver.Value{Secret: secret.FromString("n3w-Orders-Pa55")}); err != nil {
		t.Fatal(err)
	}
	if ok, err := deliver.Delivered(ctx, tg, deliver.Value{Secret: secret.FromString("n3w-Orders-Pa55")}); err != nil || !ok {
		t.Errorf("Delivered = %v, %v after the write", ok, err)
	}

	token = "hvs.not-a-token-vault-knows"
	bad, err := s.Target(inv.ConsumerByName("orders-api"))
	if err == nil {
		err = checkDelivery(ctx, bad)
	}
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("preflight with a token Vault refuses: %v", err)
	}

	if _, err := s.Target(inv.ConsumerByName("batch")); errs.KindOf(err) != errs.Unsupported {
		t.Errorf("a consumer without delivery: %v, want Unsupported", err)
	}
}
