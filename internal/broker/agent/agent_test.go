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
}

func newFixture(t *testing.T, role string) *fixture {
	t.Helper()
	e := leasetest.New(t, "")
	dir := t.TempDir()
	f := &fixture{e: e, dir: dir, jwt: filepath.Join(dir, "token"), env: filepath.Join(dir, ".env"), reloads: filepath.Join(dir, "reloads"),
		delivered: make(chan agent.Lease, 16)}
	f.writeToken(t, leasetest.Subject)
	if err := os.WriteFile(f.env, []byte("# orders\nDATABASE_URL=postgres://old_user:old_password@db.internal:5432/orders?sslmode=disable\nPORT=8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
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
	if !strings.Contains(string(b), "# orders\n") || !strings.Contains(string(b), "\nPORT=8080\n") || !strings.Contains(string(b), "@db.internal:5432/orders?sslmode=disable") {
		t.Fatalf("the delivery changed more than the user and password:\n%s", b)
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
		act := f.e.Active(t)
		return len(act) == 1 && act[0].ID == third.ID
	})
	if h := f.e.Active(t)[0].Holder; !strings.HasSuffix(h, ":"+other) {
		t.Fatalf("holder %s", h)
	}
	b, _ := os.ReadFile(f.reloads)
	if n := strings.Count(string(b), "x"); n != 3 {
		t.Fatalf("reload ran %d times for 3 deliveries", n)
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
