package postgres

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"

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
	_ providertest.Harness      = harness{}
	_ providertest.LeftBehind   = harness{}
	_ providertest.LimitedAdmin = harness{}
)

func TestInspectSuite(t *testing.T) {
	providertest.RunInspect(t, harness{testutil.SharedPostgres(t)})
}

func (harness) System() string                     { return testSystem }
func (harness) Factory() provider.Factory          { return New }
func (harness) Unsupported() []string              { return nil }
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
