package engine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/deliver/file"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/all"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// session is one consumer connection in the smaller MariaDB and Redis
// proofs.
type session interface {
	Do() error
	Close()
}

// loopConsumer reads a dotenv value on every loop, reconnects through
// connect when it changes or the connection broke, and counts outcomes.
type loopConsumer struct {
	file, key string
	connect   func(value string) (session, error)
	ok, fail  atomic.Int64
	mu        sync.Mutex
	value     string
	lastErr   string
}

func (c *loopConsumer) run(ctx context.Context) {
	var s session
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	for ctx.Err() == nil {
		err := func() error {
			v, err := dotenvValue(c.file, c.key)
			if err != nil {
				return err
			}
			if s == nil || v != c.current() {
				if s != nil {
					s.Close()
					s = nil
				}
				if s, err = c.connect(v); err != nil {
					s = nil
					return err
				}
				c.mu.Lock()
				c.value = v
				c.mu.Unlock()
			}
			if err := s.Do(); err != nil {
				s.Close()
				s = nil
				return err
			}
			return nil
		}()
		if err != nil {
			c.fail.Add(1)
			c.mu.Lock()
			c.lastErr = err.Error()
			c.mu.Unlock()
		} else {
			c.ok.Add(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *loopConsumer) current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

func dotenvValue(path, key string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k == key {
			return strings.Trim(v, `"'`), nil
		}
	}
	return "", fmt.Errorf("no %s in %s", key, path)
}

// sysWorld is a smaller rotation proof on one system type: two
// consumers sharing a password, an attacker session, a split plan.
type sysWorld struct {
	t         *testing.T
	deps      Deps
	st        store.Store
	inc       store.Incident
	consumers map[string]*loopConsumer
	stop      context.CancelFunc
	wg        sync.WaitGroup
}

func newSysWorld(t *testing.T, sysType, admin, identity string, values map[string]string,
	connect func(string) (session, error)) *sysWorld {
	t.Helper()
	dir := t.TempDir()
	w := &sysWorld{t: t, consumers: map[string]*loopConsumer{}}
	var yml strings.Builder
	fmt.Fprintf(&yml, "version: 1\nsystems:\n  - name: db\n    type: %s\n    admin: env:ADMIN\nidentities:\n  - name: %q\n    system: db\nconsumers:\n", sysType, identity)
	var cs []scope.Consumer
	for name, v := range values {
		env := filepath.Join(dir, name+".env")
		if err := os.WriteFile(env, []byte("APP="+name+"\nSECRET_URL="+v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&yml, "  - name: %s\n    identity: %q\n    deliver: { type: file, path: %s, format: dotenv, key: SECRET_URL }\n", name, identity, env)
		w.consumers[name] = &loopConsumer{file: env, key: "SECRET_URL", connect: connect}
		cs = append(cs, scope.Consumer{Name: name, Declared: true})
	}
	inv, rep, err := inventory.Parse(filepath.Join(dir, "inv.yml"), []byte(yml.String()), inventory.Options{Getenv: func(string) string { return admin }})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	fp := sha256.Sum256([]byte(identity + sysType))
	w.inc, _, err = st.OpenIncident(context.Background(), store.Incident{Fingerprint: secret.Fingerprint(hex.EncodeToString(fp[:]))})
	if err != nil {
		t.Fatal(err)
	}
	sc := scope.Scope{Incident: w.inc.ID, Identity: scope.Identity{Status: "identified", Name: identity, System: "db", Declared: true},
		Consumers: cs, Flags: scope.Flags{Shared: true}}
	p, err := plan.Build(plan.Input{Scope: sc, Inventory: inv, Strategy: plan.Split, CanChangeLogin: func(*inventory.Consumer) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(p)
	if err := st.PutPlan(context.Background(), w.inc.ID, store.Plan{Strategy: string(p.Strategy), Body: body}); err != nil {
		t.Fatal(err)
	}
	sealer, _ := secret.NewSealer(make([]byte, 32))
	var mu sync.Mutex
	var prov provider.Provider
	t.Cleanup(func() {
		if prov != nil {
			prov.Close()
		}
	})
	w.deps = Deps{Store: st, Audit: audit.New(st, ""), Inventory: inv, Sealer: sealer, Actor: "alice",
		Provider: func(ctx context.Context, system string) (provider.Provider, error) {
			mu.Lock()
			defer mu.Unlock()
			if prov == nil {
				p, err := all.Registry().Open(ctx, sysType, provider.Config{System: system, Admin: secret.FromString(admin)})
				if err != nil {
					return nil, err
				}
				prov = p
			}
			return prov, nil
		},
		Target:      func(c *inventory.Consumer) (deliver.Target, error) { return file.FromInventory(inv, c.Deliver) },
		HealthRetry: deliver.Retry{Deadline: 5 * time.Second},
		SeenTimeout: 5 * time.Second,
	}
	return w
}

func (w *sysWorld) start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	for _, c := range w.consumers {
		w.wg.Add(1)
		go func() { defer w.wg.Done(); c.run(ctx) }()
	}
	w.t.Cleanup(w.halt)
	deadline := time.Now().Add(10 * time.Second)
	for name, c := range w.consumers {
		for c.ok.Load() == 0 {
			if time.Now().After(deadline) {
				w.t.Fatalf("consumer %s never worked: %s", name, c.lastErr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (w *sysWorld) halt() {
	if w.stop != nil {
		w.stop()
		w.wg.Wait()
		w.stop = nil
	}
}

// runAndCheck runs the plan and checks the shared outcome: no consumer
// failure, each on a login of its own, the old secret refused, the
// attacker's session gone.
func (w *sysWorld) runAndCheck(oldValue string, attacker session, connect func(string) (session, error)) {
	t := w.t
	w.start()
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background())
	if err != nil || res.State != store.RunDone {
		t.Fatalf("run: %v %+v", err, res)
	}
	time.Sleep(150 * time.Millisecond)
	w.halt()
	values := map[string]bool{}
	for name, c := range w.consumers {
		if n := c.fail.Load(); n != 0 {
			t.Errorf("consumer %s: %d failures (%s)", name, n, c.lastErr)
		}
		values[c.current()] = true
	}
	if len(values) != len(w.consumers) || values[oldValue] {
		t.Errorf("consumers do not each hold a new credential")
	}
	if s, err := connect(oldValue); err == nil {
		s.Close()
		t.Error("the leaked secret still authenticates")
	}
	if err := attacker.Do(); err == nil {
		t.Error("the attacker's open session survived")
	}
}

func TestSplitRotationMariaDB(t *testing.T) {
	const admin = "root@tcp(127.0.0.1:3306)/"
	testutil.NeedService(t, "mariadb", "127.0.0.1:3306")
	db, err := sql.Open("mysql", admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // after the cleanup below, which needs it
	user := testutil.RandomName("shop")
	pw := "Leaked-" + testutil.RandomName("pw")
	dbName := user + "_db"
	for _, q := range []string{
		"CREATE DATABASE " + dbName, "CREATE TABLE " + dbName + ".orders (id int)", "INSERT INTO " + dbName + ".orders VALUES (1)",
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, pw),
		fmt.Sprintf("GRANT SELECT ON %s.* TO '%s'@'%%'", dbName, user),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		rows, err := db.Query("SELECT User, Host FROM mysql.user WHERE User LIKE ?", user+"%")
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		var accts [][2]string
		for rows.Next() {
			var u, h string
			rows.Scan(&u, &h)
			accts = append(accts, [2]string{u, h})
		}
		rows.Close()
		for _, a := range accts {
			db.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", a[0], a[1]))
		}
		db.Exec("DROP DATABASE IF EXISTS " + dbName)
	})
	dsn := func(u, p string) string { return fmt.Sprintf("%s:%s@tcp(127.0.0.1:3306)/%s", u, p, dbName) }
	connect := func(v string) (session, error) {
		cfg, err := mysqldrv.ParseDSN(v)
		if err != nil {
			return nil, err
		}
		cfg.Timeout = 2 * time.Second
		cfg.Logger = &mysqldrv.NopLogger{}
		conn, err := mysqldrv.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		d := sql.OpenDB(conn)
		d.SetMaxOpenConns(1)
		s := &sqlSession{db: d}
		if err := s.Do(); err != nil {
			d.Close()
			return nil, err
		}
		return s, nil
	}
	attacker, err := connect(dsn(user, pw))
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	w := newSysWorld(t, "mysql", admin, user+"@%", map[string]string{"api": dsn(user, pw), "billing": dsn(user, pw)}, connect)
	w.runAndCheck(dsn(user, pw), attacker, connect)
}

type sqlSession struct{ db *sql.DB }

func (s *sqlSession) Do() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int
	return s.db.QueryRowContext(ctx, "SELECT count(*) FROM orders").Scan(&n)
}
func (s *sqlSession) Close() { s.db.Close() }

func TestSplitRotationRedis(t *testing.T) {
	const addr = "127.0.0.1:6379"
	testutil.NeedService(t, "redis", addr)
	adminConn, err := dialRedis(addr, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close()
	user := testutil.RandomName("shop")
	pw := "Leaked-" + testutil.RandomName("pw")
	if _, err := adminConn.cmd("ACL", "SETUSER", user, "on", ">"+pw, "~"+user+":*", "+get", "+set", "+ping"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, err := dialRedis(addr, "", "")
		if err != nil {
			return
		}
		defer a.Close()
		users, _ := a.cmd("ACL", "USERS")
		for _, u := range strings.Fields(users) {
			if strings.HasPrefix(u, user) {
				a.cmd("ACL", "DELUSER", u)
			}
		}
	})
	redisURL := func(u, p string) string {
		return (&url.URL{Scheme: "redis", User: url.UserPassword(u, p), Host: addr, Path: "/0"}).String()
	}
	connect := func(v string) (session, error) {
		u, err := url.Parse(v)
		if err != nil {
			return nil, err
		}
		p, _ := u.User.Password()
		c, err := dialRedis(u.Host, u.User.Username(), p)
		if err != nil {
			return nil, err
		}
		return &redisSession{c: c, key: user + ":orders"}, nil
	}
	attacker, err := connect(redisURL(user, pw))
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	w := newSysWorld(t, "redis", "redis://"+addr+"/0", user, map[string]string{"api": redisURL(user, pw), "billing": redisURL(user, pw)}, connect)
	w.runAndCheck(redisURL(user, pw), attacker, connect)
}

// redisConn is the few lines of RESP the test needs.
type redisConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRedis(addr, user, pass string) (*redisConn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	rc := &redisConn{c: c, r: bufio.NewReader(c)}
	if user != "" {
		if _, err := rc.cmd("AUTH", user, pass); err != nil {
			c.Close()
			return nil, err
		}
	}
	return rc, nil
}

func (rc *redisConn) cmd(args ...string) (string, error) {
	rc.c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return rc.reply()
}

func (rc *redisConn) reply() (string, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		var n int
		fmt.Sscan(line[1:], &n)
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		var n int
		fmt.Sscan(line[1:], &n)
		var parts []string
		for range n {
			s, err := rc.reply()
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " "), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %q", line)
}

func (rc *redisConn) Close() { rc.c.Close() }

type redisSession struct {
	c   *redisConn
	key string
}

func (s *redisSession) Do() error {
	_, err := s.c.cmd("GET", s.key)
	return err
}
func (s *redisSession) Close() { s.c.Close() }
