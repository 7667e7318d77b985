// Package leasetest runs the broker's HTTP API for tests: a local OIDC
// issuer (package brokertest), a template role on the test package's
// password-auth PostgreSQL cluster, an inventory with roles of it, a
// SQLite store with its audit log, and the handler of package api in an
// httptest server. The API's own tests and rekey agent's use it, so that
// both are tested against real signatures and real logins.
package leasetest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/broker/api"
	"github.com/rekeyhq/rekey/internal/broker/brokertest"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/postgres"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// Inventory is the env's inventory: %[1]s the issuer's URL, %[2]s the
// template, %[3]s the agent template; %[4]s is appended (consumers).
const Inventory = `version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: %[2]s, system: shop-db }
  - { name: %[3]s, system: shop-db, kind: agent }
broker:
  issuers:
    - { name: k8s, issuer: "%[1]s", audience: rekey }
  roles:
    - { name: rw, system: shop-db, like: %[2]s, ttl: 15m, max_ttl: 1h, subjects: ["system:serviceaccount:orders:*"] }
    - { name: brief, system: shop-db, like: %[2]s, ttl: 3s, max_ttl: 1h, subjects: ["system:serviceaccount:orders:*"] }
    - { name: steady, system: shop-db, like: %[2]s, ttl: 15s, max_ttl: 1h, subjects: ["system:serviceaccount:orders:*"] }
    - { name: bot, system: shop-db, like: %[3]s, ttl: 30m, subjects: ["system:serviceaccount:support:*"] }
%[4]s`

// Subject is a workload subject the env's roles rw and brief permit.
const Subject = "system:serviceaccount:orders:api"

// Env is one running broker API.
type Env struct {
	Cluster *testutil.PGCluster
	Issuer  *brokertest.Issuer
	Key     brokertest.Key
	// Template and Agent are the template roles; Table is a table the
	// template may read.
	Template, Agent, Table string
	Dir, InventoryPath     string
	Inventory              *inventory.Inventory
	Store                  store.Store
	Audit                  *audit.Log
	Broker                 *broker.Broker
	Leases                 *broker.Leases
	// State is the incident state the broker sees; tests change it.
	State  *State
	Server *httptest.Server
}

// State is an IdentityState whose identities under incident a test sets.
type State struct {
	mu    sync.Mutex
	under map[string]bool
}

// Set puts identity (system/name) under incident, or takes it out.
func (s *State) Set(identity string, under bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.under[identity] = under
}

func (s *State) State(_ context.Context, identity string) (bool, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.under[identity] {
		return true, 80, nil
	}
	return false, 0, nil
}

// New starts an env; consumers is YAML appended to the inventory (a
// top-level consumers: section, where TEMPLATE stands for the template
// identity's name), or "". The test package's TestMain
// must run through testutil.PostgresMain.
func New(t testing.TB, consumers string) *Env {
	t.Helper()
	c := testutil.SharedPostgres(t)
	e := &Env{Cluster: c, Template: testutil.RandomName("at_t"), Agent: testutil.RandomName("at_a"), Table: testutil.RandomName("at_ok"),
		State: &State{under: map[string]bool{}}}
	c.CreateRole(t, e.Template, "unused-password", "NOLOGIN")
	c.CreateRole(t, e.Agent, "unused-password", "NOLOGIN")
	c.Exec(t, fmt.Sprintf("CREATE TABLE %s (n int); INSERT INTO %[1]s VALUES (1); GRANT SELECT ON %[1]s TO %s", e.Table, e.Template))
	t.Cleanup(func() { c.Exec(t, "DROP TABLE IF EXISTS "+e.Table) })
	t.Cleanup(func() { c.DropMembersOf(t, e.Template, e.Agent) })

	e.Key = brokertest.ECKey(t, "k1")
	e.Issuer = brokertest.NewIssuer(t, e.Key)
	e.Dir = t.TempDir()
	e.InventoryPath = filepath.Join(e.Dir, "inventory.yml")
	if err := os.WriteFile(e.InventoryPath, []byte(fmt.Sprintf(Inventory, e.Issuer.URL, e.Template, e.Agent, strings.ReplaceAll(consumers, "TEMPLATE", e.Template))), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, rep, err := inventory.Load(e.InventoryPath, inventory.Options{SkipLocal: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("inventory: %v", rep.Errors)
	}
	e.Inventory = inv
	ctx := context.Background()
	if e.Broker, err = broker.New(ctx, broker.Config{Inventory: inv, State: e.State}); err != nil {
		t.Fatal(err)
	}
	pg, err := postgres.New(ctx, provider.Config{System: "shop-db", Admin: secret.FromString(c.AdminURL())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	st, err := sqlite.Open(ctx, filepath.Join(e.Dir, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.Store = st
	// The witness and key are where rekey keeps them with $REKEY_HOME set
	// to Dir and the default store, so that commands run on the env's
	// store append to the same log.
	e.Audit = audit.New(st, audit.WitnessPath(e.Dir, filepath.Join(e.Dir, store.DBFile))).WithKey(filepath.Join(e.Dir, audit.KeyFile), true)
	if e.Leases, err = broker.NewLeases(broker.LeaseConfig{Inventory: inv, Store: st, Audit: e.Audit,
		Systems: map[string]provider.Provider{"shop-db": pg}}); err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Config{Broker: e.Broker, Leases: e.Leases, Audit: e.Audit,
		OnError: func(_ *http.Request, err error) { t.Logf("broker api: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	e.Server = httptest.NewServer(h)
	t.Cleanup(e.Server.Close)
	return e
}

// Token is a valid workload token for sub, audience rekey.
func (e *Env) Token(t testing.TB, sub string) string {
	t.Helper()
	return brokertest.Mint(t, e.Key, brokertest.Claims(e.Issuer.URL, sub, "rekey"), nil)
}

// Connect logs in as login out of band, as the workload would.
func (e *Env) Connect(ctx context.Context, login, password string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, e.Cluster.URL(login, password, "postgres"))
}

// Active is the env's active leases.
func (e *Env) Active(t testing.TB) []store.BrokerLease {
	t.Helper()
	ls, err := e.Leases.List(context.Background(), store.BrokerLeaseFilter{States: []string{store.BrokerActive}})
	if err != nil {
		t.Fatal(err)
	}
	return ls
}
