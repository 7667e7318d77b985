package mysql

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
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

func ref(name string) provider.IdentityRef {
	return provider.IdentityRef{System: testSystem, Name: name}
}

// issueT issues and drops the login when the test ends.
func issueT(t *testing.T, p *MySQL, req provider.IssueRequest) *provider.Credential {
	t.Helper()
	t.Cleanup(func() {
		if err := p.Drop(context.Background(), ref(req.Name)); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	c, err := p.Issue(context.Background(), req)
	if err != nil {
		t.Fatalf("Issue(%s from %s): %v", req.Name, req.From.Name, err)
	}
	return c
}

// grantNames is SHOW GRANTS FOR name as sorted grant names, with the
// account options.
func grantNames(t *testing.T, p *MySQL, name string) ([]string, string, map[string]string) {
	t.Helper()
	a, _ := parseName(name)
	gs, err := p.showGrants(context.Background(), a)
	if err != nil {
		t.Fatalf("SHOW GRANTS FOR %s: %v", name, err)
	}
	return names(gs.items), gs.require, gs.limits
}

func rh(s *server) rotateHarness { return rotateHarness{harness{s}} }

// Everything SHOW GRANTS lists is copied: database, table, column and
// routine grants, a role with its default, REQUIRE and resource limits.
func TestIssueCopiesGrants(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	db, role := newName(), newName()
	s.createDatabase(t, db)
	s.exec(t, "CREATE TABLE `"+db+"`.t (a INT, b INT)")
	s.exec(t, "CREATE PROCEDURE `"+db+"`.refund() SELECT 1")
	s.createRole(t, role)
	s.exec(t, "GRANT SELECT ON `"+db+"`.* TO "+role)

	from, pw := newName(), "src-"+testutil.RandomName("pw")
	s.createUser(t, from, "%", "IDENTIFIED BY ? REQUIRE SSL WITH MAX_USER_CONNECTIONS 7 MAX_QUERIES_PER_HOUR 100", pw)
	s.exec(t, "GRANT INSERT, UPDATE ON `"+db+"`.* TO ?@'%'", from)
	s.exec(t, "GRANT SELECT (a), INSERT (a, b) ON `"+db+"`.t TO ?@'%'", from)
	s.exec(t, "GRANT EXECUTE ON PROCEDURE `"+db+"`.refund TO ?@'%'", from)
	s.exec(t, "GRANT "+role+" TO ?@'%'", from)
	s.exec(t, "SET DEFAULT ROLE "+role+" FOR ?@'%'", from)

	name := newName()
	issueT(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString("new-" + testutil.RandomName("pw"))})
	wantNames, wantReq, wantLimits := grantNames(t, p, from)
	gotNames, gotReq, gotLimits := grantNames(t, p, name)
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("grants of the issued login (-source +issued):\n%s", diff)
	}
	if gotReq != wantReq || wantReq != "SSL" {
		t.Errorf("REQUIRE %q, source %q, want SSL", gotReq, wantReq)
	}
	// The issued login's limits are all spelled out, the source's are not.
	for k, v := range wantLimits {
		if gotLimits[k] != v {
			t.Errorf("limit %s = %q, want %q as the source's", k, gotLimits[k], v)
		}
	}
}

// A role holding a dropped privilege is not granted; its other grants are
// given directly, and it stops being the default role.
func TestIssueFlattensRoleWithDroppedPrivilege(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	h := rh(s)
	db := fixtureDB(t, s)
	role, plain := newName(), newName()
	s.createRole(t, role)
	s.createRole(t, plain)
	s.exec(t, "GRANT CREATE USER ON *.* TO "+role)
	s.exec(t, "GRANT SELECT ON `"+db+"`.* TO "+role)
	s.exec(t, "GRANT INSERT ON `"+db+"`.orders TO "+plain)

	from, pw := newName(), "src-"+testutil.RandomName("pw")
	s.createUser(t, from, "%", "IDENTIFIED BY ?", pw)
	s.exec(t, "GRANT "+role+" TO ?@'%' WITH ADMIN OPTION", from)
	s.exec(t, "GRANT "+plain+" TO ?@'%' WITH ADMIN OPTION", from)
	s.exec(t, "SET DEFAULT ROLE "+role+" FOR ?@'%'", from)

	name, npw := newName(), "new-"+testutil.RandomName("pw")
	drop := []string{"CREATE USER ON *.*", "ROLE " + plain + " WITH ADMIN OPTION"}
	issueT(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(npw), Drop: drop})
	got, _, _ := grantNames(t, p, name)
	want := []string{"ROLE " + plain, "SELECT ON " + db + ".*"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("grants of the issued login (-want +got):\n%s", diff)
	}
	// The dropped privilege does not come back through any route.
	for _, pr := range inspectName(t, p, name).Privileges {
		if pr.Name == "CREATE USER ON *.*" || strings.Contains(pr.Name, "ADMIN OPTION") {
			t.Errorf("issued login holds %+v", pr)
		}
	}
	if err := h.CanUse(t, name, npw); err != nil {
		t.Errorf("issued login cannot read what the source read through its role: %v", err)
	}
}

// ALL PRIVILEGES loses only the dropped parts.
func TestIssueSplitsAll(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	from := newName()
	s.createUser(t, from, "%", "IDENTIFIED BY 'pw'")
	s.exec(t, "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", from)

	name := newName()
	issueT(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString("new-" + testutil.RandomName("pw")),
		Drop: []string{"SUPER ON *.*", "GRANT OPTION ON *.*"}})
	got, _, _ := grantNames(t, p, name)
	if slices.Contains(got, "SUPER ON *.*") || slices.Contains(got, "GRANT OPTION ON *.*") || slices.Contains(got, "ALL PRIVILEGES ON *.*") {
		t.Errorf("issued login holds %v", got)
	}
	if !slices.Contains(got, "CREATE USER ON *.*") || !slices.Contains(got, "SELECT ON *.*") {
		t.Errorf("issued login lost more than SUPER and GRANT OPTION: %v", got)
	}

	name2 := newName()
	issueT(t, p, provider.IssueRequest{From: ref(from), Name: name2, Secret: secret.FromString("new-" + testutil.RandomName("pw")),
		Drop: []string{"ALL PRIVILEGES ON *.* WITH GRANT OPTION"}})
	if got, _, _ := grantNames(t, p, name2); len(got) != 0 {
		t.Errorf("dropping ALL PRIVILEGES ON *.* WITH GRANT OPTION left %v", got)
	}
}

// Issue again converges an account someone changed: extra grants revoked,
// missing ones granted, the password set and the account unlocked.
func TestIssueConverges(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	h := rh(s)
	from, fpw := newName(), "src-"+testutil.RandomName("pw")
	h.CreateIdentity(t, from, fpw, false)
	name, pw := newName(), "new-"+testutil.RandomName("pw")
	req := provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw)}
	issueT(t, p, req)
	want, _, _ := grantNames(t, p, name)

	s.exec(t, "GRANT PROCESS ON *.* TO ?@'%'", name)
	s.exec(t, "REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@'%'", name)
	s.exec(t, "GRANT PROCESS ON *.* TO ?@'%'", name)
	s.exec(t, "ALTER USER ?@'%' IDENTIFIED BY 'changed' ACCOUNT LOCK", name)
	if _, err := p.Issue(context.Background(), req); err != nil {
		t.Fatalf("Issue again: %v", err)
	}
	got, _, _ := grantNames(t, p, name)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("grants after converging (-want +got):\n%s", diff)
	}
	if err := h.CanUse(t, name, pw); err != nil {
		t.Errorf("after converging: %v", err)
	}
}

// A new account stays locked when a dropped privilege would reach it by a
// route Issue cannot close (here PUBLIC): the check fails, nothing works.
func TestIssueRefusesLeakedPrivilege(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	if !s.flavor(t).atLeast(10, 11, 0) || !s.flavor(t).mariadb {
		t.Skip("PUBLIC needs MariaDB 10.11")
	}
	db := newName()
	s.createDatabase(t, db)
	s.exec(t, "CREATE TABLE `"+db+"`.t (a INT)")
	s.exec(t, "GRANT SELECT ON `"+db+"`.* TO PUBLIC")
	t.Cleanup(func() { s.db.Exec("REVOKE SELECT ON `" + db + "`.* FROM PUBLIC") })
	from := newName()
	s.createUser(t, from, "%", "IDENTIFIED BY 'pw'")
	s.exec(t, "GRANT SELECT ON `"+db+"`.* TO ?@'%'", from)

	name, pw := newName(), "new-"+testutil.RandomName("pw")
	t.Cleanup(func() { s.drop(t, "USER", name, "%") })
	_, err := p.Issue(context.Background(), provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw),
		Drop: []string{"SELECT ON " + db + ".*"}})
	if err == nil || !strings.Contains(err.Error(), "through PUBLIC") {
		t.Fatalf("Issue = %v, want an error naming the privilege through PUBLIC", err)
	}
	err = p.Verify(context.Background(), provider.Credential{Ref: ref(name), Secret: secret.FromString(pw)})
	if errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "locked") {
		t.Errorf("Verify of the unfinished login = %v, want it locked", err)
	}
}

// Issue sends the stored hash, never the secret: the server's general log
// records the CREATE USER without it.
func TestIssueKeepsSecretOutOfGeneralLog(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	if !generalLog.on {
		t.Skip("the general log is not written to mysql.general_log in this run")
	}
	from := newName()
	rh(s).CreateIdentity(t, from, "src-pw", false)
	name, mark := newName(), testutil.RandomName("clear")
	pw := "P'w\\%" + mark
	issueT(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw)})
	if _, err := p.Issue(context.Background(), provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw)}); err != nil {
		t.Fatal(err)
	}
	// The harness's own connection sets sql_log_off: these reads are not logged.
	logged := s.query1(t, "SELECT COUNT(*) FROM mysql.general_log WHERE INSTR(argument, ?) > 0 AND argument LIKE 'CREATE USER%'", name)
	if logged == "0" {
		t.Skip("the general log did not record the CREATE USER (switched off meanwhile?)")
	}
	if n := s.query1(t, "SELECT COUNT(*) FROM mysql.general_log WHERE INSTR(argument, UNHEX(?)) > 0", hex.EncodeToString([]byte(mark))); n != "0" {
		t.Errorf("the general log holds the issued secret in %s records", n)
	}
	if n := s.query1(t, "SELECT COUNT(*) FROM mysql.general_log WHERE INSTR(argument, ?) > 0", NativePassword([]byte(pw))); n == "0" {
		t.Errorf("the general log has no record of the stored hash being sent: was the password sent some other way?")
	}
}

// Unlocking a revoked account does not bring its leaked password back.
func TestRevokeReplacesPassword(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	h := rh(s)
	name, pw := newName(), "leaked-"+testutil.RandomName("pw")
	h.CreateIdentity(t, name, pw, false)
	if err := p.Revoke(context.Background(), ref(name)); err != nil {
		t.Fatal(err)
	}
	s.exec(t, "ALTER USER ?@'%' ACCOUNT UNLOCK", name)
	if err := h.CanUse(t, name, pw); err == nil {
		t.Error("after Revoke and an unlock, the leaked password works again")
	}
	err := p.Verify(context.Background(), provider.Credential{Ref: ref(name), Secret: secret.FromString(pw)})
	if errs.KindOf(err) != errs.Permission || strings.Contains(err.Error(), pw) {
		t.Errorf("Verify = %v, want Permission without the password", err)
	}
}

// TerminateSessions counts only sessions it ended and leaves other users'.
func TestTerminateLeavesOthers(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	h := rh(s)
	a, b := newName(), newName()
	h.CreateIdentity(t, a, "pw-a", false)
	h.CreateIdentity(t, b, "pw-b", false)
	h.OpenSession(t, a, "pw-a", "")
	h.OpenSession(t, a, "pw-a", "")
	h.OpenSession(t, b, "pw-b", "")
	n, err := p.TerminateSessions(context.Background(), ref(a), nil)
	if err != nil || n != 2 {
		t.Fatalf("TerminateSessions = %d, %v; want 2", n, err)
	}
	if got := h.SessionCount(t, a); got != 0 {
		t.Errorf("%d sessions of %s left after TerminateSessions returned", got, a)
	}
	if got := h.SessionCount(t, b); got != 1 {
		t.Errorf("%s's session count = %d, want 1 (not its account)", b, got)
	}
}

// Drop refuses an account that is the DEFINER of an object.
func TestDropRefusesDefiner(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	db, name := newName(), newName()
	s.createDatabase(t, db)
	s.createUser(t, name, "%", "IDENTIFIED BY 'pw'")
	s.exec(t, "CREATE DEFINER = `"+name+"`@`%` VIEW `"+db+"`.v AS SELECT 1 AS one")
	err := p.Drop(context.Background(), ref(name))
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "VIEW "+db+".v") {
		t.Errorf("Drop(definer) = %v, want Invalid naming the view", err)
	}
	if !rh(s).Exists(t, name) {
		t.Error("Drop refused, yet the account is gone")
	}
}

// Verify proves the named account, not another account of the same user
// name that the server prefers for this client.
func TestVerifyOtherAccount(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	name, pw := newName(), "pw-"+testutil.RandomName("pw")
	s.createUser(t, name, "%", "IDENTIFIED BY ?", pw)
	s.createUser(t, name, "127.0.0.1", "IDENTIFIED BY ?", pw)
	s.createUser(t, name, "localhost", "IDENTIFIED BY ?", pw)
	s.createUser(t, name, "::1", "IDENTIFIED BY ?", pw)
	err := p.Verify(context.Background(), provider.Credential{Ref: ref(name), Secret: secret.FromString(pw)})
	if err == nil || !strings.Contains(err.Error(), "another account") {
		t.Errorf("Verify(%s@%%) = %v, want an error saying the server took the client for another account", name, err)
	}
	if err := p.Verify(context.Background(), provider.Credential{Ref: ref(name + "@127.0.0.1"), Secret: secret.FromString(pw)}); err != nil &&
		!strings.Contains(err.Error(), "another account") {
		t.Errorf("Verify(%s@127.0.0.1) = %v", name, err)
	}
}

// Isolating through a role keeps the role's other privileges working.
func TestDropPrivilegesThroughRole(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	h := rh(s)
	db := fixtureDB(t, s)
	role := newName()
	s.createRole(t, role)
	s.exec(t, "GRANT CREATE USER ON *.* TO "+role)
	s.exec(t, "GRANT SELECT ON `"+db+"`.* TO "+role)
	name, pw := newName(), "pw-"+testutil.RandomName("pw")
	s.createUser(t, name, "%", "IDENTIFIED BY ?", pw)
	s.exec(t, "GRANT "+role+" TO ?@'%'", name)
	s.exec(t, "SET DEFAULT ROLE "+role+" FOR ?@'%'", name)
	s.exec(t, "GRANT USAGE ON `"+db+"`.* TO ?@'%' WITH GRANT OPTION", name)

	got, err := p.DropPrivileges(context.Background(), ref(name), []string{"CREATE USER ON *.*", "GRANT OPTION ON " + db + ".*", "SUPER ON *.*"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"CREATE USER ON *.*", "GRANT OPTION ON " + db + ".*"}, got); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	for _, pr := range inspectName(t, p, name).Privileges {
		if pr.CreatesCredentials {
			t.Errorf("after DropPrivileges %s holds %+v", name, pr)
		}
	}
	if err := h.CanUse(t, name, pw); err != nil {
		t.Errorf("after DropPrivileges %s lost what its role gave it: %v", name, err)
	}
	if _, err := p.DropPrivileges(context.Background(), ref(newName()), []string{"SUPER ON *.*"}); errs.KindOf(err) != errs.NotFound {
		t.Errorf("DropPrivileges(missing) = %v, want NotFound", err)
	}
}

// MariaDB keeps one password per account: DualCredential answers
// ErrUnsupported, and Renew has nothing to move.
func TestDualCredentialUnsupported(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	if p.dualPasswords() {
		t.Skip("the server has dual passwords")
	}
	name := newName()
	rh(s).CreateIdentity(t, name, "pw", false)
	for _, err := range []error{
		p.AddSecret(context.Background(), ref(name), secret.FromString("another-pw")),
		p.RemoveSecret(context.Background(), ref(name), secret.FromString("pw")),
	} {
		if !errors.Is(err, provider.ErrUnsupported) || errs.KindOf(err) != errs.Unsupported || !strings.Contains(err.Error(), testSystem) {
			t.Errorf("error %v, want kind Unsupported wrapping ErrUnsupported and naming the system", err)
		}
	}
	var _ providertest.RotateHarness = rh(s)
	if err := p.Renew(context.Background(), ref(name), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("Renew(existing) = %v", err)
	}
	if err := p.Renew(context.Background(), ref(newName()), time.Now()); errs.KindOf(err) != errs.NotFound {
		t.Errorf("Renew(missing) = %v, want NotFound", err)
	}
}

// Errors of rotation never hold the secret, even when the server quotes
// the statement back.
func TestIssueErrorHoldsNoSecret(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	from := newName()
	rh(s).CreateIdentity(t, from, "pw", false)
	pw := "secret-" + testutil.RandomName("pw")
	long := strings.Repeat("x", 200) // longer than any server's user name
	_, err := p.Issue(context.Background(), provider.IssueRequest{From: ref(from), Name: long, Secret: secret.FromString(pw)})
	if err == nil {
		t.Fatal("Issue of a 200-character user name: no error")
	}
	if msg := err.Error(); strings.Contains(msg, pw) || strings.Contains(msg, NativePassword([]byte(pw))) || strings.Contains(msg, "\n") {
		t.Errorf("error %q holds the secret or its hash, or is not one line", msg)
	}
	for _, req := range []provider.IssueRequest{{From: ref(from), Name: "", Secret: secret.FromString(pw)}, {From: ref(from), Name: newName()}} {
		if _, err := p.Issue(context.Background(), req); errs.KindOf(err) != errs.Invalid {
			t.Errorf("Issue(%+v) = %v, want Invalid", req.Name, err)
		}
	}
}

// In place, Issue drops the named privileges from the account itself.
func TestIssueInPlaceDrops(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	h := rh(s)
	name := newName()
	h.CreateIdentity(t, name, "old-pw", true)
	pw := "new-" + testutil.RandomName("pw")
	if _, err := p.Issue(context.Background(), provider.IssueRequest{From: ref(name), Name: name, Secret: secret.FromString(pw),
		Drop: []string{"CREATE USER ON *.*"}}); err != nil {
		t.Fatal(err)
	}
	if h.Risky(t, name) {
		t.Error("in-place Issue kept CREATE USER")
	}
	if err := h.CanUse(t, name, pw); err != nil {
		t.Error(err)
	}
}
