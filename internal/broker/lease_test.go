package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/broker/brokertest"
	"github.com/rekeyhq/rekey/internal/broker/identity"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/postgres"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.PostgresMain(m)) }

const leaseInventory = `version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: %[2]s, system: shop-db }
  - { name: %[3]s, system: shop-db, keep: [createrole] }
  - { name: %[4]s, system: shop-db }
broker:
  issuers:
    - { name: k8s, issuer: "%[1]s", audience: rekey }
  roles:
    - { name: rw, system: shop-db, like: %[2]s, ttl: 15m, max_ttl: 1h, subjects: ["system:serviceaccount:orders:*"] }
    - { name: short, system: shop-db, like: %[2]s, ttl: 2s, max_ttl: 4s, subjects: ["system:serviceaccount:orders:*"] }
    - { name: kept, system: shop-db, like: %[3]s, ttl: 15m, subjects: ["system:serviceaccount:orders:*"] }
    - { name: risky, system: shop-db, like: %[4]s, ttl: 15m, subjects: ["system:serviceaccount:orders:*"] }
`

// env is a lease service on the package's password-auth cluster: three
// template roles (a plain one that may read one table, one whose
// CREATEROLE the inventory keeps, one whose CREATEROLE it does not), a
// SQLite store with an audit log, and a broker deciding with the default
// policy.
type env struct {
	c                     *testutil.PGCluster
	broker                *Broker
	issuer                *brokertest.Issuer
	key                   brokertest.Key
	inv                   *inventory.Inventory
	st                    store.Store
	log                   *audit.Log
	pg                    provider.Provider
	leases                *Leases
	tmpl, kept, risky     string
	allowed, forbidden    string // tables the template may and may not read
	storePath, auditFiles string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	c := testutil.SharedPostgres(t)
	e := &env{c: c, tmpl: testutil.RandomName("lt_t"), kept: testutil.RandomName("lt_k"), risky: testutil.RandomName("lt_r"),
		allowed: testutil.RandomName("lt_ok"), forbidden: testutil.RandomName("lt_no")}
	c.CreateRole(t, e.tmpl, "unused-password", "NOLOGIN")
	c.CreateRole(t, e.kept, "unused-password", "NOLOGIN CREATEROLE")
	c.CreateRole(t, e.risky, "unused-password", "NOLOGIN CREATEROLE")
	c.Exec(t, fmt.Sprintf("CREATE TABLE %s (n int); INSERT INTO %[1]s VALUES (1); GRANT SELECT ON %[1]s TO %s; CREATE TABLE %s (n int)",
		e.allowed, e.tmpl, e.forbidden))
	t.Cleanup(func() { c.Exec(t, "DROP TABLE IF EXISTS "+e.allowed+", "+e.forbidden) })
	// Leases left by a failing test are dropped before their templates.
	t.Cleanup(func() { dropLeasesOf(t, c, e.tmpl, e.kept, e.risky) })

	e.key = brokertest.ECKey(t, "k1")
	e.issuer = brokertest.NewIssuer(t, e.key)
	dir := t.TempDir()
	p := filepath.Join(dir, "inventory.yml")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(leaseInventory, e.issuer.URL, e.tmpl, e.kept, e.risky)), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, rep, err := inventory.Load(p, inventory.Options{SkipLocal: true})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	e.inv = inv
	ctx := context.Background()
	if e.broker, err = New(ctx, Config{Inventory: inv}); err != nil {
		t.Fatal(err)
	}
	pg, err := postgres.New(ctx, provider.Config{System: "shop-db", Admin: secret.FromString(c.AdminURL())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	e.pg = pg
	e.storePath, e.auditFiles = filepath.Join(dir, "rekey.db"), dir
	e.st, e.log = openStore(t, e.storePath, dir)
	e.leases = e.newLeases(t, e.st, e.log)
	return e
}

func openStore(t testing.TB, path, dir string) (store.Store, *audit.Log) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, audit.New(st, filepath.Join(dir, "witness")).WithKey(filepath.Join(dir, audit.KeyFile), true)
}

func (e *env) newLeases(t testing.TB, st store.Store, log *audit.Log) *Leases {
	t.Helper()
	l, err := NewLeases(LeaseConfig{Inventory: e.inv, Store: st, Audit: log, Systems: map[string]provider.Provider{"shop-db": e.pg}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// decide is the broker's decision for workload sub asking for role.
func (e *env) decide(t testing.TB, sub, role string, ttl time.Duration) *Decision {
	t.Helper()
	d, err := e.broker.Authorize(context.Background(), &identity.Workload{IssuerName: "k8s", Issuer: e.issuer.URL, Subject: sub}, role, ttl, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allowed {
		t.Fatalf("decision refused: %v", d.Reasons)
	}
	return d
}

func (e *env) issue(t testing.TB, sub, role string, ttl time.Duration) *Lease {
	t.Helper()
	l, err := e.leases.Issue(context.Background(), e.decide(t, sub, role, ttl))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// connect logs in with the lease out of band, as its workload would.
func (e *env) connect(t testing.TB, l *Lease) (*pgx.Conn, error) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), e.c.URL(l.Login, string(l.Secret.Reveal()), "postgres"))
	if err == nil {
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
	}
	return conn, err
}

// allRevoked checks that every lease matching f is revoked and its login
// gone, and returns them.
func (e *env) allRevoked(t testing.TB, f store.BrokerLeaseFilter) []store.BrokerLease {
	t.Helper()
	recs, err := e.leases.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.State != store.BrokerRevoked || roleExists(t, e.c, r.Login) {
			t.Errorf("lease %s: state %s, login exists %v", r.ID, r.State, roleExists(t, e.c, r.Login))
		}
	}
	return recs
}

func roleExists(t testing.TB, c *testutil.PGCluster, name string) bool {
	t.Helper()
	var ok bool
	if err := c.Pool(t).QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// dropLeasesOf drops every member of the templates (the leases a failed
// test left).
func dropLeasesOf(t testing.TB, c *testutil.PGCluster, templates ...string) {
	t.Helper()
	c.DropMembersOf(t, templates...)
}

// alive reports whether conn's session still answers.
func alive(conn *pgx.Conn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return conn.Ping(ctx) == nil
}

func TestLeaseIssueAndUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d, err := e.broker.Decide(ctx, Request{Token: secret.FromString(brokertest.Mint(t, e.key,
		brokertest.Claims(e.issuer.URL, "system:serviceaccount:orders:api", "rekey"), nil)), Role: "rw"})
	if err != nil || !d.Allowed {
		t.Fatalf("decide: %v %+v", err, d)
	}
	l, err := e.leases.Issue(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.Login, e.tmpl+"_l") || l.Holder != e.issuer.URL+":system:serviceaccount:orders:api" || !l.Renewable {
		t.Fatalf("lease: %+v", l)
	}
	if got := time.Until(l.ExpiresAt); got < 14*time.Minute || got > 15*time.Minute {
		t.Errorf("expires in %v, want the role's 15m", got)
	}
	conn, err := e.connect(t, l)
	if err != nil {
		t.Fatalf("log in with the lease: %v", err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT n FROM "+e.allowed).Scan(&n); err != nil || n != 1 {
		t.Errorf("read what the template may read: %v %d", err, n)
	}
	if _, err := conn.Exec(ctx, "SELECT n FROM "+e.forbidden); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("read what the template may not: %v, want permission denied", err)
	}
	if _, err := conn.Exec(ctx, "CREATE ROLE "+testutil.RandomName("lt_x")); err == nil {
		t.Errorf("a lease created a role")
	}
	// VALID UNTIL is the lease's expiry, enforced by the server itself.
	var until time.Time
	if err := e.c.Pool(t).QueryRow(ctx, "SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", l.Login).Scan(&until); err != nil {
		t.Fatal(err)
	}
	if d := until.Sub(l.ExpiresAt); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("VALID UNTIL %v, lease expires %v", until, l.ExpiresAt)
	}
	// The lease's password is generated: its verifier has one iteration,
	// so that CREATE ROLE's own PBKDF2 check costs nothing (the provider's
	// Issue says why that is safe).
	var stored string
	if err := e.c.Pool(t).QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", l.Login).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "SCRAM-SHA-256$1:") {
		t.Errorf("verifier %.20s…, want one of 1 iteration", stored)
	}

	// The store and the audit log hold the lease, never its secret.
	pw := string(l.Secret.Reveal())
	recs, err := e.leases.List(ctx, store.BrokerLeaseFilter{ID: l.ID})
	if err != nil || len(recs) != 1 || recs[0].State != store.BrokerActive || recs[0].Login != l.Login {
		t.Fatalf("stored: %v %+v", err, recs)
	}
	entries, err := e.st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var issued bool
	for _, en := range entries {
		if strings.Contains(string(en.Detail), pw) {
			t.Errorf("audit entry %d holds the lease's secret", en.Seq)
		}
		issued = issued || en.Action == ActionIssue && en.Actor == l.Holder && strings.Contains(string(en.Detail), l.Login)
	}
	if !issued {
		t.Errorf("no %s entry by %s: %+v", ActionIssue, l.Holder, entries)
	}
	raw, err := os.ReadFile(e.storePath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), pw) {
		t.Error("the store file holds the lease's secret")
	}

	if err := e.leases.Revoke(ctx, l.ID, "someone:else", "someone:else"); errs.KindOf(err) != errs.NotFound {
		t.Errorf("another workload revoking the lease: %v, want NotFound", err)
	}
	if err := e.leases.Revoke(ctx, l.ID, l.Holder, l.Holder); err != nil {
		t.Fatal(err)
	}
	if alive(conn) {
		t.Error("the lease's session survived its revocation")
	}
	if roleExists(t, e.c, l.Login) {
		t.Error("the revoked lease's login still exists")
	}
	if err := e.leases.Revoke(ctx, l.ID, l.Holder, l.Holder); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	if _, err := e.connect(t, l); err == nil {
		t.Error("logged in with a revoked lease")
	}
}

func TestLeaseTemplateWithDangerousPrivilege(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.leases.Issue(ctx, e.decide(t, "system:serviceaccount:orders:api", "risky", 0))
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "CREATEROLE") || !strings.Contains(err.Error(), "static consumers") {
		t.Fatalf("a lease of a template with CREATEROLE not kept: %v, want Invalid naming it and its consumers", err)
	}
	var createrole bool
	if err := e.c.Pool(t).QueryRow(ctx, "SELECT rolcreaterole FROM pg_roles WHERE rolname = $1", e.risky).Scan(&createrole); err != nil || !createrole {
		t.Errorf("the template was changed: createrole=%v %v", createrole, err)
	}
	if recs, _ := e.leases.List(ctx, store.BrokerLeaseFilter{Role: "risky"}); len(recs) != 0 {
		t.Errorf("a refused issue left leases: %+v", recs)
	}
	// Kept by the inventory: the lease is issued.
	l := e.issue(t, "system:serviceaccount:orders:api", "kept", 0)
	if _, err := e.connect(t, l); err != nil {
		t.Fatal(err)
	}
	// A refusal is not remembered: once the template is isolated, a lease
	// of it is issued at once.
	e.c.Exec(t, "ALTER ROLE "+e.risky+" NOCREATEROLE")
	e.issue(t, "system:serviceaccount:orders:api", "risky", 0)
}

func TestLeaseRenew(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l := e.issue(t, "system:serviceaccount:orders:api", "short", 0)
	if _, err := e.leases.Renew(ctx, l.ID, "other:holder", time.Second); errs.KindOf(err) != errs.NotFound {
		t.Errorf("renewal by another workload: %v, want NotFound", err)
	}
	until, err := e.leases.Renew(ctx, l.ID, l.Holder, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !until.Equal(l.MaxExpiresAt) {
		t.Errorf("renewed to %v, want max_expires_at %v", until, l.MaxExpiresAt)
	}
	var valid time.Time
	if err := e.c.Pool(t).QueryRow(ctx, "SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", l.Login).Scan(&valid); err != nil {
		t.Fatal(err)
	}
	if d := valid.Sub(until); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("VALID UNTIL %v after renewal to %v", valid, until)
	}
	if _, err := e.leases.Renew(ctx, l.ID, l.Holder, time.Hour); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "max_ttl") {
		t.Errorf("renewal beyond max_ttl: %v, want Invalid", err)
	}
	if err := e.leases.Revoke(ctx, l.ID, "", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.leases.Renew(ctx, l.ID, l.Holder, time.Second); errs.KindOf(err) != errs.NotFound {
		t.Errorf("renewing a revoked lease: %v, want NotFound", err)
	}
}

func TestLeaseRevokeHolderRoleIdentity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a1 := e.issue(t, "system:serviceaccount:orders:a", "rw", 0)
	a2 := e.issue(t, "system:serviceaccount:orders:a", "rw", 0)
	b := e.issue(t, "system:serviceaccount:orders:b", "rw", 0)
	k := e.issue(t, "system:serviceaccount:orders:b", "kept", 0)
	conns := map[string]*pgx.Conn{}
	for _, l := range []*Lease{a1, a2, b, k} {
		c, err := e.connect(t, l)
		if err != nil {
			t.Fatal(err)
		}
		conns[l.ID] = c
	}
	n, err := e.leases.RevokeHolder(ctx, a1.Holder, "admin")
	if err != nil || n != 2 {
		t.Fatalf("RevokeHolder: %d %v, want 2", n, err)
	}
	if alive(conns[a1.ID]) || alive(conns[a2.ID]) {
		t.Error("a session of the holder's leases survived")
	}
	if !alive(conns[b.ID]) || !alive(conns[k.ID]) {
		t.Error("another holder's session ended")
	}
	if n, err := e.leases.RevokeHolder(ctx, a1.Holder, "admin"); err != nil || n != 0 {
		t.Errorf("again: %d %v, want 0", n, err)
	}
	if n, err := e.leases.RevokeIdentity(ctx, provider.IdentityRef{System: "shop-db", Name: e.tmpl}, "incident"); err != nil || n != 1 {
		t.Errorf("RevokeIdentity: %d %v, want 1", n, err)
	}
	if alive(conns[b.ID]) || !alive(conns[k.ID]) {
		t.Error("RevokeIdentity ended the wrong sessions")
	}
	if n, err := e.leases.RevokeRole(ctx, "kept", "admin"); err != nil || n != 1 {
		t.Errorf("RevokeRole: %d %v, want 1", n, err)
	}
	if alive(conns[k.ID]) {
		t.Error("RevokeRole left the session")
	}
	e.allRevoked(t, store.BrokerLeaseFilter{})
	entries, _ := e.st.AuditLog(ctx)
	var revokes int
	for _, en := range entries {
		if en.Action == ActionRevoke {
			var d detail
			_ = json.Unmarshal(en.Detail, &d)
			if !strings.HasPrefix(en.Actor, e.issuer.URL+":") || d.By == "" {
				t.Errorf("revoke entry: actor %q by %q", en.Actor, d.By)
			}
			revokes++
		}
	}
	if revokes != 4 {
		t.Errorf("%d revoke entries, want 4", revokes)
	}
}

// TestReaperEndsExpiredSession: a 2 s lease with an open session is
// reaped, its session ended, by a reaper loop; a second reaper over the
// same store (a restarted process) reaps what the first one's process
// issued.
func TestReaperEndsExpiredSession(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := e.issue(t, "system:serviceaccount:orders:api", "short", 0)
	conn, err := e.connect(t, l)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reaped []Reaped
	r := &Reaper{Leases: e.leases, Interval: 200 * time.Millisecond, OnError: func(err error) { t.Log(err) },
		OnReap: func(x Reaped) { mu.Lock(); reaped = append(reaped, x); mu.Unlock() }}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, "the reaper to end the expired lease's session", func() bool { return !alive(conn) })
	waitFor(t, "the lease to be marked reaped", func() bool {
		recs, _ := e.leases.List(ctx, store.BrokerLeaseFilter{ID: l.ID})
		return len(recs) == 1 && recs[0].State == store.BrokerReaped
	})
	if roleExists(t, e.c, l.Login) {
		t.Error("the reaped lease's login exists")
	}
	// The pass that reaped it reports it once its audit entry is in: a
	// cancel before then would end the pass first.
	waitFor(t, "the reaper to report the lease", func() bool { mu.Lock(); defer mu.Unlock(); return len(reaped) > 0 })
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	mu.Lock()
	if len(reaped) != 1 || reaped[0].Lease.ID != l.ID || reaped[0].Lag < 0 {
		t.Errorf("reaped: %+v", reaped)
	}
	mu.Unlock()

	// Restart: a lease issued by a process that is gone (its service and
	// store handle closed), reaped by a new one.
	old := e.issue(t, "system:serviceaccount:orders:api", "short", 0)
	conn2, err := e.connect(t, old)
	if err != nil {
		t.Fatal(err)
	}
	st2, log2 := openStore(t, e.storePath, e.auditFiles)
	next := e.newLeases(t, st2, log2)
	waitFor(t, "a new reaper to reap the earlier process's lease", func() bool {
		if _, err := next.Reap(context.Background()); err != nil {
			t.Log(err)
		}
		return !alive(conn2) && !roleExists(t, e.c, old.Login)
	})
}

// TestReaperEndsHalfIssuedLease: a process that died between recording a
// lease and activating it leaves an issuing row; the reaper drops the
// login at its expiry.
func TestReaperEndsHalfIssuedLease(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l := e.issue(t, "system:serviceaccount:orders:api", "short", 0)
	// Put the row back to issuing, as if the process died before the update.
	db := e.st.(store.Raw).DB()
	if _, err := db.ExecContext(ctx, "UPDATE broker_leases SET state = 'issuing' WHERE id = $1", l.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the half-issued lease to be reaped", func() bool {
		if _, err := e.leases.Reap(ctx); err != nil {
			t.Log(err)
		}
		return !roleExists(t, e.c, l.Login)
	})
	recs, _ := e.leases.List(ctx, store.BrokerLeaseFilter{ID: l.ID})
	if len(recs) != 1 || recs[0].State != store.BrokerReaped {
		t.Errorf("after reaping: %+v", recs)
	}
}

func TestLeaseConcurrentIssues(t *testing.T) {
	e := newEnv(t)
	const n = 20
	var wg sync.WaitGroup
	leases := make([]*Lease, n)
	errList := make([]error, n)
	for i := range n {
		d := e.decide(t, fmt.Sprintf("system:serviceaccount:orders:w%d", i), "rw", 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			leases[i], errList[i] = e.leases.Issue(context.Background(), d)
		}()
	}
	wg.Wait()
	logins := map[string]bool{}
	for i, l := range leases {
		if errList[i] != nil {
			t.Fatalf("issue %d: %v", i, errList[i])
		}
		if logins[l.Login] {
			t.Errorf("login %s issued twice", l.Login)
		}
		logins[l.Login] = true
	}
	for _, l := range leases[:3] {
		if _, err := e.connect(t, l); err != nil {
			t.Errorf("log in with %s: %v", l.Login, err)
		}
	}
	if _, err := e.leases.RevokeRole(context.Background(), "rw", "test"); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 60 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLeaseRevokeByToken: the workload's own token, checked by Verify,
// names the holder that may end its lease; a token of another audience
// proves nothing.
func TestLeaseRevokeByToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l := e.issue(t, "system:serviceaccount:orders:api", "rw", 0)
	w, err := e.broker.Verify(ctx, secret.FromString(brokertest.Mint(t, e.key,
		brokertest.Claims(e.issuer.URL, "system:serviceaccount:orders:api", "rekey"), nil)))
	if err != nil {
		t.Fatal(err)
	}
	holder := w.Issuer + ":" + w.Subject
	if err := e.leases.Revoke(ctx, l.ID, holder, holder); err != nil {
		t.Fatalf("revoke by its holder: %v", err)
	}
	_, err = e.broker.Verify(ctx, secret.FromString(brokertest.Mint(t, e.key,
		brokertest.Claims(e.issuer.URL, "system:serviceaccount:orders:api", "other"), nil)))
	var ref *identity.Refusal
	if !errors.As(err, &ref) {
		t.Errorf("a token for another audience: %v, want a Refusal", err)
	}
}

// inspectGate counts Inspect calls and holds the first until gate closes.
type inspectGate struct {
	provider.Provider
	calls   atomic.Int32
	entered chan struct{}
	gate    chan struct{}
}

func (e *env) inspectGate() *inspectGate {
	return &inspectGate{Provider: e.pg, entered: make(chan struct{}), gate: make(chan struct{})}
}

// checkAsync runs checkTemplate with g in a goroutine; its error arrives
// on the channel.
func (e *env) checkAsync(g *inspectGate, role *inventory.BrokerRole, from provider.IdentityRef) chan error {
	c := make(chan error, 1)
	go func() {
		_, err := e.leases.checkTemplate(context.Background(), "test", g, role, from)
		c <- err
	}()
	return c
}

func (g *inspectGate) Inspect(ctx context.Context, ref provider.IdentityRef) (*provider.Identity, error) {
	if g.calls.Add(1) == 1 {
		close(g.entered)
		<-g.gate
	}
	return g.Provider.Inspect(ctx, ref)
}

// Requests that find their template being checked wait for that check
// rather than each inspecting it again (twenty at once used to make twenty
// inspections, most of the pool's connections).
func TestLeaseTemplateCheckedOnceAtATime(t *testing.T) {
	e := newEnv(t)
	e.leases.checkFor = time.Hour
	g := e.inspectGate()
	role := e.inv.Broker.RoleByName("rw")
	from := provider.IdentityRef{System: "shop-db", Name: e.tmpl}
	const n = 20
	var started, done sync.WaitGroup
	errList := make([]error, n)
	for i := range n {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			_, errList[i] = e.leases.checkTemplate(context.Background(), "test", g, role, from)
		}()
	}
	<-g.entered
	started.Wait()
	// Give a second inspection the chance to start (it is what fails);
	// nothing here depends on how long anything takes.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && g.calls.Load() == 1; {
		time.Sleep(10 * time.Millisecond)
	}
	close(g.gate)
	done.Wait()
	for i, err := range errList {
		if err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
	}
	if c := g.calls.Load(); c != 1 {
		t.Fatalf("%d inspections for %d concurrent checks, want 1", c, n)
	}
}

// endsInFlight is a system whose Revoke, the first step of ending a
// lease, waits until want calls are in flight at once (or 10 s
// passes): it shows whether leases are ended one after the other.
type endsInFlight struct {
	provider.Provider
	provider.Rotator
	provider.SessionTerminator
	want     int64
	inFlight atomic.Int64
	most     atomic.Int64
}

func (p *endsInFlight) Revoke(ctx context.Context, id provider.IdentityRef) error {
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for {
		if most := p.most.Load(); n <= most || p.most.CompareAndSwap(most, n) {
			break
		}
	}
	for deadline := time.Now().Add(10 * time.Second); p.most.Load() < p.want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return p.Rotator.Revoke(ctx, id)
}

// A role's leases, and a reaper's pass, are ended several at a time, so
// that their rows and audit entries are committed in groups; each is
// still ended and recorded.
func TestLeaseEndsSeveralAtOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 6 {
		e.issue(t, fmt.Sprintf("system:serviceaccount:orders:w%d", i), "rw", 0)
	}
	sys := &endsInFlight{Provider: e.pg, Rotator: e.pg.(provider.Rotator), SessionTerminator: e.pg.(provider.SessionTerminator), want: 3}
	leases, err := NewLeases(LeaseConfig{Inventory: e.inv, Store: e.st, Audit: e.log, Systems: map[string]provider.Provider{"shop-db": sys}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := leases.RevokeRole(ctx, "rw", "admin"); err != nil || n != 6 {
		t.Fatalf("RevokeRole: %d %v, want 6", n, err)
	}
	if most := sys.most.Load(); most < sys.want {
		t.Errorf("at most %d leases were being ended at once, want %d or more", most, sys.want)
	}
	recs := e.allRevoked(t, store.BrokerLeaseFilter{Role: "rw"})
	entries, err := e.st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	revoked := map[string]bool{}
	for _, en := range entries {
		var d detail
		if en.Action == ActionRevoke && json.Unmarshal(en.Detail, &d) == nil {
			revoked[d.ID] = true
		}
	}
	if len(recs) != 6 || len(revoked) != 6 {
		t.Errorf("%d leases, %d revocations in the audit log, want 6 of each", len(recs), len(revoked))
	}

	// The reaper's pass: three leases of 2 s, past their expiry.
	var last *Lease
	for i := range 3 {
		last = e.issue(t, fmt.Sprintf("system:serviceaccount:orders:s%d", i), "short", 0)
	}
	time.Sleep(time.Until(last.ExpiresAt) + 10*time.Millisecond)
	sys.most.Store(0)
	reaped, err := leases.Reap(ctx)
	if err != nil || len(reaped) != 3 {
		t.Fatalf("Reap: %d %v, want 3", len(reaped), err)
	}
	if most := sys.most.Load(); most < sys.want {
		t.Errorf("the reaper ended at most %d leases at once, want %d or more", most, sys.want)
	}
	if r, err := e.log.Verify(ctx); err != nil || !r.OK() {
		t.Errorf("audit log after the revocations: %v %+v", err, r.Breaks)
	}
}

// A lease whose issue cannot be audited is not handed out: its login is
// ended and its row is not left active.
func TestLeaseIssueUnaudited(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first := e.issue(t, "system:serviceaccount:orders:a", "rw", 0)
	// A witness naming an entry the log does not hold: Append refuses.
	entries, err := e.st.AuditLog(ctx)
	if err != nil || len(entries) == 0 {
		t.Fatalf("audit log: %v %d entries", err, len(entries))
	}
	seq := entries[len(entries)-1].Seq
	if err := os.WriteFile(filepath.Join(e.auditFiles, "witness"), fmt.Appendf(nil, "%d %s\n", seq, strings.Repeat("0", 64)), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := e.leases.Issue(ctx, e.decide(t, "system:serviceaccount:orders:b", "rw", 0))
	if err == nil {
		t.Fatalf("issued %s with an audit log that refuses appends", l.Login)
	}
	recs, err := e.leases.List(ctx, store.BrokerLeaseFilter{Role: "rw"})
	if err != nil || len(recs) != 2 {
		t.Fatalf("leases: %v %d, want 2", err, len(recs))
	}
	for _, r := range recs {
		if r.ID == first.ID {
			continue
		}
		if r.State == store.BrokerActive || roleExists(t, e.c, r.Login) {
			t.Errorf("unaudited lease %s: state %s, login exists %v", r.ID, r.State, roleExists(t, e.c, r.Login))
		}
	}
}

// dropThenCancel is a system that cancels a context once it has dropped
// a login: a reaper stopped in the middle of a pass.
type dropThenCancel struct {
	provider.Provider
	provider.Rotator
	provider.SessionTerminator
	cancel context.CancelFunc
}

func (p *dropThenCancel) Drop(ctx context.Context, id provider.IdentityRef) error {
	defer p.cancel()
	return p.Rotator.Drop(ctx, id)
}

// A lease ended by a pass that the reaper's context cut short is reported
// all the same.
func TestReaperReportsPassCutShort(t *testing.T) {
	e := newEnv(t)
	l := e.issue(t, "system:serviceaccount:orders:api", "short", 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sys := &dropThenCancel{Provider: e.pg, Rotator: e.pg.(provider.Rotator), SessionTerminator: e.pg.(provider.SessionTerminator), cancel: cancel}
	leases, err := NewLeases(LeaseConfig{Inventory: e.inv, Store: e.st, Audit: e.log, Systems: map[string]provider.Provider{"shop-db": sys}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(l.ExpiresAt) + 10*time.Millisecond)
	var reported []string
	r := &Reaper{Leases: leases, OnReap: func(x Reaped) { reported = append(reported, x.Lease.ID) }, OnError: func(err error) { t.Log(err) }}
	if err := r.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	recs, err := leases.List(context.Background(), store.BrokerLeaseFilter{ID: l.ID})
	if err != nil || len(recs) != 1 || recs[0].State != store.BrokerReaped {
		t.Fatalf("lease after the pass: %v %+v", err, recs)
	}
	if !slices.Equal(reported, []string{l.ID}) {
		t.Errorf("reported %v, want the lease reaped (%s)", reported, l.ID)
	}
}

// While a template that passed a moment ago is checked again, requests
// use that pass rather than wait; once a check fails, the pass is not
// used any more.
func TestLeaseTemplateRecheckDoesNotStall(t *testing.T) {
	e := newEnv(t)
	e.leases.checkFor = time.Minute
	g := e.inspectGate()
	// The risky template fails its check (PostgreSQL: CREATEROLE the
	// inventory does not keep); it passed one 61 s ago.
	role := e.inv.Broker.RoleByName("risky")
	from := provider.IdentityRef{System: "shop-db", Name: e.risky}
	e.leases.checked[from] = checked{ok: true, at: time.Now().Add(-61 * time.Second)}
	first := e.checkAsync(g, role, from)
	<-g.entered // the first request is checking, held at the gate
	second := e.checkAsync(g, role, from)
	select {
	case err := <-second:
		if err != nil {
			t.Errorf("a request during the re-check: %v, want the previous pass", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("a request during the re-check waited for it")
	}
	close(g.gate)
	if err := <-first; errs.KindOf(err) != errs.Invalid {
		t.Fatalf("the re-check: %v, want Invalid (the template holds CREATEROLE)", err)
	}
	// The next check, held at its gate: a request meanwhile waits for it
	// and gets its failure, not the pass from before the failed one.
	g2 := e.inspectGate()
	third := e.checkAsync(g2, role, from)
	<-g2.entered
	fourth := e.checkAsync(g2, role, from)
	// Give the fourth the chance to answer early (it is what fails);
	// nothing here depends on how long anything takes.
	select {
	case err := <-fourth:
		t.Errorf("a request after the failed re-check answered before the next check: %v", err)
		fourth <- err
	case <-time.After(time.Second):
	}
	close(g2.gate)
	for _, c := range []chan error{third, fourth} {
		if err := <-c; errs.KindOf(err) != errs.Invalid {
			t.Errorf("after the failed re-check: %v, want Invalid", err)
		}
	}
}

// rowCounter counts the lease rows written through the row group and
// through the audit log's transactions.
type rowCounter struct {
	store.Store
	grouped, withAudit atomic.Int64
}

func (s *rowCounter) WriteBrokerLeases(ctx context.Context, creates []store.BrokerLease, updates []store.BrokerLeaseUpdate) ([]bool, []bool, error) {
	s.grouped.Add(int64(len(creates) + len(updates)))
	return s.Store.WriteBrokerLeases(ctx, creates, updates)
}

func (s *rowCounter) AppendAuditsWithLeases(ctx context.Context, es []store.AuditEntry, sign func(store.AuditEntry) (string, string), updates []store.BrokerLeaseUpdate) ([]store.AuditEntry, []bool, error) {
	s.withAudit.Add(int64(len(updates)))
	return s.Store.(store.AuditedLeaseWriter).AppendAuditsWithLeases(ctx, es, sign, updates)
}

// Where the audit log writes to the leases' store, a lease's move to
// active is committed in its issue entry's transaction, not as a row of
// its own; with a log on another store it is a row of its own, as
// before. Either way the lease is active and its issue audited.
func TestLeaseActivatedWithItsAuditEntry(t *testing.T) {
	e := newEnv(t)
	for _, shared := range []bool{true, false} {
		rc := &rowCounter{Store: e.st}
		log := audit.New(e.st, filepath.Join(e.auditFiles, "witness")).WithKey(filepath.Join(e.auditFiles, audit.KeyFile), true)
		if shared {
			log = audit.New(rc, filepath.Join(e.auditFiles, "witness")).WithKey(filepath.Join(e.auditFiles, audit.KeyFile), true)
		}
		leases := e.newLeases(t, rc, log)
		l, err := leases.Issue(context.Background(), e.decide(t, "system:serviceaccount:orders:api", "rw", 0))
		if err != nil {
			t.Fatal(err)
		}
		// The write-ahead row goes through the row group either way.
		want := [2]int64{2, 0}
		if shared {
			want = [2]int64{1, 1}
		}
		if got := [2]int64{rc.grouped.Load(), rc.withAudit.Load()}; got != want {
			t.Errorf("audit log on the leases' store %v: %d rows grouped, %d with the audit entry; want %d and %d", shared, got[0], got[1], want[0], want[1])
		}
		recs, err := leases.List(context.Background(), store.BrokerLeaseFilter{ID: l.ID})
		if err != nil || len(recs) != 1 || recs[0].State != store.BrokerActive {
			t.Fatalf("lease %s: %+v %v", l.ID, recs, err)
		}
		entries, err := e.st.AuditLog(context.Background())
		if err != nil || len(entries) == 0 {
			t.Fatalf("audit log: %v", err)
		}
		last := entries[len(entries)-1]
		if last.Action != ActionIssue || !strings.Contains(string(last.Detail), l.ID) || !strings.Contains(string(last.Detail), `"active"`) {
			t.Errorf("last entry %s %s, want the issue of %s", last.Action, last.Detail, l.ID)
		}
	}
}
