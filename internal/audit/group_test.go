package audit

import (
	"context"
	"errors"
	"fmt"
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

// leaseStore is a slowStore that also writes lease rows with entries,
// counting those transactions with the others.
type leaseStore struct {
	*slowStore
	st store.Store
}

func (s *leaseStore) AppendAuditsWithLeases(ctx context.Context, es []store.AuditEntry, sign func(store.AuditEntry) (string, string), updates []store.BrokerLeaseUpdate) ([]store.AuditEntry, []bool, error) {
	s.commits.Add(1)
	time.Sleep(20 * time.Millisecond)
	return s.st.(store.AuditedLeaseWriter).AppendAuditsWithLeases(ctx, es, sign, updates)
}

// Appends that move lease rows are grouped with the others: each caller
// gets its own updates' results, the rows and entries are written
// together in fewer transactions than callers, and the chain and witness
// are what plain appends leave.
func TestGroupCommitWithLeases(t *testing.T) {
	slow, _, f := groupFixture(t)
	s := slow.Responder.(store.Store)
	ls := &leaseStore{slowStore: slow, st: s}
	l := New(ls, WitnessPath(f.dir, "rekey.db")).WithKey(filepath.Join(f.dir, KeyFile), true)
	f.log = l
	if !l.WritesLeasesOf(ls) || l.WritesLeasesOf(s) {
		t.Fatal("WritesLeasesOf does not name the log's own store")
	}
	plain := New(&slowStore{Responder: s}, "")
	if plain.WritesLeasesOf(s) {
		t.Fatal("a log whose store cannot write lease rows says it can")
	}
	if _, _, err := plain.AppendWithLeases(context.Background(), "a", "b", "", nil, nil); err == nil {
		t.Fatal("a log whose store cannot write lease rows appended with leases")
	}
	now := time.Now().UTC()
	const n = 30
	for i := range n {
		if err := s.CreateBrokerLease(context.Background(), store.BrokerLease{ID: fmt.Sprint("l", i), Role: "r", System: "db", Identity: "svc",
			Login: fmt.Sprint("svc_l", i), Holder: "h", IssuedAt: now, ExpiresAt: now.Add(time.Hour), MaxExpiresAt: now.Add(time.Hour), State: store.BrokerIssuing}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	moved := make([][]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ups := []store.BrokerLeaseUpdate{{ID: fmt.Sprint("l", i), From: []string{store.BrokerIssuing}, State: store.BrokerActive}}
			if i%2 == 1 {
				ups = append(ups, store.BrokerLeaseUpdate{ID: "missing", From: []string{store.BrokerIssuing}, State: store.BrokerActive})
			}
			if i%3 == 0 {
				ups = nil // a plain entry in the same batches
			}
			_, moved[i], errs[i] = l.AppendWithLeases(context.Background(), "broker", "lease.issue", "", map[string]int{"n": i}, ups)
		}()
	}
	wg.Wait()
	for i := range n {
		want := []bool{true}
		if i%2 == 1 {
			want = append(want, false)
		}
		if i%3 == 0 {
			want = nil
		}
		if errs[i] != nil || len(moved[i]) != len(want) || (len(want) > 0 && fmt.Sprint(moved[i]) != fmt.Sprint(want)) {
			t.Errorf("caller %d: moved %v, %v; want %v", i, moved[i], errs[i], want)
		}
	}
	active, err := s.BrokerLeases(context.Background(), store.BrokerLeaseFilter{States: []string{store.BrokerActive}})
	if err != nil || len(active) != n-n/3 {
		t.Errorf("%d leases active (%v), want %d", len(active), err, n-n/3)
	}
	if got := f.count(t); got != n {
		t.Fatalf("%d entries after %d appends", got, n)
	}
	if c := ls.commits.Load(); c >= n {
		t.Errorf("%d transactions for %d concurrent appends: nothing was batched", c, n)
	}
	if r := f.verify(t); !r.OK() || !r.Witnessed || r.HeadSeq != n {
		t.Fatalf("verify: %+v", r)
	}
	if w, ok, err := readWitness(l.witness); err != nil || !ok || w.Seq != n {
		t.Fatalf("witness at %+v (%v %v), want the head %d", w, ok, err, n)
	}
	// A log without a witness writes the rows with its entry too.
	bare := New(ls, "").WithKey(filepath.Join(f.dir, KeyFile), true)
	e, moved0, err := bare.AppendWithLeases(context.Background(), "broker", "lease.issue", "", nil,
		[]store.BrokerLeaseUpdate{{ID: "l0", From: []string{store.BrokerIssuing}, State: store.BrokerActive}})
	if err != nil || e.Seq != n+1 || len(moved0) != 1 || !moved0[0] {
		t.Fatalf("append without a witness: %+v %v %v", e, moved0, err)
	}
	if got, _ := s.BrokerLeases(context.Background(), store.BrokerLeaseFilter{ID: "l0"}); len(got) != 1 || got[0].State != store.BrokerActive {
		t.Fatalf("lease l0 after the append without a witness: %+v", got)
	}
}
