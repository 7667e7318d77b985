package redis

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

const (
	testSystem = "test-redis"
	// testAddr is the tests' Redis (see DESIGN.md): its default user has
	// no password and may do everything. Tests create users of their own,
	// named rk_<random>, and delete them; they change neither the default
	// user nor the server's configuration.
	testAddr = "127.0.0.1:6379"
)

// harness backs the shared suite with the test server: fixtures are made
// over a connection of the test's own as the default user, never through
// the provider.
type harness struct{}

var (
	_ providertest.Harness      = harness{}
	_ providertest.LeftBehind   = harness{}
	_ providertest.LimitedAdmin = harness{}
)

func TestInspectSuite(t *testing.T) {
	testutil.NeedService(t, "redis", testAddr)
	providertest.RunInspect(t, harness{})
}

func TestRotateSuite(t *testing.T) {
	testutil.NeedService(t, "redis", testAddr)
	providertest.RunRotate(t, rotateHarness{})
}

// rotateHarness is harness for the rotation suite. It is a type of its
// own because its Unsupported list holds rotation features, which the
// inspection suite does not know.
type rotateHarness struct{ harness }

var _ providertest.RotateHarness = rotateHarness{}

// Unsupported: Redis users have no expiry.
func (rotateHarness) Unsupported() []string { return []string{providertest.FeatureExpiry} }

// CanUse logs in on a fresh connection and reads a key under app:*, which
// CreateIdentity grants.
func (rotateHarness) CanUse(t *testing.T, name, password string) error {
	c := dialTest(t)
	defer c.nc.Close()
	if err := c.do(t, "AUTH", name, password).err(); err != nil {
		return err
	}
	return c.do(t, "GET", "app:"+name).err()
}

func (rotateHarness) Exists(t *testing.T, name string) bool {
	c := dialTest(t)
	defer c.nc.Close()
	return !c.must(t, "ACL", "GETUSER", name).null
}

// SessionCount counts CLIENT LIST lines authenticated as name.
func (rotateHarness) SessionCount(t *testing.T, name string) int {
	c := dialTest(t)
	defer c.nc.Close()
	list, _ := c.must(t, "CLIENT", "LIST").text()
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if slices.Contains(strings.Fields(line), "user="+name) {
			n++
		}
	}
	return n
}

// Risky asks the server itself whether name may create users: ACL DRYRUN
// answers OK when it may run the command.
func (rotateHarness) Risky(t *testing.T, name string) bool {
	c := dialTest(t)
	defer c.nc.Close()
	v := c.must(t, "ACL", "DRYRUN", name, "ACL", "SETUSER", "rk_probe_never_made")
	s, _ := v.text()
	return s == "OK"
}

func (harness) System() string            { return testSystem }
func (harness) Factory() provider.Factory { return New }
func (harness) Unsupported() []string     { return nil }

func (harness) Admin(t *testing.T) provider.Config { return adminConfig() }

func adminConfig() provider.Config {
	return provider.Config{System: testSystem, Admin: secret.FromString("redis://" + testAddr + "/0")}
}

// CreateIdentity makes an application user; risky adds +acl, which lets it
// create and change users.
func (harness) CreateIdentity(t *testing.T, name, password string, risky bool) {
	rules := []string{"on", ">" + password, "~app:*", "+@read", "+@write"}
	if risky {
		rules = append(rules, "+acl")
	}
	createUser(t, name, rules...)
}

// OpenSession logs in with HELLO, which authenticates and names the
// connection in one command the user needs no permission for (CLIENT
// SETNAME is not in +@read +@write).
func (harness) OpenSession(t *testing.T, name, password, app string) providertest.Conn {
	c := dialTest(t)
	v := c.must(t, "HELLO", "2", "AUTH", name, password, "SETNAME", app)
	m, _ := v.fields()
	return providertest.Conn{Local: c.nc.LocalAddr().String(), ID: strconv.FormatInt(m["id"].num, 10)}
}

// AuthRecords: Redis logs failed logins (ACL LOG) but not successful
// ones, so it cannot count "logging in or trying to". TestIdentifyWritesNoACLLog
// checks the half it can.
func (harness) AuthRecords(*testing.T, string) (int, bool) { return 0, false }

func (harness) Unreachable(t *testing.T) providertest.BadAdmin {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pw := "unreach-" + randomHex(8)
	u := url.URL{Scheme: "redis", User: url.UserPassword("admin", pw), Host: "127.0.0.1:" + strconv.Itoa(port), Path: "/0"}
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: secret.FromString(u.String())}, Password: pw}
}

// WrongAdmin names an administrator of its own: the default user has no
// password, so it accepts a wrong one.
func (harness) WrongAdmin(t *testing.T) providertest.BadAdmin {
	name := newUserName()
	createUser(t, name, "on", ">right-"+randomHex(8), "~*", "&*", "+@all")
	pw := "wrong-" + randomHex(8)
	return badAdmin(name, pw)
}

func badAdmin(user, pw string) providertest.BadAdmin {
	u := url.URL{Scheme: "redis", User: url.UserPassword(user, pw), Host: testAddr, Path: "/0"}
	return providertest.BadAdmin{Config: provider.Config{System: testSystem, Admin: secret.FromString(u.String())}, Password: pw}
}

// LeaveBehind uses the identity's +acl to create a user of its own.
func (harness) LeaveBehind(t *testing.T, name, password string) (string, string) {
	backdoor := name + "_bd"
	admin := dialTest(t)
	t.Cleanup(func() { admin.must(t, "ACL", "DELUSER", backdoor) })
	c := dialTest(t)
	c.must(t, "HELLO", "2", "AUTH", name, password)
	c.must(t, "ACL", "SETUSER", backdoor, "on", ">backdoor-pw", "~*", "+@all")
	return RelatedCreatedUser, backdoor
}

// LimitedAdmin may do everything but read a user.
func (harness) LimitedAdmin(t *testing.T) (providertest.BadAdmin, string) {
	name, pw := newUserName(), "lim-"+randomHex(8)
	createUser(t, name, "on", ">"+pw, "~*", "&*", "+@all", "-acl|getuser")
	return badAdmin(name, pw), "+acl|getuser"
}

// testClient is a plain RESP connection for fixtures.
type testClient struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

// dialTest connects as the default user; the connection closes when the
// test ends.
func dialTest(t *testing.T) *testClient {
	t.Helper()
	testutil.NeedService(t, "redis", testAddr)
	return dialAt(t, testAddr)
}

// dialAt connects to the server at addr as its default user.
func dialAt(t *testing.T, addr string) *testClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &testClient{nc: nc, r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}
}

// do runs one command and returns its reply, error replies included.
func (c *testClient) do(t *testing.T, args ...string) value {
	t.Helper()
	if err := c.nc.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	writeCommand(c.w, args...)
	if err := c.w.Flush(); err != nil {
		t.Fatalf("%s: %v", args[0], err)
	}
	v, err := readValue(c.r)
	if err != nil {
		t.Fatalf("%s: %v", args[0], err)
	}
	return v
}

// must is do that fails the test on an error reply.
func (c *testClient) must(t *testing.T, args ...string) value {
	t.Helper()
	v := c.do(t, args...)
	if err := v.err(); err != nil {
		t.Fatalf("%s %s: %v", args[0], args[1], err)
	}
	return v
}

// createUser runs ACL SETUSER name rules… and deletes the user when the
// test ends (which also closes its connections).
func createUser(t *testing.T, name string, rules ...string) {
	t.Helper()
	c := dialTest(t)
	t.Cleanup(func() { c.must(t, "ACL", "DELUSER", name) })
	c.must(t, append([]string{"ACL", "SETUSER", name}, rules...)...)
}

func newUserName() string { return "rk_" + randomHex(6) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprint("crypto/rand: ", err))
	}
	return hex.EncodeToString(b)
}
