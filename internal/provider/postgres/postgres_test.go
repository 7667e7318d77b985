package postgres

import (
	"context"
	"errors"
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

func openTest(t *testing.T) (*Postgres, *testutil.PGCluster) {
	t.Helper()
	c := testutil.SharedPostgres(t)
	p, err := open(context.Background(), adminConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, c
}

func inspectRole(t *testing.T, p *Postgres, name string) *provider.Identity {
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

// A member of b, itself a member of c, which holds CREATEROLE: the
// attribute is reported with the chain it comes through.
func TestTransitiveMembership(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	a, b, cc := testutil.RandomName("rka"), testutil.RandomName("rkb"), testutil.RandomName("rkc")
	c.CreateRole(t, a, "pw-a", "")
	c.CreateRole(t, b, "pw-b", "NOLOGIN")
	c.CreateRole(t, cc, "pw-c", "NOLOGIN CREATEROLE CREATEDB")
	c.Exec(t, "GRANT "+cc+" TO "+b+"; GRANT "+b+" TO "+a)

	id := inspectRole(t, p, a)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "MEMBER OF " + b, Risk: provider.RiskLow})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "MEMBER OF " + cc, Risk: provider.RiskLow, Via: b})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "CREATEROLE", Risk: provider.RiskHigh, Via: b + " → " + cc, CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "CREATEDB", Risk: provider.RiskMedium, Via: b + " → " + cc})
	providertest.WantRelated(t, id, RelatedCreatedUser, "every non-superuser role", "CREATEROLE through "+b+" → "+cc)

	// b itself: c directly.
	id = inspectRole(t, p, b)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "CREATEROLE", Risk: provider.RiskHigh, Via: cc, CreatesCredentials: true})
	if id.CanLogin {
		t.Errorf("%s is NOLOGIN but CanLogin is true", b)
	}
}

// Two ways to the same role: the shorter chain is the one reported, once.
func TestMembershipShortestChain(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	a, b, cc := testutil.RandomName("rka"), testutil.RandomName("rkb"), testutil.RandomName("rkc")
	c.CreateRole(t, a, "pw", "")
	c.CreateRole(t, b, "pw", "NOLOGIN")
	c.CreateRole(t, cc, "pw", "NOLOGIN CREATEROLE")
	c.Exec(t, "GRANT "+cc+" TO "+b+"; GRANT "+b+" TO "+a+"; GRANT "+cc+" TO "+a)
	id := inspectRole(t, p, a)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "CREATEROLE", Risk: provider.RiskHigh, Via: cc, CreatesCredentials: true})
	n := 0
	for _, pr := range id.Privileges {
		if pr.Name == "CREATEROLE" || pr.Name == "MEMBER OF "+cc {
			n++
		}
	}
	if n != 2 {
		t.Errorf("privileges %+v: want CREATEROLE and MEMBER OF %s once each", id.Privileges, cc)
	}
}

func TestMembershipRisk(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	a, g := testutil.RandomName("rka"), testutil.RandomName("rkg")
	c.CreateRole(t, a, "pw", "")
	c.CreateRole(t, g, "pw", "NOLOGIN")
	c.Exec(t, "GRANT pg_execute_server_program TO "+a+"; GRANT "+g+" TO "+a+" WITH ADMIN OPTION")
	id := inspectRole(t, p, a)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "MEMBER OF pg_execute_server_program", Risk: provider.RiskCritical})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "MEMBER OF " + g + " WITH ADMIN OPTION", Risk: provider.RiskHigh, CreatesCredentials: true})
	if id.Privileges[0].Risk != provider.RiskCritical {
		t.Errorf("privileges not sorted by risk: %+v", id.Privileges)
	}
}

func TestSuperuserAndAttributes(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	a := testutil.RandomName("rka")
	c.CreateRole(t, a, "pw", "SUPERUSER REPLICATION BYPASSRLS")
	id := inspectRole(t, p, a)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "SUPERUSER", Risk: provider.RiskCritical, CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "REPLICATION", Risk: provider.RiskHigh})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "BYPASSRLS", Risk: provider.RiskHigh})
	providertest.WantRelated(t, id, RelatedCreatedUser, "every role", "SUPERUSER directly")
}

// Table grants, one with grant option, and a grant the identity itself
// made to someone else.
func TestTableGrants(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	a, other := testutil.RandomName("rka"), testutil.RandomName("rko")
	c.CreateRole(t, a, "pw-a", "")
	c.CreateRole(t, other, "pw-o", "")
	schema := testutil.RandomName("s")
	c.Exec(t, "CREATE SCHEMA "+schema+"; CREATE TABLE "+schema+".orders (id int); CREATE SEQUENCE "+schema+".ids")
	t.Cleanup(func() { c.Exec(t, "DROP SCHEMA "+schema+" CASCADE") })
	c.Exec(t, "GRANT USAGE ON SCHEMA "+schema+" TO "+a+";"+
		"GRANT SELECT ON "+schema+".orders TO "+a+" WITH GRANT OPTION;"+
		"GRANT INSERT ON "+schema+".orders TO "+a+";"+
		"GRANT USAGE ON SEQUENCE "+schema+".ids TO "+a)
	conn := c.Connect(t, a, "pw-a", "")
	if _, err := conn.Exec(context.Background(), "GRANT SELECT ON "+schema+".orders TO "+other); err != nil {
		t.Fatal(err)
	}

	id := inspectRole(t, p, a)
	tbl := "postgres." + schema + ".orders"
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "SELECT ON TABLE " + tbl + " WITH GRANT OPTION", Risk: provider.RiskHigh, CreatesCredentials: true})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "INSERT ON TABLE " + tbl, Risk: provider.RiskLow})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "USAGE ON SCHEMA postgres." + schema, Risk: provider.RiskLow})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "USAGE ON SEQUENCE postgres." + schema + ".ids", Risk: provider.RiskLow})
	providertest.WantRelated(t, id, RelatedGrantedPrivilege, "SELECT ON TABLE "+tbl+" TO "+other, "granted by "+a)

	// other holds what a granted, without the option.
	providertest.WantPrivilege(t, inspectRole(t, p, other), provider.Privilege{Name: "SELECT ON TABLE " + tbl, Risk: provider.RiskLow})
}

// Ownership in another database than the administrator's: a database, a
// schema, a table, a SECURITY DEFINER function and default privileges.
func TestOwnershipAcrossDatabases(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	a, g, other := testutil.RandomName("rka"), testutil.RandomName("rkg"), testutil.RandomName("rko")
	c.CreateRole(t, a, "pw-a", "")
	c.CreateRole(t, g, "pw", "NOLOGIN")
	c.CreateRole(t, other, "pw-o", "")
	c.Exec(t, "GRANT "+g+" TO "+a)
	db := testutil.RandomName("db")
	c.Exec(t, "CREATE DATABASE "+db+" OWNER "+a)
	t.Cleanup(func() { c.Exec(t, "DROP DATABASE "+db+" WITH (FORCE)") })
	c.Exec(t, "GRANT CREATE ON DATABASE "+db+" TO "+other)
	c.ExecIn(t, db, `CREATE SCHEMA app AUTHORIZATION `+a+`;
		CREATE TABLE app.orders (id int); ALTER TABLE app.orders OWNER TO `+a+`;
		CREATE TABLE app.shared (id int); ALTER TABLE app.shared OWNER TO `+g+`;
		CREATE FUNCTION app.whoami(x int) RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT current_user::text';
		ALTER FUNCTION app.whoami(int) OWNER TO `+a+`;
		ALTER DEFAULT PRIVILEGES FOR ROLE `+a+` IN SCHEMA app GRANT SELECT ON TABLES TO `+other)

	id := inspectRole(t, p, a)
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "OWNER OF DATABASE " + db, Risk: provider.RiskMedium})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "OWNER OF SCHEMA " + db + ".app", Risk: provider.RiskMedium})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "OWNER OF TABLE " + db + ".app.orders", Risk: provider.RiskMedium})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "OWNER OF TABLE " + db + ".app.shared", Risk: provider.RiskMedium, Via: g})
	providertest.WantPrivilege(t, id, provider.Privilege{Name: "OWNER OF FUNCTION " + db + ".app.whoami(x integer)", Risk: provider.RiskMedium})
	providertest.WantRelated(t, id, RelatedOwnedObject, "DATABASE "+db, "owned by "+a)
	providertest.WantRelated(t, id, RelatedOwnedObject, "TABLE "+db+".app.orders", "owned by "+a)
	providertest.WantRelated(t, id, RelatedOwnedObject, "FUNCTION "+db+".app.whoami(x integer)", "SECURITY DEFINER")
	providertest.WantRelated(t, id, RelatedDefaultPrivilege, "SELECT ON TABLES IN SCHEMA "+db+".app TO "+other, "every object it creates")
	if r := providertest.FindRelated(id, RelatedOwnedObject, "TABLE "+db+".app.shared"); r != nil {
		t.Errorf("a table owned by group %s is listed as left behind by %s: %+v", g, a, r)
	}
	for _, r := range id.Related {
		if strings.Contains(r.Name, "TO PUBLIC") {
			t.Errorf("a grant every database starts with is listed as left behind: %+v", r)
		}
		if strings.Contains(r.Name, "pg_catalog") || strings.Contains(r.Name, "information_schema") {
			t.Errorf("catalog object listed: %+v", r)
		}
	}

	providertest.WantPrivilege(t, inspectRole(t, p, other), provider.Privilege{Name: "CREATE ON DATABASE " + db, Risk: provider.RiskMedium})
}

func TestValidUntil(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	dated, forever, none := testutil.RandomName("rkv"), testutil.RandomName("rkv"), testutil.RandomName("rkv")
	c.CreateRole(t, dated, "pw", "VALID UNTIL '2031-02-03 04:05:06+00'")
	c.CreateRole(t, forever, "pw", "VALID UNTIL 'infinity'")
	c.CreateRole(t, none, "pw", "")
	want := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	if got := inspectRole(t, p, dated).ValidUntil; got == nil || !got.Equal(want) {
		t.Errorf("VALID UNTIL = %v, want %v", got, want)
	}
	for _, n := range []string{forever, none} {
		if got := inspectRole(t, p, n).ValidUntil; got != nil {
			t.Errorf("%s: VALID UNTIL = %v, want none", n, got)
		}
	}
}

func TestIdentifyMD5(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	name, pw := testutil.RandomName("rkm"), "md5-"+testutil.RandomName("pw")
	c.Exec(t, "BEGIN; SET LOCAL password_encryption = 'md5'; CREATE ROLE "+name+" LOGIN PASSWORD "+testutil.QuoteLiteral(pw)+"; COMMIT")
	t.Cleanup(func() { c.DropRole(t, name) })
	var stored string
	if err := c.Pool(t).QueryRow(context.Background(), "SELECT rolpassword FROM pg_authid WHERE rolname = $1", name).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "md5") {
		t.Fatalf("the server stored a %.6s… verifier, want md5", stored)
	}
	ms, err := p.Identify(context.Background(), secret.FromString(pw))
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Match{{Ref: provider.IdentityRef{System: testSystem, Name: name}, Method: MethodMD5}}
	if diff := cmp.Diff(want, ms); diff != "" {
		t.Errorf("Identify (-want +got):\n%s", diff)
	}
}

// A password with non-ASCII characters is hashed by the server after
// SASLprep; Identify finds it from the same text and from an equivalent
// spelling (decomposed umlaut, no-break space).
func TestIdentifySASLprep(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	name := testutil.RandomName("rku")
	pw := "p\u00e4ss\u00a0w\ufb01-" + testutil.RandomName("")
	c.CreateRole(t, name, pw, "")
	for _, guess := range []string{pw, strings.NewReplacer("\u00e4", "a\u0308", "\u00a0", " ", "\ufb01", "fi").Replace(pw)} {
		ms, err := p.Identify(context.Background(), secret.FromString(guess))
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || ms[0].Ref.Name != name || ms[0].Method != MethodSCRAM {
			t.Errorf("Identify(%q) = %+v, want %s", guess, ms, name)
		}
	}
}

// A verifier made by rekey (as the benchmark does) is one the server
// accepts for login: the derivation is the server's.
func TestClientVerifierLogsIn(t *testing.T) {
	t.Parallel()
	_, c := openTest(t)
	name, pw := testutil.RandomName("rkcv"), "client-made-"+testutil.RandomName("")
	c.CreateRole(t, name, scramVerifier(pw, []byte("0123456789abcdef"), 4096), "")
	c.Connect(t, name, pw, "")
}

// Malformed verifiers (written straight into pg_authid) are skipped with a
// reason; the other roles are still tested.
func TestIdentifySkipsMalformed(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	bad, good := testutil.RandomName("rkbad"), testutil.RandomName("rkgood")
	pw := "skip-" + testutil.RandomName("")
	c.CreateRole(t, bad, pw, "")
	c.CreateRole(t, good, pw, "")
	c.Exec(t, "UPDATE pg_authid SET rolpassword = 'SCRAM-SHA-256$0:AAAA$xx:yy' WHERE rolname = "+testutil.QuoteLiteral(bad))
	r, err := p.IdentifyReport(context.Background(), secret.FromString(pw))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Matches) != 1 || r.Matches[0].Ref.Name != good {
		t.Errorf("matches = %+v, want only %s", r.Matches, good)
	}
	found := false
	for _, s := range r.Skipped {
		if s.Role == bad {
			found = true
			if !strings.Contains(s.Reason, "iteration count") || strings.Contains(s.Reason, "AAAA") {
				t.Errorf("skip reason %q", s.Reason)
			}
		}
	}
	if !found {
		t.Errorf("skipped = %+v, want %s", r.Skipped, bad)
	}
	if r.Checked == 0 {
		t.Error("Checked = 0")
	}
}

// The inspector's own connections are not sessions of the role inspected.
func TestSessionsLeaveOutInspector(t *testing.T) {
	t.Parallel()
	p, _ := openTest(t)
	id := inspectRole(t, p, "postgres")
	for _, s := range id.Sessions {
		for pid := range p.pids {
			if s.ID == strconv.FormatUint(uint64(pid), 10) {
				t.Errorf("the inspector's own backend %s is listed: %+v", s.ID, s)
			}
		}
	}
}

func TestIdentifyCancelled(t *testing.T) {
	t.Parallel()
	p, _ := openTest(t)
	roles := make([]stored, 2000)
	for i := range roles {
		roles[i] = stored{role: "r", verifier: scramVerifier("x", []byte("saltsaltsaltsalt"), 1)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.match(ctx, roles, secret.FromString("y"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("match(cancelled) = %v, want context.Canceled", err)
	}
}

func TestBadAdminString(t *testing.T) {
	t.Parallel()
	const pw = "s3cr3t-in-dsn"
	for _, dsn := range []string{"postgres://u:" + pw + "@host:notaport/db", "host=x password=" + pw + " port=abc"} {
		_, err := New(context.Background(), provider.Config{System: "shop", Admin: secret.FromString(dsn)})
		if errs.KindOf(err) != errs.Invalid {
			t.Errorf("New(%T) kind %v, want Invalid: %v", dsn, errs.KindOf(err), err)
		}
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("error contains the password: %v", err)
		}
	}
	_, err := New(context.Background(), provider.Config{System: "shop"})
	if errs.KindOf(err) != errs.Invalid {
		t.Errorf("New(no admin) = %v, want Invalid", err)
	}
}

func TestScrubKeepsKind(t *testing.T) {
	p := &Postgres{}
	p.san.Add("hunter2")
	err := p.san.Scrub(errs.New("postgres x", errs.Unreachable, "", "cannot reach h: hunter2 and cand"), "cand")
	if errs.KindOf(err) != errs.Unreachable || err.Error() != "postgres x: cannot reach h: [REDACTED] and [REDACTED]" {
		t.Errorf("scrub = %v (kind %v)", err, errs.KindOf(err))
	}
	clean := errs.New("postgres x", errs.Other, "", "fine")
	if p.san.Scrub(clean) != clean {
		t.Error("scrub rebuilt an error with nothing to remove")
	}
}

func TestSanitize(t *testing.T) {
	p := &Postgres{}
	p.san.Add("postgres://u:hunter2@h/db", "hunter2")
	got := p.san.Clean("a postgres://u:hunter2@h/db b hunter2 c\nd", "cand")
	if want := "a [REDACTED] b [REDACTED] c d"; got != want {
		t.Errorf("sanitize = %q, want %q", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	c := testutil.SharedPostgres(t)
	pw := c.AdminPassword()
	for _, tc := range []struct {
		name, dsn string
		kind      errs.Kind
		says      string
	}{
		{"no such database", c.URL("postgres", pw, "nosuchdb"), errs.Invalid, "does not exist"},
		{"TLS required", strings.Replace(c.AdminURL(), "sslmode=disable", "sslmode=require", 1), errs.Other, "connect to 127.0.0.1:"},
		{"no socket", "host=/nonexistent/dir user=postgres password=" + pw, errs.Unreachable, "cannot reach /nonexistent/dir"},
		{"unknown user", c.URL("nosuchuser", pw, "postgres"), errs.Permission, "credential was refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), provider.Config{System: "shop", Admin: secret.FromString(tc.dsn)})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if errs.KindOf(err) != tc.kind || !strings.Contains(msg, tc.says) || !strings.HasPrefix(msg, "postgres shop: ") {
				t.Errorf("error %q (kind %v), want kind %v saying %q", msg, errs.KindOf(err), tc.kind, tc.says)
			}
			if strings.Contains(msg, pw) || strings.Contains(msg, "\n") {
				t.Errorf("error %q holds the password or several lines", msg)
			}
		})
	}
}
