package postgres

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.PostgresMain(m)) }

const testSystem = "test-pg"

// harness backs the shared suite with the package's cluster: fixtures are
// made as the cluster's superuser, sessions with pgx, login records read
// from the server's csv log.
type harness struct{ c *testutil.PGCluster }

var (
	_ providertest.Harness       = harness{}
	_ providertest.RotateHarness = harness{}
	_ providertest.LeftBehind    = harness{}
	_ providertest.LimitedAdmin  = harness{}
)

func TestInspectSuite(t *testing.T) {
	providertest.RunInspect(t, harness{testutil.SharedPostgres(t)})
}

func TestRotateSuite(t *testing.T) {
	providertest.RunRotate(t, harness{testutil.SharedPostgres(t)})
}

func (harness) System() string                     { return testSystem }
func (harness) Factory() provider.Factory          { return New }
func (harness) Unsupported() []string              { return []string{providertest.FeatureDualCredential} }
func (h harness) Admin(*testing.T) provider.Config { return adminConfig(h.c) }

func adminConfig(c *testutil.PGCluster) provider.Config {
	return provider.Config{System: testSystem, Admin: secret.FromString(c.AdminURL())}
}

func (h harness) CreateIdentity(t *testing.T, name, password string, risky bool) {
	attrs := ""
	if risky {
		attrs = "CREATEROLE"
	}
	h.c.CreateRole(t, name, password, attrs)
	// Concurrent changes to one table's ACL fail ("tuple concurrently
	// updated"): grants and revokes on it take turns.
	grant := func(sql string) {
		suiteTableMu.Lock()
		defer suiteTableMu.Unlock()
		h.c.Exec(t, sql)
	}
	grant("GRANT SELECT ON " + suiteTable(t, h.c) + " TO " + testutil.QuoteIdent(name))
	t.Cleanup(func() { grant("REVOKE SELECT ON " + suiteTable(t, h.c) + " FROM " + testutil.QuoteIdent(name)) })
}

// suiteTable is the table every identity CreateIdentity makes may read, so
// that CanUse proves privileges and not only a login.
func suiteTable(t *testing.T, c *testutil.PGCluster) string {
	suiteTableOnce.Do(func() {
		c.Exec(t, "CREATE TABLE IF NOT EXISTS public.rekey_suite (n int); INSERT INTO public.rekey_suite VALUES (1)")
	})
	return "public.rekey_suite"
}

var (
	suiteTableOnce sync.Once
	suiteTableMu   sync.Mutex
)

// CanUse logs in as name and reads the suite's table.
func (h harness) CanUse(t *testing.T, name, password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, h.c.URL(name, password, "postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var n int
	return conn.QueryRow(ctx, "SELECT count(*) FROM "+suiteTable(t, h.c)).Scan(&n)
}

func (h harness) Exists(t *testing.T, name string) bool {
	var ok bool
	h.query(t, &ok, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name)
	return ok
}

func (h harness) SessionCount(t *testing.T, name string) int {
	var n int
	h.query(t, &n, "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'", name)
	return n
}

// Risky reports the CREATEROLE attribute of the role itself.
func (h harness) Risky(t *testing.T, name string) bool {
	var ok bool
	h.query(t, &ok, "SELECT coalesce((SELECT rolcreaterole FROM pg_roles WHERE rolname = $1), false)", name)
	return ok
}

func (h harness) query(t *testing.T, dst any, sql string, args ...any) {
	t.Helper()
	if err := h.c.Pool(t).QueryRow(context.Background(), sql, args...).Scan(dst); err != nil {
		t.Fatalf("postgres: %s: %v", sql, err)
	}
}

func (h harness) OpenSession(t *testing.T, name, password, app string) providertest.Conn {
	conn := h.c.Connect(t, name, password, app)
	return providertest.Conn{
		Local: conn.PgConn().Conn().LocalAddr().String(),
		ID:    strconv.FormatUint(uint64(conn.PgConn().PID()), 10),
	}
}

func (h harness) AuthRecords(t *testing.T, name string) (int, bool) {
	n := 0
	for _, r := range h.c.LogRecords(t) {
		if r.User == name {
			n++
		}
	}
	return n, true
}

func (h harness) Unreachable(t *testing.T) providertest.BadAdmin {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pw := "unreach-" + testutil.RandomName("pw")
	url := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", pw, port)
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: secret.FromString(url)}, Password: pw}
}

func (h harness) WrongAdmin(*testing.T) providertest.BadAdmin {
	pw := "wrong-" + testutil.RandomName("pw")
	return providertest.BadAdmin{
		Config:   provider.Config{System: testSystem, Admin: secret.FromString(h.c.URL("postgres", pw, "postgres"))},
		Password: pw,
	}
}

// LeaveBehind uses the identity's CREATEROLE to create a role and grant it
// a predefined role: pg_auth_members records the identity as grantor.
func (h harness) LeaveBehind(t *testing.T, name, password string) (string, string) {
	backdoor := name + "_bd"
	t.Cleanup(func() { h.c.DropRole(t, backdoor) })
	conn := h.c.Connect(t, name, password, "")
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE ROLE "+backdoor+" LOGIN PASSWORD 'backdoor-pw'"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "GRANT pg_read_all_data TO "+backdoor); err != nil {
		t.Fatal(err)
	}
	return RelatedGrantedRole, backdoor
}

func (h harness) LimitedAdmin(t *testing.T) (providertest.BadAdmin, string) {
	name, pw := testutil.RandomName("rklim"), testutil.RandomName("pw")
	h.c.CreateRole(t, name, pw, "CREATEROLE")
	return providertest.BadAdmin{
		Config:   provider.Config{System: testSystem, Admin: secret.FromString(h.c.URL(name, pw, "postgres"))},
		Password: pw,
	}, "SUPERUSER"
}
