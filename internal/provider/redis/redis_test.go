package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func openTest(t *testing.T) *Redis {
	t.Helper()
	testutil.NeedService(t, "redis", testAddr)
	p, err := open(context.Background(), adminConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func inspectUser(t *testing.T, p *Redis, name string) *provider.Identity {
	t.Helper()
	id, err := p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: name})
	if err != nil {
		t.Fatalf("Inspect(%s): %v", name, err)
	}
	if !id.Exists {
		t.Fatalf("Inspect(%s): does not exist", name)
	}
	return id
}

func identifyReport(t *testing.T, p *Redis, pw string) *Report {
	t.Helper()
	r, err := p.IdentifyReport(context.Background(), secret.FromString(pw))
	if err != nil {
		t.Fatalf("IdentifyReport: %v", err)
	}
	return r
}

func names(ms []provider.Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Ref.Name)
	}
	return out
}

func wantPriv(t *testing.T, id *provider.Identity, want provider.Privilege) {
	t.Helper()
	for _, p := range id.Privileges {
		if p.Name == want.Name && p.Via == want.Via {
			if diff := cmp.Diff(want, p); diff != "" {
				t.Errorf("%s: privilege %q (-want +got):\n%s", id.Ref.Name, want.Name, diff)
			}
			return
		}
	}
	t.Errorf("%s: no privilege %q via %q in %+v", id.Ref.Name, want.Name, want.Via, id.Privileges)
}

// Redis keeps several passwords per user, all valid: each is matched, and
// Inspect lists the others as keys that survive rotating one.
func TestMultiplePasswords(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	name, a, b := newUserName(), "pw-a-"+randomHex(8), "pw-b-"+randomHex(8)
	createUser(t, name, "on", ">"+a, ">"+b, "~app:*", "+get")
	for _, pw := range []string{a, b} {
		r := identifyReport(t, p, pw)
		if got := names(r.Matches); !slices.Equal(got, []string{name}) {
			t.Errorf("Identify(one of two passwords) = %v, want [%s]", got, name)
		}
		if r.Matches[0].Method != MethodSHA256 {
			t.Errorf("method %q, want %q", r.Matches[0].Method, MethodSHA256)
		}
	}
	id := inspectUser(t, p, name)
	want := []provider.Related{{Kind: RelatedOtherKey, Name: "2 passwords",
		Detail: name + " has 2 passwords, all valid at once: rotating one leaves the other 1 working; find who uses each, then remove the leaked one"}}
	if diff := cmp.Diff(want, id.Related); diff != "" {
		t.Errorf("related (-want +got):\n%s", diff)
	}
}

// A nopass user accepts any password, the leaked one included: it is
// listed in the report's NoPass, never as a match of Identify (it proves
// nothing about whose secret it is). An off nopass user accepts nothing.
func TestNoPass(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	open, closed := newUserName(), newUserName()
	createUser(t, open, "on", "nopass", "~cache:*", "+get")
	createUser(t, closed, "off", "nopass", "~cache:*", "+get")
	pw := "anything-" + randomHex(8)

	// What nopass means, proven out of band: the server lets the
	// candidate in.
	c := dialTest(t)
	if err := c.do(t, "HELLO", "2", "AUTH", open, pw).err(); err != nil {
		t.Fatalf("AUTH as a nopass user with an arbitrary password: %v", err)
	}
	if err := c.do(t, "HELLO", "2", "AUTH", closed, pw).err(); err == nil {
		t.Fatal("AUTH as an off nopass user succeeded")
	}

	r := identifyReport(t, p, pw)
	if slices.Contains(names(r.Matches), open) {
		t.Errorf("Identify matched nopass user %s: %v", open, r.Matches)
	}
	var got *provider.Match
	for i := range r.NoPass {
		if r.NoPass[i].Ref.Name == open {
			got = &r.NoPass[i]
		}
	}
	if got == nil || got.Method != MethodNoPass || got.Ref.System != testSystem {
		t.Errorf("NoPass = %+v, want %s with method %q", r.NoPass, open, MethodNoPass)
	}
	if slices.Contains(names(r.NoPass), closed) {
		t.Errorf("NoPass lists %s, which is off", closed)
	}

	id := inspectUser(t, p, open)
	if !id.CanLogin {
		t.Error("an on nopass user cannot log in")
	}
	wantPriv(t, id, provider.Privilege{Name: "nopass", Risk: provider.RiskLow})
	if inspectUser(t, p, closed).CanLogin {
		t.Error("an off user can log in")
	}
}

// On, but with no password and not nopass: nothing authenticates.
func TestNoPasswordCannotLogIn(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	name := newUserName()
	createUser(t, name, "on", "~*", "+get")
	if id := inspectUser(t, p, name); id.CanLogin {
		t.Errorf("%s has no password and is not nopass, but CanLogin", name)
	}
}

func TestAllCommandsAllKeysIsCritical(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	name := newUserName()
	createUser(t, name, "on", ">"+randomHex(8), "~*", "&*", "+@all")
	id := inspectUser(t, p, name)
	wantPriv(t, id, provider.Privilege{Name: "+@all", Risk: provider.RiskCritical, CreatesCredentials: true})
	wantPriv(t, id, provider.Privilege{Name: "~*", Risk: provider.RiskMedium})
	wantPriv(t, id, provider.Privilege{Name: "&*", Risk: provider.RiskLow})
	if id.Privileges[0].Risk != provider.RiskCritical {
		t.Errorf("privileges not sorted by risk: %+v", id.Privileges)
	}
	// Every other user, the default one included, may be its work.
	var related []string
	for _, r := range id.Related {
		if r.Kind == RelatedCreatedUser {
			related = append(related, r.Name)
			if !strings.Contains(r.Detail, "ACL SETUSER") {
				t.Errorf("related %+v does not say how", r)
			}
		}
	}
	if !slices.Contains(related, "default") || slices.Contains(related, name) {
		t.Errorf("created-user related %v, want every user but %s", related, name)
	}
}

func TestDangerousExcluded(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	name := newUserName()
	createUser(t, name, "on", ">"+randomHex(8), "~*", "+@all", "-@dangerous")
	id := inspectUser(t, p, name)
	wantPriv(t, id, provider.Privilege{Name: "+@all except -@dangerous", Risk: provider.RiskMedium})
	for _, pr := range id.Privileges {
		if pr.CreatesCredentials || pr.Risk == provider.RiskCritical || pr.Risk == provider.RiskHigh {
			t.Errorf("+@all -@dangerous reports %+v", pr)
		}
	}
	if len(id.Related) != 0 {
		t.Errorf("related %+v, want none", id.Related)
	}
}

// Redis 7.0 states "+@read +@write -@dangerous" category by category,
// taking each dangerous command back by name. What is left is low, but
// for the keyless writes of +@write (FUNCTION LOAD, FLUSH…), which no key
// pattern restricts.
func TestReadWriteWithoutDangerous(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	name := newUserName()
	createUser(t, name, "on", ">"+randomHex(8), "~app:*", "+@read", "+@write", "-@dangerous")
	id := inspectUser(t, p, name)
	for _, pr := range id.Privileges {
		if pr.CreatesCredentials || pr.Risk != provider.RiskLow && !(pr.Risk == provider.RiskMedium && strings.Contains(pr.Name, "function")) {
			t.Errorf("+@read +@write -@dangerous on ~app:* reports %+v", pr)
		}
	}
	wantPriv(t, id, provider.Privilege{Name: "~app:*", Risk: provider.RiskLow})

	name = newUserName()
	createUser(t, name, "on", ">"+randomHex(8), "~app:*", "+@read", "+@write", "-@dangerous", "-function")
	for _, pr := range inspectUser(t, p, name).Privileges {
		if pr.Risk != provider.RiskLow || pr.CreatesCredentials {
			t.Errorf("+@read +@write -@dangerous -function on ~app:* reports %+v", pr)
		}
	}
}

// A selector adds what it allows on its own keys: here CONFIG SET, which
// can replace the default user's password.
func TestSelectors(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	name := newUserName()
	createUser(t, name, "on", ">"+randomHex(8), "~app:*", "+@read", "(~tmp:* +config|set +set)")
	id := inspectUser(t, p, name)
	// The selector as the server states it: Redis 7.0 reorders its
	// command rules ("+set +config|set"), later versions keep them as
	// written.
	u, err := userFromGetUser(name, dialTest(t).must(t, "ACL", "GETUSER", name))
	if err != nil || len(u.Selectors) != 1 {
		t.Fatalf("ACL GETUSER %s: %v, %+v", name, err, u)
	}
	via := "selector 1 (" + u.Selectors[0].String() + ")"
	if via != "selector 1 (~tmp:* +config|set +set)" && via != "selector 1 (~tmp:* +set +config|set)" {
		t.Fatalf("the server states the selector as %q", via)
	}
	wantPriv(t, id, provider.Privilege{Name: "+config|set", Risk: provider.RiskHigh, Via: via, CreatesCredentials: true})
	wantPriv(t, id, provider.Privilege{Name: "+set", Risk: provider.RiskLow, Via: via})
	wantPriv(t, id, provider.Privilege{Name: "~tmp:*", Risk: provider.RiskLow, Via: via})
	wantPriv(t, id, provider.Privilege{Name: "+@read", Risk: provider.RiskLow})
	want := []provider.Related{{Kind: RelatedCreatedUser, Name: "default",
		Detail: name + " may run CONFIG SET: CONFIG SET requirepass replaces the default user's passwords, and Redis does not record who did: review it"}}
	if diff := cmp.Diff(want, id.Related); diff != "" {
		t.Errorf("related (-want +got):\n%s", diff)
	}
}

// ACL GETUSER and ACL LIST describe a user in two shapes; both readings
// must agree, on whatever version the test server runs.
func TestGetUserAgreesWithACLList(t *testing.T) {
	t.Parallel()
	testutil.NeedService(t, "redis", testAddr)
	rules := [][]string{
		{"on", ">a", ">b", "~app:*", "%R~ro:*", "&news.*", "+@read", "+@write", "-@dangerous", "+acl|whoami"},
		{"off", "nopass", "~*", "&*", "+@all", "-flushall"},
		{"on", ">c", "resetkeys", "%W~log:*", "+set", "(~tmp:* +get)", "(%R~x:* +@read -keys)"},
		{"on", ">d", "+@all", "-acl|setuser", "+select|0"},
	}
	c := dialTest(t)
	for _, r := range rules {
		name := newUserName()
		createUser(t, name, r...)
		fromGet, err := userFromGetUser(name, c.must(t, "ACL", "GETUSER", name))
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		list, _ := c.must(t, "ACL", "LIST").strings()
		var line string
		for _, l := range list {
			if strings.HasPrefix(l, "user "+name+" ") {
				line = l
			}
		}
		fromList, err := ParseUser(line)
		if err != nil {
			t.Fatalf("ParseUser(%q): %v", line, err)
		}
		if diff := cmp.Diff(fromList, fromGet); diff != "" {
			t.Errorf("%v: ACL LIST (-) and ACL GETUSER (+) differ:\n%s", r, diff)
		}
		// And both agree with the rules as given.
		given, err := ParseUser("user " + name + " " + strings.Join(r, " "))
		if err != nil {
			t.Fatal(err)
		}
		if given.On != fromGet.On || given.NoPass != fromGet.NoPass || !slices.Equal(given.Passwords, fromGet.Passwords) ||
			len(given.Selectors) != len(fromGet.Selectors) {
			t.Errorf("%v: given %+v, server %+v", r, given, fromGet)
		}
	}
}

// The built-in table, used when the administrator may not run COMMAND,
// must say what the server says.
func TestBuiltinCatalogMatchesServer(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	server, err := p.catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := server["acl|setuser"]; !ok {
		t.Skip("the server's command table has no subcommands (Redis 6): the table is Redis 7's")
	}
	for name, b := range builtinCatalog() {
		s, ok := server[name]
		if !ok {
			if name == "module|loadex" {
				continue // Redis 7.0.0 and later; harmless before
			}
			t.Errorf("%s: not in the server's table", name)
			continue
		}
		if diff := cmp.Diff(s, b, cmp.AllowUnexported(command{})); diff != "" {
			t.Errorf("%s (-server +builtin):\n%s", name, diff)
		}
	}
}

// An administrator without COMMAND still gets the risks that matter.
func TestInspectWithoutCommandTable(t *testing.T) {
	t.Parallel()
	testutil.NeedService(t, "redis", testAddr)
	admin, pw := newUserName(), "adm-"+randomHex(8)
	createUser(t, admin, "on", ">"+pw, "~*", "&*", "+@all", "-command")
	p, err := open(context.Background(), badAdmin(admin, pw).Config)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	name := newUserName()
	createUser(t, name, "on", ">"+randomHex(8), "~*", "+@all")
	id := inspectUser(t, p, name)
	wantPriv(t, id, provider.Privilege{Name: "+@all", Risk: provider.RiskCritical, CreatesCredentials: true})
}

// Identify reads hashes and never authenticates: not even the wrong
// candidate shows in ACL LOG, Redis's record of failed logins.
func TestIdentifyWritesNoACLLog(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	name, pw := newUserName(), "pw-"+randomHex(8)
	createUser(t, name, "on", ">"+pw, "~app:*", "+get")
	c := dialTest(t)
	entries := func() int {
		n := 0
		log := c.must(t, "ACL", "LOG", "128")
		for _, e := range log.arr {
			if m, ok := e.fields(); ok {
				if u, _ := m["username"].text(); u == name {
					n++
				}
			}
		}
		return n
	}
	// The check is real: a failed login as name is logged.
	probe := dialTest(t)
	if err := probe.do(t, "HELLO", "2", "AUTH", name, "wrong").err(); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	before := entries()
	if before == 0 {
		t.Fatal("ACL LOG does not record a failed login: the check below would prove nothing")
	}
	if got := names(identifyReport(t, p, pw).Matches); !slices.Contains(got, name) {
		t.Fatalf("Identify = %v, want %s", got, name)
	}
	identifyReport(t, p, pw+"x")
	if after := entries(); after != before {
		t.Errorf("ACL LOG records for %s went from %d to %d during Identify", name, before, after)
	}
	if id := inspectUser(t, p, name); len(id.Sessions) != 0 {
		t.Errorf("sessions as %s after Identify: %+v", name, id.Sessions)
	}
}

// The provider's own connection is not a session of the user it
// authenticates as.
func TestOwnConnectionIsNotASession(t *testing.T) {
	t.Parallel()
	testutil.NeedService(t, "redis", testAddr)
	admin, pw := newUserName(), "adm-"+randomHex(8)
	createUser(t, admin, "on", ">"+pw, "~*", "&*", "+@all")
	p, err := open(context.Background(), badAdmin(admin, pw).Config)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if id := inspectUser(t, p, admin); len(id.Sessions) != 0 {
		t.Errorf("Inspect(the administrator) lists the provider's own connection: %+v", id.Sessions)
	}
}

// A connection the server closed is dialled again on the next call.
func TestReconnect(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	p.mu.Lock()
	id := p.c.id
	p.mu.Unlock()
	if id == "" {
		t.Fatal("the provider's connection has no id")
	}
	dialTest(t).must(t, "CLIENT", "KILL", "ID", id)
	inspectUser(t, p, "default")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c == nil || p.c.id == id || p.own[id] {
		t.Errorf("after the kill: connection %v, own %v", p.c, p.own)
	}
}

// Calls made while a round trip is under way go together in the next
// one, and each gets its own replies.
func TestCallsShareRoundTrips(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	const n = 10
	names := make([]string, n)
	for i := range names {
		names[i] = newUserName()
		createUser(t, names[i], "on", "~"+names[i]+":*", "+get")
	}
	p.mu.Lock() // the connection is busy: the calls queue
	before := p.trips
	got := make([]*account, n)
	errList := make([]error, n)
	var wg sync.WaitGroup
	for i := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errList[i] = p.getUser(context.Background(), "read "+names[i], names[i])
		}()
	}
	// One caller sends (and waits for the connection); the others queue.
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.qmu.Lock()
		queued := len(p.queue)
		p.qmu.Unlock()
		if queued == n-1 {
			break
		}
		if time.Now().After(deadline) {
			p.mu.Unlock()
			t.Fatalf("%d calls queued, want %d", queued, n-1)
		}
		time.Sleep(time.Millisecond)
	}
	p.mu.Unlock()
	wg.Wait()
	for i, name := range names {
		if errList[i] != nil || got[i] == nil || got[i].u.Name != name || !slices.Contains(got[i].u.Root.Keys, "~"+name+":*") {
			t.Errorf("getUser(%s) = %+v, %v", name, got[i], errList[i])
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if trips := p.trips - before; trips != 2 {
		t.Errorf("%d calls took %d round trips, want 2 (the first alone, then the others together)", n, trips)
	}
}

func TestIdentifyCancelled(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Identify(ctx, secret.FromString("x"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Identify(cancelled) = %v, want context.Canceled", err)
	}
	// The provider still works.
	if _, err := p.Identify(context.Background(), secret.FromString("x")); err != nil {
		t.Errorf("Identify after a cancelled call: %v", err)
	}
}

func TestIdentifyEmptySecret(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	if _, err := p.Identify(context.Background(), secret.Secret{}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("Identify(empty) = %v, want kind Invalid", err)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	p.Close()
	if _, err := p.Inspect(context.Background(), provider.IdentityRef{Name: "default"}); err == nil {
		t.Error("Inspect after Close: no error")
	}
}

func TestParseAdmin(t *testing.T) {
	tests := []struct {
		url  string
		want target
	}{
		{"redis://127.0.0.1", target{network: "tcp", addr: "127.0.0.1:6379"}},
		{"redis://:pw@cache:6380/2", target{network: "tcp", addr: "cache:6380", password: "pw", auth: true}},
		{"redis://admin:p%40ss%2Fw%23rd@[::1]:7000/0", target{network: "tcp", addr: "[::1]:7000", user: "admin", password: "p@ss/w#rd", auth: true}},
		{"unix://admin:pw@/run/redis.sock?db=3", target{network: "unix", addr: "/run/redis.sock", user: "admin", password: "pw", auth: true}},
	}
	for _, tc := range tests {
		got, err := parseAdmin(tc.url)
		if err != nil {
			t.Errorf("parseAdmin(%q): %v", tc.url, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(target{})); diff != "" {
			t.Errorf("parseAdmin(%q) (-want +got):\n%s", tc.url, diff)
		}
	}
	got, err := parseAdmin("rediss://u:pw@cache.example:6380")
	if err != nil || got.tls == nil || got.tls.ServerName != "cache.example" {
		t.Errorf("rediss: %+v, %v", got, err)
	}
}

// Malformed administrator URLs are Invalid and quote neither the URL nor
// the password.
func TestBadAdminURL(t *testing.T) {
	const pw = "s3cr%t#pw"
	for _, raw := range []string{
		"",
		"redis://admin:" + pw + "@host:6379/0",
		"redis://admin:s3cr@t@host:6379/0 bad",
		"http://admin:" + url.QueryEscape(pw) + "@host",
		"redis://admin:" + url.QueryEscape(pw) + "@host/db1",
		"redis://admin:" + url.QueryEscape(pw) + "@host/0?password=" + url.QueryEscape(pw),
		"redis://admin:" + url.QueryEscape(pw) + "@/0",
		"unix://admin:" + url.QueryEscape(pw) + "@",
		"127.0.0.1:6379",
	} {
		_, err := New(context.Background(), provider.Config{System: "cache", Admin: secret.FromString(raw)})
		if err == nil {
			t.Errorf("New(%q): no error", raw)
			continue
		}
		msg := err.Error()
		if errs.KindOf(err) != errs.Invalid {
			t.Errorf("New(%q): kind %v, want Invalid: %s", raw, errs.KindOf(err), msg)
		}
		if strings.Contains(msg, "s3cr") || raw != "" && strings.Contains(msg, raw) || strings.Contains(msg, "\n") {
			t.Errorf("New(%q): error leaks or spans lines: %s", raw, msg)
		}
		if !strings.HasPrefix(msg, "redis cache: ") {
			t.Errorf("New(%q): error %q does not name the system", raw, msg)
		}
	}
}

// A server that accepts but never answers is Unreachable when the context
// ends; one that answers in another protocol is an error saying so.
// Neither message holds the password.
func TestNotRedis(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	answer := ""
	go func() {
		var silent []net.Conn // kept open until the listener closes
		defer func() {
			for _, c := range silent {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			a := answer
			mu.Unlock()
			if a == "" {
				silent = append(silent, c)
				continue
			}
			_, _ = c.Write([]byte(a))
			c.Close()
		}
	}()
	pw := "nr-" + randomHex(8)
	u := url.URL{Scheme: "redis", User: url.UserPassword("admin", pw), Host: l.Addr().String()}
	cfg := provider.Config{System: "cache", Admin: secret.FromString(u.String())}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = New(ctx, cfg)
	if errs.KindOf(err) != errs.Unreachable || strings.Contains(fmt.Sprint(err), pw) {
		t.Errorf("New(silent server) = %v (kind %v), want Unreachable without the password", err, errs.KindOf(err))
	}

	mu.Lock()
	answer = "HTTP/1.1 400 Bad Request\r\n\r\n"
	mu.Unlock()
	_, err = New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "does not answer as Redis does") || strings.Contains(err.Error(), pw) {
		t.Errorf("New(HTTP server) = %v, want an error saying it is not Redis, without the password", err)
	}
}

func TestSanitize(t *testing.T) {
	p := &Redis{}
	p.san.Add("redis://a:pw%2Fsecret@h", "pw/secret", "pw%2Fsecret")
	got := p.san.Clean("dial redis://a:pw%2Fsecret@h: pw/secret\npw%2Fsecret")
	if want := "dial [REDACTED]: [REDACTED] [REDACTED]"; got != want {
		t.Errorf("sanitize = %q, want %q", got, want)
	}
	err := p.san.Scrub(errs.New("redis x", errs.Permission, "", "refused pw/secret"))
	if errs.KindOf(err) != errs.Permission || strings.Contains(err.Error(), "pw/secret") {
		t.Errorf("scrub = %v (kind %v)", err, errs.KindOf(err))
	}
	// Too short to hide anything, a secret is left alone rather than
	// mangling the message.
	if got := p.san.Clean("context canceled", "x"); got != "context canceled" {
		t.Errorf("sanitize with a one-letter secret = %q", got)
	}
}
