package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// The described statements are the ones Issue and Revoke send: run by
// hand with the mask replaced by a password, they make a login that
// works, that Drop takes for one rekey issued, and Revoke's statement
// ends its logins. The password appears nowhere in the description.
func TestDescribeMatchesWhatIssueDoes(t *testing.T) {
	t.Parallel()
	p, c := openTest(t)
	from, name := testutil.RandomName("rkdfrom"), testutil.RandomName("rkdnew")
	c.CreateRole(t, from, testutil.RandomName("pw"), "CREATEDB")
	t.Cleanup(func() { p.Drop(context.Background(), ref(name)) })
	pw := testutil.RandomName("describedpw")
	issue, err := p.DescribeIssue(context.Background(), provider.IssueRequest{From: ref(from), Name: name, Drop: []string{"CREATEDB"}, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(issue) != 3 || !strings.HasPrefix(issue[0], "ALTER ROLE") || !strings.HasPrefix(issue[1], "CREATE ROLE") {
		t.Fatalf("issue statements %q", issue)
	}
	for _, s := range issue {
		if strings.Contains(s, pw) || strings.Contains(s, "SCRAM") {
			t.Fatalf("a secret in %q", s)
		}
		c.Exec(t, strings.ReplaceAll(s, quoteLiteral(provider.Masked), quoteLiteral(pw)))
	}
	conn, err := connectAs(t, c, name, pw)
	if err != nil {
		t.Fatalf("login made by the described statements: %v", err)
	}
	conn.Close(context.Background())
	if id := inspectRole(t, p, from); hasPrivilege(id, "CREATEDB") {
		t.Error("the described drop left CREATEDB on the source role")
	}
	revoke, _ := p.DescribeRevoke(context.Background(), ref(name))
	c.Exec(t, revoke[0])
	if conn, err := connectAs(t, c, name, pw); err == nil {
		conn.Close(context.Background())
		t.Error("login still works after the described revoke")
	}
	term, _ := p.DescribeTerminate(context.Background(), ref(name))
	c.Exec(t, term[0])
	if err := p.Drop(context.Background(), ref(name)); err != nil {
		t.Fatalf("Drop of the described login: %v", err)
	}
	if _, err := p.DescribeIssue(context.Background(), provider.IssueRequest{Name: name}); err == nil {
		t.Error("a request without a source role was described")
	}
}

func hasPrivilege(id *provider.Identity, name string) bool {
	for _, pr := range id.Privileges {
		if pr.Name == name {
			return true
		}
	}
	return false
}
