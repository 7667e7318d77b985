package broker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

// heldWrites counts WriteBrokerLeases calls and holds the first until
// gate closes.
type heldWrites struct {
	store.Store
	calls   atomic.Int32
	sizes   []int
	mu      sync.Mutex
	entered chan struct{}
	gate    chan struct{}
}

func (h *heldWrites) WriteBrokerLeases(ctx context.Context, c []store.BrokerLease, u []store.BrokerLeaseUpdate) ([]bool, []bool, error) {
	h.mu.Lock()
	h.sizes = append(h.sizes, len(c)+len(u))
	h.mu.Unlock()
	if h.calls.Add(1) == 1 {
		close(h.entered)
		<-h.gate
	}
	return h.Store.WriteBrokerLeases(ctx, c, u)
}

// The rows of issues that arrive while a commit is under way go into the
// next commit together, each with its own result: a login taken already is
// that row's Conflict only.
func TestLeaseRowsCommittedTogether(t *testing.T) {
	e := newEnv(t)
	h := &heldWrites{Store: e.st, entered: make(chan struct{}), gate: make(chan struct{})}
	l := e.newLeases(t, h, e.log)
	now := time.Now().UTC()
	mk := func(i int, login string) store.BrokerLease {
		return store.BrokerLease{ID: fmt.Sprintf("row%d-%d", i, now.UnixNano()), Role: "rw", System: "shop-db", Identity: e.tmpl,
			Login: login, Holder: "k8s:w", IssuedAt: now, ExpiresAt: now.Add(time.Minute), MaxExpiresAt: now.Add(time.Hour), State: store.BrokerIssuing}
	}
	const n = 8
	first := mk(0, fmt.Sprintf("%s_lrow%d", e.tmpl, 0))
	errList := make([]error, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); errList[0] = l.createRow(context.Background(), first) }()
	<-h.entered
	for i := 1; i < n; i++ {
		login := fmt.Sprintf("%s_lrow%d", e.tmpl, i)
		if i == n-1 {
			login = first.Login // taken by the first commit
		}
		wg.Add(1)
		go func() { defer wg.Done(); errList[i] = l.createRow(context.Background(), mk(i, login)) }()
	}
	for queued, deadline := 0, time.Now().Add(60*time.Second); queued != n-1; time.Sleep(time.Millisecond) {
		l.rows.mu.Lock()
		queued = len(l.rows.queue)
		l.rows.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("%d rows queued behind the first commit, want %d", queued, n-1)
		}
	}
	close(h.gate)
	wg.Wait()
	for i, err := range errList[:n-1] {
		if err != nil {
			t.Errorf("row %d: %v", i, err)
		}
	}
	if errs.KindOf(errList[n-1]) != errs.Conflict {
		t.Errorf("a row with a login taken: %v, want a Conflict", errList[n-1])
	}
	if len(h.sizes) != 2 || h.sizes[1] != n-1 {
		t.Fatalf("commits of %v rows, want [1 %d]", h.sizes, n-1)
	}
	ls, err := e.st.BrokerLeases(context.Background(), store.BrokerLeaseFilter{States: []string{store.BrokerIssuing}, Identity: e.tmpl})
	if err != nil || len(ls) != n-1 {
		t.Fatalf("%d rows stored (%v), want %d", len(ls), err, n-1)
	}
	ok, err := l.updateRow(context.Background(), store.BrokerLeaseUpdate{ID: first.ID, From: []string{store.BrokerIssuing}, State: store.BrokerRevoked})
	if err != nil || !ok {
		t.Fatalf("update through the group: %v %v", ok, err)
	}
}
