package mysql

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func openTest(t *testing.T) (*MySQL, *server) {
	t.Helper()
	s := testServer(t)
	p, err := open(context.Background(), adminConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, s
}

// newName is a fresh user name; rk_ so that leftovers are easy to find.
func newName() string { return testutil.RandomName("rk_") }

func inspectName(t *testing.T, p *MySQL, name string) *provider.Identity {
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

func TestGlobalRisks(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	all, sel, super, creator := newName(), newName(), newName(), newName()
	for _, n := range []string{all, sel, super, creator} {
		s.createUser(t, n, "%", "IDENTIFIED BY 'pw'")
	}
	s.exec(t, "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", all)
	s.exec(t, "GRANT SELECT, PROCESS ON *.* TO ?@'%' WITH GRANT OPTION", sel)
	s.exec(t, "GRANT SUPER, RELOAD ON *.* TO ?@'%'", super)
	s.exec(t, "GRANT CREATE USER ON *.* TO ?@'%'", creator)

	id := inspectName(t, p, all)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "ALL PRIVILEGES ON *.* WITH GRANT OPTION", Risk: provider.RiskCritical, CreatesCredentials: true})
	if len(id.Privileges) != 1 {
		t.Errorf("ALL is one privilege, got %+v", id.Privileges)
	}

	id = inspectName(t, p, sel)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "GRANT OPTION ON *.*", Risk: provider.RiskHigh, CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "SELECT ON *.*", Risk: provider.RiskHigh})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "PROCESS ON *.*", Risk: provider.RiskHigh})
	providertest.WantRelated(t, id, RelatedGrantedPrivilege, "grants made by "+sel, "GRANT OPTION ON *.* directly")
	for _, r := range id.Related {
		if r.Kind == RelatedCreatedUser {
			t.Errorf("GRANT OPTION alone cannot create accounts, yet %+v", r)
		}
	}

	id = inspectName(t, p, super)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "SUPER ON *.*", Risk: provider.RiskCritical})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "RELOAD ON *.*", Risk: provider.RiskHigh})
	if id.Privileges[0].Risk != provider.RiskCritical {
		t.Errorf("privileges not sorted by risk: %+v", id.Privileges)
	}

	id = inspectName(t, p, creator)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "CREATE USER ON *.*", Risk: provider.RiskHigh, CreatesCredentials: true})
	// Every other account is one it could have made, the ALL one included.
	providertest.WantRelated(t, id, RelatedCreatedUser, all, "CREATE USER ON *.* directly")
	if providertest.FindRelated(id, RelatedCreatedUser, creator) != nil {
		t.Errorf("%s lists itself as an account it could have created", creator)
	}
}

// The bit layout of MariaDB's access mask, checked against the server's
// own reading of it for an account holding every privilege but one.
func TestAccessBitsMatchServer(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	if !p.flavor.globalPriv() {
		t.Skip("not MariaDB 10.4+")
	}
	n := newName()
	s.createUser(t, n, "%", "IDENTIFIED BY 'pw'")
	s.exec(t, "GRANT ALL PRIVILEGES ON *.* TO ?@'%'", n)
	s.exec(t, "REVOKE SHUTDOWN ON *.* FROM ?@'%'", n)
	rows, err := s.db.Query("SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?", "'"+n+"'@'%'")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		want = append(want, v)
	}
	rows.Close()
	accounts, err := p.loadAccounts(context.Background(), &n)
	if err != nil || len(accounts) != 1 {
		t.Fatalf("loadAccounts(%s) = %v, %v", n, accounts, err)
	}
	got, all, grant := mariaGlobal(p.flavor, accounts[0].access)
	if all || grant {
		t.Errorf("all=%v grant=%v, want neither", all, grant)
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded access mask (-server +rekey):\n%s", diff)
	}
}

func TestDatabaseAndTableGrants(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	n, db := newName(), newName()
	s.createUser(t, n, "%", "IDENTIFIED BY 'pw'")
	s.createDatabase(t, db)
	s.exec(t, "CREATE TABLE `"+db+"`.orders (id int, total int)")
	s.exec(t, "GRANT SELECT, INSERT, DELETE ON `"+db+"`.* TO ?@'%'", n)
	s.exec(t, "GRANT UPDATE ON `"+db+"`.orders TO ?@'%' WITH GRANT OPTION", n)
	s.exec(t, "GRANT SELECT (total) ON `"+db+"`.orders TO ?@'%'", n)
	s.exec(t, "GRANT SELECT ON mysql.* TO ?@'%'", n)

	id := inspectName(t, p, n)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "SELECT ON " + db + ".*", Risk: provider.RiskLow})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "INSERT ON " + db + ".*", Risk: provider.RiskMedium})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "DELETE ON " + db + ".*", Risk: provider.RiskMedium})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "UPDATE ON " + db + ".orders", Risk: provider.RiskMedium})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "GRANT OPTION ON " + db + ".orders", Risk: provider.RiskHigh, CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "SELECT (total) ON " + db + ".orders", Risk: provider.RiskLow})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "SELECT ON mysql.*", Risk: provider.RiskHigh})

	// Writing the grant tables is making accounts.
	w := newName()
	s.createUser(t, w, "%", "IDENTIFIED BY 'pw'")
	s.exec(t, "GRANT INSERT ON mysql.* TO ?@'%'", w)
	id = inspectName(t, p, w)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "INSERT ON mysql.*", Risk: provider.RiskCritical, CreatesCredentials: true})
	providertest.WantRelated(t, id, RelatedCreatedUser, n, "INSERT ON mysql.* directly")
}

func TestRolesWithVia(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	if !s.flavor(t).mariadb {
		t.Skip("MariaDB roles")
	}
	n, outer, inner, db := newName(), newName(), newName(), newName()
	s.createUser(t, n, "%", "IDENTIFIED BY 'pw'")
	s.createRole(t, outer)
	s.createRole(t, inner)
	s.createDatabase(t, db)
	s.exec(t, "GRANT "+inner+" TO "+outer)
	s.exec(t, "GRANT CREATE USER ON *.* TO "+inner)
	s.exec(t, "GRANT SELECT ON `"+db+"`.* TO "+outer)
	s.exec(t, "GRANT "+outer+" TO ?@'%' WITH ADMIN OPTION", n)

	id := inspectName(t, p, n)
	chain := outer + " → " + inner
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "ROLE " + outer + " WITH ADMIN OPTION", Risk: provider.RiskHigh, CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "ROLE " + inner, Risk: provider.RiskLow, Via: outer})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "CREATE USER ON *.*", Risk: provider.RiskHigh, Via: chain, CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "SELECT ON " + db + ".*", Risk: provider.RiskLow, Via: outer})
	providertest.WantRelated(t, id, RelatedCreatedUser, outer, "CREATE USER ON *.* through "+chain)

	// A role is inspected by its bare name; it cannot log in.
	rid := inspectName(t, p, outer)
	if rid.CanLogin {
		t.Errorf("role %s can log in?", outer)
	}
	providertest.WantPrivilege(t, rid, provider.Privilege{Name: "CREATE USER ON *.*", Risk: provider.RiskHigh, Via: inner, CreatesCredentials: true})
}

func TestLockedAndExpired(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	locked, expired, lifetime, open := newName(), newName(), newName(), newName()
	s.createUser(t, locked, "%", "IDENTIFIED BY 'pw' ACCOUNT LOCK")
	s.createUser(t, expired, "%", "IDENTIFIED BY 'pw' PASSWORD EXPIRE")
	s.createUser(t, lifetime, "%", "IDENTIFIED BY 'pw' PASSWORD EXPIRE INTERVAL 30 DAY")
	s.createUser(t, open, "%", "IDENTIFIED BY 'pw'")
	for _, c := range []struct {
		name     string
		canLogin bool
	}{{locked, false}, {expired, false}, {lifetime, true}, {open, true}} {
		if id := inspectName(t, p, c.name); id.CanLogin != c.canLogin {
			t.Errorf("%s: CanLogin = %v, want %v", c.name, id.CanLogin, c.canLogin)
		}
	}
	id := inspectName(t, p, lifetime)
	if id.ValidUntil == nil || id.ValidUntil.Sub(time.Now().Add(30*24*time.Hour)).Abs() > time.Hour {
		t.Errorf("ValidUntil = %v, want about 30 days from now", id.ValidUntil)
	}
	if id := inspectName(t, p, open); id.ValidUntil != nil {
		t.Errorf("ValidUntil = %v for a password without a lifetime", id.ValidUntil)
	}
}

// Three accounts share a password: two of one user name on different
// hosts, and another user. Identify names all three; Inspect says the
// other host's account has the same hash.
func TestPasswordReuse(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	a, b, other := newName(), newName(), newName()
	pw := "reuse-" + testutil.RandomName("pw")
	s.createUser(t, a, "%", "IDENTIFIED BY ?", pw)
	s.createUser(t, a, "10.9.%", "IDENTIFIED BY ?", pw)
	s.createUser(t, b, "%", "IDENTIFIED BY ?", pw)
	s.createUser(t, other, "%", "IDENTIFIED BY 'another'")

	ms, err := p.Identify(context.Background(), secret.FromString(pw))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Ref.Name)
		if m.Method != MethodNative {
			t.Errorf("%s matched by %q", m.Ref.Name, m.Method)
		}
	}
	want := []string{a, a + "@10.9.%", b}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Identify (-want +got):\n%s", diff)
	}
	id := inspectName(t, p, a)
	providertest.WantRelated(t, id, RelatedOtherKey, a+"@10.9.%", "same")
	// The explicit and bare forms of the '%' account are one identity.
	if id2 := inspectName(t, p, a+"@%"); !id2.Exists || providertest.FindRelated(id2, RelatedOtherKey, a+"@10.9.%") == nil {
		t.Errorf("Inspect(%s@%%) differs from Inspect(%s): %+v", a, a, id2)
	}
}

// The process list names only the user: a session from 127.0.0.1 belongs
// to the account with the most specific matching host.
func TestSessionsPickTheAccount(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	n := newName()
	s.createUser(t, n, "%", "IDENTIFIED BY 'pw-any'")
	s.createUser(t, n, "127.0.0.1", "IDENTIFIED BY 'pw-local'")
	_, c := s.login(t, n, "pw-local", "")

	local := inspectName(t, p, n+"@127.0.0.1")
	if len(local.Sessions) != 1 || local.Sessions[0].ID != c.ID {
		t.Errorf("Inspect(%s@127.0.0.1) sessions = %+v, want connection %s", n, local.Sessions, c.ID)
	}
	if any := inspectName(t, p, n); len(any.Sessions) != 0 {
		t.Errorf("Inspect(%s) sessions = %+v, want none: the session is %s@127.0.0.1's", n, any.Sessions, n)
	}
}

func TestOwnedObjects(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	n, db := newName(), newName()
	s.createUser(t, n, "%", "IDENTIFIED BY 'pw'")
	s.createDatabase(t, db)
	s.exec(t, "CREATE DEFINER = ?@'%' PROCEDURE `"+db+"`.grant_me() SQL SECURITY DEFINER SELECT 1", n)
	s.exec(t, "CREATE DEFINER = ?@'%' SQL SECURITY INVOKER VIEW `"+db+"`.v AS SELECT 1 AS one", n)
	id := inspectName(t, p, n)
	providertest.WantRelated(t, id, RelatedOwnedObject, "PROCEDURE "+db+".grant_me", "runs with its privileges")
	providertest.WantRelated(t, id, RelatedOwnedObject, "VIEW "+db+".v", "INVOKER")
}

// A table grant records its grantor: the grant the identity made is
// listed.
func TestGrantsMade(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	n, to, db := newName(), newName(), newName()
	s.createUser(t, n, "%", "IDENTIFIED BY 'pw-n'")
	s.createUser(t, to, "%", "IDENTIFIED BY 'pw'")
	s.createDatabase(t, db)
	s.exec(t, "CREATE TABLE `"+db+"`.t (i int)")
	s.exec(t, "GRANT SELECT ON `"+db+"`.t TO ?@'%' WITH GRANT OPTION", n)
	conn, _ := s.login(t, n, "pw-n", "")
	if _, err := conn.ExecContext(context.Background(), "GRANT SELECT ON `"+db+"`.t TO ?@'%'", to); err != nil {
		t.Fatal(err)
	}
	id := inspectName(t, p, n)
	providertest.WantRelated(t, id, RelatedGrantedPrivilege, "SELECT ON "+db+".t TO "+to, "granted by "+n)
}

func TestIdentifyMethods(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	if !s.flavor(t).globalPriv() {
		t.Skip("IDENTIFIED VIA … OR … is MariaDB 10.4+")
	}
	either, old, socket := newName(), newName(), newName()
	pw := "methods-" + testutil.RandomName("pw")
	s.createUser(t, either, "%", "IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(?)", pw)
	s.createUser(t, old, "%", "IDENTIFIED VIA mysql_old_password USING ?", s.query1(t, "SELECT OLD_PASSWORD(?)", pw))
	s.createUser(t, socket, "%", "IDENTIFIED VIA unix_socket")

	r, err := p.IdentifyReport(context.Background(), secret.FromString(pw))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range r.Matches {
		got[m.Ref.Name] = m.Method
	}
	want := map[string]string{either: MethodNative, old: MethodOld}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
	var sk *Skip
	for i := range r.Skipped {
		if r.Skipped[i].Account == socket {
			sk = &r.Skipped[i]
		}
		if strings.Contains(r.Skipped[i].Reason, pw) {
			t.Errorf("skip reason holds the secret: %+v", r.Skipped[i])
		}
	}
	if sk == nil || sk.Unsupported || !strings.Contains(sk.Reason, "unix_socket") {
		t.Errorf("unix_socket account skip = %+v, want a reason naming unix_socket, not unsupported", sk)
	}
}

// Stored formats, each with a password it must and one it must not
// accept, or the reason it is skipped.
func TestVerifierFormats(t *testing.T) {
	cases := []struct {
		name, plugin, stored string
		good, bad            string
		skip                 string // substring of the reason, when skipped
		unsupported          bool
	}{
		{"native", MethodNative, NativePassword([]byte("abc")), "abc", "abd", "", false},
		{"native lower case hex", "", strings.ToLower(NativePassword([]byte("abc"))), "abc", "ab", "", false},
		{"native empty", MethodNative, "", "", "", "empty password", false},
		{"native placeholder", MethodNative, "invalid", "", "", "not a password hash", false},
		{"old", MethodOld, "7cd2b5942be28759", "abc", "abd", "", false},
		{"old skips spaces", MethodOld, "7cd2b5942be28759", "a b\tc", "abcd", "", false},
		{"old in native's column", MethodNative, "7cd2b5942be28759", "abc", "abd", "", false},
		{"ed25519", MethodEd25519, "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY", "secret", "Secret", "", false},
		{"ed25519 bad", MethodEd25519, "not base64!", "", "", "not a base64 public key", false},
		{"sha256_password", MethodSHA256, "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!", "Hello world", "", false},
		{"caching_sha2 placeholder", MethodCachingSHA2, invalidSHA2, "", "", "cannot log in", false},
		{"caching_sha2 short", MethodCachingSHA2, "$A$005$short", "", "", "20 + 43", false},
		{"caching_sha2 other format", MethodCachingSHA2, "$B$005$" + strings.Repeat("x", 63), "", "", "not the $A$ crypt format", true},
		{"unix_socket", "unix_socket", "", "", "", "keeps no password hash", false},
		{"pam", "pam", "mariadb", "", "", "keeps no password hash", false},
		{"unknown plugin", "parsec", "P0:abcdef", "", "", `"parsec" is not supported`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := parseVerifier(c.plugin, c.stored)
			if c.skip != "" {
				var sk *errSkip
				if !errors.As(err, &sk) {
					t.Fatalf("parseVerifier = %v, %v; want a skip", v, err)
				}
				if !strings.Contains(sk.reason, c.skip) || sk.unsupported != c.unsupported {
					t.Errorf("skip %q (unsupported %v), want %q (unsupported %v)", sk.reason, sk.unsupported, c.skip, c.unsupported)
				}
				if c.stored != "" && len(c.stored) > 4 && strings.Contains(sk.reason, c.stored) {
					t.Errorf("skip reason quotes the stored value: %q", sk.reason)
				}
				s := Skip{Account: "a", Plugin: c.plugin, Reason: sk.reason, Unsupported: sk.unsupported}
				if got := errors.Is(s.Err(), provider.ErrUnsupported); got != c.unsupported {
					t.Errorf("Skip.Err() is ErrUnsupported = %v, want %v", got, c.unsupported)
				}
				if c.unsupported && errs.KindOf(s.Err()) != errs.Unsupported {
					t.Errorf("Skip.Err() kind = %v, want Unsupported", errs.KindOf(s.Err()))
				}
				return
			}
			if err != nil {
				t.Fatalf("parseVerifier: %v", err)
			}
			if c.good != "" && !v.matches(newCandidate([]byte(c.good))) {
				t.Errorf("does not accept %q", c.good)
			}
			if v.matches(newCandidate([]byte(c.bad))) {
				t.Errorf("accepts %q", c.bad)
			}
		})
	}
}

// The server's own hash functions agree with rekey's.
func TestHashesMatchServer(t *testing.T) {
	t.Parallel()
	_, s := openTest(t)
	for _, pw := range []string{"abc", "P'w\\%xyz", "a b\tc", "pässwörd", strings.Repeat("long", 40)} {
		if got, want := NativePassword([]byte(pw)), s.query1(t, "SELECT PASSWORD(?)", pw); got != want {
			t.Errorf("native(%q) = %s, server %s", pw, got, want)
		}
		v, err := parseVerifier(MethodOld, s.query1(t, "SELECT OLD_PASSWORD(?)", pw))
		if err != nil || !v.matches(newCandidate([]byte(pw))) {
			t.Errorf("old(%q): server hash not matched (%v)", pw, err)
		}
	}
}

func TestCanAuthenticate(t *testing.T) {
	for _, c := range []struct {
		m    method
		want bool
	}{
		{method{MethodNative, NativePassword([]byte("x"))}, true},
		{method{MethodNative, ""}, true}, // an empty password
		{method{MethodNative, "invalid"}, false},
		{method{"mysql_no_login", ""}, false},
		{method{MethodCachingSHA2, invalidSHA2}, false},
		{method{"unix_socket", ""}, true},
		{method{"parsec", "whatever"}, true},
	} {
		if got := canAuthenticate(c.m); got != c.want {
			t.Errorf("canAuthenticate(%s, %q) = %v", c.m.plugin, c.m.auth, got)
		}
	}
}

func TestGlobalPrivJSON(t *testing.T) {
	a := parseGlobalPriv("u", "%", []byte(`{"access":33554688,"plugin":"mysql_native_password","authentication_string":"*X",
		"auth_or":[{"plugin":"ed25519","authentication_string":"K"},{}],"account_locked":true,"password_last_changed":1700000000,"password_lifetime":10}`))
	want := []method{{MethodEd25519, "K"}, {MethodNative, "*X"}}
	if diff := cmp.Diff(want, a.methods, cmp.AllowUnexported(method{})); diff != "" {
		t.Errorf("methods (-want +got):\n%s", diff)
	}
	if !a.locked || a.lifetimeDays != 10 || a.lastChanged.Unix() != 1700000000 || a.access != 33554688 {
		t.Errorf("parsed %+v", a)
	}
	until, expired := a.expiry(time.Unix(1700000000, 0).Add(11*24*time.Hour), 0)
	if !expired || until == nil {
		t.Errorf("expiry = %v, %v; want expired", until, expired)
	}
	if bad := parseGlobalPriv("u", "%", []byte("{")); bad.bad == "" {
		t.Error("bad JSON not flagged")
	}
	if r := parseGlobalPriv("r", "", []byte(`{"access":0,"is_role":true}`)); !r.role || len(r.methods) != 0 {
		t.Errorf("role parsed as %+v", r)
	}
}

func TestMariaGlobal(t *testing.T) {
	f := flavor{mariadb: true, major: 10, minor: 11}
	if _, all, grant := mariaGlobal(f, 1<<39-1); !all || !grant {
		t.Error("root's mask is not ALL WITH GRANT OPTION")
	}
	if _, all, _ := mariaGlobal(f, ^uint64(0)); !all {
		t.Error("a full mask is not ALL")
	}
	names, all, _ := mariaGlobal(f, 1<<25|1<<8)
	if all || !slices.Equal(names, []string{"PROCESS", "CREATE USER"}) {
		t.Errorf("mask 2^25|2^8 = %v (all %v)", names, all)
	}
	old := flavor{mariadb: true, major: 10, minor: 4}
	if names, _, _ := mariaGlobal(old, 1<<20|1<<31); !slices.Equal(names, []string{"REPLICATION CLIENT", "PRIVILEGE BIT 31"}) {
		t.Errorf("10.4 mask = %v", names)
	}
	if _, all, _ := mariaGlobal(old, 1<<30-1); !all {
		t.Error("10.4's ALL (bits 0-29) not recognised")
	}
}

func TestNames(t *testing.T) {
	cases := []struct {
		in       string
		want     acct
		explicit bool
		canon    string
	}{
		{"orders", acct{"orders", "%"}, false, "orders"},
		{"orders@%", acct{"orders", "%"}, true, "orders"},
		{"orders@10.0.%", acct{"orders", "10.0.%"}, true, "orders@10.0.%"},
		{"orders@LocalHost", acct{"orders", "localhost"}, true, "orders@localhost"},
		{"'orders'@'10.0.%'", acct{"orders", "10.0.%"}, true, "orders@10.0.%"},
		{"`or``ders`@`%`", acct{"or`ders", "%"}, true, "or`ders"},
		{"a@b@%", acct{"a@b", "%"}, true, "a@b@%"},
		{"'a@b'", acct{"a@b", "%"}, false, "a@b@%"},
		{"@localhost", acct{"", "localhost"}, true, "@localhost"},
	}
	for _, c := range cases {
		got, explicit := parseName(c.in)
		if got != c.want || explicit != c.explicit {
			t.Errorf("parseName(%q) = %+v, %v; want %+v, %v", c.in, got, explicit, c.want, c.explicit)
		}
		if s := got.String(); s != c.canon {
			t.Errorf("%q: String() = %q, want %q", c.in, s, c.canon)
		}
		if again, _ := parseName(got.String()); again != got {
			t.Errorf("%q: String() %q does not read back (%+v)", c.in, got.String(), again)
		}
	}
}

func TestOwner(t *testing.T) {
	accounts := []acct{{"u", "%"}, {"u", "10.0.%"}, {"u", "10.0.0.5"}, {"u", "192.168.1.0/255.255.255.0"}, {"u", "%.example.com"}}
	cases := map[string]acct{
		"10.0.0.5":       {"u", "10.0.0.5"},
		"10.0.0.6":       {"u", "10.0.%"},
		"192.168.1.77":   {"u", "192.168.1.0/255.255.255.0"},
		"172.16.0.1":     {"u", "%"},
		"db.example.com": {"u", "%.example.com"},
		"localhost":      {"u", "%"},
	}
	for client, want := range cases {
		if got, ok := owner(accounts, client); !ok || got != want {
			t.Errorf("owner(%s) = %+v, %v; want %+v", client, got, ok, want)
		}
	}
	if _, ok := owner([]acct{{"u", "10.%"}}, "127.0.0.1"); ok {
		t.Error("10.% admits 127.0.0.1")
	}
	for _, c := range []struct {
		p, s string
		want bool
	}{{"a\\_b", "a_b", true}, {"a\\_b", "axb", false}, {"a_b", "axb", true}, {"%b%", "abc", true}, {"my%", "mysql", true}, {"m_sql", "mysql", true}, {"shop", "mysql", false}} {
		if got := likeMatch(c.p, c.s); got != c.want {
			t.Errorf("likeMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestSplitHost(t *testing.T) {
	for in, want := range map[string][2]string{
		"127.0.0.1:5123": {"127.0.0.1", "127.0.0.1:5123"},
		"::1:5123":       {"::1", "[::1]:5123"},
		"localhost":      {"localhost", "localhost"},
		"db.example.com": {"db.example.com", "db.example.com"},
	} {
		if h, c := splitHost(in); h != want[0] || c != want[1] {
			t.Errorf("splitHost(%q) = %q, %q; want %q", in, h, c, want)
		}
	}
}

func TestAdminConnectionStrings(t *testing.T) {
	t.Parallel()
	s := testServer(t)
	ctx := context.Background()
	u := "mysql://" + s.cfg.User + "@" + s.cfg.Addr + "/"
	if s.cfg.Passwd != "" {
		t.Skip("the URL form is tried with the passwordless default administrator")
	}
	p, err := New(ctx, provider.Config{System: testSystem, Admin: secret.FromString(u)})
	if err != nil {
		t.Fatalf("URL form: %v", err)
	}
	p.Close()

	pw := "url-" + testutil.RandomName("pw") + "%2F@:"
	for _, c := range []struct {
		name, admin string
		kind        errs.Kind
	}{
		{"wrong password in a URL", "mysql://" + s.cfg.User + ":" + strings.ReplaceAll(pw, "%", "%25") + "@" + s.cfg.Addr + "/", errs.Permission},
		{"wrong password in a mariadb URL", "mariadb://" + s.cfg.User + ":" + strings.ReplaceAll(pw, "%", "%25") + "@" + s.cfg.Addr + "/db?timeout=5s", errs.Permission},
		{"URL with a bad escape", "mysql://root:" + pw + "%zz@" + s.cfg.Addr + "/", errs.Invalid},
		{"other scheme", "postgres://root:" + pw + "@" + s.cfg.Addr + "/", errs.Invalid},
		{"not a DSN", "root:" + pw + "@tcp(" + s.cfg.Addr, errs.Invalid},
		{"DSN whose password looks like a URL", "root:ab://" + pw + "@tcp(" + s.cfg.Addr + ")/", errs.Permission},
		{"bad DSN parameter", "root:" + pw + "@tcp(" + s.cfg.Addr + ")/?timeout=" + pw, errs.Invalid},
		{"empty", "", errs.Invalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(ctx, provider.Config{System: testSystem, Admin: secret.FromString(c.admin)})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if errs.KindOf(err) != c.kind {
				t.Errorf("kind %v, want %v: %s", errs.KindOf(err), c.kind, msg)
			}
			for _, leak := range []string{pw, strings.ReplaceAll(pw, "%", "%25"), "url-", "ab:"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error holds the password: %s", msg)
				}
			}
			if c.admin != "" && strings.Contains(msg, c.admin) || !strings.Contains(msg, testSystem) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s without the connection string", msg, testSystem)
			}
		})
	}
}

// The provider's own connections are not sessions of the administrator's
// account.
func TestOwnConnectionsLeftOut(t *testing.T) {
	t.Parallel()
	p, _ := openTest(t)
	var cur string
	if err := p.db.QueryRow("SELECT CURRENT_USER()").Scan(&cur); err != nil {
		t.Fatal(err)
	}
	user, host, _ := strings.Cut(cur, "@")
	id := inspectName(t, p, acct{user, host}.String())
	for _, sess := range id.Sessions {
		n, _ := strconv.ParseInt(sess.ID, 10, 64)
		if p.ownConn(n) {
			t.Errorf("session %s is the provider's own connection", sess.ID)
		}
	}
}

// The harness's login record is real: a login shows, so the suite's check
// that Identify leaves none is not vacuous.
func TestAuthRecordsSeeLogins(t *testing.T) {
	t.Parallel()
	s := testServer(t)
	h := harness{s}
	n := newName()
	s.createUser(t, n, "%", "IDENTIFIED BY 'pw'")
	before, ok := h.AuthRecords(t, n)
	if !ok {
		t.Skip("no general log")
	}
	s.login(t, n, "pw", "")
	if after, _ := h.AuthRecords(t, n); after != before+1 {
		t.Errorf("login records %d → %d, want one more", before, after)
	}
}

// Forcing the mysql.user path (MySQL, MariaDB before 10.4) on a MariaDB
// server, whose mysql.user view has the same columns.
func TestUserTablePath(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	if !p.flavor.globalPriv() {
		t.Skip("already the mysql.user path")
	}
	p.flavor = flavor{mariadb: true, major: 10, minor: 3, patch: 30}
	n, all := newName(), newName()
	pw := "usertable-" + testutil.RandomName("pw")
	s.createUser(t, n, "%", "IDENTIFIED BY ?", pw)
	s.createUser(t, all, "%", "IDENTIFIED BY 'pw'")
	s.exec(t, "GRANT CREATE USER, PROCESS ON *.* TO ?@'%'", n)
	s.exec(t, "GRANT ALL ON *.* TO ?@'%'", all)
	ms, err := p.Identify(context.Background(), secret.FromString(pw))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Ref.Name != n {
		t.Errorf("Identify = %+v, want %s", ms, n)
	}
	id := inspectName(t, p, n)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "CREATE USER ON *.*", Risk: provider.RiskHigh, CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "PROCESS ON *.*", Risk: provider.RiskHigh})
	id = inspectName(t, p, all)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "ALL PRIVILEGES ON *.*", Risk: provider.RiskCritical, CreatesCredentials: true})
}

// An administrator that cannot see other accounts' sessions says so
// rather than reporting none.
func TestInspectWithoutProcess(t *testing.T) {
	t.Parallel()
	s := testServer(t)
	admin, n := newName(), newName()
	pw := testutil.RandomName("pw")
	s.createUser(t, admin, "%", "IDENTIFIED BY ?", pw)
	s.exec(t, "GRANT SELECT ON *.* TO ?@'%'", admin)
	s.createUser(t, n, "%", "IDENTIFIED BY 'pw'")
	p, err := New(context.Background(), provider.Config{System: testSystem, Admin: secret.FromString(admin + ":" + pw + "@tcp(" + s.cfg.Addr + ")/")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Inspect(context.Background(), provider.IdentityRef{System: testSystem, Name: n})
	if errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "PROCESS") || strings.Contains(err.Error(), pw) {
		t.Errorf("Inspect without PROCESS: %v, want a Permission error naming PROCESS", err)
	}
	// Identify needs no PROCESS: it reads the hashes only.
	if ms, err := p.Identify(context.Background(), secret.FromString("pw")); err != nil || len(ms) == 0 {
		t.Errorf("Identify = %v, %v", ms, err)
	}
}
