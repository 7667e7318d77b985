package postgres

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/providertest"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

func ref(name string) provider.IdentityRef {
	return provider.IdentityRef{System: testSystem, Name: name}
}

// issueTest issues name from from and drops it when the test ends.
func issueTest(t *testing.T, p *Postgres, req provider.IssueRequest) *provider.Credential {
	t.Helper()
	t.Cleanup(func() {
		if err := p.Drop(context.Background(), ref(req.Name)); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	cred, err := p.Issue(context.Background(), req)
	if err != nil {
		t.Fatalf("Issue(%s from %s): %v", req.Name, req.From.Name, err)
	}
	return cred
}

// connectAs logs in as name to the postgres database.
func connectAs(t *testing.T, c *testutil.PGCluster, name, password string) (*pgx.Conn, error) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.URL(name, password, "postgres"))
	if err == nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

// The password reaches the server only as a SCRAM verifier: with every
// statement logged (log_statement=all on the provider's connections),
// neither the server's csv nor its json log holds it, while the CREATE ROLE
// is there with the verifier; and the login works with the password.
func TestIssueLogsNoPassword(t *testing.T) {
	t.Parallel()
	c := testutil.SharedPostgres(t)
	cfg := provider.Config{System: testSystem, Admin: secret.FromString(c.AdminURL() + "&options=-c%20log_statement%3Dall")}
	p, err := open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	from, name := testutil.RandomName("rkfrom"), testutil.RandomName("rknew")
	c.CreateRole(t, from, testutil.RandomName("pw"), "")
	unique := testutil.RandomName("secretpart")
	pw := "Q'w\\" + unique
	cred := issueTest(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw), ExpiresAt: time.Now().Add(time.Hour)})
	if err := p.Verify(context.Background(), *cred); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := p.Issue(context.Background(), provider.IssueRequest{From: ref(from), Name: from, Secret: secret.FromString(pw)}); err != nil {
		t.Fatalf("Issue in place: %v", err)
	}
	if _, err := connectAs(t, c, name, pw); err != nil {
		t.Fatalf("login with the issued password: %v", err)
	}

	recs := c.LogRecords(t) // flushes the collector
	logged, verifier := false, false
	for _, r := range recs {
		if strings.Contains(r.Message, "CREATE ROLE \""+name+"\"") {
			logged = true
			verifier = strings.Contains(r.Message, "SCRAM-SHA-256$4096:")
		}
	}
	if !logged {
		t.Fatal("the CREATE ROLE statement is not in the log: log_statement=all did not apply, the test proves nothing")
	}
	if !verifier {
		t.Error("the logged CREATE ROLE holds no SCRAM verifier")
	}
	files, _ := filepath.Glob(filepath.Join(c.LogDir, "*"))
	if len(files) == 0 {
		t.Fatalf("no log files in %s", c.LogDir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), unique) {
			t.Errorf("%s contains the issued password", filepath.Base(f))
		}
	}
}

// The issued login is a member of the source, inherits its grants and
// nothing else: Inspect shows the membership, the source's revocation does
// not affect it, and the dropped attribute and admin option are gone from
// the group, so SET ROLE to the source reaches neither.
func TestIssueGroupRole(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	from, name, x, victim := testutil.RandomName("rkfrom"), testutil.RandomName("rknew"), testutil.RandomName("rkx"), testutil.RandomName("rkv")
	c.CreateRole(t, from, "pw-from", "CREATEROLE CREATEDB")
	c.CreateRole(t, x, "pw-x", "NOLOGIN")
	c.CreateRole(t, victim, "pw-v", "NOLOGIN")
	c.Exec(t, "GRANT "+x+" TO "+from+" WITH ADMIN OPTION")
	table := "public." + testutil.RandomName("rkt")
	c.Exec(t, "CREATE TABLE "+table+" (n int); GRANT SELECT ON "+table+" TO "+from)
	t.Cleanup(func() { c.Exec(t, "DROP TABLE "+table) })

	pw := testutil.RandomName("pw")
	drop := []string{"CREATEROLE", "MEMBER OF " + x + " WITH ADMIN OPTION"}
	cred := issueTest(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw), Drop: drop})
	if cred.Via != from {
		t.Errorf("credential Via = %q, want %q", cred.Via, from)
	}
	id := inspectRole(t, p, name)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "MEMBER OF " + from, Risk: provider.RiskLow})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "MEMBER OF " + x, Risk: provider.RiskLow, Via: from})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "SELECT ON TABLE postgres." + table, Risk: provider.RiskLow, Via: from})
	// Not dropped, so kept: reachable through SET ROLE, as Inspect says.
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "CREATEDB", Risk: provider.RiskMedium, Via: from})
	for _, pr := range id.Privileges {
		if pr.Name == "CREATEROLE" || strings.HasSuffix(pr.Name, "WITH ADMIN OPTION") {
			t.Errorf("issued login holds %+v, which Drop named", pr)
		}
	}
	src := inspectRole(t, p, from)
	if providertest.FindPrivilege(src, "CREATEROLE") != nil || providertest.FindPrivilege(src, "MEMBER OF "+x) == nil {
		t.Errorf("source after Issue: %+v, want CREATEROLE gone and the membership in %s kept", src.Privileges, x)
	}

	if err := p.Revoke(context.Background(), ref(from)); err != nil {
		t.Fatal(err)
	}
	conn, err := connectAs(t, c, name, pw)
	if err != nil {
		t.Fatalf("issued login after the source's Revoke: %v", err)
	}
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SELECT * FROM "+table); err != nil {
		t.Errorf("issued login cannot read the source's table: %v", err)
	}
	if _, err := conn.Exec(ctx, "GRANT "+x+" TO "+victim); err == nil {
		t.Errorf("issued login can grant %s: the source's admin option reached it", x)
	}
	if _, err := conn.Exec(ctx, "SET ROLE "+from); err != nil {
		t.Fatalf("SET ROLE to the group: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE ROLE "+testutil.RandomName("rkbd")); err == nil {
		t.Errorf("issued login created a role through SET ROLE %s: CREATEROLE was not dropped from the group", from)
	}
}

// What the group holds, every member gets: without Drop, the source's
// CREATEROLE is reachable through SET ROLE and its admin option without it
// (PostgreSQL checks admin option along membership chains). This is why
// Issue drops from the group itself.
func TestIssueKeepsWhatDropDoesNotName(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	from, name, x, victim := testutil.RandomName("rkfrom"), testutil.RandomName("rknew"), testutil.RandomName("rkx"), testutil.RandomName("rkv")
	c.CreateRole(t, from, "pw-from", "CREATEROLE")
	c.CreateRole(t, x, "pw-x", "NOLOGIN")
	c.CreateRole(t, victim, "pw-v", "NOLOGIN")
	c.Exec(t, "GRANT "+x+" TO "+from+" WITH ADMIN OPTION")
	pw := testutil.RandomName("pw")
	issueTest(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw)})

	conn, err := connectAs(t, c, name, pw)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "GRANT "+x+" TO "+victim); err != nil {
		t.Errorf("a member of %s cannot use its admin option on %s: %v", from, x, err)
	}
	made := testutil.RandomName("rkmade")
	t.Cleanup(func() { c.DropRole(t, made) })
	if _, err := conn.Exec(ctx, "CREATE ROLE "+made); err == nil {
		t.Errorf("CREATEROLE was inherited without SET ROLE")
	}
	if _, err := conn.Exec(ctx, "SET ROLE "+from+"; CREATE ROLE "+made); err != nil {
		t.Errorf("a member of %s cannot use its CREATEROLE through SET ROLE: %v", from, err)
	}
}

// A dropped privilege the source holds through another role cannot be
// withheld from the source's members: Issue refuses, creating nothing.
func TestIssueRefusesDropThroughGroup(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	from, g, name := testutil.RandomName("rkfrom"), testutil.RandomName("rkg"), testutil.RandomName("rknew")
	c.CreateRole(t, from, "pw-from", "")
	c.CreateRole(t, g, "pw-g", "NOLOGIN CREATEROLE")
	c.Exec(t, "GRANT "+g+" TO "+from)
	_, err := p.Issue(context.Background(), provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString("pw-new-1234"), Drop: []string{"CREATEROLE"}})
	if errs.KindOf(err) != errs.Invalid || err == nil || !strings.Contains(err.Error(), "through "+g) {
		t.Fatalf("Issue = %v, want an Invalid error naming the group %s", err, g)
	}
	if id, _ := p.Inspect(context.Background(), ref(name)); id.Exists {
		t.Errorf("Issue refused but created %s", name)
	}
	// DropPrivileges removes what it can and names what it cannot.
	c.Exec(t, "ALTER ROLE "+from+" CREATEDB")
	removed, err := p.DropPrivileges(context.Background(), ref(from), []string{"CREATEDB", "CREATEROLE", "SUPERUSER"})
	if len(removed) != 1 || removed[0] != "CREATEDB" || errs.KindOf(err) != errs.Invalid {
		t.Errorf("DropPrivileges = %v, %v; want [CREATEDB] and an Invalid error for CREATEROLE", removed, err)
	}
	if id := inspectRole(t, p, from); providertest.FindPrivilege(id, "CREATEDB") != nil {
		t.Errorf("CREATEDB not removed: %+v", id.Privileges)
	}
}

// DropPrivileges removes a membership named as Inspect names it.
func TestDropPrivilegesMembership(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	name := testutil.RandomName("rkiso")
	c.CreateRole(t, name, "pw-iso", "REPLICATION BYPASSRLS")
	c.Exec(t, "GRANT pg_read_server_files TO "+name)
	privs := []string{"MEMBER OF pg_read_server_files", "REPLICATION", "BYPASSRLS"}
	removed, err := p.DropPrivileges(context.Background(), ref(name), privs)
	if err != nil || len(removed) != 3 {
		t.Fatalf("DropPrivileges = %v, %v; want all three removed", removed, err)
	}
	id := inspectRole(t, p, name)
	for _, pr := range privs {
		if providertest.FindPrivilege(id, pr) != nil {
			t.Errorf("%s still held", pr)
		}
	}
}

// VALID UNTIL is enforced by the server: a login issued already expired is
// refused, and Renew makes it work again.
func TestValidUntilEnforced(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	from, name := testutil.RandomName("rkfrom"), testutil.RandomName("rknew")
	c.CreateRole(t, from, "pw-from", "")
	pw := testutil.RandomName("pw")
	past := time.Now().Add(-time.Hour)
	cred := issueTest(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw), ExpiresAt: past})
	if !cred.Enforced {
		t.Error("credential with an expiry is not Enforced")
	}
	if _, err := connectAs(t, c, name, pw); err == nil {
		t.Fatal("an expired login logged in")
	}
	err := p.Verify(context.Background(), *cred)
	if errs.KindOf(err) != errs.Permission || strings.Contains(err.Error(), pw) {
		t.Errorf("Verify(expired) = %v, want a Permission error without the password", err)
	}
	if err := p.Renew(context.Background(), ref(name), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(context.Background(), *cred); err != nil {
		t.Errorf("Verify after Renew: %v", err)
	}
	// Issue again with no expiry converges to none.
	issueTest(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw)})
	if id := inspectRole(t, p, name); id.ValidUntil != nil {
		t.Errorf("after Issue without an expiry, ValidUntil = %v", id.ValidUntil)
	}
	if err := p.Renew(context.Background(), ref(testutil.RandomName("rkmissing")), time.Now()); errs.KindOf(err) != errs.NotFound {
		t.Errorf("Renew(missing) = %v, want NotFound", err)
	}
}

// A role that is not rekey's is never taken over by Issue nor removed by
// Drop, and a login that owns objects is refused before anything changes.
func TestIssueAndDropRefuseForeignRoles(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	from, other := testutil.RandomName("rkfrom"), testutil.RandomName("rkother")
	c.CreateRole(t, from, "pw-from", "")
	c.CreateRole(t, other, "pw-other", "")
	ctx := context.Background()
	_, err := p.Issue(ctx, provider.IssueRequest{From: ref(from), Name: other, Secret: secret.FromString("new-pw-1234")})
	if errs.KindOf(err) != errs.Invalid {
		t.Errorf("Issue onto an existing role = %v, want Invalid", err)
	}
	if _, err := connectAs(t, c, other, "pw-other"); err != nil {
		t.Errorf("the existing role's password changed: %v", err)
	}
	if err := p.Drop(ctx, ref(other)); errs.KindOf(err) != errs.Invalid {
		t.Errorf("Drop(a role rekey did not issue) = %v, want Invalid", err)
	}
	// Issued from another source: not this request's login either.
	name := testutil.RandomName("rknew")
	issueTest(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString("pw-new-1")})
	if _, err := p.Issue(ctx, provider.IssueRequest{From: ref(other), Name: name, Secret: secret.FromString("pw-new-2")}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("Issue of %s from another source = %v, want Invalid", name, err)
	}

	table := "public." + testutil.RandomName("rkt")
	c.Exec(t, "CREATE TABLE "+table+" (n int); ALTER TABLE "+table+" OWNER TO "+name)
	t.Cleanup(func() { c.Exec(t, "DROP TABLE IF EXISTS "+table) })
	err = p.Drop(ctx, ref(name))
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "owns objects") {
		t.Fatalf("Drop(owner of a table) = %v, want Invalid saying it owns objects", err)
	}
	if _, err := connectAs(t, c, name, "pw-new-1"); err != nil {
		t.Errorf("a refused Drop changed the login: %v", err)
	}
	c.Exec(t, "DROP TABLE "+table)
}

// Revoke never locks the administrator out.
func TestRevokeRefusesAdministrator(t *testing.T) {
	t.Parallel()
	p, _ := openTest(t)
	err := p.Revoke(context.Background(), ref("postgres"))
	if errs.KindOf(err) != errs.Invalid {
		t.Errorf("Revoke(the administrator) = %v, want Invalid", err)
	}
	var e *errs.Error
	if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "postgres "+testSystem+": revoke postgres") {
		t.Errorf("error %q does not start with the system and the operation", err)
	}
}

// Issue hashes with the cluster's iteration count (what open reads from
// scram_iterations, 4096 where the server has no such setting), and the
// server takes a verifier of any count for a login with the clear
// password: here one open reads, one rekey was told differs from it, and
// the single iteration of a generated secret.
func TestIssueVerifierIterations(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	ctx := context.Background()
	var setting *int
	if err := p.pool.QueryRow(ctx, "SELECT current_setting('scram_iterations', true)::int").Scan(&setting); err != nil {
		t.Fatal(err)
	}
	want := 4096
	if setting != nil {
		want = *setting
	}
	if p.scramIter != want {
		t.Fatalf("open read %d iterations, the server says %d", p.scramIter, want)
	}
	from := testutil.RandomName("rkfrom")
	c.CreateRole(t, from, testutil.RandomName("pw"), "NOLOGIN")
	for _, tc := range []struct {
		iter, want int
		generated  bool
	}{{want, want, false}, {want + 904, want + 904, false}, {want, generatedIterations, true}} {
		p.scramIter = tc.iter
		iter := tc.want
		name, pw := testutil.RandomName("rkit"), testutil.RandomName("pw")
		issueTest(t, p, provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(pw), ExpiresAt: time.Now().Add(time.Hour), Generated: tc.generated})
		var stored string
		if err := p.pool.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", name).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		v, err := parseVerifier(stored)
		if err != nil {
			t.Fatalf("stored verifier of %s: %v", name, err)
		}
		if v.iter != iter {
			t.Fatalf("stored verifier of %s: %d iterations, want %d", name, v.iter, iter)
		}
		if _, err := connectAs(t, c, name, pw); err != nil {
			t.Fatalf("login with the clear password against a %d-iteration verifier: %v", iter, err)
		}
	}
}

// A new login without drops is created in one round trip; the same
// request again (a retry after a crash) finds the login and converges
// on its password and expiry instead of failing.
func TestIssueNewLoginTwice(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	from, name := testutil.RandomName("rkfrom"), testutil.RandomName("rktw")
	c.CreateRole(t, from, testutil.RandomName("pw"), "NOLOGIN")
	req := provider.IssueRequest{From: ref(from), Name: name, Secret: secret.FromString(testutil.RandomName("pw")), ExpiresAt: time.Now().Add(time.Hour)}
	issueTest(t, p, req)
	req.Secret = secret.FromString(testutil.RandomName("pw2"))
	req.ExpiresAt = time.Now().Add(2 * time.Hour)
	cred, err := p.Issue(context.Background(), req)
	if err != nil {
		t.Fatalf("the same Issue again: %v", err)
	}
	if cred.Via != from {
		t.Errorf("Via = %q, want %q", cred.Via, from)
	}
	if _, err := connectAs(t, c, name, string(req.Secret.Reveal())); err != nil {
		t.Fatalf("login with the second password: %v", err)
	}
}
