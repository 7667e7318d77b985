package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/provider/vault/vaulttest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// TestLeasesRenewRefusesAnExpiryTheSystemKeeps: a Vault token's expiry
// is fixed when it is made (the provider cannot renew it), so renewing
// its lease fails in one line and the lease keeps the expiry Vault
// enforces, rather than announcing a renewal that never happened.
func TestLeasesRenewRefusesAnExpiryTheSystemKeeps(t *testing.T) {
	s := vaulttest.New()
	t.Cleanup(s.Close)
	home, dir := t.TempDir(), t.TempDir()
	inv := filepath.Join(dir, "rekey.yml")
	yml := "version: 1\nsystems:\n  - { name: vault, type: vault, admin: env:VAULT_ADMIN, endpoint: \"" + s.URL + "\" }\n" +
		"identities:\n  - { name: orders, system: vault }\n"
	if err := os.WriteFile(inv, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(home, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	inc, _, err := st.OpenIncident(ctx, store.Incident{Fingerprint: secret.Fingerprint(strings.Repeat("ab", 32)), Inventory: inv, Identity: store.IdentityRef{System: "vault", Name: "orders"}})
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	l := store.Lease{ID: "L-vault-orders", IncidentID: inc.ID, System: "vault", Login: "orders", Issued: time.Now(), Expires: &until, Enforced: true, State: store.LeaseActive}
	if err := st.PutLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"REKEY_HOME": home, "VAULT_ADMIN": s.RootToken(), "REKEY_ACTOR": "alice"}
	r := run(t, env, "", "leases", "renew", l.ID, "--ttl", "240h")
	if r.code != 2 || !strings.Contains(r.stderr, "cannot extend") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("renewing a Vault token's lease: exit %d %q, want 2 and one line saying it cannot be extended", r.code, r.stderr)
	}
	ls, err := st.Leases(ctx, store.LeaseFilter{ID: l.ID})
	if err != nil || len(ls) != 1 || ls[0].Expires == nil || !ls[0].Expires.Equal(until) {
		t.Errorf("the lease after a refused renewal: %+v %v, want it to expire at %s still", ls, err, until)
	}
}

// TestLeasesShowTheKeyID: a generated key's lease shows its key id
// (the user may hold another key), in the table and in JSON; a
// password's lease has none.
func TestLeasesShowTheKeyID(t *testing.T) {
	home := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(home, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	inc, _, err := st.OpenIncident(ctx, store.Incident{Fingerprint: secret.Fingerprint(strings.Repeat("cd", 32)), Identity: store.IdentityRef{System: "aws", Name: "deploy-bot"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []store.Lease{
		{ID: "L-aws", IncidentID: inc.ID, System: "aws", Login: "deploy-bot", KeyID: "AKIAEXAMPLENEWKEY001", Issued: time.Now(), State: store.LeaseActive},
		{ID: "L-db", IncidentID: inc.ID, System: "shop-db", Login: "orders_r1", Issued: time.Now(), State: store.LeaseActive},
	} {
		if err := st.PutLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"REKEY_HOME": home}
	r := run(t, env, "", "leases")
	lines := strings.Split(r.stdout, "\n")
	if r.code != 0 || len(lines) < 3 || !strings.Contains(lines[0], "KEY") {
		t.Fatalf("leases: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		switch {
		case len(f) > 3 && f[0] == "L-aws" && f[3] != "AKIAEXAMPLENEWKEY001":
			t.Errorf("the key's lease shows key %q: %s", f[3], line)
		case len(f) > 3 && f[0] == "L-db" && f[3] != "-":
			t.Errorf("a password's lease shows key %q: %s", f[3], line)
		}
	}
	r = run(t, env, "", "leases", "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"key_id": "AKIAEXAMPLENEWKEY001"`) || strings.Count(r.stdout, `"key_id"`) != 1 {
		t.Errorf("leases --format json: exit %d\n%s", r.code, r.stdout)
	}
}
