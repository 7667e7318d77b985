package storetest

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

func testBrokerLeases(t *testing.T, h Harness) {
	s := fresh(t, h)
	mk := func(id, login, role, holder string, exp time.Duration) store.BrokerLease {
		return store.BrokerLease{ID: id, Role: role, System: "shop-db", Identity: "orders_svc", Login: login, Holder: holder,
			IssuedAt: at(0), ExpiresAt: at(exp), MaxExpiresAt: at(time.Hour), State: store.BrokerIssuing}
	}
	a := mk("a", "orders_svc_l01", "orders-rw", "ci:repo:x", 15*time.Minute)
	b := mk("b", "orders_svc_l02", "orders-ro", "ci:repo:x", 5*time.Minute)
	c := mk("c", "orders_svc_l03", "orders-rw", "mesh:spiffe://p/ns/a", 10*time.Minute)
	for _, l := range []store.BrokerLease{a, b, c} {
		if err := s.CreateBrokerLease(ctx(), l); err != nil {
			t.Fatal(err)
		}
	}
	dup := mk("d", "orders_svc_l01", "orders-rw", "ci:repo:y", time.Minute)
	if err := s.CreateBrokerLease(ctx(), dup); errs.KindOf(err) != errs.Conflict {
		t.Errorf("a second lease with login %s: %v, want a Conflict", dup.Login, err)
	}
	if err := s.CreateBrokerLease(ctx(), mk("a", "other", "r", "h", time.Minute)); errs.KindOf(err) != errs.Conflict {
		t.Errorf("a second lease with id a: %v, want a Conflict", err)
	}
	if err := s.CreateBrokerLease(ctx(), store.BrokerLease{ID: "e"}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("an empty lease: %v, want Invalid", err)
	}
	ids := func(f store.BrokerLeaseFilter) []string {
		t.Helper()
		ls, err := s.BrokerLeases(ctx(), f)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, l := range ls {
			out = append(out, l.ID)
		}
		return out
	}
	check(t, "all, by expiry", ids(store.BrokerLeaseFilter{}), []string{"b", "c", "a"})
	check(t, "holder", ids(store.BrokerLeaseFilter{Holder: "ci:repo:x"}), []string{"b", "a"})
	check(t, "role", ids(store.BrokerLeaseFilter{Role: "orders-rw"}), []string{"c", "a"})
	check(t, "expired", ids(store.BrokerLeaseFilter{ExpiresBefore: at(12 * time.Minute)}), []string{"b", "c"})

	ok, err := s.UpdateBrokerLease(ctx(), "a", []string{store.BrokerIssuing}, store.BrokerActive, time.Time{})
	if err != nil || !ok {
		t.Fatalf("issuing → active: %v %v", ok, err)
	}
	ok, err = s.UpdateBrokerLease(ctx(), "a", []string{store.BrokerActive}, store.BrokerActive, at(30*time.Minute))
	if err != nil || !ok {
		t.Fatalf("renew: %v %v", ok, err)
	}
	got, _ := s.BrokerLeases(ctx(), store.BrokerLeaseFilter{ID: "a"})
	want := a
	want.State, want.ExpiresAt, want.Updated = store.BrokerActive, at(30*time.Minute), got[0].Updated
	check(t, "lease a after renewal", got, []store.BrokerLease{want})
	check(t, "active", ids(store.BrokerLeaseFilter{States: []string{store.BrokerActive}}), []string{"a"})
	check(t, "issuing or active", ids(store.BrokerLeaseFilter{States: []string{store.BrokerIssuing, store.BrokerActive}}), []string{"b", "c", "a"})
	if ok, err := s.UpdateBrokerLease(ctx(), "b", []string{store.BrokerActive}, store.BrokerRevoked, time.Time{}); err != nil || ok {
		t.Errorf("moving b from a state it is not in: %v %v, want false, nil", ok, err)
	}
	if _, err := s.UpdateBrokerLease(ctx(), "zz", []string{store.BrokerActive}, store.BrokerRevoked, time.Time{}); errs.KindOf(err) != errs.NotFound {
		t.Errorf("a missing lease: %v, want NotFound", err)
	}

	// Many rows in one transaction: conflicts and updates that do not
	// apply are reported per row and do not stop the others.
	f := mk("f", "orders_svc_l06", "orders-rw", "ci:repo:z", 20*time.Minute)
	created, updated, err := s.WriteBrokerLeases(ctx(),
		[]store.BrokerLease{f, mk("g", "orders_svc_l01", "orders-rw", "ci:repo:z", time.Minute), mk("a", "orders_svc_l09", "orders-rw", "ci:repo:z", time.Minute)},
		[]store.BrokerLeaseUpdate{
			{ID: "b", From: []string{store.BrokerIssuing}, State: store.BrokerActive},
			{ID: "b", From: []string{store.BrokerIssuing}, State: store.BrokerRevoked},
			{ID: "zz", From: []string{store.BrokerIssuing}, State: store.BrokerActive},
			{ID: "a", From: []string{store.BrokerActive}, State: store.BrokerActive, ExpiresAt: at(40 * time.Minute)},
		})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "created", created, []bool{true, false, false})
	check(t, "updated", updated, []bool{true, false, false, true})
	check(t, "active after the batch", ids(store.BrokerLeaseFilter{States: []string{store.BrokerActive}}), []string{"b", "a"})
	if got, _ := s.BrokerLeases(ctx(), store.BrokerLeaseFilter{ID: "a"}); len(got) != 1 || !got[0].ExpiresAt.Equal(at(40*time.Minute)) {
		t.Errorf("lease a after the batch: %+v", got)
	}
	check(t, "issuing after the batch", ids(store.BrokerLeaseFilter{States: []string{store.BrokerIssuing}}), []string{"c", "f"})
	if _, _, err := s.WriteBrokerLeases(ctx(), []store.BrokerLease{mk("h", "orders_svc_l08", "r", "x", time.Minute), {ID: "i"}}, nil); errs.KindOf(err) != errs.Invalid {
		t.Errorf("a batch with an empty lease: %v, want Invalid", err)
	}
	if len(ids(store.BrokerLeaseFilter{ID: "h"})) != 0 {
		t.Error("an invalid batch wrote its valid lease")
	}

	// Two reapers moving one lease at once: exactly one does it.
	var wg sync.WaitGroup
	var moved atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.UpdateBrokerLease(ctx(), "c", []string{store.BrokerIssuing, store.BrokerActive}, store.BrokerReaped, time.Time{})
			if err != nil {
				t.Error(err)
			}
			if ok {
				moved.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := moved.Load(); n != 1 {
		t.Errorf("%d concurrent updates moved lease c, want 1", n)
	}
}

// The lease rows and the audit entries of AppendAuditsWithLeases are
// written in one transaction: both or neither.
func testAuditWithLeases(t *testing.T, h Harness) {
	s := fresh(t, h)
	w, ok := s.(store.AuditedLeaseWriter)
	if !ok {
		t.Fatalf("%T does not write lease rows with audit entries", s)
	}
	for _, id := range []string{"a", "b"} {
		if err := s.CreateBrokerLease(ctx(), store.BrokerLease{ID: id, Role: "r", System: "shop-db", Identity: "orders_svc", Login: "orders_svc_l" + id,
			Holder: "h", IssuedAt: at(0), ExpiresAt: at(time.Minute), MaxExpiresAt: at(time.Hour), State: store.BrokerIssuing}); err != nil {
			t.Fatal(err)
		}
	}
	state := func(id string) string {
		t.Helper()
		ls, err := s.BrokerLeases(ctx(), store.BrokerLeaseFilter{ID: id})
		if err != nil || len(ls) != 1 {
			t.Fatalf("lease %s: %v %v", id, ls, err)
		}
		return ls[0].State
	}
	entry := func(action string) store.AuditEntry {
		return store.AuditEntry{Actor: "h", Action: action, Detail: json.RawMessage(`{}`)}
	}
	toActive := func(id string) store.BrokerLeaseUpdate {
		return store.BrokerLeaseUpdate{ID: id, From: []string{store.BrokerIssuing}, State: store.BrokerActive}
	}
	out, moved, err := w.AppendAuditsWithLeases(ctx(), []store.AuditEntry{entry("issue.a"), entry("issue.b")}, chainSign,
		[]store.BrokerLeaseUpdate{toActive("a"), toActive("a"), toActive("zz")})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "moved", moved, []bool{true, false, false})
	if len(out) != 2 || out[0].Seq != 1 || out[1].Seq != 2 || out[1].PrevHash != out[0].Hash || out[1].Hash != chainHash(out[1]) {
		t.Errorf("entries: %+v", out)
	}
	check(t, "lease a", state("a"), store.BrokerActive)

	// An invalid entry fails the call: the lease row is not moved either.
	if _, _, err := w.AppendAuditsWithLeases(ctx(), []store.AuditEntry{entry("issue.b"), {Actor: "h"}}, chainSign,
		[]store.BrokerLeaseUpdate{toActive("b")}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("an entry without an action: %v, want Invalid", err)
	}
	// So does an invalid update: no entry is appended.
	if _, _, err := w.AppendAuditsWithLeases(ctx(), []store.AuditEntry{entry("issue.b")}, chainSign,
		[]store.BrokerLeaseUpdate{toActive("b"), {ID: "b"}}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("an update without states: %v, want Invalid", err)
	}
	// A failure inside the transaction, after the row's update (the
	// context ends while the entry is signed), rolls the update back.
	cctx, cancel := context.WithCancel(ctx())
	defer cancel()
	if _, _, err := w.AppendAuditsWithLeases(cctx, []store.AuditEntry{entry("issue.b")}, func(e store.AuditEntry) (string, string) {
		cancel()
		return chainSign(e)
	}, []store.BrokerLeaseUpdate{toActive("b")}); err == nil {
		t.Error("a call whose context ended mid-way succeeded")
	}
	check(t, "lease b after the failed calls", state("b"), store.BrokerIssuing)
	if log, err := s.AuditLog(ctx()); err != nil || len(log) != 2 {
		t.Errorf("%d entries after the failed calls (%v), want 2", len(log), err)
	}
}
