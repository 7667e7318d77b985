package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// A tracing's sources are pending until finished once: a second finish
// (a job run again) changes nothing and adds no copy; the sealed secret
// goes with the last pending source; a later tracing numbers on.
func testTracing(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "trace secret value, long enough"))
	sealed := []byte{9, 8, 7, 0, 'x'}
	seqs, err := s.StartTrace(ctx(), inc.ID, sealed, []store.TraceSource{
		{Type: "git", Path: "/src/a", History: true}, {Type: "dir", Path: "/etc/b"}, {Type: "git", Path: "/src/c"}})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "seqs", seqs, []int{1, 2, 3})
	src, got, err := s.TraceSource(ctx(), inc.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if src.Type != "git" || src.Path != "/src/a" || !src.History || src.State != store.TracePending {
		t.Fatalf("source 1: %+v", src)
	}
	check(t, "sealed", got, sealed)
	if _, _, err := s.TraceSource(ctx(), inc.ID, 9); errs.KindOf(err) != errs.NotFound {
		t.Errorf("a source never added: %v, want not found", err)
	}

	occ := store.Occurrence{Fingerprint: inc.Fingerprint, Preview: "tr…gh", Rule: "r", Path: "/src/a/.env", Line: 2, Column: 3}
	at := day.Add(-time.Hour)
	finish := store.TraceSource{Seq: 1, State: store.TraceDone, Copies: 1, ExposedAt: &at}
	// Two workers finishing one source at once (a rescued job): one
	// records it.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		changes int
	)
	for range 2 {
		wg.Go(func() {
			changed, left, err := s.FinishTrace(ctx(), inc.ID, finish, []store.Occurrence{occ})
			if err != nil {
				t.Error(err)
			}
			if left != 2 {
				t.Errorf("left %d, want 2", left)
			}
			mu.Lock()
			if changed {
				changes++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if changes != 1 {
		t.Fatalf("%d finishes changed the source, want 1", changes)
	}
	// Retried with another copy (the source changed meanwhile): nothing
	// joins.
	other := occ
	other.Line = 40
	if changed, _, err := s.FinishTrace(ctx(), inc.ID, finish, []store.Occurrence{other}); err != nil || changed {
		t.Fatalf("finishing a finished source: changed %v, %v", changed, err)
	}
	occs, err := s.Occurrences(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(occs) != 1 || occs[0].Line != 2 {
		t.Fatalf("copies after finishing twice: %+v", occs)
	}
	if _, _, err := s.FinishTrace(ctx(), inc.ID, store.TraceSource{Seq: 2, State: store.TracePending}, nil); errs.KindOf(err) != errs.Invalid {
		t.Errorf("finishing as pending: %v, want invalid", err)
	}
	if _, left, err := s.FinishTrace(ctx(), inc.ID, store.TraceSource{Seq: 2, State: store.TraceFailed, Error: "open /etc/b: permission denied"}, nil); err != nil || left != 1 {
		t.Fatalf("failing source 2: left %d, %v", left, err)
	}
	// A second tracing while one is pending joins it: the first's sealed
	// secret (whose key its jobs hold) stays.
	joined, err := s.StartTrace(ctx(), inc.ID, []byte("another key"), []store.TraceSource{{Type: "dir", Path: "/srv/joined"}})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "joined seqs", joined, []int{4})
	if _, got, err := s.TraceSource(ctx(), inc.ID, 4); err != nil || string(got) != string(sealed) {
		t.Fatalf("the sealed secret after a second tracing joined: %q, %v", got, err)
	}
	if _, left, err := s.FinishTrace(ctx(), inc.ID, store.TraceSource{Seq: 4, State: store.TraceDone}, nil); err != nil || left != 1 {
		t.Fatalf("the joined source: left %d, %v", left, err)
	}
	c, err := s.TraceCounts(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "counts", c, store.TraceCounts{Pending: 1, Done: 2, Failed: 1, Copies: 1})
	failed, err := s.TraceSources(ctx(), inc.ID, store.TraceFailed)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Seq != 2 || failed[0].Error != "open /etc/b: permission denied" {
		t.Fatalf("failed sources: %+v", failed)
	}
	if _, left, err := s.FinishTrace(ctx(), inc.ID, store.TraceSource{Seq: 3, State: store.TraceDone}, nil); err != nil || left != 0 {
		t.Fatalf("the last source: left %d, %v", left, err)
	}
	if _, got, err := s.TraceSource(ctx(), inc.ID, 1); err != nil || got != nil {
		t.Fatalf("the sealed secret after the last source: %v, %v", got, err)
	}
	all, err := s.TraceSources(ctx(), inc.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || all[0].ExposedAt == nil || !all[0].ExposedAt.Equal(at) || all[0].Copies != 1 {
		t.Fatalf("all sources: %+v", all)
	}
	seqs, err = s.StartTrace(ctx(), inc.ID, sealed, []store.TraceSource{{Type: "dir", Path: "/srv/d"}})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "next seqs", seqs, []int{5})
	if _, err := s.StartTrace(ctx(), "INC-404", sealed, []store.TraceSource{{Type: "dir", Path: "/x"}}); errs.KindOf(err) != errs.NotFound {
		t.Errorf("tracing an unknown incident: %v, want not found", err)
	}
}
