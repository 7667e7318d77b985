package postgres

import (
	"context"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// A canary logs in with its password and may do nothing: no attribute,
// no membership, no table of the cluster readable. Made again, it takes
// the new password; a role of that name rekey did not make is refused.
func TestCreateDecoy(t *testing.T) {
	t.Parallel()
	c := testutil.SharedPostgres(t)
	p, err := open(context.Background(), adminConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	name := testutil.RandomName("rkcanary")
	t.Cleanup(func() { c.DropRole(t, name) })
	suiteTable(t, c)
	if err := p.CreateDecoy(context.Background(), name, secret.FromString("first-Decoy-pw")); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateDecoy(context.Background(), name, secret.FromString("second-Decoy-pw")); err != nil {
		t.Fatalf("again: %v", err)
	}
	if _, err := connectAs(t, c, name, "first-Decoy-pw"); err == nil {
		t.Error("the first password still works after the canary was made again")
	}
	conn, err := connectAs(t, c, name, "second-Decoy-pw")
	if err != nil {
		t.Fatalf("the canary cannot log in: %v", err)
	}
	if _, err := conn.Exec(context.Background(), "SELECT * FROM public.rekey_suite"); err == nil {
		t.Error("the canary reads a table")
	}
	id, err := p.Inspect(context.Background(), ref(name))
	if err != nil {
		t.Fatal(err)
	}
	if !id.Exists || !id.CanLogin || len(id.Privileges) != 0 {
		t.Errorf("canary inspected as %+v, want a login with no privilege", id)
	}
	other := testutil.RandomName("rknotcanary")
	c.CreateRole(t, other, "not-a-canary-pw", "")
	if err := p.CreateDecoy(context.Background(), other, secret.FromString("taken-over")); errs.KindOf(err) != errs.Invalid {
		t.Errorf("CreateDecoy over a role rekey did not make: %v, want invalid", err)
	}
	if _, err := connectAs(t, c, other, "not-a-canary-pw"); err != nil {
		t.Errorf("the refused CreateDecoy changed the role: %v", err)
	}
}
