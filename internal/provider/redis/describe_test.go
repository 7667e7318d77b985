package redis

import (
	"context"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// The described ACL SETUSER is the one Issue sends: sent by hand with the
// mask replaced by the password's hash, it makes a user that logs in and
// may do what its source may, without the dropped rule; the described
// revoke stops its logins. No hash or password is in the description.
func TestDescribeMatchesWhatIssueDoes(t *testing.T) {
	testutil.NeedService(t, "redis", testAddr)
	t.Parallel()
	p, err := New(context.Background(), adminConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	d := p.(provider.Describer)
	from, name := newUserName(), newUserName()
	createUser(t, from, "on", ">"+randomHex(8), "~app:*", "+@read", "+acl")
	t.Cleanup(func() { c := dialTest(t); defer c.nc.Close(); c.must(t, "ACL", "DELUSER", name) })
	pw := randomHex(12)
	got, err := d.DescribeIssue(context.Background(), provider.IssueRequest{From: ref(from), Name: name, Drop: []string{"+acl"}})
	if err != nil {
		t.Fatal(err)
	}
	hash := passwordHash(secret.FromString(pw))
	if len(got) != 1 || !strings.Contains(got[0], "#"+provider.Masked) || strings.Contains(got[0], pw) || strings.Contains(got[0], hash) {
		t.Fatalf("described %q", got)
	}
	c := dialTest(t)
	defer c.nc.Close()
	c.must(t, strings.Fields(strings.ReplaceAll(got[0], "#"+provider.Masked, "#"+hash))...)
	if err := (rotateHarness{}).CanUse(t, name, pw); err != nil {
		t.Fatalf("the described user cannot log in and read: %v", err)
	}
	if (rotateHarness{}).Risky(t, name) {
		t.Error("the described user kept +acl, which the request drops")
	}
	revoke, _ := d.DescribeRevoke(context.Background(), ref(name))
	c.must(t, strings.Fields(revoke[0])...)
	if err := (rotateHarness{}).CanUse(t, name, pw); err == nil {
		t.Error("the user logs in after the described revoke")
	}
	term, _ := d.DescribeTerminate(context.Background(), ref(name))
	if term[0] != "CLIENT KILL USER "+name+" SKIPME yes" {
		t.Errorf("terminate %q", term)
	}
	if s := shellCommand([]string{"ACL", "SETUSER", "u", "(~a:* +get)", ""}); s != `ACL SETUSER u "(~a:* +get)" ""` {
		t.Errorf("quoting: %s", s)
	}
}
