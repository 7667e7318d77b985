package mysql

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// showGrantsU is what MariaDB 10.11 printed for an account given ALL ON
// *.* WITH GRANT OPTION, REQUIRE SSL and limits, ALL on a database, column
// grants and a default role held WITH ADMIN OPTION.
var showGrantsU = []string{
	"GRANT `rkx_role` TO `rkx_u`@`%` WITH ADMIN OPTION",
	"GRANT ALL PRIVILEGES ON *.* TO `rkx_u`@`%` IDENTIFIED BY PASSWORD '*D821809F681A40A6E379B50D0463EFAE20BDD122' REQUIRE SSL WITH GRANT OPTION MAX_USER_CONNECTIONS 7 MAX_STATEMENT_TIME 1.500000",
	"GRANT ALL PRIVILEGES ON `rkx_db`.* TO `rkx_u`@`%`",
	"GRANT SELECT (`a`), INSERT (`a`, `b`) ON `rkx_db`.`t` TO `rkx_u`@`%`",
	"GRANT EXECUTE, ALTER ROUTINE ON PROCEDURE `rkx_db`.`refund` TO `rkx_u`@`%`",
	"GRANT PROXY ON ''@'%' TO 'rkx_u'@'%' WITH GRANT OPTION",
	"GRANT USAGE ON `shop\\_%`.* TO `rkx_u`@`%` WITH GRANT OPTION",
	"SET DEFAULT ROLE `rkx_role` FOR `rkx_u`@`%`",
}

func names(items []grant) []string {
	var out []string
	for _, g := range items {
		out = append(out, g.name())
	}
	slices.Sort(out)
	return out
}

func TestParseGrants(t *testing.T) {
	t.Parallel()
	gs, err := parseGrants(showGrantsU)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ALL PRIVILEGES ON *.*",
		"ALL PRIVILEGES ON rkx_db.*",
		"ALTER ROUTINE ON PROCEDURE rkx_db.refund",
		"DEFAULT ROLE rkx_role",
		"EXECUTE ON PROCEDURE rkx_db.refund",
		"GRANT OPTION ON *.*",
		`GRANT OPTION ON shop\_%.*`,
		"INSERT (a) ON rkx_db.t",
		"INSERT (b) ON rkx_db.t",
		"PROXY ON ''@'%' WITH GRANT OPTION",
		"ROLE rkx_role WITH ADMIN OPTION",
		"SELECT (a) ON rkx_db.t",
	}
	if diff := cmp.Diff(want, names(gs.items)); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
	if gs.require != "SSL" {
		t.Errorf("require = %q, want SSL", gs.require)
	}
	if diff := cmp.Diff(map[string]string{"MAX_USER_CONNECTIONS": "7", "MAX_STATEMENT_TIME": "1.500000"}, gs.limits); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
}

// A line rekey cannot read is refused by number, never quoted: the global
// line holds the stored password hash.
func TestParseGrantsErrorQuotesNothing(t *testing.T) {
	t.Parallel()
	line := "GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*D821809F681A40A6E379B50D0463EFAE20BDD122' WITH SOMETHING_NEW 3"
	_, err := parseGrants([]string{"GRANT SELECT ON *.* TO `u`@`%`", line})
	if err == nil {
		t.Fatal("no error for an unknown clause")
	}
	if strings.Contains(err.Error(), "D821809F") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %q: want the line number and no hash", err)
	}
	for _, bad := range []string{"GRANT SELECT ON `db`.* `u`@`%`", "REVOKE SELECT ON *.* FROM u", "GRANT SELECT ON `db TO u"} {
		if _, err := parseGrants([]string{bad}); err == nil {
			t.Errorf("parseGrants(%q): no error", bad)
		}
	}
}

func TestDropFilter(t *testing.T) {
	t.Parallel()
	gs, err := parseGrants(showGrantsU)
	if err != nil {
		t.Fatal(err)
	}
	f := parseVersion("10.11.19-MariaDB")
	d := newDropSet([]string{"super on *.*", "GRANT OPTION ON *.*", "ROLE rkx_role WITH ADMIN OPTION", "DROP ON rkx_db.*",
		"PROXY ON ''@'%' WITH GRANT OPTION", "CREATE USER ON shop.*"})
	got := d.filter(gs.items, f)
	have := map[string]bool{}
	for _, g := range got {
		have[g.name()] = true
	}
	for _, n := range []string{"SELECT ON *.*", "CREATE USER ON *.*", "SLAVE MONITOR ON *.*", "ROLE rkx_role", "SELECT ON rkx_db.*",
		"DELETE HISTORY ON rkx_db.*", "SELECT (a) ON rkx_db.t", "DEFAULT ROLE rkx_role"} {
		if !have[n] {
			t.Errorf("filtered grants lack %s: %v", n, names(got))
		}
	}
	for _, n := range []string{"SUPER ON *.*", "ALL PRIVILEGES ON *.*", "GRANT OPTION ON *.*", "ROLE rkx_role WITH ADMIN OPTION",
		"DROP ON rkx_db.*", "ALL PRIVILEGES ON rkx_db.*", "PROXY ON ''@'%' WITH GRANT OPTION"} {
		if have[n] {
			t.Errorf("filtered grants still hold %s", n)
		}
	}
	want := []string{"super on *.*", "GRANT OPTION ON *.*", "ROLE rkx_role WITH ADMIN OPTION", "DROP ON rkx_db.*", "PROXY ON ''@'%' WITH GRANT OPTION"}
	if diff := cmp.Diff(want, d.hits()); diff != "" {
		t.Errorf("hits (-want +got):\n%s", diff)
	}

	// Inspect names ALL with its grant option as one privilege.
	d = newDropSet([]string{"ALL PRIVILEGES ON *.* WITH GRANT OPTION"})
	for _, g := range d.filter(gs.items, f) {
		if g.kind == gPriv && g.obj.level() == levelGlobal {
			t.Errorf("dropping ALL PRIVILEGES ON *.* WITH GRANT OPTION kept %s", g.name())
		}
	}
}

func TestPlanGrants(t *testing.T) {
	t.Parallel()
	f := parseVersion("10.11.19-MariaDB")
	to := acct{user: "new", host: "%"}
	cur, err := parseGrants([]string{
		"GRANT ALL PRIVILEGES ON *.* TO `new`@`%` WITH GRANT OPTION",
		"GRANT SELECT, INSERT ON `shop`.* TO `new`@`%`",
		"GRANT `r` TO `new`@`%` WITH ADMIN OPTION",
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseGrants([]string{
		"GRANT SELECT, INSERT, UPDATE ON `shop`.* TO `new`@`%`",
		"GRANT `r` TO `new`@`%`",
		"GRANT `q` TO `new`@`%`",
		"SET DEFAULT ROLE `q` FOR `new`@`%`",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := planGrants(f, to, cur.items, want.items)
	exp := []string{
		"GRANT `q` TO `new`@`%`",
		"GRANT UPDATE ON `shop`.* TO `new`@`%`",
		"SET DEFAULT ROLE `q` FOR `new`@`%`",
		"REVOKE ADMIN OPTION FOR `r` FROM `new`@`%`",
		"REVOKE ALL PRIVILEGES, GRANT OPTION ON *.* FROM `new`@`%`",
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	// ALL on one side only is compared part by part: dropping SUPER from
	// an ALL holder revokes SUPER alone.
	all, _ := parseGrants([]string{"GRANT ALL PRIVILEGES ON *.* TO `new`@`%`"})
	less := newDropSet([]string{"SUPER ON *.*"}).filter(all.items, f)
	got = planGrants(f, to, all.items, less)
	if diff := cmp.Diff([]string{"REVOKE SUPER ON *.* FROM `new`@`%`"}, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if got := planGrants(f, to, want.items, want.items); len(got) != 0 {
		t.Errorf("plan between equal sets = %v, want nothing", got)
	}
}
