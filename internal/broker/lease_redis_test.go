package broker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/redis"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/testutil"
)

const redisAddr = "127.0.0.1:6379"

// respConn is a bare RESP client, so that a lease is proven by a
// connection of its own rather than by the provider that issued it.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRESP(t testing.TB) *respConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", redisAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &respConn{c: c, r: bufio.NewReader(c)}
}

// do sends one command and returns its reply as text: "-ERR…" for an
// error, "" with err for a closed connection.
func (rc *respConn) do(args ...string) (string, error) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&sb, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = rc.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.c.Write([]byte(sb.String())); err != nil {
		return "", err
	}
	return rc.read()
}

func (rc *respConn) read() (string, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch line[0] {
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		var parts []string
		for range n {
			p, err := rc.read()
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, " "), nil
	}
	return line, nil // +OK, -ERR…, :1
}

const redisLeaseInventory = `version: 1
systems:
  - { name: cache, type: redis, admin: env:CACHE_ADMIN_URL }
identities:
  - { name: %[2]s, system: cache }
broker:
  issuers:
    - { name: k8s, issuer: "https://issuer.test", jwks: file:%[1]s, audience: rekey }
  roles:
    - { name: rw, system: cache, like: %[2]s, ttl: 15m, subjects: ["system:serviceaccount:orders:*"] }
    - { name: short, system: cache, like: %[2]s, ttl: 2s, subjects: ["system:serviceaccount:orders:*"] }
`

// TestLeaseRedis: a lease on Redis is an ACL user with the template's
// rules minus +acl (which the inventory does not keep), the template
// unchanged; revoking it closes its connection; a 2 s lease is reaped
// with its connection.
func TestLeaseRedis(t *testing.T) {
	testutil.NeedService(t, "redis", redisAddr)
	ctx := context.Background()
	admin := dialRESP(t)
	tmpl := testutil.RandomName("ltr")
	prefix := testutil.RandomName("ltk") + ":"
	if r, err := admin.do("ACL", "SETUSER", tmpl, "on", ">unused-password-1", "~"+prefix+"*", "+get", "+set", "+ping", "+acl"); err != nil || r != "+OK" {
		t.Fatalf("create template: %q %v", r, err)
	}
	t.Cleanup(func() {
		users, _ := dialRESP(t).do("ACL", "USERS")
		for _, u := range strings.Fields(users) {
			if u == tmpl || strings.HasPrefix(u, tmpl+"_l") {
				_, _ = dialRESP(t).do("ACL", "DELUSER", u)
			}
		}
		_, _ = dialRESP(t).do("DEL", prefix+"a")
	})
	if _, err := admin.do("SET", prefix+"a", "1"); err != nil {
		t.Fatal(err)
	}

	leases, issue := systemLeases(t, redisLeaseInventory, tmpl, "cache", func(ctx context.Context) (provider.Provider, error) {
		return redis.New(ctx, provider.Config{System: "cache", Admin: secret.FromString("redis://" + redisAddr + "/0")})
	})
	login := func(l *Lease) *respConn {
		t.Helper()
		c := dialRESP(t)
		if r, err := c.do("AUTH", l.Login, string(l.Secret.Reveal())); err != nil || r != "+OK" {
			t.Fatalf("log in with lease %s: %q %v", l.Login, r, err)
		}
		return c
	}
	dead := func(c *respConn) bool {
		r, err := c.do("PING")
		return err != nil || r != "+PONG"
	}

	l := issue("rw")
	c := login(l)
	if r, _ := c.do("GET", prefix+"a"); r != "1" {
		t.Errorf("GET a key the template may read: %q", r)
	}
	if r, _ := c.do("GET", "elsewhere:a"); !strings.HasPrefix(r, "-NOPERM") {
		t.Errorf("GET a key the template may not: %q, want NOPERM", r)
	}
	if r, _ := c.do("ACL", "SETUSER", testutil.RandomName("ltx")); !strings.HasPrefix(r, "-NOPERM") {
		t.Errorf("the lease ran ACL SETUSER: %q, want NOPERM (+acl not kept)", r)
	}
	if r, _ := admin.do("ACL", "GETUSER", tmpl); !strings.Contains(r, "+acl") {
		t.Errorf("the template lost +acl: %q", r)
	}
	if err := leases.Revoke(ctx, l.ID, l.Holder, l.Holder); err != nil {
		t.Fatal(err)
	}
	if !dead(c) {
		t.Error("the revoked lease's connection survived")
	}
	if r, _ := admin.do("ACL", "GETUSER", l.Login); r != "(nil)" && r != "" {
		t.Errorf("the revoked lease's user exists: %q", r)
	}

	short := issue("short")
	sc := login(short)
	waitFor(t, "the reaper to end the Redis lease", func() bool {
		if _, err := leases.Reap(ctx); err != nil {
			t.Log(err)
		}
		r, _ := admin.do("ACL", "GETUSER", short.Login)
		return dead(sc) && r == "(nil)"
	})
	recs, _ := leases.List(ctx, store.BrokerLeaseFilter{ID: short.ID})
	if len(recs) != 1 || recs[0].State != store.BrokerReaped {
		t.Errorf("after reaping: %+v", recs)
	}
}
