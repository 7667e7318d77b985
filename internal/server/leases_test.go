package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/broker/brokertest"
	"github.com/rekeyhq/rekey/internal/broker/identity"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/postgres"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// A broker lease (a real PostgreSQL login) is listed with its holder and
// role, and ended through the API by an administrator: the login is
// gone, the lease revoked, the audit log names who ended it.
func TestRevokeABrokerLeaseByHolder(t *testing.T) {
	ctx := context.Background()
	pg := testutil.SharedPostgres(t)
	tmpl := testutil.RandomName("api_lt")
	pg.CreateRole(t, tmpl, "unused-password", "NOLOGIN")
	t.Cleanup(func() { pg.DropRole(t, tmpl) })
	key := brokertest.ECKey(t, "k1")
	iss := brokertest.NewIssuer(t, key)
	text := fmt.Sprintf(`version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: %[2]s, system: shop-db }
broker:
  issuers:
    - { name: k8s, issuer: "%[1]s", audience: rekey }
  roles:
    - { name: rw, system: shop-db, like: %[2]s, ttl: 15m, max_ttl: 1h, subjects: ["system:serviceaccount:orders:*"] }
`, iss.URL, tmpl)
	inv, rep, err := inventory.Parse("inventory.yml", []byte(text), inventory.Options{SkipLocal: true})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	b, err := broker.New(ctx, broker.Config{Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := postgres.New(ctx, provider.Config{System: "shop-db", Admin: secret.FromString(pg.AdminURL())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prov.Close() })

	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	al := audit.New(st, filepath.Join(dir, "witness")).WithKey(filepath.Join(dir, audit.KeyFile), true)
	leases, err := broker.NewLeases(broker.LeaseConfig{Inventory: inv, Store: st, Audit: al, Systems: map[string]provider.Provider{"shop-db": prov}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Authorize(ctx, &identity.Workload{IssuerName: "k8s", Issuer: iss.URL, Subject: "system:serviceaccount:orders:api"}, "rw", 0, "127.0.0.1")
	if err != nil || !d.Allowed {
		t.Fatalf("decision: %+v %v", d, err)
	}
	l, err := leases.Issue(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.DropRole(t, l.Login) })

	// The server over the same store and audit log as the broker.
	w := newAPIWorldWith(t, filepath.Join(dir, "rekey.db"), "version: 1\n", nil, func(c *Config) { c.Leases = leases })
	rec := do(t, w.h, "GET", "/api/v1/leases", "tok-viewer", "")
	ls := decodeJSON[[]leaseView](t, rec.Body.Bytes())
	if rec.Code != 200 || len(ls) != 1 || ls[0].ID != l.ID || ls[0].Holder != iss.URL+":system:serviceaccount:orders:api" || ls[0].Role != "rw" || !ls[0].Renewable {
		t.Fatalf("leases: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, w.h, "POST", "/api/v1/leases/revoke", "tok-admin", `{"holder":"`+ls[0].Holder+`"}`)
	if rec.Code != 200 || decodeJSON[revoked](t, rec.Body.Bytes()).Revoked != 1 {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	var n int
	if err := pg.Pool(t).QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", l.Login).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the lease's login still exists (%d, %v)", n, err)
	}
	rec = do(t, w.h, "GET", "/api/v1/leases?all=true", "tok-viewer", "")
	if ls := decodeJSON[[]leaseView](t, rec.Body.Bytes()); len(ls) != 1 || ls[0].State != store.BrokerRevoked || ls[0].Renewable {
		t.Fatalf("after revoke: %s", rec.Body)
	}
	entries, err := st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := entries[len(entries)-1]; last.Action != broker.ActionRevoke || !strings.Contains(string(last.Detail), `"by":"ada"`) {
		t.Fatalf("last audit entry %+v", last)
	}
}
