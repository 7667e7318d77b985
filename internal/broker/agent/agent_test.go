package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/broker"
	"github.com/rekeyhq/rekey/internal/broker/agent"
	"github.com/rekeyhq/rekey/internal/broker/leasetest"
	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/deliver/dsn"
	"github.com/rekeyhq/rekey/internal/deliver/file"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.PostgresMain(m)) }

// fixture is an agent's files: the token, a dotenv config holding a DSN,
// and a reload command that counts its runs.
type fixture struct {
	e                 *leasetest.Env
	jwt, env, reloads string
	delivered         chan agent.Lease
	cfg               agent.Config
	target            *file.Target
	cancel            context.CancelFunc
	done              chan error
	dir               string
	// rest is the config's lines but DATABASE_URL, host the DSN from its
	// "@" on: a delivery changes neither.
	rest, host string
}

// others is a dotenv file's lines but DATABASE_URL's.
func others(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "DATABASE_URL=") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// writeEnv writes the consumer's config.
func (f *fixture) writeEnv(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(f.env, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	f.rest = others(content)
	for _, line := range strings.Split(content, "\n") {
		if v, ok := strings.CutPrefix(line, "DATABASE_URL="); ok {
			f.host = v[strings.LastIndexByte(v, '@'):]
		}
	}
}

func newFixture(t *testing.T, role string) *fixture {
	t.Helper()
	e := leasetest.New(t, "")
	dir := t.TempDir()
	f := &fixture{e: e, dir: dir, jwt: filepath.Join(dir, "token"), env: filepath.Join(dir, ".env"), reloads: filepath.Join(dir, "reloads"),
		delivered: make(chan agent.Lease, 16)}
	f.writeToken(t, leasetest.Subject)
	f.writeEnv(t, "# orders\nDATABASE_URL=postgres://old_user:old_password@db.internal:5432/orders?sslmode=disable\nPORT=8080\n")
	tg, err := file.New(file.Config{Path: f.env, Format: "dotenv", Key: "DATABASE_URL"})
	if err != nil {
		t.Fatal(err)
	}
	f.target = tg
	f.cfg = agent.Config{Server: e.Server.URL, JWTFile: f.jwt, Role: role, Target: tg,
		Reload:     deliver.Command{Consumer: "orders", Line: "echo x >> " + f.reloads},
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
		OnDelivered: func(l agent.Lease) { f.delivered <- l }}
	return f
}

func (f *fixture) writeToken(t *testing.T, sub string) {
	t.Helper()
	tmp := f.jwt + ".tmp"
	if err := os.WriteFile(tmp, []byte(f.e.Token(t, sub)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.jwt); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) start(t *testing.T) {
	t.Helper()
	a, err := agent.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-f.done
	})
}

// next waits for the next delivery.
func (f *fixture) next(t *testing.T) agent.Lease {
	t.Helper()
	select {
	case l := <-f.delivered:
		return l
	case err := <-f.done:
		t.Fatalf("the agent stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no delivery within 60 s")
	}
	return agent.Lease{}
}

// works checks that the config file holds lease l and that it logs in.
func (f *fixture) works(t *testing.T, l agent.Lease) {
	t.Helper()
	st, err := f.target.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := dsn.Parse(string(st.Secret.Reveal()))
	if st.User != l.Login && c.User != l.Login {
		t.Fatalf("the config holds user %q/%q, want %s", st.User, c.User, l.Login)
	}
	pw := c.Password
	if pw == "" {
		pw = string(st.Secret.Reveal())
	}
	conn, err := f.e.Connect(context.Background(), l.Login, pw)
	if err != nil {
		t.Fatalf("the delivered lease does not log in: %v", err)
	}
	conn.Close(context.Background())
	b, _ := os.ReadFile(f.env)
	if got := others(string(b)); got != f.rest {
		t.Fatalf("the delivery changed more than DATABASE_URL: the other lines are %q, were %q", got, f.rest)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "DATABASE_URL="); ok && !strings.HasSuffix(v, f.host) {
			t.Fatalf("the delivery changed the DSN after its password (want it to end in %q)", f.host)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 60 s", what)
}

func (f *fixture) audited(t *testing.T, action string) int {
	t.Helper()
	all, err := f.e.Store.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range all {
		if en.Action == action {
			n++
		}
	}
	return n
}

// The agent delivers a working lease, renews it with the token as the
// file holds it at each request, replaces a lease the server ended, and
// gives its lease back when it stops.
func TestAgentLifecycle(t *testing.T) {
	f := newFixture(t, "brief") // ttl 3 s: a renewal every 2 s
	f.start(t)
	first := f.next(t)
	f.works(t, first)
	waitFor(t, "a renewal", func() bool { return f.audited(t, broker.ActionRenew) >= 1 })
	if act := f.e.Active(t); len(act) != 1 || act[0].ID != first.ID {
		t.Fatalf("active leases after a renewal: %+v", act)
	}

	// An administrator ends the lease: the agent's next renewal finds it
	// gone, and it delivers a new one.
	if err := f.e.Leases.Revoke(context.Background(), first.ID, "", "admin"); err != nil {
		t.Fatal(err)
	}
	second := f.next(t)
	if second.ID == first.ID || second.Login == first.Login {
		t.Fatalf("the same lease again: %+v", second)
	}
	f.works(t, second)

	// The platform rotates the token to another workload's: the agent
	// reads the file again, so the server sees the new workload, which
	// holds no lease, and it gets one of its own.
	other := "system:serviceaccount:orders:worker"
	f.writeToken(t, other)
	third := f.next(t)
	f.works(t, third)
	// The old workload's lease cannot be given back by the new one: it
	// ends at its expiry, as the server's reaper finds it.
	waitFor(t, "the old workload's lease reaped", func() bool {
		if _, err := f.e.Leases.Reap(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, l := range f.e.Active(t) {
			if l.ID == second.ID {
				return false
			}
		}
		return true
	})
	// Whatever else the loaded machine made happen (a renewal late past
	// its expiry is reaped too, and replaced), every lease now is the
	// new workload's, and each delivery was followed by a reload.
	for _, l := range f.e.Active(t) {
		if !strings.HasSuffix(l.Holder, ":"+other) {
			t.Fatalf("holder %s", l.Holder)
		}
	}
	b, _ := os.ReadFile(f.reloads)
	// (a reload runs before its delivery is reported: one more is fine)
	if n, d := strings.Count(string(b), "x"), 3+len(f.delivered); n < d || n > d+1 {
		t.Fatalf("reload ran %d times for %d deliveries", n, d)
	}

	f.cancel()
	if err := <-f.done; err != nil {
		t.Fatalf("stop: %v", err)
	}
	f.done <- nil // for the cleanup
	if act := f.e.Active(t); len(act) != 0 {
		t.Fatalf("the agent left its lease: %+v", act)
	}
	if _, err := f.e.Connect(context.Background(), third.Login, "x"); err == nil {
		t.Fatal("connect with a wrong password")
	}
}

// An agent that cannot start says why and changes nothing.
func TestAgentCannotStart(t *testing.T) {
	f := newFixture(t, "rw")
	before, _ := os.ReadFile(f.env)
	run := func(cfg agent.Config) error {
		a, err := agent.New(cfg)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return a.Run(ctx)
	}
	noFile := f.cfg
	noFile.JWTFile = filepath.Join(f.dir, "missing")
	if err := run(noFile); errs.KindOf(err) != errs.NotFound || !strings.Contains(err.Error(), "jwt-file") {
		t.Errorf("missing token file: %v", err)
	}
	f.e.State.Set("shop-db/"+f.e.Template, true)
	if err := run(f.cfg); err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "under-incident") {
		t.Errorf("refused by policy: %v", err)
	}
	f.e.State.Set("shop-db/"+f.e.Template, false)
	badServer := f.cfg
	badServer.Server = "ftp://example.org"
	if err := run(badServer); errs.KindOf(err) != errs.Invalid {
		t.Errorf("bad server URL: %v", err)
	}
	// A delivery that fails (the key is not in the file) gives the lease
	// back.
	tg, _ := file.New(file.Config{Path: f.env, Format: "dotenv", Key: "NO_SUCH_KEY"})
	noKey := f.cfg
	noKey.Target = tg
	if err := run(noKey); err == nil {
		t.Error("a delivery to a missing key started")
	}
	if after, _ := os.ReadFile(f.env); string(after) != string(before) {
		t.Fatal("a failed start changed the config")
	}
	if act := f.e.Active(t); len(act) != 0 {
		t.Fatalf("a failed start left a lease: %+v", act)
	}
}

// Two agents keep two consumers on leases while a reaper runs, as in a
// server: each consumer's delivered login works and holds a session; a
// lease left to expire is reaped with its session; revoking one workload's
// leases ends its session, not the other's, and its agent recovers with a
// new lease at its next renewal; while the template is under incident, a
// new agent cannot start.
func TestTwoAgentsWithReaper(t *testing.T) {
	e := leasetest.New(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reaper := &broker.Reaper{Leases: e.Leases, Interval: 200 * time.Millisecond, OnError: func(err error) { t.Log(err) }}
	go func() { _ = reaper.Run(ctx) }()

	type consumer struct {
		f    *fixture
		sub  string
		conn interface{ Ping(context.Context) error }
	}
	var cs []*consumer
	for _, sub := range []string{leasetest.Subject, "system:serviceaccount:orders:worker"} {
		dir := t.TempDir()
		f := &fixture{e: e, dir: dir, jwt: filepath.Join(dir, "token"), env: filepath.Join(dir, ".env"), reloads: filepath.Join(dir, "reloads"),
			delivered: make(chan agent.Lease, 16)}
		f.writeToken(t, sub)
		f.writeEnv(t, "DATABASE_URL=postgres://old:old@127.0.0.1:5432/postgres\n")
		f.target, _ = file.New(file.Config{Path: f.env, Format: "dotenv", Key: "DATABASE_URL"})
		// Role steady (15 s): an agent learns of a revocation at its next
		// renewal, 10 s on at the latest; the reaper, 5 s after a late one.
		f.cfg = agent.Config{Server: e.Server.URL, JWTFile: f.jwt, Role: "steady", Target: f.target, MinBackoff: 50 * time.Millisecond,
			MaxBackoff: time.Second, OnDelivered: func(l agent.Lease) { f.delivered <- l }}
		f.start(t)
		cs = append(cs, &consumer{f: f, sub: sub})
	}
	open := func(c *consumer) {
		t.Helper()
		l := c.f.next(t)
		c.f.works(t, l)
		st, _ := c.f.target.Current(ctx) // the DSN's password
		conn, err := e.Connect(ctx, l.Login, string(st.Secret.Reveal()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		c.conn = conn
	}
	for _, c := range cs {
		open(c)
	}
	alive := func(c interface{ Ping(context.Context) error }) bool {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		defer pcancel()
		return c.Ping(pctx) == nil
	}

	// A lease nobody renews (role brief: 3 s) is reaped with its session.
	tok := e.Token(t, "system:serviceaccount:orders:cron")
	d, err := e.Broker.Decide(ctx, broker.Request{Token: secret.FromString(tok), Role: "brief"})
	if err != nil || !d.Allowed {
		t.Fatalf("decide: %v %+v", err, d)
	}
	short, err := e.Leases.Issue(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	sconn, err := e.Connect(ctx, short.Login, string(short.Secret.Reveal()))
	if err != nil {
		t.Fatal(err)
	}
	defer sconn.Close(context.Background())
	waitFor(t, "the expired lease's session ended by the reaper", func() bool { return !alive(sconn) })

	// One workload's leases revoked: its session ends, the other's lives,
	// and its agent delivers a new lease.
	holder := e.Issuer.URL + ":" + cs[0].sub
	if n, err := e.Leases.RevokeHolder(ctx, holder, "admin"); err != nil || n != 1 {
		t.Fatalf("revoke holder: %d %v", n, err)
	}
	waitFor(t, "the revoked workload's session ended", func() bool { return !alive(cs[0].conn) })
	if !alive(cs[1].conn) {
		t.Fatal("the other workload's session ended")
	}
	open(cs[0])

	e.State.Set("shop-db/"+e.Template, true)
	a, _ := agent.New(cs[1].f.cfg)
	if err := a.Run(ctx); err == nil || !strings.Contains(err.Error(), "under-incident") {
		t.Fatalf("a new agent under incident: %v", err)
	}
}
