// Package storetest is the conformance suite every store.Store passes
// (SQLite and PostgreSQL alike): opening an incident is idempotent and
// race-free, every record kind round-trips, writes are atomic, unknown
// incidents are errs.NotFound, no table ever holds a secret in clear, the
// audit log's appends take turns, and the schema migrates once and
// refuses a newer database.
package storetest

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
)

// Harness tells the suite how to get databases of one implementation.
type Harness struct {
	// New returns the address (a file path, a URL) of a new, empty
	// database that is removed when t ends.
	New func(t *testing.T) string
	// Open opens the store at addr, migrating it. The suite closes it.
	Open func(ctx context.Context, addr string) (store.Store, error)
}

// Run runs the suite. Every subtest gets a database of its own.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"OpenCreates", testOpenCreates},
		{"OpenFindsExisting", testOpenFindsExisting},
		{"OpenConcurrent", testOpenConcurrent},
		{"CloseLetsANewOneOpen", testClose},
		{"UpdateIncident", testUpdate},
		{"SetIncidentSecret", testSetIncidentSecret},
		{"ListIncidents", testList},
		{"InventoryCopy", testInventoryCopy},
		{"Occurrences", testOccurrences},
		{"Identity", testIdentity},
		{"IdentityAtomic", testIdentityAtomic},
		{"Consumers", testConsumers},
		{"Events", testEvents},
		{"EventDetail", testEventDetail},
		{"Snapshot", testSnapshot},
		{"SnapshotConsistent", testSnapshotConsistent},
		{"SnapshotOpenerAndPlan", testSnapshotOpenerAndPlan},
		{"SnapshotSeesEveryWrite", testSnapshotSeesEveryWrite},
		{"Plan", testPlan},
		{"Steps", testSteps},
		{"SealOnce", testSealOnce},
		{"Leases", testLeases},
		{"BrokerLeases", testBrokerLeases},
		{"AuditWithLeases", testAuditWithLeases},
		{"AuditChain", testAuditChain},
		{"AuditConcurrent", testAuditConcurrent},
		{"AuditBatch", testAuditBatch},
		{"ReviewsAndTasks", testReviewsAndTasks},
		{"UpdateReviewConcurrent", testUpdateReviewConcurrent},
		{"WatchOffsets", testWatchOffsets},
		{"WatchBaselines", testWatchBaselines},
		{"WatchBaselinesConcurrent", testWatchBaselinesConcurrent},
		{"Canaries", testCanaries},
		{"RevokedLogins", testRevokedLogins},
		{"Tokens", testTokens},
		{"WebSessions", testWebSessions},
		{"Tracing", testTracing},
		{"NotFound", testNotFound},
		{"NoSecretInClear", testNoSecretInClear},
		{"Reopen", testReopen},
		{"NewerSchemaRefused", testNewerSchema},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

func open(t *testing.T, h Harness, addr string) store.Store {
	t.Helper()
	s, err := h.Open(context.Background(), addr)
	if err != nil {
		t.Fatalf("open %s: %v", addr, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fresh(t *testing.T, h Harness) store.Store {
	t.Helper()
	return open(t, h, h.New(t))
}

var fpKey = []byte("storetest installation key, 32+ bytes long")

// fp is the fingerprint of value under the suite's key.
func fp(t *testing.T, value string) secret.Fingerprint {
	t.Helper()
	f, err := secret.NewFingerprinter(fpKey)
	if err != nil {
		t.Fatal(err)
	}
	return f.Of(secret.FromString(value))
}

// day is a fixed instant with nanoseconds, to catch precision loss.
var day = time.Date(2026, 11, 26, 9, 30, 15, 123456789, time.UTC)

func at(d time.Duration) time.Time { return day.Add(d) }
func ptr(t time.Time) *time.Time   { return &t }
func ctx() context.Context         { return context.Background() }
func same(a, b any) bool           { return reflect.DeepEqual(a, b) }
func show(v any) string            { return fmt.Sprintf("%+v", v) }

func check(t *testing.T, what string, got, w any) {
	t.Helper()
	if !same(got, w) {
		t.Errorf("%s\n got %s\nwant %s", what, show(got), show(w))
	}
}

func mustOpen(t *testing.T, s store.Store, inc store.Incident) (store.Incident, bool) {
	t.Helper()
	got, existing, err := s.OpenIncident(ctx(), inc)
	if err != nil {
		t.Fatalf("OpenIncident: %v", err)
	}
	return got, existing
}

func newIncident(t *testing.T, value string) store.Incident {
	return store.Incident{
		Fingerprint: fp(t, value),
		Preview:     secret.Preview([]byte(value)),
		Kind:        "postgres-dsn",
		Created:     day,
		LeakedAt:    ptr(at(-48 * time.Hour)),
		Inventory:   "/etc/rekey/inventory.yaml",
		Identity:    store.IdentityRef{System: "shop-db", Name: "orders_svc"},
		Notes:       "seen in #general",
	}
}

func testOpenCreates(t *testing.T, h Harness) {
	s := fresh(t, h)
	in := newIncident(t, "postgres://orders_svc:hunter2-but-longer@db/shop")
	got, existing := mustOpen(t, s, in)
	if existing {
		t.Error("a new incident is reported as existing")
	}
	if !store.ValidID(got.ID) || !strings.HasPrefix(got.ID, "INC-20261126-") {
		t.Errorf("id %q: want INC-20261126-xxxx", got.ID)
	}
	w := in
	w.ID, w.State = got.ID, store.Open
	check(t, "opened", got, w)
	back, err := s.GetIncident(ctx(), got.ID)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "read back", back, w)

	// Created defaults to now.
	in2 := newIncident(t, "another secret value, also long enough")
	in2.Created, in2.LeakedAt = time.Time{}, nil
	before := time.Now()
	got2, _ := mustOpen(t, s, in2)
	if got2.Created.Before(before.Add(-time.Second)) || got2.Created.After(time.Now().Add(time.Second)) {
		t.Errorf("created %v, want about %v", got2.Created, before)
	}
	if got2.LeakedAt != nil || got2.ClosedAt != nil {
		t.Errorf("unset times read back as %v, %v", got2.LeakedAt, got2.ClosedAt)
	}
	if got2.ID == got.ID {
		t.Error("two secrets share an incident id")
	}
	if !strings.HasPrefix(got2.ID, "INC-"+got2.Created.UTC().Format("20060102")+"-") {
		t.Errorf("id %q does not carry its creation day", got2.ID)
	}

	// Only fingerprints go in.
	bad := newIncident(t, "x")
	bad.Fingerprint = "not-a-fingerprint"
	if _, _, err := s.OpenIncident(ctx(), bad); errs.KindOf(err) != errs.Invalid {
		t.Errorf("OpenIncident with a bad fingerprint: %v, want an Invalid error", err)
	}
}

func testOpenFindsExisting(t *testing.T, h Harness) {
	s := fresh(t, h)
	in := newIncident(t, "sk_live_0123456789abcdefghijklmn")
	first, _ := mustOpen(t, s, in)
	again := in
	again.Notes, again.Created = "second responder", at(time.Hour)
	second, existing := mustOpen(t, s, again)
	if !existing {
		t.Error("second open: existing=false")
	}
	check(t, "second open returns the first incident unchanged", second, first)
}

func testOpenConcurrent(t *testing.T, h Harness) {
	addr := h.New(t)
	// Two handles on one database stand for two processes.
	stores := []store.Store{open(t, h, addr), open(t, h, addr)}
	in := newIncident(t, "AKIAIOSFODNN7EXAMPLE/wJalrXUtnFEMI/K7MDENG")
	const n = 10
	var (
		wg       sync.WaitGroup
		ids      [n]string
		existing [n]bool
		failures [n]error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			inc, ex, err := stores[i%2].OpenIncident(ctx(), in)
			ids[i], existing[i], failures[i] = inc.ID, ex, err
		}()
	}
	close(start)
	wg.Wait()
	created := 0
	for i := range n {
		if failures[i] != nil {
			t.Fatalf("opener %d: %v", i, failures[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("opener %d got %s, opener 0 got %s", i, ids[i], ids[0])
		}
		if !existing[i] {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d openers created the incident, want exactly 1", created)
	}
	all, err := stores[0].ListIncidents(ctx(), store.Filter{Fingerprint: in.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Errorf("%d incidents for one secret, want 1", len(all))
	}
}

func testClose(t *testing.T, h Harness) {
	s := fresh(t, h)
	in := newIncident(t, "xoxb-1234567890-abcdefghijklmnop")
	first, _ := mustOpen(t, s, in)
	if err := s.CloseIncident(ctx(), first.ID, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	closed, err := s.GetIncident(ctx(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if closed.State != store.Closed || closed.ClosedAt == nil || !closed.ClosedAt.Equal(at(time.Hour)) {
		t.Errorf("after close: state %s, closed at %v", closed.State, closed.ClosedAt)
	}
	// Closing again changes nothing.
	if err := s.CloseIncident(ctx(), first.ID, at(2*time.Hour)); err != nil {
		t.Errorf("closing twice: %v", err)
	}
	if again, _ := s.GetIncident(ctx(), first.ID); !same(again, closed) {
		t.Errorf("closing twice changed the incident: %s", show(again))
	}
	second, existing := mustOpen(t, s, in)
	if existing || second.ID == first.ID {
		t.Errorf("open after close: existing=%v id %s (closed one %s), want a new incident", existing, second.ID, first.ID)
	}
	third, existing := mustOpen(t, s, in)
	if !existing || third.ID != second.ID {
		t.Errorf("open once more: existing=%v id %s, want the new open one %s", existing, third.ID, second.ID)
	}
	opened, err := s.ListIncidents(ctx(), store.Filter{State: store.Open, Fingerprint: in.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || opened[0].ID != second.ID {
		t.Errorf("open incidents: %s", show(opened))
	}
}

func testInventoryCopy(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "xoxb-1234567890-inventorycopy"))
	if _, ok, err := s.GetInventory(ctx(), inc.ID); ok || err != nil {
		t.Fatalf("before any copy: ok=%v %v", ok, err)
	}
	body := []byte("version: 1\nsystems:\n  - {name: db, type: postgres, admin: env:DB_ADMIN} # é\n")
	for _, b := range [][]byte{[]byte("version: 1\n"), body} { // the second replaces the first
		if err := s.PutInventory(ctx(), inc.ID, store.InventoryCopy{Path: "ops/rekey.yml", Body: b, Saved: at(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.GetInventory(ctx(), inc.ID)
	if err != nil || !ok || string(got.Body) != string(body) || got.Path != "ops/rekey.yml" || !got.Saved.Equal(at(time.Minute)) {
		t.Errorf("copy: %+v %q ok=%v %v", got, got.Body, ok, err)
	}
	if err := s.PutInventory(ctx(), inc.ID, store.InventoryCopy{Body: []byte{0xff, 0xfe}}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("binary: %v", err)
	}
	if err := s.PutInventory(ctx(), "INC-20990101-0000", store.InventoryCopy{Body: body}); errs.KindOf(err) != errs.NotFound {
		t.Errorf("unknown incident: %v", err)
	}
}

func testUpdate(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "glpat-abcdefghijklmnopqrst"))
	up := inc
	up.Identity = store.IdentityRef{System: "gitlab", Name: "deploy-bot"}
	up.Notes, up.Kind, up.Inventory, up.LeakedAt = "rotated by hand?", "gitlab-pat", "inv.yaml", nil
	// Fields that may not change through UpdateIncident.
	up.State, up.Created, up.Fingerprint = store.Closed, at(time.Hour), fp(t, "other")
	if err := s.UpdateIncident(ctx(), up); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetIncident(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	w := up
	w.State, w.Created, w.Fingerprint = inc.State, inc.Created, inc.Fingerprint
	check(t, "after update", got, w)
}

// testSetIncidentSecret: an incident opened under a key that is not its
// secret's (watch keys them by identity) takes the secret's fingerprint
// once; the next open of the secret finds it; a second adoption, one of
// a closed incident, or one that would make two open incidents of one
// secret are conflicts that change nothing.
func testSetIncidentSecret(t *testing.T, h Harness) {
	s := fresh(t, h)
	key, leaked := fp(t, "identity key of shop-db/orders_svc"), fp(t, "the leaked password")
	in := newIncident(t, "identity key of shop-db/orders_svc")
	in.Preview = ""
	w, _ := mustOpen(t, s, in)
	if err := s.SetIncidentSecret(ctx(), w.ID, key, leaked, "the*****word"); err != nil {
		t.Fatal(err)
	}
	got, existing := mustOpen(t, s, newIncident(t, "the leaked password"))
	if !existing || got.ID != w.ID || got.Preview != "the*****word" || got.Fingerprint != leaked {
		t.Errorf("open of the secret after SetIncidentSecret: existing=%v %+v, want %s", existing, got, w.ID)
	}
	if err := s.SetIncidentSecret(ctx(), w.ID, key, fp(t, "another"), ""); errs.KindOf(err) != errs.Conflict {
		t.Errorf("second SetIncidentSecret: %v, want a conflict", err)
	}
	// Another identity-keyed incident cannot take a secret that has an
	// open incident.
	other, _ := mustOpen(t, s, newIncident(t, "identity key of shop-db/billing"))
	if err := s.SetIncidentSecret(ctx(), other.ID, fp(t, "identity key of shop-db/billing"), leaked, ""); errs.KindOf(err) != errs.Conflict {
		t.Errorf("SetIncidentSecret to an open incident's secret: %v, want a conflict", err)
	}
	if err := s.CloseIncident(ctx(), other.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetIncidentSecret(ctx(), other.ID, fp(t, "identity key of shop-db/billing"), fp(t, "x"), ""); errs.KindOf(err) != errs.Conflict {
		t.Errorf("SetIncidentSecret of a closed incident: %v, want a conflict", err)
	}
	if err := s.SetIncidentSecret(ctx(), w.ID, leaked, "not a fingerprint", ""); errs.KindOf(err) != errs.Invalid {
		t.Errorf("SetIncidentSecret to a clear value: %v, want invalid", err)
	}
	if err := s.SetIncidentSecret(ctx(), "INC-20261126-ffff", key, leaked, ""); errs.KindOf(err) != errs.NotFound {
		t.Errorf("SetIncidentSecret of an unknown incident: %v, want not found", err)
	}
}

func testList(t *testing.T, h Harness) {
	s := fresh(t, h)
	var ids []string
	for i, d := range []time.Duration{2 * time.Hour, 0, time.Hour} {
		in := newIncident(t, fmt.Sprintf("list secret number %d, long enough", i))
		in.Created = at(d)
		inc, _ := mustOpen(t, s, in)
		ids = append(ids, inc.ID)
	}
	if err := s.CloseIncident(ctx(), ids[2], time.Time{}); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListIncidents(ctx(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, inc := range all {
		got = append(got, inc.ID)
	}
	check(t, "all incidents, oldest first", got, []string{ids[1], ids[2], ids[0]})
	opened, err := s.ListIncidents(ctx(), store.Filter{State: store.Open})
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 2 || opened[0].ID != ids[1] || opened[1].ID != ids[0] {
		t.Errorf("open incidents: %s", show(opened))
	}
	none, err := s.ListIncidents(ctx(), store.Filter{Fingerprint: fp(t, "never opened")})
	if err != nil || len(none) != 0 {
		t.Errorf("unknown fingerprint: %v, %s", err, show(none))
	}
}

func testOccurrences(t *testing.T, h Harness) {
	s := fresh(t, h)
	value := "ghp_0123456789abcdefghijklmnopqrstuvwxyz"
	inc, _ := mustOpen(t, s, newIncident(t, value))
	o := func(path string, line int, commit string) store.Occurrence {
		return store.Occurrence{
			Fingerprint: fp(t, value), Preview: secret.Preview([]byte(value)),
			Rule: "github-pat", Provider: "github", Severity: "high",
			Path: path, Line: line, Column: 7, Commit: commit, AtHead: true, Class: "code", Encoding: "plain",
			FirstSeen: day, LastSeen: day,
		}
	}
	a, b, c := o("app/.env", 3, ""), o("app/config.go", 10, "0123456789abcdef0123456789abcdef01234567"), o("app/config.go", 10, "")
	c.Ref, c.Match = "C0123/1700000000.000100", "partial"
	if err := s.PutOccurrences(ctx(), inc.ID, []store.Occurrence{b, a, c}); err != nil {
		t.Fatal(err)
	}
	// The same place again, seen later and no longer at HEAD: one row,
	// LastSeen moved, FirstSeen kept.
	a2 := a
	a2.FirstSeen, a2.LastSeen, a2.AtHead = at(time.Hour), at(time.Hour), false
	if err := s.PutOccurrences(ctx(), inc.ID, []store.Occurrence{a2}); err != nil {
		t.Fatal(err)
	}
	// An older sighting does not move LastSeen back.
	a3 := a2
	a3.FirstSeen, a3.LastSeen = at(-time.Hour), at(-time.Hour)
	if err := s.PutOccurrences(ctx(), inc.ID, []store.Occurrence{a3}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Occurrences(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	wa := a2
	wa.FirstSeen, wa.LastSeen = at(-time.Hour), at(time.Hour)
	w := []store.Occurrence{wa, c, b} // by path, line, column, commit
	for i := range w {
		w[i].IncidentID = inc.ID
	}
	check(t, "occurrences", got, w)

	// Zero times mean now.
	d := o("deploy.yaml", 1, "")
	d.FirstSeen, d.LastSeen = time.Time{}, time.Time{}
	if err := s.PutOccurrences(ctx(), inc.ID, []store.Occurrence{d}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Occurrences(ctx(), inc.ID)
	if len(got) != 4 || got[3].Path != "deploy.yaml" || time.Since(got[3].LastSeen) > time.Minute || !got[3].FirstSeen.Equal(got[3].LastSeen) {
		t.Errorf("zero times: %s", show(got))
	}
	bad := o("x", 1, "")
	bad.Fingerprint = secret.Fingerprint(value)
	if err := s.PutOccurrences(ctx(), inc.ID, []store.Occurrence{bad}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("occurrence with a clear value as fingerprint: %v, want an Invalid error", err)
	}
}

func identity(version string) store.Identity {
	return store.Identity{
		System: "shop-db", Name: "orders_svc", Method: "scram-sha-256",
		Inspected: true, InspectedAt: ptr(at(time.Minute)), Exists: true, CanLogin: true,
		ValidUntil: ptr(at(365 * 24 * time.Hour)),
		Flags:      []string{"shared", "long-lived"},
		Privileges: []store.Privilege{
			{Name: "CREATEROLE " + version, Risk: "high", CreatesCredentials: true},
			{Name: "INSERT ON public.orders " + version, Risk: "low", Via: "orders_rw"},
			{Name: "SELECT ON public.customers " + version, Risk: "medium"},
		},
		Sessions: []store.Session{
			{ID: "4711 " + version, Client: "10.0.4.7:51234", Application: "orders-api", Started: at(-time.Hour), Database: "shop"},
			{ID: "4712 " + version, Client: "203.0.113.9:40000", Started: at(-time.Minute)},
		},
		Related: []store.Related{{Kind: "granted-role", Name: "reporting " + version, Detail: "granted by orders_svc"}},
	}
}

// filled sets the ownership fields a read fills in.
func filled(id string, ident store.Identity) store.Identity {
	ident.IncidentID = id
	for i := range ident.Privileges {
		ident.Privileges[i].IncidentID, ident.Privileges[i].System, ident.Privileges[i].Identity = id, ident.System, ident.Name
	}
	for i := range ident.Sessions {
		ident.Sessions[i].IncidentID, ident.Sessions[i].System, ident.Sessions[i].Identity = id, ident.System, ident.Name
	}
	for i := range ident.Related {
		ident.Related[i].IncidentID, ident.Related[i].System, ident.Related[i].Identity = id, ident.System, ident.Name
	}
	return ident
}

func testIdentity(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "identity secret value, long enough"))
	v1 := identity("v1")
	reuse := store.Identity{System: "shop-db", Name: "billing", Method: "scram-sha-256", InspectError: "permission denied for pg_authid"}
	if err := s.PutIdentity(ctx(), inc.ID, v1); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIdentity(ctx(), inc.ID, reuse); err != nil {
		t.Fatal(err)
	}
	got, err := s.Identities(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "identities", got, []store.Identity{filled(inc.ID, reuse), filled(inc.ID, identity("v1"))})

	// Inspecting again replaces everything about that identity, and only it.
	v2 := identity("v2")
	v2.Privileges = v2.Privileges[:1]
	v2.Sessions, v2.Flags, v2.ValidUntil, v2.CanLogin = nil, nil, nil, false
	if err := s.PutIdentity(ctx(), inc.ID, v2); err != nil {
		t.Fatal(err)
	}
	got, err = s.Identities(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	w2 := identity("v2")
	w2.Privileges = w2.Privileges[:1]
	w2.Sessions, w2.Flags, w2.ValidUntil, w2.CanLogin = nil, nil, nil, false
	check(t, "after replacing", got, []store.Identity{filled(inc.ID, reuse), filled(inc.ID, w2)})

	if err := s.PutIdentity(ctx(), inc.ID, store.Identity{System: "shop-db"}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("identity without a name: %v, want an Invalid error", err)
	}
}

// testIdentityAtomic replaces an identity over and over while readers
// check that every read shows one version whole, never a mix.
func testIdentityAtomic(t *testing.T, h Harness) {
	addr := h.New(t)
	w, r := open(t, h, addr), open(t, h, addr)
	inc, _ := mustOpen(t, w, newIncident(t, "atomic secret value, long enough"))
	if err := w.PutIdentity(ctx(), inc.ID, identity("v0")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	defer wg.Wait() // a failing reader must not leave the writer running
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 1; i <= 15; i++ {
			if err := w.PutIdentity(ctx(), inc.ID, identity(fmt.Sprintf("v%d", i))); err != nil {
				t.Errorf("put %d: %v", i, err)
				return
			}
		}
	}()
	reads := 0
	for {
		select {
		case <-done:
			t.Logf("%d reads overlapped 15 writes", reads)
			return
		default:
		}
		got, err := r.Identities(ctx(), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		reads++
		if len(got) != 1 {
			t.Fatalf("read %d: %d identities, want 1", reads, len(got))
		}
		ident := got[0]
		if len(ident.Privileges) != 3 || len(ident.Sessions) != 2 || len(ident.Related) != 1 {
			t.Fatalf("read %d: a partial identity: %s", reads, show(ident))
		}
		version := ident.Related[0].Name[len("reporting "):]
		for _, p := range ident.Privileges {
			if !strings.HasSuffix(p.Name, " "+version) {
				t.Fatalf("read %d: privilege %q beside related %q: two versions mixed", reads, p.Name, ident.Related[0].Name)
			}
		}
		for _, se := range ident.Sessions {
			if !strings.HasSuffix(se.ID, " "+version) {
				t.Fatalf("read %d: session %q beside related %q: two versions mixed", reads, se.ID, ident.Related[0].Name)
			}
		}
	}
}

func testConsumers(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "consumer secret value, long enough"))
	cs := []store.Consumer{
		{Name: "orders-api", Identity: "orders_svc", Declared: true, Observed: true, Sources: []string{"10.0.4.0/24"}},
		{Name: "acme-partner", Identity: "orders_svc", Declared: true, ThirdParty: true},
		{Name: "203.0.113.9", Identity: "orders_svc", Observed: true, Sources: []string{"203.0.113.9", "psql"}},
	}
	if err := s.PutConsumers(ctx(), inc.ID, cs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Consumers(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	w := []store.Consumer{cs[2], cs[1], cs[0]} // by name
	for i := range w {
		w[i].IncidentID = inc.ID
	}
	check(t, "consumers", got, w)

	if err := s.PutConsumers(ctx(), inc.ID, cs[:1]); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Consumers(ctx(), inc.ID)
	if len(got) != 1 || got[0].Name != "orders-api" {
		t.Errorf("after replacing with one: %s", show(got))
	}
	if err := s.PutConsumers(ctx(), inc.ID, []store.Consumer{cs[0], cs[0]}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("repeated consumer name: %v, want an Invalid error", err)
	}
	if got, _ := s.Consumers(ctx(), inc.ID); len(got) != 1 {
		t.Errorf("a refused put changed the consumers: %s", show(got))
	}
}

func testEvents(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "event secret value, long enough"))
	ev := func(d time.Duration, action string, line int) store.Event {
		return store.Event{Time: at(d), Credential: "orders_svc", Identity: "orders_svc", Source: "10.0.4.7",
			UserAgent: "psql", Application: "orders-api", Action: action, Outcome: "success",
			File: "/var/log/postgresql/postgresql.csv", Line: line}
	}
	e1, e2, e3, e4 := ev(time.Hour, "SELECT", 30), ev(0, "connect", 10), ev(0, "disconnect", 11), ev(-time.Hour, "connect", 1)
	if err := s.AddEvents(ctx(), inc.ID, []store.Event{e1, e2, e3}); err != nil {
		t.Fatal(err)
	}
	// A later batch, and the first log read again.
	if err := s.AddEvents(ctx(), inc.ID, []store.Event{e4, e1, e2}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	w := []store.Event{e4, e2, e3, e1} // by time; e2 before e3 at the same instant, as added
	for i := range w {
		w[i].IncidentID = inc.ID
	}
	check(t, "events", got, w)
	if err := s.AddEvents(ctx(), inc.ID, []store.Event{{Action: "connect"}}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("event without a time: %v, want an Invalid error", err)
	}
}

func testNotFound(t *testing.T, h Harness) {
	s := fresh(t, h)
	const id = "INC-19700101-dead"
	calls := map[string]func() error{
		"GetIncident":    func() error { _, err := s.GetIncident(ctx(), id); return err },
		"UpdateIncident": func() error { return s.UpdateIncident(ctx(), store.Incident{ID: id}) },
		"CloseIncident":  func() error { return s.CloseIncident(ctx(), id, time.Time{}) },
		"PutOccurrences": func() error { return s.PutOccurrences(ctx(), id, nil) },
		"Occurrences":    func() error { _, err := s.Occurrences(ctx(), id); return err },
		"PutIdentity": func() error {
			return s.PutIdentity(ctx(), id, store.Identity{System: "a", Name: "b"})
		},
		"Identities":   func() error { _, err := s.Identities(ctx(), id); return err },
		"PutConsumers": func() error { return s.PutConsumers(ctx(), id, nil) },
		"Consumers":    func() error { _, err := s.Consumers(ctx(), id); return err },
		"AddEvents":    func() error { return s.AddEvents(ctx(), id, nil) },
		"Events":       func() error { _, err := s.Events(ctx(), id); return err },
		"Snapshot":     func() error { _, err := s.Snapshot(ctx(), id); return err },
	}
	for name, call := range calls {
		err := call()
		if errs.KindOf(err) != errs.NotFound || !errors.Is(err, store.ErrNotFound) || !strings.Contains(fmt.Sprint(err), id) {
			t.Errorf("%s(unknown id): %v, want a NotFound error naming %s", name, err, id)
		}
	}
}

// testNoSecretInClear writes everything an incident can hold about a known
// secret, then reads every column of every table beneath the interface.
func testNoSecretInClear(t *testing.T, h Harness) {
	s := fresh(t, h)
	raw, ok := s.(store.Raw)
	if !ok {
		t.Fatalf("%T does not implement store.Raw: the suite cannot check what it stores", s)
	}
	value := "postgres://orders_svc:Zx9-correct-horse-battery-staple@db.internal:5432/shop"
	f := fp(t, value)
	inc, _ := mustOpen(t, s, store.Incident{Fingerprint: f, Preview: secret.Preview([]byte(value)), Kind: "postgres-dsn",
		Identity: store.IdentityRef{System: "shop-db", Name: "orders_svc"}})
	occ := store.Occurrence{Fingerprint: f, Preview: secret.Preview([]byte(value)), Rule: "postgres-dsn", Path: ".env", Line: 1, Column: 14}
	if err := s.PutOccurrences(ctx(), inc.ID, []store.Occurrence{occ}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIdentity(ctx(), inc.ID, identity("v1")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConsumers(ctx(), inc.ID, []store.Consumer{{Name: "orders-api", Identity: "orders_svc", Declared: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvents(ctx(), inc.ID, []store.Event{{Time: day, Credential: "orders_svc", Action: "connect"}}); err != nil {
		t.Fatal(err)
	}
	// A clear value handed over as a fingerprint is refused.
	leak := occ
	leak.Fingerprint = secret.Fingerprint(value)
	if err := s.PutOccurrences(ctx(), inc.ID, []store.Occurrence{leak}); err == nil {
		t.Error("PutOccurrences took a clear value as a fingerprint")
	} else if strings.Contains(err.Error(), "correct-horse") {
		t.Errorf("the refusal quotes the secret: %v", err)
	}
	if _, _, err := s.OpenIncident(ctx(), store.Incident{Fingerprint: secret.Fingerprint(value)}); err == nil {
		t.Error("OpenIncident took a clear value as a fingerprint")
	}

	password := "Zx9-correct-horse-battery-staple"
	forms := map[string]string{
		"value":            value,
		"password":         password,
		"base64(value)":    base64.StdEncoding.EncodeToString([]byte(value)),
		"hex(value)":       hex.EncodeToString([]byte(value)),
		"base64(password)": base64.StdEncoding.EncodeToString([]byte(password)),
	}
	counts := rowCounts(t, raw.DB())
	for _, c := range []string{"incidents", "occurrences", "identities", "privileges", "sessions", "related", "consumers", "events"} {
		if counts[c] == 0 {
			t.Errorf("table %s is empty or missing: the check read nothing there", c)
		}
	}
	sawFingerprint := false
	for cell := range eachCell(t, raw.DB()) {
		for name, form := range forms {
			if strings.Contains(cell.value, form) {
				t.Errorf("%s.%s holds the secret's %s", cell.table, cell.column, name)
			}
		}
		sawFingerprint = sawFingerprint || cell.value == string(f)
	}
	if !sawFingerprint {
		t.Error("the fingerprint is nowhere in the database: did the dump read it?")
	}
}

type cell struct{ table, column, value string }

func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	for _, q := range []string{
		`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
		`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
	} {
		rows, err := db.QueryContext(ctx(), q)
		if err != nil {
			continue
		}
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		rows.Close()
		if len(names) > 0 {
			return names
		}
	}
	t.Fatal("cannot list the database's tables")
	return nil
}

// eachCell yields every value of every column of every table, as text.
func eachCell(t *testing.T, db *sql.DB) func(func(cell) bool) {
	return func(yield func(cell) bool) {
		for _, table := range tables(t, db) {
			rows, err := db.QueryContext(ctx(), `SELECT * FROM `+table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					var s string
					switch v := v.(type) {
					case []byte:
						s = string(v)
					case nil:
					default:
						s = fmt.Sprint(v)
					}
					if !yield(cell{table, cols[i], s}) {
						rows.Close()
						return
					}
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
		}
	}
}

// rowCounts counts the rows of each table.
func rowCounts(t *testing.T, db *sql.DB) map[string]int {
	n := map[string]int{}
	for _, table := range tables(t, db) {
		var c int
		if err := db.QueryRowContext(ctx(), `SELECT COUNT(*) FROM `+table).Scan(&c); err != nil {
			t.Fatal(err)
		}
		n[table] = c
	}
	return n
}

func migrations(t *testing.T, s store.Store) [][2]string {
	t.Helper()
	rows, err := s.(store.Raw).DB().QueryContext(ctx(), `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var v int
		var a string
		if err := rows.Scan(&v, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, [2]string{fmt.Sprint(v), a})
	}
	return out
}

func testReopen(t *testing.T, h Harness) {
	addr := h.New(t)
	s := open(t, h, addr)
	inc, _ := mustOpen(t, s, newIncident(t, "reopen secret value, long enough"))
	if err := s.PutConsumers(ctx(), inc.ID, []store.Consumer{{Name: "orders-api", Declared: true}}); err != nil {
		t.Fatal(err)
	}
	before := migrations(t, s)
	if len(before) != store.SchemaVersion() {
		t.Fatalf("schema_migrations has %d rows, want %d", len(before), store.SchemaVersion())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, h, addr)
	got, err := s2.GetIncident(ctx(), inc.ID)
	if err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	check(t, "incident after reopening", got, inc)
	if cs, err := s2.Consumers(ctx(), inc.ID); err != nil || len(cs) != 1 {
		t.Errorf("consumers after reopening: %v %s", err, show(cs))
	}
	check(t, "migrations after reopening (none re-applied)", migrations(t, s2), before)
	again, existing := mustOpen(t, s2, newIncident(t, "reopen secret value, long enough"))
	if !existing || again.ID != inc.ID {
		t.Errorf("open after reopening: existing=%v id %s, want %s", existing, again.ID, inc.ID)
	}
}

func testNewerSchema(t *testing.T, h Harness) {
	addr := h.New(t)
	s := open(t, h, addr)
	next := store.SchemaVersion() + 1
	_, err := s.(store.Raw).DB().ExecContext(ctx(), fmt.Sprintf(
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, 'from_the_future', '2099-01-01T00:00:00.000000000Z')`, next))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := h.Open(ctx(), addr)
	if err == nil {
		s2.Close()
		t.Fatalf("a database at schema version %d opened with a binary that knows %d", next, store.SchemaVersion())
	}
	if !errors.Is(err, store.ErrSchemaTooNew) || errs.KindOf(err) != errs.Invalid {
		t.Errorf("error %v: want an Invalid error wrapping store.ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(next)) || !strings.Contains(err.Error(), "upgrade rekey") {
		t.Errorf("error %q: should name the version and say to upgrade", err)
	}
}
