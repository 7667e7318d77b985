package audit

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
)

// replicaOf is another replica of f's store: its own witness (a home of
// its own), the same key, and the shared witness directory dir.
func replicaOf(t *testing.T, f fixture, dir, name string) *Log {
	return New(f.log.s, filepath.Join(t.TempDir(), "audit.witness")).WithKey(f.log.keyPath, false).WithSharedWitnesses(dir, name)
}

func readShared(t *testing.T, path string) Anchor {
	t.Helper()
	a, ok, err := readWitness(path)
	if err != nil || !ok {
		t.Fatalf("shared witness %s: %v %v", path, ok, err)
	}
	return a
}

// A replica with no witness of its own joins a log the other replicas
// witness in the shared directory: it checks the log against them,
// anchors at the freshest (an audit.anchor entry naming it) and appends
// from there; every append moves its shared witness too (mode 0600 in a
// 0700 directory).
func TestJoinAnchorsFromTheFreshestSharedWitness(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "keys", WitnessDir)
	a := f.log.WithSharedWitnesses(dir, "a")
	if e, err := a.Join(context.Background(), "serve"); err != nil || e != nil {
		t.Fatalf("join with a witness of its own: %v %v", e, err)
	}
	// The first replica's witness is copied among the shared ones.
	if got := readShared(t, filepath.Join(dir, "a")); got.Seq != 5 {
		t.Fatalf("a's shared witness after join: %v", got)
	}
	if _, err := a.Append(context.Background(), "alice", "incident.plan", "INC-1", nil); err != nil {
		t.Fatal(err)
	}
	aHead := readShared(t, filepath.Join(dir, "a"))
	if aHead.Seq != 6 {
		t.Fatalf("a's shared witness after an append: %v", aHead)
	}
	if st, err := os.Stat(filepath.Join(dir, "a")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("shared witness mode: %v %v", st.Mode(), err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("shared witness directory mode: %v %v", st.Mode(), err)
	}
	// An older witness beside it: b anchors from the freshest.
	if err := writeAnchor(filepath.Join(dir, "old"), Anchor{Seq: 2, Hash: entryHash(t, f, 2)}); err != nil {
		t.Fatal(err)
	}

	b := replicaOf(t, f, dir, "b")
	if _, err := b.Append(context.Background(), "serve", "token.create", "", nil); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("append before join: %v", err)
	}
	e, err := b.Join(context.Background(), "serve")
	if err != nil || e == nil {
		t.Fatalf("join: %v %v", e, err)
	}
	var d map[string]string
	json.Unmarshal(e.Detail, &d)
	if e.Action != "audit.anchor" || e.Actor != "serve" || d["from_witness"] != "a" || d["witness"] != aHead.String() || d["found_head"] != aHead.String() || d["previous_witness"] != "none" {
		t.Fatalf("anchor entry: %+v %s", e, e.Detail)
	}
	if got := readShared(t, filepath.Join(dir, "b")); got.Seq != e.Seq || got.Hash != e.Hash {
		t.Fatalf("b's shared witness: %v, want its anchor entry %d", got, e.Seq)
	}
	if _, err := b.Append(context.Background(), "serve", "token.create", "", nil); err != nil {
		t.Fatalf("append after join: %v", err)
	}
	// A second start of b has its own witness: nothing more is appended.
	if again, err := b.Join(context.Background(), "serve"); err != nil || again != nil {
		t.Fatalf("second join: %v %v", again, err)
	}
	r, err := b.Verify(context.Background())
	if err != nil || !r.OK() || !r.Witnessed || r.SharedWitnesses != 3 {
		t.Fatalf("verify on b: %+v %v", r, err)
	}
}

func entryHash(t *testing.T, f fixture, seq int64) string {
	t.Helper()
	es, err := f.log.s.AuditFrom(context.Background(), seq)
	if err != nil || len(es) == 0 {
		t.Fatalf("entry %d: %v", seq, err)
	}
	return es[0].Hash
}

// Cutting the log below one replica's witness is caught by every other
// replica: a new one refuses to anchor (and appends nothing), one with a
// witness of its own that the cut spared refuses to start, and verify
// reports it.
func TestJoinRefusesALogCutBelowASharedWitness(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), WitnessDir)
	a := f.log.WithSharedWitnesses(dir, "a")
	if _, err := a.Join(context.Background(), "serve"); err != nil {
		t.Fatal(err)
	}
	b := replicaOf(t, f, dir, "b")
	if _, err := b.Join(context.Background(), "serve"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := b.Append(context.Background(), "serve", "step.done", "INC-1", nil); err != nil {
			t.Fatal(err)
		}
	}
	// b witnesses 8; a 5. Entries 7 and 8 go.
	f.exec(t, `DELETE FROM audit_log WHERE seq >= 7`)
	before := f.count(t)
	c := replicaOf(t, f, dir, "c")
	_, err := c.Join(context.Background(), "serve")
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "refusing to anchor") || !strings.Contains(err.Error(), "entries were deleted") {
		t.Fatalf("join after the cut: %v", err)
	}
	if f.count(t) != before {
		t.Fatal("the refused join appended")
	}
	if _, err := os.Stat(filepath.Join(dir, "c")); !os.IsNotExist(err) {
		t.Fatalf("the refused join wrote a witness: %v", err)
	}
	if _, err := a.Join(context.Background(), "serve"); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), filepath.Join(dir, "b")) {
		t.Fatalf("restart of a after the cut below b's witness: %v", err)
	}
	r, err := a.Verify(context.Background())
	if err != nil || r.OK() || !hasBreak(r, 8, "entries were deleted") {
		t.Fatalf("verify on a after the cut: %+v %v", r, err)
	}
}

// The chain and MACs are checked up to the head before a replica
// anchors: a forged entry after the freshest witness is refused too.
func TestJoinRefusesAForgedEntry(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), WitnessDir)
	if _, err := f.log.WithSharedWitnesses(dir, "a").Join(context.Background(), "serve"); err != nil {
		t.Fatal(err)
	}
	forge(t, f, "mallory", false)
	_, err := replicaOf(t, f, dir, "b").Join(context.Background(), "serve")
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "entry 6") || !strings.Contains(err.Error(), "no MAC") {
		t.Fatalf("join over a forged entry: %v", err)
	}
}

// With entries and no witness anywhere (the shared ones deleted, or never
// written), a new replica refuses, saying what to do; on an empty log it
// anchors, so that it is not refused once another replica has appended.
func TestJoinWithoutAnyWitness(t *testing.T) {
	defer func(d time.Duration) { joinRetry = d }(joinRetry)
	joinRetry = 10 * time.Millisecond
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), WitnessDir)
	_, err := replicaOf(t, f, dir, "b").Join(context.Background(), "serve")
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "rekey audit reanchor --yes") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("join without witnesses: %v", err)
	}
	f.exec(t, `DELETE FROM audit_log`)
	e, err := replicaOf(t, f, dir, "b").Join(context.Background(), "serve")
	if err != nil || e == nil || e.Seq != 1 || !strings.Contains(string(e.Detail), `"found_head":"empty"`) {
		t.Fatalf("join on an empty log: %+v %v", e, err)
	}
}

// Without a shared directory Join does nothing and verify reports a
// missing witness as before.
func TestJoinWithoutSharedWitnessesDoesNothing(t *testing.T) {
	f := newFixture(t)
	if err := os.Remove(f.log.witness); err != nil {
		t.Fatal(err)
	}
	if e, err := f.log.Join(context.Background(), "serve"); err != nil || e != nil {
		t.Fatalf("join: %v %v", e, err)
	}
	if f.count(t) != 5 {
		t.Fatal("join appended")
	}
	if r := f.verify(t); r.OK() || !hasBreak(r, 0, "reanchor") {
		t.Fatalf("verify: %+v", r)
	}
}
