package tlsfiles

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// The engine's view of tls-files: the key as the secret, the certificate
// and its chain as the "user"; what Current reads, Write puts back, so a
// rollback restores the files byte for byte. A key file takes the key
// alone.
func TestTargetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	oldKey := keytest.GenKey(t, dir, "old.key", keytest.ECSEC1)
	newKey := keytest.GenKey(t, dir, "new.key", keytest.ECSEC1)
	leaf := keytest.SelfSigned(t, newKey, "web.example.org", []string{"web.example.org"}, filepath.Join(dir, "leaf.pem"))
	ca := keytest.SelfSigned(t, oldKey, "chain.example.org", nil, filepath.Join(dir, "ca.pem"))
	leafPEM, _ := os.ReadFile(leaf)
	caPEM, _ := os.ReadFile(ca)
	srv := filepath.Join(dir, "srv")
	keytest.Must(t, os.MkdirAll(srv, 0o755))
	oldKeyPEM, _ := os.ReadFile(oldKey)
	keytest.WriteFile(t, filepath.Join(srv, "tls.key"), oldKeyPEM, 0o640)
	keytest.WriteFile(t, filepath.Join(srv, "tls.crt"), caPEM, 0o644)
	keytest.WriteFile(t, filepath.Join(srv, "chain.pem"), caPEM, 0o644)

	inv := &inventory.Inventory{Dir: dir}
	tg, err := FromInventory(inv, &inventory.Delivery{Type: inventory.DeliverTLSFiles, Cert: "srv/tls.crt", Path: "srv/tls.key", Chain: "srv/chain.pem"})
	keytest.Must(t, err)
	keytest.Must(t, tg.Check(ctx))
	before, err := tg.Current(ctx)
	keytest.Must(t, err)
	if before.User != string(caPEM)+string(caPEM) || string(before.Secret.Reveal()) != string(oldKeyPEM) {
		t.Fatalf("current before: %q", before.User)
	}

	v := deliver.Value{Secret: keytest.Secret(t, newKey), User: string(leafPEM) + string(caPEM)}
	ch, err := tg.Plan(ctx, v)
	keytest.Must(t, err)
	if ch.Empty() || len(ch.Edits) != 2 {
		t.Errorf("plan before the write: %+v", ch)
	}
	keytest.Must(t, tg.Write(ctx, v))
	for f, want := range map[string][]byte{"tls.crt": leafPEM, "chain.pem": caPEM} {
		if got, _ := os.ReadFile(filepath.Join(srv, f)); string(got) != string(want) {
			t.Errorf("%s after the write:\n%s", f, got)
		}
	}
	if fi, _ := os.Stat(filepath.Join(srv, "tls.key")); fi.Mode().Perm() != 0o640 {
		t.Errorf("key file mode %v, want its own 0640 kept", fi.Mode().Perm())
	}
	if ok, err := deliver.Delivered(ctx, tg, v); err != nil || !ok {
		t.Errorf("Delivered after the write: %v %v", ok, err)
	}
	if ch, _ := tg.Plan(ctx, v); !ch.Empty() {
		t.Errorf("plan after the write: %+v", ch)
	}

	// Rollback: what Current read goes back.
	keytest.Must(t, tg.Write(ctx, deliver.Value(before)))
	for f, want := range map[string][]byte{"tls.key": oldKeyPEM, "tls.crt": caPEM, "chain.pem": caPEM} {
		if got, _ := os.ReadFile(filepath.Join(srv, f)); string(got) != string(want) {
			t.Errorf("%s after the restore differs", f)
		}
	}
	if err := tg.Write(ctx, deliver.Value{Secret: keytest.Secret(t, newKey), User: "no certificate"}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("a write without a certificate: %v", err)
	}

	kf, err := FromInventory(inv, &inventory.Delivery{Type: inventory.DeliverKeyFile, Path: "deploy/id"})
	keytest.Must(t, err)
	if _, err := kf.Current(ctx); errs.KindOf(err) != errs.NotFound {
		t.Errorf("a key file not there yet: %v", err)
	}
	keytest.Must(t, os.MkdirAll(filepath.Join(dir, "deploy"), 0o755))
	keytest.Must(t, kf.Write(ctx, deliver.Value{Secret: secret.FromString("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n")}))
	if fi, err := os.Stat(filepath.Join(dir, "deploy/id")); err != nil || fi.Mode().Perm() != KeyMode {
		t.Errorf("a new key file: %v %v", fi, err)
	}

	bad, _ := FromInventory(inv, &inventory.Delivery{Type: inventory.DeliverTLSFiles, Cert: "srv", Path: "srv/tls.key"})
	if err := bad.Check(ctx); err == nil {
		t.Error("Check accepts a directory as the certificate file")
	}
}

// A tls-secret-manifest delivery reads and writes data."tls.key" and
// data."tls.crt" base64 decoded: what Current reads, Write puts back.
func TestTargetManifest(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	oldKey := keytest.GenKey(t, dir, "old.key", keytest.ECSEC1)
	newKey := keytest.GenKey(t, dir, "new.key", keytest.ECSEC1)
	oldCrt, _ := os.ReadFile(keytest.SelfSigned(t, oldKey, "old.example.org", nil, filepath.Join(dir, "old.pem")))
	newCrt, _ := os.ReadFile(keytest.SelfSigned(t, newKey, "new.example.org", nil, filepath.Join(dir, "new.pem")))
	oldKeyPEM, _ := os.ReadFile(oldKey)
	b64 := base64.StdEncoding.EncodeToString
	path := filepath.Join(dir, "tls.yaml")
	keytest.WriteFile(t, path, []byte(fmt.Sprintf(manifest, b64(oldCrt), b64(oldKeyPEM))), 0o644)
	tg, err := FromInventory(&inventory.Inventory{Dir: dir}, &inventory.Delivery{Type: inventory.DeliverTLSSecretManifest, Path: "tls.yaml"})
	keytest.Must(t, err)
	keytest.Must(t, tg.Check(ctx))
	before, err := tg.Current(ctx)
	keytest.Must(t, err)
	if before.User != string(oldCrt) || string(before.Secret.Reveal()) != string(oldKeyPEM) {
		t.Fatalf("current: %q", before.User)
	}
	v := deliver.Value{Secret: keytest.Secret(t, newKey), User: string(newCrt)}
	if ch, err := tg.Plan(ctx, v); err != nil || ch.Empty() {
		t.Errorf("plan: %+v %v", ch, err)
	}
	keytest.Must(t, tg.Write(ctx, v))
	if ok, err := deliver.Delivered(ctx, tg, v); err != nil || !ok {
		t.Errorf("Delivered after the write: %v %v", ok, err)
	}
	if got, _ := tg.Current(ctx); got.User != string(newCrt) {
		t.Errorf("the manifest's certificate after the write: %q", got.User)
	}
	keytest.Must(t, tg.Write(ctx, deliver.Value(before)))
	if got, _ := os.ReadFile(path); string(got) != fmt.Sprintf(manifest, b64(oldCrt), b64(oldKeyPEM)) {
		t.Errorf("the manifest after the restore:\n%s", got)
	}
}
