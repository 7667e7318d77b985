package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/broker/identity"
	"github.com/rekeyhq/rekey/internal/broker/leasetest"
)

// leases revoke ends one lease, or every lease of a workload, with their
// sessions, audited with who asked; another workload's leases go on.
func TestLeasesRevoke(t *testing.T) {
	e := leasetest.New(t, "")
	ctx := context.Background()
	issue := func(sub string) (*broker.Lease, *pgx.Conn) {
		t.Helper()
		d, err := e.Broker.Authorize(ctx, &identity.Workload{IssuerName: "k8s", Issuer: e.Issuer.URL, Subject: sub}, "rw", 0, "127.0.0.1")
		if err != nil || !d.Allowed {
			t.Fatalf("decision: %v %+v", err, d)
		}
		l, err := e.Leases.Issue(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := e.Connect(ctx, l.Login, string(l.Secret.Reveal()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return l, conn
	}
	alive := func(c *pgx.Conn) bool {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return c.Ping(cctx) == nil
	}
	_, a1 := issue(leasetest.Subject)
	_, a2 := issue(leasetest.Subject)
	b, bc := issue("system:serviceaccount:orders:worker")
	env := map[string]string{"REKEY_HOME": e.Dir, "SHOP_DB_ADMIN_DSN": e.Cluster.AdminURL(), "REKEY_ACTOR": "carol"}

	for _, args := range [][]string{{}, {"x", "--role", "rw"}, {"--role", "rw"}} {
		if r := run(t, env, "", append([]string{"leases", "revoke"}, args...)...); r.code != 2 {
			t.Errorf("leases revoke %v: %d %s", args, r.code, r.stderr)
		}
	}
	holder := e.Issuer.URL + ":" + leasetest.Subject
	r := run(t, env, "", "leases", "revoke", "--holder", holder, "--inventory", e.InventoryPath)
	if r.code != 0 || !strings.Contains(r.stdout, "2 lease(s) revoked") {
		t.Fatalf("--holder: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if alive(a1) || alive(a2) {
		t.Fatal("a revoked lease's session survived")
	}
	if !alive(bc) || len(e.Active(t)) != 1 {
		t.Fatal("another workload's lease was ended")
	}
	if r = run(t, env, "", "leases", "revoke", b.ID, "--inventory", e.InventoryPath); r.code != 0 {
		t.Fatalf("by id: %d %s", r.code, r.stderr)
	}
	if alive(bc) || len(e.Active(t)) != 0 {
		t.Fatal("the lease revoked by id lives on")
	}
	if r = run(t, env, "", "leases", "revoke", "--role", "rw", "--inventory", e.InventoryPath); r.code != 0 || !strings.Contains(r.stdout, "0 lease(s)") {
		t.Fatalf("nothing left: %d %s %s", r.code, r.stdout, r.stderr)
	}
	all, _ := e.Store.AuditLog(ctx)
	n := 0
	for _, en := range all {
		if en.Action == broker.ActionRevoke && strings.Contains(string(en.Detail), `"by":"carol"`) {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d revocations audited as carol's, want 3", n)
	}
	// Once the store holds tokens, ending leases takes an admin's.
	viewer := createToken(t, env, "--name", "viewer-1", "--role", "viewer")
	admin := createToken(t, env, "--name", "admin-1", "--role", "admin")
	if r = run(t, env, "", "leases", "revoke", "--role", "rw", "--inventory", e.InventoryPath); r.code != 2 || !strings.Contains(r.stderr, "needs yours") {
		t.Fatalf("no token: %d %s", r.code, r.stderr)
	}
	if r = run(t, env, "", "leases", "revoke", "--role", "rw", "--inventory", e.InventoryPath, "--token-file", tokenFile(t, viewer.Token)); r.code != 2 || !strings.Contains(r.stderr, "cannot manage") {
		t.Fatalf("a viewer's token: %d %s", r.code, r.stderr)
	}
	if r = run(t, env, "", "leases", "revoke", "--role", "rw", "--inventory", e.InventoryPath, "--token-file", tokenFile(t, admin.Token)); r.code != 0 {
		t.Fatalf("an admin's token: %d %s", r.code, r.stderr)
	}
	if r = run(t, env, "", "audit", "verify"); r.code != 0 {
		t.Fatalf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
