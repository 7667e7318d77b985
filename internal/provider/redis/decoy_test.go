package redis

import (
	"context"
	"testing"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
)

// A canary authenticates and may run nothing; made again it takes the new
// password; a user of that name that may run commands is refused and
// left as it was.
func TestCreateDecoy(t *testing.T) {
	p := openTest(t)
	c := dialTest(t)
	name := newUserName()
	t.Cleanup(func() { c.do(t, "ACL", "DELUSER", name) })
	for _, pw := range []string{"first-decoy-pw", "second-decoy-pw"} {
		if err := p.CreateDecoy(context.Background(), name, secret.FromString(pw)); err != nil {
			t.Fatal(err)
		}
	}
	u := dialTest(t)
	if err := u.do(t, "AUTH", name, "first-decoy-pw").err(); err == nil {
		t.Error("the first password still works")
	}
	if err := u.do(t, "AUTH", name, "second-decoy-pw").err(); err != nil {
		t.Fatalf("the canary cannot authenticate: %v", err)
	}
	if err := u.do(t, "GET", "anything").err(); err == nil {
		t.Error("the canary ran GET")
	}
	other := newUserName()
	createUser(t, other, "on", ">other-pw", "+get", "~*")
	if err := p.CreateDecoy(context.Background(), other, secret.FromString("taken-over")); errs.KindOf(err) != errs.Invalid {
		t.Errorf("CreateDecoy over a user that may run commands: %v, want invalid", err)
	}
	if err := dialTest(t).do(t, "AUTH", other, "other-pw").err(); err != nil {
		t.Errorf("the refused CreateDecoy changed the user: %v", err)
	}
}
