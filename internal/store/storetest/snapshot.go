package storetest

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/store"
)

// testSnapshot checks that a snapshot holds what the separate reads
// return, for the incident asked about only.
func testSnapshot(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "snapshot secret value, long enough"))
	other, _ := mustOpen(t, s, newIncident(t, "another snapshot secret value, long"))
	f := inc.Fingerprint
	occ := []store.Occurrence{
		{Fingerprint: f, Preview: inc.Preview, Rule: "postgres-dsn", Path: "deploy/app.env", Line: 3, Column: 9, Commit: "c1", Ref: "refs/heads/main", Encoding: "plain",
			FirstSeen: at(-time.Hour), LastSeen: at(0)},
		{Fingerprint: f, Preview: inc.Preview, Rule: "postgres-dsn", Path: ".env", Line: 1, Column: 14, AtHead: true, FirstSeen: at(0), LastSeen: at(0)},
	}
	if err := s.PutOccurrences(ctx(), inc.ID, occ); err != nil {
		t.Fatal(err)
	}
	for _, ident := range []store.Identity{identity("v1"), {System: "shop-db", Name: "billing", Method: "scram-sha-256"}} {
		if err := s.PutIdentity(ctx(), inc.ID, ident); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutConsumers(ctx(), inc.ID, []store.Consumer{
		{Name: "orders-api", Identity: "orders_svc", Declared: true, Sources: []string{"10.0.4.0/24"}},
		{Name: "203.0.113.9", Identity: "orders_svc", Observed: true},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvents(ctx(), inc.ID, []store.Event{
		{Time: at(time.Hour), Credential: "orders_svc", Source: "10.0.4.7", Action: "connect", File: "pg.csv", Line: 2},
		{Time: at(0), Credential: "orders_svc", Source: "203.0.113.9", Action: "iam:CreateAccessKey", File: "pg.csv", Line: 1,
			Detail: map[string]string{"derived_key_id": "AKIAI44QH8DHBEXAMPLE"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutReview(ctx(), inc.ID, store.Review{Phase: "exposure", Created: at(0), Body: json.RawMessage(`{"has_baseline":false}`)}); err != nil {
		t.Fatal(err)
	}
	// The other incident's records must not show in this one's snapshot.
	if err := s.PutConsumers(ctx(), other.ID, []store.Consumer{{Name: "elsewhere"}}); err != nil {
		t.Fatal(err)
	}

	got, err := s.Snapshot(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	w := reads(t, s, inc.ID)
	if len(w.Occurrences) != 2 || len(w.Identities) != 2 || len(w.Consumers) != 2 || len(w.Events) != 2 || len(w.Reviews) != 1 {
		t.Fatalf("the separate reads do not return what was put: %s", show(w))
	}
	check(t, "snapshot", got, w)

	empty, err := s.Snapshot(ctx(), other.ID)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "snapshot of an incident with consumers only", empty, reads(t, s, other.ID))
	if len(empty.Consumers) != 1 || empty.Events != nil {
		t.Errorf("snapshot of the other incident: %s, want its one consumer and nothing else", show(empty))
	}
}

// testSnapshotConsistent writes an event and then a consumer naming it,
// over and over, while readers take snapshots: every snapshot must show
// the two writes of one instant, so its consumer is at most one event
// behind and never ahead. Separate reads, one transaction each, see the
// events a writer added after they read the consumers.
func testSnapshotConsistent(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "consistent snapshot secret, long"))
	const rounds = 60
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
		fail = make(chan error, 1)
	)
	report := func(err error) {
		select {
		case fail <- err:
		default:
		}
	}
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				snap, err := s.Snapshot(ctx(), inc.ID)
				if err != nil {
					report(err)
					return
				}
				c := 0
				if len(snap.Consumers) == 1 {
					c, _ = strconv.Atoi(snap.Consumers[0].Name)
				}
				if n := len(snap.Events); c > n || c < n-1 {
					report(errors.New("a snapshot shows " + strconv.Itoa(n) + " events and the consumer of event " + strconv.Itoa(c)))
					return
				}
			}
		})
	}
	for i := 1; i <= rounds; i++ {
		if err := s.AddEvents(ctx(), inc.ID, []store.Event{{Time: at(time.Duration(i) * time.Second), Action: "connect", File: "pg.csv", Line: i}}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutConsumers(ctx(), inc.ID, []store.Consumer{{Name: strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	select {
	case err := <-fail:
		t.Error(err)
	default:
	}
}

// reads is what the separate reads return for incident id.
func reads(t *testing.T, s store.Store, id string) store.Snapshot {
	t.Helper()
	var (
		w    store.Snapshot
		errs [6]error
	)
	w.Incident, errs[0] = s.GetIncident(ctx(), id)
	w.Occurrences, errs[1] = s.Occurrences(ctx(), id)
	w.Identities, errs[2] = s.Identities(ctx(), id)
	w.Consumers, errs[3] = s.Consumers(ctx(), id)
	w.Events, errs[4] = s.Events(ctx(), id)
	w.Reviews, errs[5] = s.Reviews(ctx(), id)
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	return w
}

// testSnapshotOpenerAndPlan checks that a snapshot WithRun holds the incident's
// first incident.open audit entry, as the incident's audit read returns
// it, and its stored plan, as GetPlan returns it; nil before either.
func testSnapshotOpenerAndPlan(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "snapshot opener secret value, long"))
	other, _ := mustOpen(t, s, newIncident(t, "snapshot other opener secret, long"))
	none, err := s.Snapshot(ctx(), inc.ID, store.WithRun)
	if err != nil {
		t.Fatal(err)
	}
	if none.Opener != nil || none.Plan != nil {
		t.Fatalf("snapshot before any audit entry or plan: opener %+v, plan %+v, want nil", none.Opener, none.Plan)
	}
	for i, e := range []store.AuditEntry{
		{Actor: "carol", Action: "incident.note", IncidentID: inc.ID},
		{Actor: "dave", Action: "incident.open", IncidentID: other.ID},
		{Actor: "alice", Action: "incident.open", IncidentID: inc.ID, Detail: json.RawMessage(`{"n":1}`)},
		{Actor: "bob", Action: "incident.open", IncidentID: inc.ID},
	} {
		e.Time = at(time.Duration(i) * time.Second)
		if _, err := s.AppendAudit(ctx(), e, chainSign); err != nil {
			t.Fatal(err)
		}
	}
	p := store.Plan{Strategy: "split", Created: at(0), Body: json.RawMessage(`{"strategy":"split","steps":[]}`)}
	if err := s.PutPlan(ctx(), inc.ID, p); err != nil {
		t.Fatal(err)
	}
	got, err := s.Snapshot(ctx(), inc.ID, store.WithRun)
	if err != nil {
		t.Fatal(err)
	}
	log, err := s.IncidentAudit(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 || got.Opener == nil {
		t.Fatalf("incident audit %s, snapshot opener %+v: want 3 entries and alice's open", show(log), got.Opener)
	}
	check(t, "snapshot opener", *got.Opener, log[1])
	wp, ok, err := s.GetPlan(ctx(), inc.ID)
	if err != nil || !ok || got.Plan == nil {
		t.Fatalf("GetPlan ok=%v err=%v, snapshot plan %+v: want both", ok, err, got.Plan)
	}
	check(t, "snapshot plan", *got.Plan, wp)
	if lean, err := s.Snapshot(ctx(), inc.ID); err != nil || lean.Opener != nil || lean.Plan != nil {
		t.Errorf("snapshot without WithRun: opener %+v, plan %+v, err %v; want neither read", lean.Opener, lean.Plan, err)
	}
	o, err := s.Snapshot(ctx(), other.ID, store.WithRun)
	if err != nil {
		t.Fatal(err)
	}
	if o.Opener == nil || o.Opener.Actor != "dave" || o.Plan != nil {
		t.Errorf("other incident's snapshot: opener %+v, plan %+v; want dave's open and no plan", o.Opener, o.Plan)
	}
}

// testSnapshotSeesEveryWrite checks that a snapshot read again after a
// write holds that write, whichever handle on the database made it (the
// store keeps snapshots between reads: another process's write must
// show as well as its own), and that a caller changing a snapshot's
// lists does not change the next one.
func testSnapshotSeesEveryWrite(t *testing.T, h Harness) {
	addr := h.New(t)
	s := open(t, h, addr)
	other := open(t, h, addr) // another process on the same database
	inc, _ := mustOpen(t, s, newIncident(t, "snapshot sees writes secret value"))
	id := inc.ID
	// want compares both kinds of snapshot of s with the separate reads.
	want := func(after string) {
		t.Helper()
		for _, with := range [][]store.SnapshotPart{nil, {store.WithRun}, {store.WithInventory}} {
			got, err := s.Snapshot(ctx(), id, with...)
			if err != nil {
				t.Fatalf("after %s: %v", after, err)
			}
			w := reads(t, s, id)
			kept := got.Inventory
			got.Opener, got.Plan, got.Inventory = nil, nil, nil
			check(t, "snapshot after "+after, got, w)
			if len(with) == 0 {
				continue
			}
			if with[0] == store.WithInventory {
				wc, err := orNil(s.GetInventory(ctx(), id))
				if err != nil {
					t.Fatal(err)
				}
				check(t, "snapshot inventory after "+after, kept, wc)
				continue
			}
			full, _ := s.Snapshot(ctx(), id, with...)
			log, err := s.IncidentAudit(ctx(), id)
			if err != nil {
				t.Fatal(err)
			}
			var opener *store.AuditEntry
			for i := range log {
				if log[i].Action == "incident.open" {
					opener = &log[i]
					break
				}
			}
			check(t, "snapshot opener after "+after, full.Opener, opener)
			wp, err := orNil(s.GetPlan(ctx(), id))
			if err != nil {
				t.Fatal(err)
			}
			check(t, "snapshot plan after "+after, full.Plan, wp)
		}
	}
	want("open")
	mutate := func(snap store.Snapshot) {
		for i := range snap.Events {
			snap.Events[i].Source = "changed by a caller"
		}
		for i := range snap.Consumers {
			snap.Consumers[i].Name = "changed by a caller"
		}
	}
	steps := []struct {
		what  string
		write func(st store.Store) error
	}{
		{"audit open", func(st store.Store) error {
			_, err := st.AppendAudit(ctx(), store.AuditEntry{Time: at(0), Actor: "alice", Action: "incident.open", IncidentID: id}, chainSign)
			return err
		}},
		{"occurrences", func(st store.Store) error {
			return st.PutOccurrences(ctx(), id, []store.Occurrence{{Fingerprint: inc.Fingerprint, Preview: inc.Preview, Rule: "postgres-dsn",
				Path: ".env", Line: 1, Column: 2, FirstSeen: at(0), LastSeen: at(0)}})
		}},
		{"identity", func(st store.Store) error { return st.PutIdentity(ctx(), id, identity("v1")) }},
		{"inventory copy", func(st store.Store) error {
			return st.PutInventory(ctx(), id, store.InventoryCopy{Path: "/etc/rekey/inventory.yaml", Body: []byte("systems: []\n"), Saved: at(0)})
		}},
		{"identity again", func(st store.Store) error { return st.PutIdentity(ctx(), id, identity("v2")) }},
		{"consumers", func(st store.Store) error {
			return st.PutConsumers(ctx(), id, []store.Consumer{{Name: "orders-api", Identity: "orders_svc", Declared: true}})
		}},
		{"events", func(st store.Store) error {
			return st.AddEvents(ctx(), id, []store.Event{{Time: at(time.Hour), Credential: "orders_svc", Source: "10.0.4.7", Action: "connect", File: "pg.csv", Line: 2}})
		}},
		{"more events", func(st store.Store) error {
			return st.AddEvents(ctx(), id, []store.Event{{Time: at(2 * time.Hour), Credential: "orders_svc", Source: "10.0.4.8", Action: "connect", File: "pg.csv", Line: 3}})
		}},
		{"review", func(st store.Store) error {
			return st.PutReview(ctx(), id, store.Review{Phase: "exposure", Created: at(0), Body: json.RawMessage(`{"has_baseline":false}`)})
		}},
		{"review update", func(st store.Store) error {
			return st.UpdateReview(ctx(), id, "exposure", func(json.RawMessage) (json.RawMessage, error) {
				return json.RawMessage(`{"has_baseline":true}`), nil
			})
		}},
		{"plan", func(st store.Store) error {
			return st.PutPlan(ctx(), id, store.Plan{Strategy: "split", Created: at(0), Body: json.RawMessage(`{"strategy":"split","steps":[]}`)})
		}},
		{"run state", func(st store.Store) error { return st.SetRunState(ctx(), id, store.RunRunning) }},
		{"incident", func(st store.Store) error {
			cur, err := st.GetIncident(ctx(), id)
			if err != nil {
				return err
			}
			cur.Identity = store.IdentityRef{System: "shop-db", Name: "orders_svc"}
			cur.Notes = "updated"
			return st.UpdateIncident(ctx(), cur)
		}},
		{"close", func(st store.Store) error { return st.CloseIncident(ctx(), id, at(3*time.Hour)) }},
	}
	for i, step := range steps {
		// Alternate the writer: this handle, then the other process.
		by := s
		if i%2 == 1 {
			by = other
		}
		for _, with := range [][]store.SnapshotPart{nil, {store.WithRun}, {store.WithInventory}} {
			snap, err := s.Snapshot(ctx(), id, with...)
			if err != nil {
				t.Fatal(err)
			}
			mutate(snap)
		}
		if err := step.write(by); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		want(step.what)
	}
}

// orNil is what a read that reports ok=false for "none" found, as a
// pointer: nil for none.
func orNil[T any](v T, ok bool, err error) (*T, error) {
	if !ok || err != nil {
		return nil, err
	}
	return &v, nil
}
