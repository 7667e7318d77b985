package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/testutil"
)

// TestServeWatchContainsACanary is rekey serve --watch: the watcher runs
// in the server's process, so a canary tried while the server runs opens
// an incident by "watch" and the canary is cut off, with no rekey watch
// beside it.
func TestServeWatchContainsACanary(t *testing.T) {
	pg := testutil.SharedPostgres(t)
	dir := t.TempDir()
	role, canary := testutil.RandomName("shop_"), testutil.RandomName("backup_admin_")
	pg.CreateRole(t, role, "Svc-"+testutil.RandomName("pw"), "")
	t.Cleanup(func() { pg.DropRole(t, canary) })
	inv := fmt.Sprintf(`version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: %s, system: shop-db }
logs:
  - { type: postgres-csv, path: %s }
watch:
  trigger: [canary-use]
  auto_contain: [canary-use]
`, role, filepath.Join(pg.LogDir, "postgresql.csv"))
	invPath := filepath.Join(dir, "rekey.yml")
	if err := os.WriteFile(invPath, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	env := map[string]string{"REKEY_HOME": home, "SHOP_DB_ADMIN_DSN": pg.AdminURL(), "REKEY_STORE": filepath.Join(home, "rekey.db")}
	r := run(t, env, "", "canary", "create", "--system", "shop-db", "--name", canary, "--inventory", invPath, "--format", "json")
	if r.code != 0 {
		t.Fatalf("canary create: %d %s", r.code, r.stderr)
	}
	var made struct{ Secret string }
	if err := json.Unmarshal([]byte(r.stdout), &made); err != nil {
		t.Fatal(err)
	}

	startServeEnv(t, env, "--listen", "127.0.0.1:0", "--inventory", invPath, "--watch")
	if !loginWorks(pg, canary, made.Secret) {
		t.Fatal("the canary cannot log in with its secret")
	}
	deadline := time.Now().Add(90 * time.Second)
	for loginWorks(pg, canary, made.Secret) {
		if time.Now().After(deadline) {
			t.Fatal("serve --watch did not cut the canary off")
		}
		time.Sleep(300 * time.Millisecond)
	}
	var found bool
	for _, inc := range incidentsOf(t, env) {
		found = found || inc.OpenedBy == "watch" && inc.Identity == "shop-db/"+canary
	}
	if !found {
		t.Fatalf("no incident opened by watch for the canary: %+v", incidentsOf(t, env))
	}
}

func TestServeWatchNeedsAnInventory(t *testing.T) {
	r := run(t, map[string]string{"REKEY_HOME": t.TempDir()}, "", "serve", "--watch", "--listen", "127.0.0.1:0")
	if r.code != 2 || !strings.Contains(r.stderr, "--watch needs --inventory") {
		t.Fatalf("serve --watch without an inventory: %d %q", r.code, r.stderr)
	}
}
