package broker

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/broker/identity"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/mysql"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/testutil"
)

const mariadbLeaseInventory = `version: 1
systems:
  - { name: app-db, type: mysql, admin: env:APP_DB_ADMIN_DSN }
identities:
  - { name: %[2]s, system: app-db }
broker:
  issuers:
    - { name: k8s, issuer: "https://issuer.test", jwks: file:%[1]s, audience: rekey }
  roles:
    - { name: rw, system: app-db, like: %[2]s, ttl: 15m, max_ttl: 1h, subjects: ["system:serviceaccount:orders:*"] }
    - { name: short, system: app-db, like: %[2]s, ttl: 2s, max_ttl: 4s, subjects: ["system:serviceaccount:orders:*"] }
`

// TestLeaseMariaDB: a lease on MariaDB is a user with the template's
// grants minus CREATE USER (which the inventory does not keep), the
// template itself unchanged; revoking it kills its connection and drops
// it; a 2 s lease is reaped with its connection (MariaDB enforces no
// expiry: the reaper is what ends it).
func TestLeaseMariaDB(t *testing.T) {
	testutil.NeedService(t, "mariadb", testutil.MariaDBAddr)
	ctx := context.Background()
	root, err := sql.Open("mysql", testutil.MariaDBRootDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	tmpl := testutil.RandomName("ltm")
	dbName := testutil.RandomName("ltdb")
	testutil.DropMariaDBUsers(t, tmpl)
	t.Cleanup(func() {
		for _, u := range testutil.MariaDBUsersLike(t, tmpl+"_l") {
			name, _, _ := strings.Cut(u, "@")
			testutil.DropMariaDBUsers(t, name)
		}
	})
	for _, q := range []string{
		"CREATE DATABASE " + dbName,
		fmt.Sprintf("CREATE TABLE %s.ok (n int)", dbName), fmt.Sprintf("INSERT INTO %s.ok VALUES (1)", dbName),
		fmt.Sprintf("CREATE TABLE %s.no (n int)", dbName),
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'unused-Password-1'", tmpl),
		fmt.Sprintf("GRANT SELECT ON %s.ok TO '%s'@'%%'", dbName, tmpl),
		fmt.Sprintf("GRANT CREATE USER ON *.* TO '%s'@'%%'", tmpl),
	} {
		if _, err := root.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _, _ = root.Exec("DROP DATABASE IF EXISTS " + dbName) })

	leases, issue := systemLeases(t, mariadbLeaseInventory, tmpl, "app-db", func(ctx context.Context) (provider.Provider, error) {
		return mysql.New(ctx, provider.Config{System: "app-db", Admin: secret.FromString(testutil.MariaDBRootDSN)})
	})
	connect := func(l *Lease) *sql.Conn {
		t.Helper()
		db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/%s", l.Login, l.Secret.Reveal(), testutil.MariaDBAddr, dbName))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatalf("log in with lease %s: %v", l.Login, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dead := func(c *sql.Conn) bool {
		var n int
		return c.QueryRowContext(ctx, "SELECT 1").Scan(&n) != nil
	}

	l := issue("rw")
	if !strings.HasPrefix(l.Login, tmpl+"_l") || len(l.Login) > 32 {
		t.Fatalf("login %q", l.Login)
	}
	c := connect(l)
	var n int
	if err := c.QueryRowContext(ctx, "SELECT n FROM ok").Scan(&n); err != nil || n != 1 {
		t.Errorf("read what the template may read: %v", err)
	}
	if _, err := c.ExecContext(ctx, "SELECT n FROM no"); err == nil {
		t.Error("read a table the template may not")
	}
	if _, err := c.ExecContext(ctx, "CREATE USER '"+testutil.RandomName("ltx")+"'@'localhost'"); err == nil {
		t.Error("the lease created a user: CREATE USER was not dropped")
	}
	var grants string
	if err := root.QueryRowContext(ctx, fmt.Sprintf("SHOW GRANTS FOR '%s'@'%%'", tmpl)).Scan(&grants); err != nil || !strings.Contains(grants, "CREATE USER") {
		t.Errorf("the template lost CREATE USER: %q %v", grants, err)
	}
	if err := leases.Revoke(ctx, l.ID, l.Holder, l.Holder); err != nil {
		t.Fatal(err)
	}
	if !dead(c) {
		t.Error("the revoked lease's connection survived")
	}
	if us := testutil.MariaDBUsersLike(t, l.Login); len(us) != 0 {
		t.Errorf("revoked lease's user exists: %v", us)
	}

	short := issue("short")
	if _, err := leases.Renew(ctx, short.ID, short.Holder, time.Hour); err != nil {
		t.Fatalf("renew: %v", err)
	}
	if _, err := leases.Renew(ctx, short.ID, short.Holder, time.Hour); errs.KindOf(err) != errs.Invalid {
		t.Errorf("renew beyond max_ttl: %v, want Invalid", err)
	}
	sc := connect(short)
	waitFor(t, "the reaper to end the MariaDB lease", func() bool {
		if _, err := leases.Reap(ctx); err != nil {
			t.Log(err)
		}
		return dead(sc) && len(testutil.MariaDBUsersLike(t, short.Login)) == 0
	})
	recs, _ := leases.List(ctx, store.BrokerLeaseFilter{ID: short.ID})
	if len(recs) != 1 || recs[0].State != store.BrokerReaped {
		t.Errorf("after reaping: %+v", recs)
	}
}

// systemLeases is a lease service over one system connected with open,
// with a JWKS-file issuer ("https://issuer.test") and the inventory
// inventoryFmt (%[1]s: the JWKS file, %[2]s: the template); issue asks
// for a lease of a role as one orders workload.
func systemLeases(t testing.TB, inventoryFmt, tmpl, system string, open func(context.Context) (provider.Provider, error)) (leases *Leases, issue func(role string) *Lease) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, []byte(`{"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "inventory.yml")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(inventoryFmt, jwks, tmpl)), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, rep, err := inventory.Load(p, inventory.Options{SkipLocal: true})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	b, err := New(ctx, Config{Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prov.Close() })
	st, log := openStore(t, filepath.Join(dir, "rekey.db"), dir)
	leases, err = NewLeases(LeaseConfig{Inventory: inv, Store: st, Audit: log, Systems: map[string]provider.Provider{system: prov}})
	if err != nil {
		t.Fatal(err)
	}
	return leases, func(role string) *Lease {
		t.Helper()
		d, err := b.Authorize(ctx, &identity.Workload{IssuerName: "k8s", Issuer: "https://issuer.test", Subject: "system:serviceaccount:orders:api"}, role, 0, "")
		if err != nil || !d.Allowed {
			t.Fatalf("decide: %v %+v", err, d)
		}
		l, err := leases.Issue(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
}
