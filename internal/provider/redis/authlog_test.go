package redis

import (
	"context"
	"testing"
	"time"
)

// A refused AUTH and a refused command are in AuthLog with the user, the
// client's address and the reason; a second refused AUTH from the same
// connection is the same entry, counted twice.
func TestAuthLog(t *testing.T) {
	p := openTest(t)
	name := newUserName()
	createUser(t, name, "on", ">right-pw", "-@all")
	c := dialTest(t)
	for range 2 {
		if c.do(t, "AUTH", name, "wrong-pw").err() == nil {
			t.Fatal("a wrong password was accepted")
		}
	}
	c.must(t, "AUTH", name, "right-pw")
	if c.do(t, "GET", "k").err() == nil {
		t.Fatal("a user with -@all ran GET")
	}
	es, err := p.AuthLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var auth, get int
	for _, e := range es {
		if e.Login != name {
			continue
		}
		if e.Client != c.nc.LocalAddr().String() || e.Key == "" || time.Since(e.Last) > time.Minute || time.Until(e.Last) > time.Second {
			t.Errorf("entry %+v: client %s", e, c.nc.LocalAddr())
		}
		switch {
		case e.Reason == "auth":
			auth += e.Count
		case e.Reason == "command" && e.Object == "get":
			get += e.Count
		}
	}
	if auth != 2 || get != 1 {
		t.Errorf("refused auths %d, refused gets %d in %+v; want 2 and 1", auth, get, es)
	}
}
