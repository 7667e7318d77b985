package vaultkv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/vault/api"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider/vault/vaulttest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// fixture is a test Vault, a root client that reads and writes out of
// band, and a token that may read and write secret/data/apps/*.
type fixture struct {
	s     *vaulttest.Server
	root  *api.Client
	token string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	s := vaulttest.New()
	t.Cleanup(s.Close)
	f := fixture{s: s, root: s.Client(s.RootToken())}
	f.policy(t, "deliver", `path "secret/data/apps/*" { capabilities = ["create", "read", "update"] }`)
	f.token = f.tokenWith(t, "deliver")
	return f
}

func (f fixture) policy(t *testing.T, name, text string) {
	t.Helper()
	if _, err := f.root.Logical().Write("sys/policies/acl/"+name, map[string]any{"policy": text}); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) tokenWith(t *testing.T, policies ...string) string {
	t.Helper()
	s, err := f.root.Logical().Write("auth/token/create-orphan", map[string]any{"policies": policies})
	if err != nil {
		t.Fatal(err)
	}
	return s.Auth.ClientToken
}

// put writes a version out of band and returns its number.
func (f fixture) put(t *testing.T, path string, data map[string]any) {
	t.Helper()
	if _, err := f.root.KVv2("secret").Put(context.Background(), path, data); err != nil {
		t.Fatal(err)
	}
}

// get reads the current version out of band.
func (f fixture) get(t *testing.T, path string) (map[string]any, int) {
	t.Helper()
	s, err := f.root.KVv2("secret").Get(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s.Data, s.VersionMetadata.Version
}

func (f fixture) target(t *testing.T, path, userKey string) *Target {
	t.Helper()
	tg, err := New(Config{Address: f.s.URL, Token: secret.FromString(f.token), Mount: "secret", Path: path, Key: "password", UserKey: userKey})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

const newPassword = "Zx9-new-password-for-orders"

func TestWriteKeepsOtherKeysAndIsIdempotent(t *testing.T) {
	f := newFixture(t)
	f.put(t, "apps/orders", map[string]any{"password": "old-password-1", "username": "orders_svc", "api_url": "https://x"})
	tg := f.target(t, "apps/orders", "username")
	ctx := context.Background()

	ch, err := tg.Plan(ctx, deliver.Value{Secret: secret.FromString(newPassword), User: "orders_v2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []deliver.Part{deliver.PartPassword, deliver.PartUser}; !cmp.Equal(ch.Edits[0].Parts, want) {
		t.Errorf("Plan parts = %v, want %v", ch.Edits[0].Parts, want)
	}
	if strings.Contains(ch.String(), newPassword) || strings.Contains(ch.String(), "old-password-1") {
		t.Errorf("Plan reveals a secret: %s", ch)
	}
	if _, v := f.get(t, "apps/orders"); v != 1 {
		t.Fatalf("Plan wrote: version %d", v)
	}

	if err := tg.Write(ctx, deliver.Value{Secret: secret.FromString(newPassword), User: "orders_v2"}); err != nil {
		t.Fatal(err)
	}
	data, v := f.get(t, "apps/orders")
	want := map[string]any{"password": newPassword, "username": "orders_v2", "api_url": "https://x"}
	if diff := cmp.Diff(want, data); diff != "" || v != 2 || tg.Written() != 2 {
		t.Errorf("after Write: version %d (Written %d), data (-want +got):\n%s", v, tg.Written(), diff)
	}
	if ok, err := deliver.Delivered(ctx, tg, deliver.Value{Secret: secret.FromString(newPassword), User: "orders_v2"}); err != nil || !ok {
		t.Errorf("Delivered = %v, %v; want true", ok, err)
	}
	if err := tg.Write(ctx, deliver.Value{Secret: secret.FromString(newPassword), User: "orders_v2"}); err != nil {
		t.Fatal(err)
	}
	if _, v := f.get(t, "apps/orders"); v != 2 {
		t.Errorf("writing what the secret holds made version %d", v)
	}
}

func TestWriteCreatesAMissingSecret(t *testing.T) {
	f := newFixture(t)
	tg := f.target(t, "apps/new", "")
	if _, err := tg.Current(context.Background()); errs.KindOf(err) != errs.NotFound {
		t.Errorf("Current(missing secret) = %v, want NotFound", err)
	}
	if err := tg.Write(context.Background(), deliver.Value{Secret: secret.FromString(newPassword)}); err != nil {
		t.Fatal(err)
	}
	if data, v := f.get(t, "apps/new"); v != 1 || data["password"] != newPassword {
		t.Errorf("version %d data %v", v, data)
	}
}

// A writer that stores a version between rekey's read and write makes the
// check-and-set fail; rekey reads again and keeps that writer's data.
func TestWriteRetriesACheckAndSetConflict(t *testing.T) {
	f := newFixture(t)
	f.put(t, "apps/orders", map[string]any{"password": "old-password-1"})
	tg := f.target(t, "apps/orders", "")
	f.s.ConflictNextWrites(2)
	if err := tg.Write(context.Background(), deliver.Value{Secret: secret.FromString(newPassword)}); err != nil {
		t.Fatal(err)
	}
	data, v := f.get(t, "apps/orders")
	if v != 4 || data["password"] != newPassword || data["written-by"] != "another writer" {
		t.Errorf("after two conflicts: version %d data %v; want version 4 with the other writer's key and the new password", v, data)
	}
}

func TestWriteGivesUpAfterItsBound(t *testing.T) {
	f := newFixture(t)
	f.put(t, "apps/orders", map[string]any{"password": "old-password-1"})
	tg := f.target(t, "apps/orders", "")
	f.s.ConflictNextWrites(DefaultAttempts)
	err := tg.Write(context.Background(), deliver.Value{Secret: secret.FromString(newPassword)})
	if errs.KindOf(err) != errs.Conflict || !strings.Contains(err.Error(), "check-and-set") {
		t.Fatalf("Write losing every race: %v, want a Conflict naming check-and-set", err)
	}
	if data, _ := f.get(t, "apps/orders"); data["password"] == newPassword {
		t.Errorf("the refused write landed")
	}
}

func TestRollbackRestoresThePreviousValueOnly(t *testing.T) {
	f := newFixture(t)
	f.put(t, "apps/orders", map[string]any{"password": "old-password-1", "username": "orders_svc"})
	tg := f.target(t, "apps/orders", "username")
	ctx := context.Background()
	if err := tg.Write(ctx, deliver.Value{Secret: secret.FromString(newPassword), User: "orders_v2"}); err != nil {
		t.Fatal(err)
	}
	written := tg.Written()
	// Someone adds a key after rekey's write; rolling back keeps it.
	f.put(t, "apps/orders", map[string]any{"password": newPassword, "username": "orders_v2", "feature": "on"})
	if err := tg.Rollback(ctx, written); err != nil {
		t.Fatal(err)
	}
	data, v := f.get(t, "apps/orders")
	want := map[string]any{"password": "old-password-1", "username": "orders_svc", "feature": "on"}
	if diff := cmp.Diff(want, data); diff != "" || v != 4 {
		t.Errorf("after Rollback: version %d, data (-want +got):\n%s", v, diff)
	}
	if err := tg.Rollback(ctx, 1); errs.KindOf(err) != errs.NotFound {
		t.Errorf("Rollback of a secret rekey created: %v, want NotFound", err)
	}
}

func TestRefusedTokenNamesTheCapability(t *testing.T) {
	f := newFixture(t)
	f.put(t, "apps/orders", map[string]any{"password": "old-password-1"})
	f.policy(t, "read-only", `path "secret/data/apps/*" { capabilities = ["read"] }`)
	tok := f.tokenWith(t, "read-only")
	tg, err := New(Config{Address: f.s.URL, Token: secret.FromString(tok), Mount: "secret", Path: "apps/orders", Key: "password"})
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Write(context.Background(), deliver.Value{Secret: secret.FromString(newPassword)})
	if errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "update on secret/data/apps/orders") {
		t.Fatalf("Write with a read-only token: %v, want Permission naming update on the path", err)
	}
	if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), newPassword) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error holds a secret or is not one line: %q", err)
	}
	if data, _ := f.get(t, "apps/orders"); data["password"] != "old-password-1" {
		t.Errorf("the refused write changed the secret")
	}
}

func TestFromInventory(t *testing.T) {
	f := newFixture(t)
	src := []byte("version: 1\nsystems:\n  - { name: vault, type: vault, admin: env:VAULT_TOKEN, endpoint: \"" + f.s.URL + "\" }\n" +
		"  - { name: shop-db, type: postgres, admin: env:DSN }\nidentities:\n  - { name: orders_svc, system: shop-db }\n" +
		"consumers:\n  - name: orders-api\n    identity: orders_svc\n    deliver: { type: vault-kv, mount: secret, path: apps/orders, key: password }\n")
	getenv := func(k string) string { return map[string]string{"VAULT_TOKEN": f.token, "DSN": "postgres://a@h/d"}[k] }
	inv, rep, err := inventory.Parse("inv.yml", src, inventory.Options{Getenv: getenv})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	tg, err := FromInventory(inv, inv.Consumers[0].Deliver, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Write(context.Background(), deliver.Value{Secret: secret.FromString(newPassword)}); err != nil {
		t.Fatal(err)
	}
	if data, _ := f.get(t, "apps/orders"); data["password"] != newPassword {
		t.Errorf("data %v", data)
	}
	if d := tg.Describe(); !strings.Contains(d, "secret/data/apps/orders") || strings.Contains(d, f.token) {
		t.Errorf("Describe = %q", d)
	}
}

// Vault's rate limit quota (429) is retried Retries times; past the bound
// the write fails in one line naming Vault's answer and the bound, and
// nothing was written.
func TestThrottlingIsRetriedWithABound(t *testing.T) {
	f := newFixture(t)
	f.put(t, "apps/orders", map[string]any{"password": "old"})
	tg, err := New(Config{Address: f.s.URL, Token: secret.FromString(f.token), Mount: "secret", Path: "apps/orders", Key: "password",
		Retries: 3, minWait: time.Millisecond, maxWait: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f.s.Throttle(3)
	if _, err := tg.Current(ctx); err != nil {
		t.Fatalf("Current through 3 throttled answers: %v", err)
	}
	f.s.Throttle(100)
	before := f.s.Requests()
	err = tg.Write(ctx, deliver.Value{Secret: secret.FromString(newPassword)})
	if errs.KindOf(err) != errs.Unreachable || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), "vault-kv") || !strings.Contains(err.Error(), "still throttled after 4 attempts") {
		t.Errorf("Write while throttled: %v (kind %v)", err, errs.KindOf(err))
	}
	if n := f.s.Requests() - before; n != 4 {
		t.Errorf("the throttled request was tried %d times, want 4", n)
	}
	f.s.Throttle(0)
	if st, err := tg.Current(ctx); err != nil || string(st.Secret.Reveal()) != "old" {
		t.Errorf("after a throttled write the secret holds %v, %v", st, err)
	}
}
