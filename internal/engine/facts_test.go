package engine

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/store"
)

// TestRunFactsForReviewAndRemediation: what a finished run tells the
// review (each consumer verified on its new login, with where the system
// saw it) and remediation (the retired login and what replaced it, for
// whom). Graceful issues one login for every consumer; until the revoke
// has finished no login is retired.
func TestRunFactsForReviewAndRemediation(t *testing.T) {
	w := newWorld(t, worldOpts{consumers: []string{"orders-api", "billing"}, strategy: plan.Graceful, policy: "policy:\n  approve: [revoke]\n"})
	w.startConsumers()
	defer w.stopConsumers()
	ctx := context.Background()
	if _, err := w.engine().Run(ctx); !errors.Is(err, ErrWaiting) {
		t.Fatalf("run: %v, want it waiting for the revoke's approval", err)
	}
	if reps, err := Replacements(ctx, w.st, w.inc.ID); err != nil || len(reps) != 0 {
		t.Fatalf("before the revoke, replacements %+v %v: the old login is not retired yet", reps, err)
	}
	proven, err := Verified(ctx, w.st, w.inc.ID)
	if err != nil || len(proven) != 2 {
		t.Fatalf("verified %+v %v", proven, err)
	}
	login := proven[0].Login
	for _, v := range proven {
		if v.Login == w.role || v.Login != login || v.At.IsZero() || len(v.Sources)+len(v.Applications) == 0 {
			t.Errorf("verification %+v: want the new login, when, and where the system saw it", v)
		}
	}

	if err := w.engine().Approve(ctx, "revoke:shop-db/"+w.role, "bob", "alice"); err != nil {
		t.Fatal(err)
	}
	if res, err := w.engine().Run(ctx); err != nil || res.State != store.RunDone {
		t.Fatalf("run after approval: %v %+v", err, res)
	}
	reps, err := Replacements(ctx, w.st, w.inc.ID)
	if err != nil || len(reps) != 2 {
		t.Fatalf("replacements %+v %v", reps, err)
	}
	var who []string
	for _, r := range reps {
		if r.Identity != w.role || r.Login != login || r.System != "shop-db" {
			t.Errorf("replacement %+v", r)
		}
		who = append(who, r.Consumer)
	}
	slices.Sort(who)
	if !slices.Equal(who, []string{"billing", "orders-api"}) {
		t.Errorf("the shared new login is listed for %v", who)
	}
}
