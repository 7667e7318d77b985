package watcher

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// recorder keeps what the watcher notified and warned.
type recorder struct {
	mu     sync.Mutex
	events []Event
	warns  []string
}

func (r *recorder) notify(_ context.Context, e Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) warn(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warns = append(r.warns, line)
}

func (r *recorder) snapshot() ([]Event, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...), append([]string(nil), r.warns...)
}

// world is a store, an audit log and an inventory declaring ops_admin (the
// login of the live.csv fixture that creates a role, alters it twice and
// grants it: four sensitive actions) whose system's administrator is not
// configured here, so a containment cannot run.
func world(t *testing.T, watchSection string) (Config, *recorder) {
	return worldOf(t, "logs:\n  - { type: postgres-csv, path: pg.csv }\n", watchSection)
}

func worldOf(t testing.TB, logsSection, watchSection string) (Config, *recorder) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logData, err := os.ReadFile(liveCSV)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pg.csv"), logData, 0o600); err != nil {
		t.Fatal(err)
	}
	return worldIn(t, dir, st, logsSection, watchSection)
}

// liveCSV is the PostgreSQL csv log the worlds follow.
const liveCSV = "../../logs/postgres/testdata/live.csv"

// worldIn is a world whose store is st and whose files (the inventory,
// the audit log's witness and key) are in dir.
func worldIn(t testing.TB, dir string, st store.Store, logsSection, watchSection string) (Config, *recorder) {
	t.Helper()
	src := []byte(`version: 1
systems:
  - { name: shop-db, type: postgres, admin: env:SHOP_DB_ADMIN_DSN }
identities:
  - { name: ops_admin, system: shop-db, owner: { team: ops, contact: "#ops" } }
` + logsSection + watchSection)
	invPath := filepath.Join(dir, "rekey.yml")
	inv, rep, err := inventory.Parse(invPath, src, inventory.Options{KnownSystemTypes: []string{"postgres"}, SkipLocal: true, Getenv: func(string) string { return "" }})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %+v", err, rep.Errors)
	}
	rec := &recorder{}
	d := incident.Deps{Store: st, Audit: audit.New(st, filepath.Join(dir, "witness")).WithKey(filepath.Join(dir, "audit.key"), true),
		Actor: "someone", LoadInventory: func(string) (*inventory.Inventory, error) { return inv, nil },
		Claim:    func(ctx context.Context, _ string) (context.Context, func(), error) { return ctx, func() {}, nil },
		Registry: provider.NewRegistry(), Getenv: func(string) string { return "" }}
	return Config{Deps: d, Inventory: inv, InventoryBody: src, Notify: rec.notify, Warn: rec.warn, NoNotify: true, Poll: 50 * time.Millisecond}, rec
}

func runUntil(t *testing.T, cfg Config, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, cfg) }()
	deadline := time.Now().Add(60 * time.Second)
	for !done() {
		select {
		case err := <-errc:
			t.Fatalf("Run returned early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("gave up waiting")
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run after a stop: %v", err)
	}
}

// Four sensitive actions of one declared identity open one incident (the
// later ones join it), opened by watch and notified once with the owner;
// the containment it asks for fails here (no administrator), which is
// notified and audited, not fatal. Nothing notified holds the passwords
// the statements carried.
func TestTriggerOpensOneIncidentAndNotifies(t *testing.T) {
	cfg, rec := world(t, "watch:\n  trigger: [sensitive-action]\n  auto_contain: [sensitive-action]\n")
	runUntil(t, cfg, func() bool {
		evs, _ := rec.snapshot()
		return len(evs) >= 2
	})
	evs, _ := rec.snapshot()
	if len(evs) != 2 || evs[0].Kind != EventOpened || evs[1].Kind != EventContainFailed {
		t.Fatalf("events: %+v, want opened then contain-failed", evs)
	}
	open, fail := evs[0], evs[1]
	if open.Identity != (store.IdentityRef{System: "shop-db", Name: "ops_admin"}) || open.Owner != "ops #ops" || open.Finding.Kind != "sensitive-action" {
		t.Errorf("opened: %+v", open)
	}
	if fail.Incident != open.Incident || fail.Detail == "" {
		t.Errorf("contain-failed: %+v", fail)
	}
	b, _ := json.Marshal(evs)
	if strings.Contains(string(b), "Sup3rS3cret") {
		t.Errorf("a notification holds a password from the log: %s", b)
	}
	st := cfg.Deps.Store
	incs, err := st.ListIncidents(context.Background(), store.Filter{})
	if err != nil || len(incs) != 1 || incs[0].ID != open.Incident {
		t.Fatalf("incidents: %+v %v, want one", incs, err)
	}
	opener, _ := incident.Opener(context.Background(), st, open.Incident)
	if opener != incident.WatchActor {
		t.Errorf("opened by %q", opener)
	}
	rs, _ := st.Reviews(context.Background(), open.Incident)
	var rep struct{ Findings []json.RawMessage }
	if len(rs) != 1 || rs[0].Phase != ReviewPhase || json.Unmarshal(rs[0].Body, &rep) != nil || len(rep.Findings) != 4 {
		t.Errorf("watch review: %d review(s), %d findings, want the four sensitive statements", len(rs), len(rep.Findings))
	}
	log, _ := st.AuditLog(context.Background())
	stored, _ := st.Events(context.Background(), open.Incident)
	for _, v := range []any{rs, log, stored} {
		if b, _ := json.Marshal(v); strings.Contains(string(b), "Sup3rS3cret") {
			t.Errorf("the store holds a password from the log's statements: %s", b)
		}
	}
	if len(stored) != 4 {
		t.Errorf("%d events stored with the incident, want the four statements", len(stored))
	}
	var contains, contained int
	for _, e := range log {
		switch e.Action {
		case "watch.contain":
			contains++
		case "watch.contained":
			contained++
			if !strings.Contains(string(e.Detail), `"ok":false`) {
				t.Errorf("watch.contained: %s", e.Detail)
			}
		}
	}
	if contains != 1 || contained != 1 {
		t.Errorf("%d watch.contain and %d watch.contained entries, want one each (one containment for the incident)", contains, contained)
	}
}

// A finding about a login no identity of the inventory declares is
// warned about once and opens nothing; kinds outside trigger open
// nothing either.
func TestUndeclaredLoginIsNotActedOn(t *testing.T) {
	cfg, rec := world(t, "watch:\n  trigger: [sensitive-action, canary-use]\n")
	cfg.Inventory.Identities[0].Name = "someone_else"
	runUntil(t, cfg, func() bool {
		_, w := rec.snapshot()
		return len(w) > 0
	})
	evs, warns := rec.snapshot()
	if len(evs) != 0 || len(warns) != 1 || !strings.Contains(warns[0], "ops_admin not acted on: no identity of the inventory has that name") {
		t.Errorf("events %+v, warnings %q", evs, warns)
	}
	if incs, _ := cfg.Deps.Store.ListIncidents(context.Background(), store.Filter{}); len(incs) != 0 {
		t.Errorf("incidents opened: %+v", incs)
	}
}

// Records published on a JetStream subject are judged and acted on like a
// file's, with the stream and sequence as evidence.
func TestNATSSubjectTriggers(t *testing.T) {
	url := testutil.StartNATS(t)
	data, err := os.ReadFile(liveCSV)
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line != "" {
			msgs = append(msgs, []byte(line))
		}
	}
	testutil.PublishLogs(t, url, "logs.pg", msgs)
	cfg, rec := worldOf(t, "", "watch:\n  nats: [ { url: \""+url+"\", subject: logs.pg, type: postgres-csv, durable: rekey } ]\n  trigger: [sensitive-action]\n")
	runUntil(t, cfg, func() bool {
		evs, _ := rec.snapshot()
		return len(evs) > 0
	})
	evs, _ := rec.snapshot()
	if len(evs) != 1 || evs[0].Kind != EventOpened || len(evs[0].Finding.Evidence) != 1 || evs[0].Finding.Evidence[0].File != "nats:LOGS/logs.pg" {
		t.Fatalf("events: %+v, want one opened with stream evidence", evs)
	}
}

// Records that do not parse are not fatal: the rest of the file is
// judged, and the watcher reports them (how many, where the first is).
func TestUnparsedRecordsReported(t *testing.T) {
	cfg, rec := world(t, "watch:\n  trigger: [sensitive-action]\n")
	path := cfg.Inventory.Abs(cfg.Inventory.Logs[0].Path)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(mustRead(t, path), "\n")
	f.WriteString("this is not a log record\nnor is this one\n")
	f.Close()
	runUntil(t, cfg, func() bool {
		evs, _ := rec.snapshot()
		return len(evs) > 0
	})
	evs, warns := rec.snapshot()
	if len(evs) != 1 || evs[0].Kind != EventOpened {
		t.Errorf("events %+v, want the incident opened from the parsed records", evs)
	}
	want := fmt.Sprintf("watch: %s: 2 record(s) not parsed, 2 in all; they are not judged (first at %s:%d: ", path, path, lines+1)
	if len(warns) != 1 || !strings.HasPrefix(warns[0], want) {
		t.Errorf("warnings %q, want one starting %q", warns, want)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A containment whose incident another rekey holds (its claim is
// refused) is left to that one: no failure is notified or audited.
func TestContainmentHeldElsewhereIsLeftToIt(t *testing.T) {
	cfg, rec := world(t, "watch:\n  trigger: [sensitive-action]\n  auto_contain: [sensitive-action]\n")
	cfg.Deps.Claim = func(context.Context, string) (context.Context, func(), error) {
		return nil, nil, errs.New("claim", errs.Conflict, "", "held by another watcher")
	}
	runUntil(t, cfg, func() bool {
		evs, _ := rec.snapshot()
		return len(evs) >= 1
	})
	evs, _ := rec.snapshot() // Run has returned: the containment has ended
	if len(evs) != 1 || evs[0].Kind != EventOpened {
		t.Errorf("events: %+v, want the opening alone", evs)
	}
	log, _ := cfg.Deps.Store.AuditLog(context.Background())
	for _, e := range log {
		if e.Action == "watch.contained" {
			t.Errorf("audited %s: %s", e.Action, e.Detail)
		}
	}
}

// A login revoked elsewhere while the watcher runs (another rekey's run)
// is known at the next refresh, without a restart: its next use is a
// use-after-revocation finding and opens an incident.
func TestRevocationElsewhereLearntWithoutRestart(t *testing.T) {
	cfg, rec := world(t, "watch:\n  trigger: [use-after-revocation]\n")
	cfg.Refresh = 20 * time.Millisecond
	path := cfg.Inventory.Abs(cfg.Inventory.Logs[0].Path)
	var login string // ops_admin's "connection authorized" record
	for _, l := range strings.SplitAfter(mustRead(t, path), "\n") {
		if strings.Contains(l, `"ops_admin"`) && strings.Contains(l, "connection authorized") {
			login = l
		}
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st, ctx := cfg.Deps.Store, context.Background()
	inc, _, err := st.OpenIncident(ctx, store.Incident{Fingerprint: "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00", Created: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	// Revoked only once the watcher has loaded what was revoked before it
	// started (it says so after): what it learns later, it learns by
	// refreshing.
	var started atomic.Bool
	cfg.Say = func(string, ...any) { started.Store(true) }
	runUntil(t, cfg, func() bool {
		if !started.Load() {
			return false
		}
		if _, revoked, err := st.GetPlan(ctx, inc.ID); err != nil {
			t.Fatal(err)
		} else if revoked {
			// Revoked already: each pass appends one more use of the login
			// until the watcher, refreshed, sees it for what it is.
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(login)
			f.Close()
		} else {
			revokedAt := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			body := json.RawMessage(`{"steps":[{"id":"r1","kind":"revoke","system":"shop-db","identity":"ops_admin"}]}`)
			if err := st.PutPlan(ctx, inc.ID, store.Plan{Strategy: "emergency", Created: revokedAt, Body: body}); err != nil {
				t.Fatal(err)
			}
			if err := st.PutStep(ctx, inc.ID, store.Step{StepID: "r1", State: "done", Started: &revokedAt, Finished: &revokedAt}); err != nil {
				t.Fatal(err)
			}
		}
		evs, _ := rec.snapshot()
		return len(evs) > 0
	})
	evs, _ := rec.snapshot()
	if len(evs) != 1 || evs[0].Kind != EventOpened || evs[0].Finding.Kind != "use-after-revocation" || evs[0].Finding.Revoked == nil || evs[0].Finding.Revoked.IncidentID != inc.ID {
		t.Fatalf("events %+v, want an incident opened for the use after the revocation in %s", evs, inc.ID)
	}
}
