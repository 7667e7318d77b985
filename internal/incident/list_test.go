package incident

import (
	"context"
	"testing"
)

func TestShowNamesItsOwnOpener(t *testing.T) {
	ctx := context.Background()
	d, _ := testDeps(t)
	a := openTest(t, d, "aa00000000000000000000000000000000000000000000000000000000000000", d.now())
	d.Actor = "bob"
	b := openTest(t, d, "bb00000000000000000000000000000000000000000000000000000000000000", d.now())
	// A later entry of a's naming another actor does not change who opened it.
	if _, err := d.Audit.Append(ctx, "carol", "incident.open", a.ID, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{a.ID: "alice", b.ID: "bob"} {
		s, err := Show(ctx, d, id)
		if err != nil || s.OpenedBy != want {
			t.Errorf("Show(%s): opened by %q, %v; want %s", id, s.OpenedBy, err, want)
		}
	}
	if who, err := Opener(ctx, d.Store, "INC-20261206-0000"); who != "" || err != nil {
		t.Errorf("an incident the log does not name: %q, %v", who, err)
	}
}
