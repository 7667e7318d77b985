package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/store"
)

func testEventDetail(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "event detail secret value, long"))
	e := store.Event{Time: at(0), Credential: "AKIAIOSFODNN7EXAMPLE", Action: "iam:CreateAccessKey", Outcome: "success",
		File: "ct.json", Line: 3, Detail: map[string]string{"derived_key_id": "AKIAI44QH8DHBEXAMPLE", "region": "eu-west-1"}}
	plain := e
	plain.Line, plain.Detail = 4, nil
	if err := s.AddEvents(ctx(), inc.ID, []store.Event{e, plain}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.IncidentID, plain.IncidentID = inc.ID, inc.ID
	check(t, "events", got, []store.Event{e, plain})
}

func testPlan(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "plan secret value, long enough"))
	if _, ok, err := s.GetPlan(ctx(), inc.ID); err != nil || ok {
		t.Fatalf("GetPlan before any plan: ok=%v err=%v", ok, err)
	}
	p := store.Plan{Strategy: "split", Created: at(0), Body: json.RawMessage(`{"strategy":"split","steps":[]}`)}
	if err := s.PutPlan(ctx(), inc.ID, p); err != nil {
		t.Fatal(err)
	}
	if err := s.PutStep(ctx(), inc.ID, store.Step{StepID: "issue:a", State: "done"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunState(ctx(), inc.ID, store.RunRunning); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.GetPlan(ctx(), inc.ID)
	if err != nil || !ok {
		t.Fatalf("GetPlan: ok=%v err=%v", ok, err)
	}
	check(t, "strategy", got.Strategy, "split")
	check(t, "run state", got.RunState, store.RunRunning)
	check(t, "created", got.Created, at(0))
	check(t, "body", string(got.Body), string(p.Body))

	// A new plan replaces the old one and forgets its steps' states.
	p2 := store.Plan{Strategy: "emergency", Body: json.RawMessage(`{"strategy":"emergency"}`)}
	if err := s.PutPlan(ctx(), inc.ID, p2); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.GetPlan(ctx(), inc.ID)
	check(t, "replaced strategy", got.Strategy, "emergency")
	check(t, "replaced run state", got.RunState, store.RunPlanned)
	steps, err := s.Steps(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 0 {
		t.Errorf("steps of the replaced plan survive: %s", show(steps))
	}
	if err := s.PutPlan(ctx(), inc.ID, store.Plan{Strategy: "x", Body: json.RawMessage(`{not json`)}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("a plan body that is not JSON: %v, want Invalid", err)
	}
	other, _ := mustOpen(t, s, newIncident(t, "another plan secret value, long"))
	if err := s.SetRunState(ctx(), other.ID, store.RunDone); errs.KindOf(err) != errs.NotFound {
		t.Errorf("SetRunState without a plan: %v, want NotFound", err)
	}
}

func testSteps(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "steps secret value, long enough"))
	if err := s.PutPlan(ctx(), inc.ID, store.Plan{Strategy: "graceful", Body: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	a := store.Step{StepID: "verify:b", State: "running", Attempts: 1, Started: ptr(at(time.Minute))}
	b := store.Step{StepID: "issue:b", State: "done", Attempts: 2, Started: ptr(at(0)), Finished: ptr(at(time.Second)),
		Result: json.RawMessage(`{"login":"orders_svc_b"}`), ApprovedBy: "alice", ApprovedAt: ptr(at(-time.Minute))}
	for _, st := range []store.Step{a, b} {
		if err := s.PutStep(ctx(), inc.ID, st); err != nil {
			t.Fatal(err)
		}
	}
	// The record after the side effect replaces the one before.
	a.State, a.Finished, a.Error = "failed", ptr(at(2*time.Minute)), "billing: health check failed"
	if err := s.PutStep(ctx(), inc.ID, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.Steps(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	a.IncidentID, b.IncidentID = inc.ID, inc.ID
	a.Result = json.RawMessage(`{}`)
	check(t, "steps", got, []store.Step{b, a})
	if err := s.PutStep(ctx(), inc.ID, store.Step{StepID: "x"}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("a step without a state: %v, want Invalid", err)
	}
}

func testSealOnce(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "seal secret value, long enough"))
	first := []byte{0, 1, 2, 0xff, 'c', 't'}
	got, err := s.SealOnce(ctx(), inc.ID, "credential:orders_svc_b", first)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "first seal", got, first)
	// A retry after a crash brings a freshly generated value: the stored
	// one wins.
	got, err = s.SealOnce(ctx(), inc.ID, "credential:orders_svc_b", []byte("second"))
	if err != nil {
		t.Fatal(err)
	}
	check(t, "second seal", got, first)
	if _, err := s.SealOnce(ctx(), inc.ID, "credential:other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	names, err := s.SealedNames(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "names", names, []string{"credential:orders_svc_b", "credential:other"})
	if err := s.Wipe(ctx(), inc.ID, "credential:orders_svc_b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Wipe(ctx(), inc.ID, "credential:orders_svc_b"); err != nil {
		t.Errorf("wiping twice: %v", err)
	}
	if _, ok, err := s.Sealed(ctx(), inc.ID, "credential:orders_svc_b"); err != nil || ok {
		t.Errorf("after Wipe: ok=%v err=%v", ok, err)
	}
	if b, ok, err := s.Sealed(ctx(), inc.ID, "credential:other"); err != nil || !ok || string(b) != "x" {
		t.Errorf("the other blob: %q ok=%v err=%v", b, ok, err)
	}
}

func testLeases(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "lease secret value, long enough"))
	l1 := store.Lease{ID: "l1", IncidentID: inc.ID, System: "shop-db", Login: "orders_svc_api", Consumer: "orders-api",
		Issued: at(0), Expires: ptr(at(72 * time.Hour)), Enforced: true, State: store.LeaseActive}
	l2 := store.Lease{ID: "l2", IncidentID: inc.ID, System: "shop-db", Login: "orders_svc_partner", Consumer: "acme",
		Issued: at(0), Expires: ptr(at(6 * time.Hour)), State: store.LeaseActive}
	l3 := store.Lease{ID: "l3", IncidentID: inc.ID, System: "aws", Login: "deploy-bot", KeyID: "AKIAEXAMPLENEWKEY001", Issued: at(0), State: store.LeaseActive}
	for _, l := range []store.Lease{l3, l1, l2} {
		if err := s.PutLease(ctx(), l); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(f store.LeaseFilter) []string {
		t.Helper()
		ls, err := s.Leases(ctx(), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range ls {
			out = append(out, l.ID)
		}
		return out
	}
	check(t, "all, by expiry", ids(store.LeaseFilter{}), []string{"l2", "l1", "l3"})
	check(t, "expiring", ids(store.LeaseFilter{ExpiresBefore: at(24 * time.Hour)}), []string{"l2"})
	l2.State, l2.Expires = store.LeaseRevoked, ptr(at(48*time.Hour))
	if err := s.PutLease(ctx(), l2); err != nil {
		t.Fatal(err)
	}
	check(t, "active", ids(store.LeaseFilter{State: store.LeaseActive}), []string{"l1", "l3"})
	got, err := s.Leases(ctx(), store.LeaseFilter{ID: "l1"})
	if err != nil || len(got) != 1 {
		t.Fatalf("lease l1: %v %v", got, err)
	}
	g := got[0]
	g.Updated = time.Time{}
	check(t, "lease", g, l1)
	// A generated key's lease keeps its key id.
	if got, err = s.Leases(ctx(), store.LeaseFilter{ID: "l3"}); err != nil || len(got) != 1 {
		t.Fatalf("lease l3: %v %v", got, err)
	}
	g = got[0]
	g.Updated = time.Time{}
	check(t, "key lease", g, l3)
	// One lease per login: a second id for the same login is refused.
	dup := l1
	dup.ID = "l1-again"
	if err := s.PutLease(ctx(), dup); err == nil {
		t.Error("two leases for one login were stored")
	}
}

// chainHash is a stand-in for internal/audit's hash (the store must not
// care what the function is, only call it with the final fields).
func chainHash(e store.AuditEntry) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%s|%s|%s|%s|%s", e.PrevHash, e.Seq, store.FormatTime(e.Time), e.Actor,
		e.Action, e.IncidentID, e.Detail))
	return hex.EncodeToString(h[:])
}

// chainSign signs with chainHash and a stand-in MAC that depends on the
// final fields, so a MAC stored or read back wrong shows.
func chainSign(e store.AuditEntry) (string, string) {
	h := chainHash(e)
	return h, "mac:" + h[:16]
}

func testAuditChain(t *testing.T, h Harness) {
	s := fresh(t, h)
	var prev string
	for i, action := range []string{"incident.open", "plan", "step.done"} {
		e, err := s.AppendAudit(ctx(), store.AuditEntry{Time: at(time.Duration(i) * time.Second), Actor: "alice",
			Action: action, IncidentID: "inc-1", Detail: json.RawMessage(`{"n":` + fmt.Sprint(i) + `}`)}, chainSign)
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != chainHash(e) || e.MAC != "mac:"+e.Hash[:16] {
			t.Errorf("entry %d: seq %d prev %q hash %q", i, e.Seq, e.PrevHash, e.Hash)
		}
		prev = e.Hash
	}
	log, err := s.AuditLog(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 {
		t.Fatalf("%d entries, want 3", len(log))
	}
	for i, e := range log {
		if e.Hash != chainHash(e) {
			t.Errorf("entry %d read back does not hash to its stored hash: %s", i, show(e))
		}
		if e.MAC != "mac:"+e.Hash[:16] {
			t.Errorf("entry %d read back with MAC %q", i, e.MAC)
		}
	}
	for from, want := range map[int64][]int64{0: {1, 2, 3}, 1: {1, 2, 3}, 2: {2, 3}, 3: {3}, 4: nil} {
		tail, err := s.AuditFrom(ctx(), from)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for i, e := range tail {
			got = append(got, e.Seq)
			if e.Hash != log[e.Seq-1].Hash || e.MAC != log[e.Seq-1].MAC {
				t.Errorf("AuditFrom(%d)[%d] differs from AuditLog: %s", from, i, show(e))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("AuditFrom(%d) = seqs %v, want %v", from, got, want)
		}
	}
	if _, err := s.AppendAudit(ctx(), store.AuditEntry{Actor: "bob", Action: "incident.open", IncidentID: "inc-2"}, chainSign); err != nil {
		t.Fatal(err)
	}
	for inc, want := range map[string][]int64{"inc-1": {1, 2, 3}, "inc-2": {4}, "inc-3": nil} {
		var got []int64
		entries, err := s.IncidentAudit(ctx(), inc)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			got = append(got, e.Seq)
			if e.IncidentID != inc || e.Hash != chainHash(e) {
				t.Errorf("IncidentAudit(%s) holds %s", inc, show(e))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("IncidentAudit(%s) = seqs %v, want %v", inc, got, want)
		}
	}
	// An entry signed without a key keeps an empty MAC.
	e, err := s.AppendAudit(ctx(), store.AuditEntry{Actor: "alice", Action: "unsigned"}, func(e store.AuditEntry) (string, string) { return chainHash(e), "" })
	if err != nil {
		t.Fatal(err)
	}
	if tail, err := s.AuditFrom(ctx(), e.Seq); err != nil || len(tail) != 1 || tail[0].MAC != "" || tail[0].Hash != e.Hash {
		t.Errorf("unsigned entry read back as %v, %v", tail, err)
	}
	if _, err := s.AppendAudit(ctx(), store.AuditEntry{Actor: "alice"}, chainSign); errs.KindOf(err) != errs.Invalid {
		t.Errorf("an entry without an action: %v, want Invalid", err)
	}
}

// testAuditConcurrent appends from many goroutines, each with its own
// connection to the store: the chain must still be one line.
func testAuditConcurrent(t *testing.T, h Harness) {
	addr := h.New(t)
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		s := open(t, h, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.AppendAudit(ctx(), store.AuditEntry{Actor: fmt.Sprint("w", w), Action: fmt.Sprint("a", i)}, chainSign); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	log, err := s2(t, h, addr).AuditLog(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != writers*each {
		t.Fatalf("%d entries, want %d", len(log), writers*each)
	}
	prev := ""
	for i, e := range log {
		if e.Seq != int64(i+1) || e.PrevHash != prev {
			t.Fatalf("entry %d: seq %d prev %.8s, want seq %d prev %.8s: appends interleaved", i, e.Seq, e.PrevHash, i+1, prev)
		}
		prev = e.Hash
	}
}

func s2(t *testing.T, h Harness, addr string) store.Store { return open(t, h, addr) }

// Two writers (two handles, as two watchers have) appending to one
// review at once lose nothing: each reads what the other wrote. A nil
// body from fn leaves the review alone; an unknown incident is NotFound.
func testUpdateReviewConcurrent(t *testing.T, h Harness) {
	addr := h.New(t)
	a, b := open(t, h, addr), open(t, h, addr)
	inc, _ := mustOpen(t, a, newIncident(t, "update review secret value, long enough"))
	const each = 15
	appendOne := func(s store.Store, n int) error {
		return s.UpdateReview(ctx(), inc.ID, "watch", func(cur json.RawMessage) (json.RawMessage, error) {
			var items []int
			if cur != nil {
				if err := json.Unmarshal(cur, &items); err != nil {
					return nil, err
				}
			}
			return json.Marshal(append(items, n))
		})
	}
	var wg sync.WaitGroup
	errc := make(chan error, 2*each)
	for w, s := range []store.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errc <- appendOne(s, w*each+i)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := a.UpdateReview(ctx(), inc.ID, "watch", func(json.RawMessage) (json.RawMessage, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	rs, err := b.Reviews(ctx(), inc.ID)
	if err != nil || len(rs) != 1 {
		t.Fatalf("reviews: %s %v", show(rs), err)
	}
	var items []int
	if err := json.Unmarshal(rs[0].Body, &items); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, n := range items {
		seen[n] = true
	}
	if len(items) != 2*each || len(seen) != 2*each {
		t.Errorf("%d items (%d distinct) after %d appends by two writers: %v", len(items), len(seen), 2*each, items)
	}
	err = a.UpdateReview(ctx(), "INC-NOPE", "watch", func(json.RawMessage) (json.RawMessage, error) { return []byte(`[]`), nil })
	if errs.KindOf(err) != errs.NotFound {
		t.Errorf("unknown incident: %v, want NotFound", err)
	}
}

func testReviewsAndTasks(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "reviews secret value, long enough"))
	for _, r := range []store.Review{
		{Phase: "exposure", Created: at(0), Body: json.RawMessage(`{"findings":[]}`)},
		{Phase: "after", Created: at(time.Hour), Body: json.RawMessage(`{"findings":[{"kind":"use-after-revocation"}]}`)},
		{Phase: "exposure", Created: at(time.Minute), Body: json.RawMessage(`{"findings":[{"kind":"new-source"}]}`)},
	} {
		if err := s.PutReview(ctx(), inc.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.Reviews(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Phase != "after" || rs[1].Phase != "exposure" || !strings.Contains(string(rs[1].Body), "new-source") || !rs[1].Created.Equal(at(time.Minute)) {
		t.Errorf("reviews: %s", show(rs))
	}
	tasks := []store.Task{
		{ID: "copy:2", Kind: "chat", Location: "#deploys@1709370000.000200", Action: "redact the message", State: store.TaskOpen},
		{ID: "copy:1", Kind: "working-tree", Location: ".env:3", Action: "replaced with ${DATABASE_URL}", State: store.TaskDone,
			Detail: json.RawMessage(`{"branch":"rekey/INC-1","commit":"abc"}`)},
	}
	if err := s.PutTasks(ctx(), inc.ID, tasks); err != nil {
		t.Fatal(err)
	}
	tasks[0].State = store.TaskRemaining
	if err := s.PutTasks(ctx(), inc.ID, tasks[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Tasks(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "copy:1" || got[1].State != store.TaskRemaining || string(got[0].Detail) != `{"branch":"rekey/INC-1","commit":"abc"}` {
		t.Errorf("tasks: %s", show(got))
	}
	if err := s.PutTasks(ctx(), inc.ID, []store.Task{{ID: "x"}}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("a task without kind and state: %v", err)
	}
}

// testAuditBatch appends several entries in one call: they chain after
// what is there and after each other, and an invalid one appends none.
func testAuditBatch(t *testing.T, h Harness) {
	s := fresh(t, h)
	first, err := s.AppendAudit(ctx(), store.AuditEntry{Actor: "alice", Action: "one"}, chainSign)
	if err != nil {
		t.Fatal(err)
	}
	batch := []store.AuditEntry{{Actor: "bob", Action: "two"}, {Actor: "carol", Action: "three", Detail: json.RawMessage(`{"n":3}`)}, {Actor: "dan", Action: "four"}}
	out, err := s.AppendAudits(ctx(), batch, chainSign)
	if err != nil || len(out) != 3 {
		t.Fatalf("batch: %v %v", out, err)
	}
	prev := first.Hash
	for i, e := range out {
		if e.Seq != int64(i+2) || e.PrevHash != prev || e.Hash != chainHash(e) || e.Actor != batch[i].Actor {
			t.Errorf("batch entry %d: %s", i, show(e))
		}
		prev = e.Hash
	}
	bad := []store.AuditEntry{{Actor: "eve", Action: "five"}, {Actor: "eve"}}
	if _, err := s.AppendAudits(ctx(), bad, chainSign); errs.KindOf(err) != errs.Invalid {
		t.Errorf("a batch with an entry without an action: %v, want Invalid", err)
	}
	log, err := s.AuditLog(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 4 {
		t.Fatalf("%d entries, want 4 (the invalid batch appended something)", len(log))
	}
	for i, e := range log[1:] {
		if e.Hash != out[i].Hash || e.MAC != out[i].MAC {
			t.Errorf("batch entry %d read back differs: %s", i, show(e))
		}
	}
}
