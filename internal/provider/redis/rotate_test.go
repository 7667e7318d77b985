package redis

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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

func ref(name string) provider.IdentityRef {
	return provider.IdentityRef{System: testSystem, Name: name}
}

// aclLine is the user's line of ACL LIST without its password hashes and
// RESTORE payload flag, which every test sets differently.
func aclLine(t *testing.T, c *testClient, name string) string {
	t.Helper()
	lines, _ := c.must(t, "ACL", "LIST").strings()
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 || f[1] != name {
			continue
		}
		var keep []string
		for _, r := range f {
			if !strings.HasPrefix(r, "#") && !strings.HasSuffix(r, "sanitize-payload") {
				keep = append(keep, r)
			}
		}
		return strings.Join(keep, " ")
	}
	return ""
}

// dryRun reports whether name may run the command, as the server decides.
func dryRun(t *testing.T, c *testClient, name string, cmd ...string) bool {
	t.Helper()
	s, _ := c.must(t, append([]string{"ACL", "DRYRUN", name}, cmd...)...).text()
	return s == "OK"
}

// dropUserAfter deletes name when the test ends, whoever created it.
func dropUserAfter(t *testing.T, name string) {
	c := dialTest(t)
	t.Cleanup(func() { c.must(t, "ACL", "DELUSER", name) })
}

// Issue copies the source's rules, selectors and patterns, and removes
// what Drop names as Inspect names it: a broad rule keeps its ordinary
// commands (the rule after it still applies), +@admin goes whole, a
// command or key pattern goes, in the root and in selectors alike.
func TestIssueCopiesRulesMinusDrop(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	admin := dialTest(t)
	for _, tc := range []struct {
		name   string
		source []string
		drop   []string // privilege names Inspect must report
		want   string   // the new user's rules, as ACL LIST states them
		denied [][]string
	}{{
		name:   "all-except",
		source: []string{"~app:*", "%R~ro:*", "&news.*", "+@all", "-@dangerous", "+config|get", "(~x:* +get +acl|setuser)"},
		drop:   []string{"+@all except -@dangerous", "+acl|setuser"},
		want:   "~app:* %R~ro:* resetchannels &news.* +@all -@dangerous +config|get (~x:* resetchannels -@all +get)",
		denied: [][]string{{"ACL", "SETUSER", "x"}, {"CONFIG", "SET", "x", "y"}, {"FLUSHALL"}},
	}, {
		name:   "admin-whole",
		source: []string{"~*", "+@read", "+@write", "+@admin"},
		drop:   []string{"+@admin"},
		want:   "~* resetchannels -@all +@write +@read",
		// FLUSHALL is in @write: the source had it without +@admin.
		denied: [][]string{{"ACL", "SETUSER", "x"}, {"CONFIG", "SET", "x", "y"}, {"CONFIG", "GET", "x"}},
	}, {
		name:   "all-on-every-key",
		source: []string{"~*", "&*", "+@all"},
		drop:   []string{"+@all", "~*"},
		want:   "&* +@all -@dangerous",
		denied: [][]string{{"ACL", "SETUSER", "x"}, {"CONFIG", "SET", "x", "y"}, {"FLUSHALL"}, {"GET", "any"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			from, name := newUserName(), newUserName()
			createUser(t, from, append([]string{"on", ">src-" + randomHex(8)}, tc.source...)...)
			dropUserAfter(t, name)
			id := inspectUser(t, p, from)
			for _, d := range tc.drop {
				found := false
				for _, pr := range id.Privileges {
					found = found || pr.Name == d
				}
				if !found {
					t.Fatalf("Inspect(%s) names no privilege %q: %+v", from, d, id.Privileges)
				}
			}
			pw := "new-" + randomHex(8)
			req := provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw), Drop: tc.drop}
			if _, err := p.Issue(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if got, want := aclLine(t, admin, name), "user "+name+" on "+tc.want; got != want {
				t.Errorf("issued user:\n got %s\nwant %s", got, want)
			}
			for _, cmd := range tc.denied {
				if dryRun(t, admin, name, cmd...) {
					t.Errorf("%s may run %v", name, cmd)
				}
			}
		})
	}
}

// The clear secret never reaches anything the server shows or keeps: not
// MONITOR, not SLOWLOG (on a server of the test's own that logs every
// command), not ACL LOG, not the ACL file. Only its hash is stored.
func TestSecretNeverShownByServer(t *testing.T) {
	t.Parallel()
	srv := privateServer(t, true, "--slowlog-log-slower-than", "0", "--slowlog-max-len", "1024")
	p := openAt(t, srv.addr)
	admin := dialAt(t, srv.addr)
	admin.must(t, "ACL", "SETUSER", "src", "on", ">src-pw-"+randomHex(8), "~app:*", "+@read")

	mon := dialAt(t, srv.addr)
	mon.must(t, "MONITOR")

	ctx := context.Background()
	first, second := "first-"+randomHex(12), "second-"+randomHex(12)
	c, err := p.Issue(ctx, provider.IssueRequest{From: ref("src"), Name: "issued", Secret: secret.FromString(first)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(ctx, *c); err != nil {
		t.Fatal(err)
	}
	if err := p.AddSecret(ctx, ref("issued"), secret.FromString(second)); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveSecret(ctx, ref("issued"), secret.FromString(first)); err != nil {
		t.Fatal(err)
	}
	bad := *c // now refused: an ACL LOG entry
	if err := p.Verify(ctx, bad); errs.KindOf(err) != errs.Permission {
		t.Fatalf("Verify(removed password) = %v, want kind Permission", err)
	}
	marker := "end-" + randomHex(6)
	admin.must(t, "ECHO", marker)

	var seen []string
	for {
		s, _ := mon.next(t).text()
		seen = append(seen, s)
		if strings.Contains(s, marker) {
			break
		}
	}
	slow := admin.must(t, "SLOWLOG", "GET", "-1")
	acllog := admin.must(t, "ACL", "LOG")
	file, err := os.ReadFile(srv.aclfile)
	if err != nil {
		t.Fatal(err)
	}
	hashSecond := passwordHash(secret.FromString(second))
	if !strings.Contains(string(file), "#"+hashSecond) {
		t.Errorf("the ACL file holds no hash of the new password:\n%s", file)
	}
	if !strings.Contains(strings.Join(seen, "\n"), `"AUTH"`) {
		t.Fatalf("MONITOR showed no AUTH, so the test proves nothing: %q", seen)
	}
	if !strings.Contains(flatten(slow), "SETUSER") {
		t.Fatalf("SLOWLOG recorded no ACL SETUSER, so the test proves nothing: %s", flatten(slow))
	}
	for what, text := range map[string]string{
		"MONITOR": strings.Join(seen, "\n"), "SLOWLOG": flatten(slow), "ACL LOG": flatten(acllog), "the ACL file": string(file),
	} {
		for _, pw := range []string{first, second} {
			if strings.Contains(text, pw) {
				t.Errorf("%s shows a password in clear:\n%s", what, text)
			}
		}
	}
}

// flatten joins every string of a reply, however nested.
func flatten(v value) string {
	if s, ok := v.text(); ok {
		return s
	}
	var parts []string
	for _, e := range v.arr {
		parts = append(parts, flatten(e))
	}
	return strings.Join(parts, " ")
}

// On a server with an aclfile every change is saved to it at once, so a
// restart keeps a revoked password revoked; an administrator that may not
// save gets an error naming +acl|save.
func TestChangesSavedToACLFile(t *testing.T) {
	t.Parallel()
	srv := privateServer(t, true)
	p := openAt(t, srv.addr)
	admin := dialAt(t, srv.addr)
	admin.must(t, "ACL", "SETUSER", "src", "on", ">src-pw-"+randomHex(8), "~app:*", "+@read")
	ctx := context.Background()
	fileLine := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(srv.aclfile)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "user "+name+" ") {
				return l
			}
		}
		return ""
	}

	if _, err := p.Issue(ctx, provider.IssueRequest{From: ref("src"), Name: "issued", Secret: secret.FromString("pw-" + randomHex(8))}); err != nil {
		t.Fatal(err)
	}
	if l := fileLine("issued"); !strings.Contains(l, " on ") || !strings.Contains(l, "~app:*") {
		t.Errorf("after Issue the ACL file says %q, want the issued user on with the source's keys", l)
	}
	if err := p.Revoke(ctx, ref("src")); err != nil {
		t.Fatal(err)
	}
	if l := fileLine("src"); !strings.Contains(l, " off ") || strings.Contains(l, "#") {
		t.Errorf("after Revoke the ACL file says %q, want src off without passwords", l)
	}
	if err := p.Drop(ctx, ref("issued")); err != nil {
		t.Fatal(err)
	}
	if l := fileLine("issued"); l != "" {
		t.Errorf("after Drop the ACL file still says %q", l)
	}

	pw := "nosave-" + randomHex(8)
	admin.must(t, "ACL", "SETUSER", "nosave", "on", ">"+pw, "~*", "&*", "+@all", "-acl|save")
	lp := openAt(t, srv.addr, "nosave", pw)
	err := lp.Revoke(ctx, ref("issued2"))
	if err != nil {
		t.Fatalf("Revoke(missing user) as an administrator that may not save: %v (nothing to change, nothing to save)", err)
	}
	admin.must(t, "ACL", "SETUSER", "victim", "on", ">v-"+randomHex(8), "~app:*", "+get")
	err = lp.Revoke(ctx, ref("victim"))
	if errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "+acl|save") || strings.Contains(err.Error(), pw) {
		t.Errorf("Revoke without +acl|save = %v, want kind Permission naming +acl|save, without the password", err)
	}
}

// Revoke, RemoveSecret, DropPrivileges and TerminateSessions of a missing
// user change nothing and create nothing; AddSecret is NotFound and does
// not create it either (ACL SETUSER would).
func TestMissingUserIsNeverCreated(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	h := rotateHarness{}
	name := newUserName()
	dropUserAfter(t, name)
	ctx := context.Background()
	s := secret.FromString("pw-" + randomHex(8))
	if err := p.Revoke(ctx, ref(name)); err != nil {
		t.Errorf("Revoke: %v", err)
	}
	if err := p.RemoveSecret(ctx, ref(name), s); err != nil {
		t.Errorf("RemoveSecret: %v", err)
	}
	if got, err := p.DropPrivileges(ctx, ref(name), []string{"+@all"}); err != nil || len(got) != 0 {
		t.Errorf("DropPrivileges = %v, %v; want nothing, nil", got, err)
	}
	if n, err := p.TerminateSessions(ctx, ref(name), func(provider.Session) bool { return false }); err != nil || n != 0 {
		t.Errorf("TerminateSessions(keep none) = %d, %v; want 0, nil", n, err)
	}
	if err := p.AddSecret(ctx, ref(name), s); errs.KindOf(err) != errs.NotFound {
		t.Errorf("AddSecret = %v, want kind NotFound", err)
	}
	if h.Exists(t, name) {
		t.Errorf("%s exists after calls on a missing user", name)
	}
}

// The user the provider connects as is never revoked, dropped, stripped
// or given a new password: that would lock rekey out mid-plan. Nothing is
// changed (here the default user, which the tests otherwise never touch).
func TestRefusesItsOwnAdministrator(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	admin := dialTest(t)
	before := aclLine(t, admin, "default")
	ctx := context.Background()
	s := secret.FromString("pw-" + randomHex(8))
	for what, err := range map[string]error{
		"Revoke":         p.Revoke(ctx, ref("default")),
		"Drop":           p.Drop(ctx, ref("default")),
		"DropPrivileges": func() error { _, err := p.DropPrivileges(ctx, ref("default"), []string{"+@all"}); return err }(),
		"Issue in place": func() error {
			_, err := p.Issue(ctx, provider.IssueRequest{From: ref("default"), Name: "default", Secret: s})
			return err
		}(),
	} {
		if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "administrator") {
			t.Errorf("%s(default) as default = %v, want kind Invalid naming the administrator", what, err)
		}
	}
	from := newUserName()
	createUser(t, from, "on", ">x-"+randomHex(8), "~app:*", "+get")
	// Through an administrator of its own: issuing over the default user,
	// or over the administrator, is refused too.
	adminName, adminPW := newUserName(), "adm-"+randomHex(8)
	createUser(t, adminName, "on", ">"+adminPW, "~*", "&*", "+@all")
	p2 := openAt(t, testAddr, adminName, adminPW)
	for _, name := range []string{"default", adminName} {
		if _, err := p2.Issue(ctx, provider.IssueRequest{From: ref(from), Name: name, Secret: s}); errs.KindOf(err) != errs.Invalid {
			t.Errorf("Issue(%s from %s) = %v, want kind Invalid", name, from, err)
		}
	}
	if err := (rotateHarness{}).CanUse(t, adminName, adminPW); err != nil {
		t.Errorf("the administrator no longer works: %v", err)
	}
	if after := aclLine(t, admin, "default"); after != before {
		t.Errorf("the default user changed:\nbefore %s\nafter  %s", before, after)
	}
}

// Verify proves the login, not the user's rights: a user that may not run
// PING is still accepted; one that is off is refused.
func TestVerifyUserWithoutPing(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	name, pw := newUserName(), "pw-"+randomHex(8)
	createUser(t, name, "on", ">"+pw, "~app:*", "+get")
	c := provider.Credential{Ref: ref(name), Secret: secret.FromString(pw)}
	if err := p.Verify(context.Background(), c); err != nil {
		t.Errorf("Verify(user without +ping) = %v, want nil", err)
	}
	dialTest(t).must(t, "ACL", "SETUSER", name, "off")
	err := p.Verify(context.Background(), c)
	if errs.KindOf(err) != errs.Permission || strings.Contains(err.Error(), pw) {
		t.Errorf("Verify(off user) = %v, want kind Permission without the password", err)
	}
}

// Issue in place replaces every password with the new one, turns the user
// on (after a Revoke) and removes what Drop names, keeping the rest.
func TestIssueInPlace(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	h := rotateHarness{}
	name, a, b := newUserName(), "a-"+randomHex(8), "b-"+randomHex(8)
	createUser(t, name, "on", ">"+a, ">"+b, "~app:*", "+@read", "+@write", "+acl")
	ctx := context.Background()
	if err := p.Revoke(ctx, ref(name)); err != nil {
		t.Fatal(err)
	}
	pw := "new-" + randomHex(8)
	c, err := p.Issue(ctx, provider.IssueRequest{From: ref(name), Name: name, Secret: secret.FromString(pw), Drop: []string{"+acl"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Enforced || c.Via != "" {
		t.Errorf("credential %+v: want not Enforced (Redis has no expiry) and no Via", c)
	}
	for _, old := range []string{a, b} {
		if h.CanUse(t, name, old) == nil {
			t.Errorf("an old password still works after Issue in place")
		}
	}
	if err := h.CanUse(t, name, pw); err != nil {
		t.Errorf("new password after Issue in place: %v", err)
	}
	if h.Risky(t, name) {
		t.Errorf("%s keeps +acl, which Drop named", name)
	}
	if got, want := aclLine(t, dialTest(t), name), "user "+name+" on ~app:* resetchannels -@all +@write +@read"; got != want {
		t.Errorf("after Issue in place:\n got %s\nwant %s", got, want)
	}
}

// DropPrivileges rewrites the rules in place: a rule after the one
// removed keeps its effect (here +config|get, which a trailing -@admin
// would have taken too), and the user keeps its passwords.
func TestDropPrivilegesKeepsLaterRules(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	h := rotateHarness{}
	admin := dialTest(t)
	name, pw := newUserName(), "pw-"+randomHex(8)
	createUser(t, name, "on", ">"+pw, "~*", "+@all", "-@dangerous", "+config|get", "+acl|setuser")
	got, err := p.DropPrivileges(context.Background(), ref(name), []string{"+@all except -@dangerous", "+acl|setuser", "+nothing-held"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"+@all except -@dangerous", "+acl|setuser"}; !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	if !dryRun(t, admin, name, "CONFIG", "GET", "maxmemory") {
		t.Error("+config|get, after the rule removed, no longer applies")
	}
	if dryRun(t, admin, name, "ACL", "SETUSER", "x") || dryRun(t, admin, name, "CONFIG", "SET", "x", "y") {
		t.Error("the user may still change users or the configuration")
	}
	if err := h.CanUse(t, name, pw); err != nil {
		t.Errorf("the user no longer works: %v", err)
	}
}

// Isolating a nopass user (anyone may log in as it) leaves it accepting
// no password at all until one is added.
func TestDropPrivilegesNoPass(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	h := rotateHarness{}
	name := newUserName()
	createUser(t, name, "on", "nopass", "~app:*", "+get")
	if h.CanUse(t, name, "anything") != nil {
		t.Fatal("a nopass user refuses a login")
	}
	got, err := p.DropPrivileges(context.Background(), ref(name), []string{"nopass"})
	if err != nil || !slices.Equal(got, []string{"nopass"}) {
		t.Fatalf("DropPrivileges(nopass) = %v, %v", got, err)
	}
	if h.CanUse(t, name, "anything") == nil {
		t.Error("the user still accepts any password")
	}
}

// With keep, TerminateSessions ends only the sessions keep refuses and
// counts them; the provider's own connection is never among them.
func TestTerminateSessionsKeep(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	h := rotateHarness{}
	name, pw := newUserName(), "pw-"+randomHex(8)
	createUser(t, name, "on", ">"+pw, "~app:*", "+@read")
	var conns []string
	for i := range 3 {
		conns = append(conns, h.OpenSession(t, name, pw, "app-"+strconv.Itoa(i)).ID)
	}
	n, err := p.TerminateSessions(context.Background(), ref(name), func(s provider.Session) bool { return s.Application == "app-1" })
	if err != nil || n != 2 {
		t.Fatalf("TerminateSessions(keep app-1) = %d, %v; want 2, nil", n, err)
	}
	id := inspectUser(t, p, name)
	var left []string
	for _, s := range id.Sessions {
		left = append(left, s.ID)
	}
	if diff := cmp.Diff([]string{conns[1]}, left); diff != "" {
		t.Errorf("sessions left (-want +got):\n%s", diff)
	}
	if n, err := p.TerminateSessions(context.Background(), ref(name), nil); err != nil || n != 1 {
		t.Errorf("TerminateSessions(all) = %d, %v; want 1, nil", n, err)
	}
	if _, err := p.Inspect(context.Background(), ref(name)); err != nil {
		t.Errorf("the provider's own connection did not survive: %v", err)
	}
}

// Redis has no expiry to move: Renew says so with ErrUnsupported.
func TestRenewUnsupported(t *testing.T) {
	t.Parallel()
	p := openTest(t)
	err := p.Renew(context.Background(), ref("anyone"), time.Now().Add(time.Hour))
	if !errors.Is(err, provider.ErrUnsupported) || errs.KindOf(err) != errs.Unsupported || !strings.Contains(err.Error(), testSystem) {
		t.Errorf("Renew = %v, want ErrUnsupported of kind Unsupported naming the system", err)
	}
}

// An administrator that may not create users gets a Permission error
// naming what it lacks, without the secret or its hash; nothing is made.
func TestIssueWithoutSetUserPermission(t *testing.T) {
	t.Parallel()
	adminName, adminPW := newUserName(), "adm-"+randomHex(8)
	createUser(t, adminName, "on", ">"+adminPW, "~*", "&*", "+@all", "-acl|setuser")
	p := openAt(t, testAddr, adminName, adminPW)
	from, name := newUserName(), newUserName()
	createUser(t, from, "on", ">x-"+randomHex(8), "~app:*", "+get")
	pw := "issued-" + randomHex(8)
	_, err := p.Issue(context.Background(), provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw)})
	if errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "+acl|setuser") {
		t.Errorf("Issue = %v, want kind Permission naming +acl|setuser", err)
	}
	if err != nil && (strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), passwordHash(secret.FromString(pw)))) {
		t.Errorf("error holds the secret or its hash: %v", err)
	}
	if (rotateHarness{}).Exists(t, name) {
		dropUserAfter(t, name)
		t.Errorf("%s was created", name)
	}
}

func TestDropRule(t *testing.T) {
	for in, want := range map[string]string{
		"+@all except -@dangerous":        "+@all",
		"+@ALL":                           "+@all",
		"+acl|setuser":                    "+acl|setuser",
		"~App:*":                          "~App:*",
		"%R~*":                            "%R~*",
		"+@all except -@admin -@keyspace": "+@all",
	} {
		if got := dropRule(in); got != want {
			t.Errorf("dropRule(%q) = %q, want %q", in, got, want)
		}
	}
}

// server is a redis-server of a test's own.
type server struct {
	addr    string
	aclfile string // "" without one
}

// privateServer starts a redis-server for one test, for what the shared
// server must not be given (an ACL file, a slow log of every command). It
// stops when the test ends. Without redis-server the test is skipped, or
// fails when REKEY_REQUIRE_SERVICES=1.
func privateServer(t *testing.T, aclfile bool, args ...string) server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(testutil.RequireServicesEnv) == "1" {
			t.Fatalf("redis-server is required (%s=1): %v", testutil.RequireServicesEnv, err)
		}
		t.Skipf("redis-server not installed: %v", err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	srv := server{addr: "127.0.0.1:" + port}
	argv := []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}
	if aclfile {
		srv.aclfile = filepath.Join(dir, "users.acl")
		if err := os.WriteFile(srv.aclfile, []byte("user default on nopass ~* &* +@all\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "--aclfile", srv.aclfile)
	}
	cmd := exec.Command(bin, append(argv, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", srv.addr, time.Second)
		if err == nil {
			c.Close()
			return srv
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server did not start on %s: %v\n%s", srv.addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openAt opens the provider on the server at addr, as its default user or
// as user/password.
func openAt(t *testing.T, addr string, userPassword ...string) *Redis {
	t.Helper()
	u := url.URL{Scheme: "redis", Host: addr, Path: "/0"}
	if len(userPassword) == 2 {
		u.User = url.UserPassword(userPassword[0], userPassword[1])
	}
	p, err := open(context.Background(), provider.Config{System: testSystem, Admin: secret.FromString(u.String())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// next reads one reply without sending anything (MONITOR's stream).
func (c *testClient) next(t *testing.T) value {
	t.Helper()
	if err := c.nc.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	v, err := readValue(c.r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return v
}

// What the provider sends, read off the wire through a recording proxy in
// front of the test server: the clear secret travels only in Verify's
// AUTH; ACL SETUSER carries its SHA-256. (Redis 7 hides ACL commands
// from MONITOR and SLOWLOG anyway, so only the wire shows this.)
func TestSecretSentOnlyInAuth(t *testing.T) {
	t.Parallel()
	testutil.NeedService(t, "redis", testAddr)
	rec := &recorder{}
	p := openAt(t, proxy(t, testAddr, rec))
	from, name := newUserName(), newUserName()
	createUser(t, from, "on", ">src-"+randomHex(8), "~app:*", "+@read")
	dropUserAfter(t, name)
	ctx := context.Background()
	first, second := "first-"+randomHex(12), "second-"+randomHex(12)
	c, err := p.Issue(ctx, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(first)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(ctx, *c); err != nil {
		t.Fatal(err)
	}
	if err := p.AddSecret(ctx, ref(name), secret.FromString(second)); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveSecret(ctx, ref(name), secret.FromString(first)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Issue(ctx, provider.IssueRequest{From: ref(name), Name: name, Secret: secret.FromString(first)}); err != nil {
		t.Fatal(err)
	}

	var setusers, auths int
	for _, cmd := range rec.commands(t) {
		line := strings.Join(cmd, " ")
		switch {
		case strings.EqualFold(cmd[0], "AUTH"):
			auths++
			continue
		case len(cmd) > 1 && strings.EqualFold(cmd[0]+" "+cmd[1], "ACL SETUSER"):
			setusers++
		}
		for _, pw := range []string{first, second} {
			if strings.Contains(line, pw) {
				t.Errorf("the provider sent a password in clear outside AUTH: %s %s …", cmd[0], cmd[1])
			}
		}
	}
	if setusers < 4 || auths != 1 {
		t.Errorf("recorded %d ACL SETUSER and %d AUTH, want ≥ 4 and 1: the proxy missed traffic", setusers, auths)
	}
}

// recorder keeps what clients sent through proxy.
type recorder struct {
	mu  sync.Mutex
	buf []bytes.Buffer
}

func (r *recorder) conn() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, bytes.Buffer{})
	return len(r.buf) - 1
}

func (r *recorder) Write(i int, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[i].Write(b)
}

// commands decodes every command sent, connection by connection.
func (r *recorder) commands(t *testing.T) [][]string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]string
	for i := range r.buf {
		br := bufio.NewReader(bytes.NewReader(r.buf[i].Bytes()))
		for {
			v, err := readValue(br)
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("recorded traffic: %v", err)
			}
			cmd, ok := v.strings()
			if !ok || len(cmd) == 0 {
				t.Fatalf("recorded traffic: not a command: %+v", v)
			}
			out = append(out, cmd)
		}
	}
	return out
}

// proxy forwards connections to addr, recording what clients send, until
// the test ends; it returns its own address.
func proxy(t *testing.T, addr string, rec *recorder) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			i := rec.conn()
			wg.Add(2)
			go func() {
				defer wg.Done()
				defer s.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						rec.Write(i, buf[:n])
						if _, werr := s.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, s)
			}()
		}
	}()
	return l.Addr().String()
}
