package audit

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// slowStore counts the store's append transactions and makes each slow,
// as an fsync under load is, so that appends queue behind one; failNext
// fails the next one.
type slowStore struct {
	store.Responder
	commits  atomic.Int64
	failNext atomic.Bool
}

func (s *slowStore) AppendAudits(ctx context.Context, es []store.AuditEntry, sign func(store.AuditEntry) (string, string)) ([]store.AuditEntry, error) {
	s.commits.Add(1)
	time.Sleep(20 * time.Millisecond)
	if s.failNext.CompareAndSwap(true, false) {
		return nil, errors.New("disk full")
	}
	return s.Responder.AppendAudits(ctx, es, sign)
}

func (s *slowStore) AppendAudit(ctx context.Context, e store.AuditEntry, sign func(store.AuditEntry) (string, string)) (store.AuditEntry, error) {
	out, err := s.AppendAudits(ctx, []store.AuditEntry{e}, sign)
	if len(out) == 1 {
		e = out[0]
	}
	return e, err
}

func groupFixture(t *testing.T) (*slowStore, *Log, fixture) {
	t.Helper()
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	slow := &slowStore{Responder: s}
	l := New(slow, WitnessPath(dir, "rekey.db")).WithKey(filepath.Join(dir, KeyFile), true)
	return slow, l, fixture{log: l, db: s.DB(), dir: dir}
}

func appendAll(l *Log, n int) []error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = l.Append(context.Background(), "broker", "lease.issue", "", map[string]int{"n": i})
		}()
	}
	wg.Wait()
	return errs
}

// Concurrent appends share commits: 40 appends queued behind a slow
// commit take far fewer than 40 transactions, and the log they leave is
// one chain with the witness at its head.
func TestGroupCommit(t *testing.T) {
	slow, l, f := groupFixture(t)
	for _, err := range appendAll(l, 40) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count(t); n != 40 {
		t.Fatalf("%d entries after 40 appends", n)
	}
	if c := slow.commits.Load(); c >= 40 {
		t.Fatalf("%d commits for 40 concurrent appends: nothing was batched", c)
	}
	if r := f.verify(t); !r.OK() {
		t.Fatalf("verify: %+v", r)
	}
	e, err := l.Append(context.Background(), "alice", "after", "", nil)
	if err != nil || e.Seq != 41 {
		t.Fatalf("an append after the batches: %+v %v", e, err)
	}
}

// A batch that fails fails every append in it, and none of them is in
// the log; the next appends go on from the witnessed head.
func TestGroupCommitFailure(t *testing.T) {
	slow, l, f := groupFixture(t)
	if _, err := l.Append(context.Background(), "alice", "first", "", nil); err != nil {
		t.Fatal(err)
	}
	slow.failNext.Store(true)
	failed := 0
	for _, err := range appendAll(l, 10) {
		if err != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no append saw the failed commit")
	}
	if n := f.count(t); n != 1+10-failed {
		t.Fatalf("%d entries: %d appends failed, yet some of their entries are in the log", n, failed)
	}
	if r := f.verify(t); !r.OK() {
		t.Fatalf("verify: %+v", r)
	}
	if _, err := l.Append(context.Background(), "alice", "after", "", nil); err != nil {
		t.Fatal(err)
	}
}

// An entry the store would refuse is refused before it joins a batch.
func TestGroupCommitRefusesInvalidEntryAlone(t *testing.T) {
	_, l, _ := groupFixture(t)
	if _, err := l.Append(context.Background(), "", "x", "", nil); err == nil {
		t.Fatal("an entry without an actor was appended")
	}
}
