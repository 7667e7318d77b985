package audit

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// fixture is a store with five appended entries, its raw database for
// tampering, and the audit log over both.
type fixture struct {
	log *Log
	db  *sql.DB
	dir string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l := New(s, WitnessPath(dir, "rekey.db")).WithKey(filepath.Join(dir, KeyFile), true)
	for _, a := range []string{"incident.open", "incident.plan", "step.running", "step.done", "incident.approve"} {
		if _, err := l.Append(context.Background(), "alice", a, "INC-1", map[string]string{"step": a}); err != nil {
			t.Fatal(err)
		}
	}
	return fixture{log: l, db: s.DB(), dir: dir}
}

func (f fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// rehash recomputes every entry's SHA-256 chain after an edit, as someone
// with the database but not the audit key can.
func (f fixture) rehash(t *testing.T) {
	t.Helper()
	entries, err := f.log.s.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	prev := ""
	for _, e := range entries {
		e.PrevHash = prev
		e.Hash = Hash(e)
		f.exec(t, `UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3`, e.PrevHash, e.Hash, e.Seq)
		prev = e.Hash
	}
}

func (f fixture) verify(t *testing.T) Report {
	t.Helper()
	r, err := f.log.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIntactLogVerifies(t *testing.T) {
	f := newFixture(t)
	r := f.verify(t)
	if !r.OK() || r.Entries != 5 || !r.Witnessed || !r.MACChecked || r.Signed != 5 || r.Unsigned != 0 || r.HeadSeq != 5 {
		t.Fatalf("intact log: %+v", r)
	}
	// The witness and the key: private, whole, no temporary file left.
	for _, p := range []string{f.log.witness, f.log.keyPath} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", p, st, err)
		}
	}
	if b, _ := os.ReadFile(f.log.witness); string(b) != fmt.Sprintf("5 %s\n", r.Head) {
		t.Errorf("witness holds %q", b)
	}
	ents, _ := os.ReadDir(f.dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestTamperingIsDetected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, f fixture)
		want   string // in some break's problem
	}{
		{"edited detail", func(t *testing.T, f fixture) {
			f.exec(t, `UPDATE audit_log SET detail = '{"step":"nothing to see"}' WHERE seq = 3`)
		}, "edited"},
		{"edited actor", func(t *testing.T, f fixture) {
			f.exec(t, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 5`)
		}, "edited"},
		{"edited time", func(t *testing.T, f fixture) {
			f.exec(t, `UPDATE audit_log SET at_time = '2020-01-01T00:00:00.000000000Z' WHERE seq = 2`)
		}, "edited"},
		{"deleted middle entry", func(t *testing.T, f fixture) {
			f.exec(t, `DELETE FROM audit_log WHERE seq = 3`)
		}, "deleted"},
		{"deleted last entry", func(t *testing.T, f fixture) {
			f.exec(t, `DELETE FROM audit_log WHERE seq = 5`)
		}, "entries were deleted"},
		{"reordered", func(t *testing.T, f fixture) {
			// Swap entries 2 and 3 by their numbers: each row keeps its own
			// content and hash, only the order changes.
			f.exec(t, `UPDATE audit_log SET seq = 100 WHERE seq = 2`)
			f.exec(t, `UPDATE audit_log SET seq = 2 WHERE seq = 3`)
			f.exec(t, `UPDATE audit_log SET seq = 3 WHERE seq = 100`)
		}, "reordered"},
		{"rewritten chain", func(t *testing.T, f fixture) {
			// An attacker with the database edits entry 2 and recomputes
			// every hash after it: the chain holds, the witness does not.
			f.exec(t, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`)
			f.rehash(t)
		}, "rewritten"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.tamper(t, f)
			r := f.verify(t)
			if r.OK() {
				t.Fatalf("tampering not detected: %+v", r)
			}
			var all []string
			for _, b := range r.Breaks {
				all = append(all, b.Problem)
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("breaks %q do not say %q", all, tc.want)
			}
		})
	}
}

func TestWithoutWitnessTheChainStillChecks(t *testing.T) {
	f := newFixture(t)
	os.Remove(f.log.witness)
	f.exec(t, `DELETE FROM audit_log WHERE seq = 2`)
	r := f.verify(t)
	if r.OK() || r.Witnessed || !hasBreak(r, 3, "does not follow") {
		t.Fatalf("report: %+v", r)
	}
}

func TestHashCoversEveryColumn(t *testing.T) {
	e := store.AuditEntry{Seq: 1, Actor: "a", Action: "b", IncidentID: "c", Detail: []byte(`{}`), PrevHash: "p"}
	base := Hash(e)
	for name, mut := range map[string]func(*store.AuditEntry){
		"seq":      func(e *store.AuditEntry) { e.Seq = 2 },
		"actor":    func(e *store.AuditEntry) { e.Actor = "x" },
		"action":   func(e *store.AuditEntry) { e.Action = "x" },
		"incident": func(e *store.AuditEntry) { e.IncidentID = "x" },
		"detail":   func(e *store.AuditEntry) { e.Detail = []byte(`{"x":1}`) },
		"prev":     func(e *store.AuditEntry) { e.PrevHash = "x" },
		"time":     func(e *store.AuditEntry) { e.Time = e.Time.Add(1) },
		// Moving a character between fields must change the hash too.
		"boundary": func(e *store.AuditEntry) { e.Actor, e.Action = "ab", "" },
	} {
		c := e
		mut(&c)
		if Hash(c) == base {
			t.Errorf("changing %s leaves the hash unchanged", name)
		}
	}
}

func hasBreak(r Report, seq int64, want string) bool {
	for _, b := range r.Breaks {
		if b.Seq == seq && strings.Contains(b.Problem, want) {
			return true
		}
	}
	return false
}

func (f fixture) count(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow(`SELECT COUNT(*) FROM audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Cutting the tail off and then running any command that appends must
// not make the log verify again: the append refuses, appends nothing and
// leaves the witness where it was.
func TestAppendAfterCutTailIsRefused(t *testing.T) {
	for _, tc := range []struct{ name, tamper string }{
		{"cut tail", `DELETE FROM audit_log WHERE seq >= 4`},
		{"witnessed entry edited", `UPDATE audit_log SET actor = 'mallory' WHERE seq = 5`},
		{"witnessed entry rehashed", `UPDATE audit_log SET hash = '` + strings.Repeat("ab", 32) + `' WHERE seq = 5`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.exec(t, tc.tamper)
			before := f.count(t)
			_, err := f.log.Append(context.Background(), "alice", "lease.renew", "INC-1", nil)
			if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "refusing to append") {
				t.Fatalf("append after tampering: %v, want an Invalid refusal", err)
			}
			if f.count(t) != before {
				t.Fatal("the refused append wrote an entry")
			}
			if r := f.verify(t); r.OK() {
				t.Fatalf("verify after the refused append: %+v", r)
			}
		})
	}
}

// A head beyond the witness is another writer of the same store (a
// server, a replica, another home): appends go on when its entries chain
// from the witnessed one with valid MACs, and refuse when they do not.
func TestAppendAcceptsAnotherWriterButNotAForgery(t *testing.T) {
	f := newFixture(t)
	other := New(f.log.s, filepath.Join(t.TempDir(), "replica.witness")).WithKey(f.log.keyPath, false)
	// The replica's first append finds no witness of its own in a log
	// with entries: it must be anchored first.
	if _, err := other.Append(context.Background(), "serve", "token.create", "", nil); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("replica without witness: %v", err)
	}
	if _, err := other.Reanchor(context.Background(), "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Append(context.Background(), "serve", "token.create", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.log.Append(context.Background(), "alice", "lease.renew", "INC-1", nil); err != nil {
		t.Fatalf("append after another writer's entries: %v", err)
	}
	// Someone with the database but not the key appends an entry that
	// chains correctly: the next append refuses.
	forge(t, f, "mallory", false)
	if _, err := f.log.Append(context.Background(), "alice", "lease.renew", "INC-1", nil); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "MAC") {
		t.Fatalf("append after a forged entry: %v", err)
	}
}

// forge appends an entry the way someone with write access to the store
// but without the audit key would: a correct SHA-256 chain, and either no
// MAC or a made-up one.
func forge(t *testing.T, f fixture, actor string, withMAC bool) store.AuditEntry {
	t.Helper()
	entries, err := f.log.s.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	e := store.AuditEntry{Seq: last.Seq + 1, Time: last.Time.Add(time.Second), Actor: actor, Action: "incident.approve",
		IncidentID: "INC-1", Detail: []byte(`{}`), PrevHash: last.Hash}
	e.Hash = Hash(e)
	if withMAC {
		e.MAC = strings.Repeat("0f", 32)
	}
	f.exec(t, `INSERT INTO audit_log (seq, at_time, actor, action, incident_id, detail, prev_hash, hash, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.Seq, store.FormatTime(e.Time), e.Actor, e.Action, e.IncidentID, string(e.Detail), e.PrevHash, e.Hash, e.MAC)
	return e
}

// The MAC catches what the chain cannot: entries forged or rewritten by
// someone who recomputes every hash but lacks the key. Verified here
// without the witness, which would catch some of these on its own.
func TestMACDetectsForgeryWithoutTheKey(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, f fixture) int64
		want   string
	}{
		{"appended without MAC", func(t *testing.T, f fixture) int64 { return forge(t, f, "mallory", false).Seq }, "no MAC"},
		{"appended with a made-up MAC", func(t *testing.T, f fixture) int64 { return forge(t, f, "mallory", true).Seq }, "MAC does not match"},
		{"edited and rehashed", func(t *testing.T, f fixture) int64 {
			f.exec(t, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 3`)
			f.rehash(t)
			return 3
		}, "MAC does not match"},
		{"MAC removed", func(t *testing.T, f fixture) int64 {
			f.exec(t, `UPDATE audit_log SET mac = '' WHERE seq = 4`)
			return 4
		}, "no MAC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			seq := tc.tamper(t, f)
			chainOnly, err := New(f.log.s, "").Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range chainOnly.Breaks {
				if strings.Contains(b.Problem, "hash") || strings.Contains(b.Problem, "follow") {
					t.Fatalf("the SHA-256 chain should hold (else the test proves nothing): %+v", b)
				}
			}
			r, err := New(f.log.s, "").WithKey(f.log.keyPath, false).Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() || !hasBreak(r, seq, tc.want) {
				t.Fatalf("forgery at %d not reported as %q: %+v", seq, tc.want, r)
			}
		})
	}
}

// Entries written before the log carried MACs are reported as such, not
// as forged; stripping the MACs of every entry does not pass for that
// once the witness (or an anchor) names an entry before them.
func TestEntriesFromBeforeMACs(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	witness := WitnessPath(dir, "rekey.db")
	old := New(s, witness) // a rekey before MACs: no key
	for range 3 {
		if _, err := old.Append(context.Background(), "alice", "incident.open", "INC-1", nil); err != nil {
			t.Fatal(err)
		}
	}
	l := New(s, witness).WithKey(filepath.Join(dir, KeyFile), true)
	for range 2 {
		if _, err := l.Append(context.Background(), "alice", "step.done", "INC-1", nil); err != nil {
			t.Fatal(err)
		}
	}
	r, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Unsigned != 3 || r.Signed != 2 {
		t.Fatalf("old entries then signed ones: %+v", r)
	}
	// Stripping every MAC and forging after the witnessed entry.
	f := fixture{log: l, db: s.DB(), dir: dir}
	f.exec(t, `UPDATE audit_log SET mac = ''`)
	seq := forge(t, f, "mallory", false).Seq
	if r := f.verify(t); r.OK() || !hasBreak(r, seq, "after the anchored entry 5") {
		t.Fatalf("stripped MACs: %+v", r)
	}
}

// A missing witness for a log with entries fails verify and stops
// appends until someone re-anchors, and the re-anchoring is in the log.
func TestMissingWitnessNeedsReanchor(t *testing.T) {
	f := newFixture(t)
	if err := os.Remove(f.log.witness); err != nil {
		t.Fatal(err)
	}
	r := f.verify(t)
	if r.OK() || r.Witnessed || !hasBreak(r, 0, "reanchor") {
		t.Fatalf("missing witness: %+v", r)
	}
	if _, err := f.log.Append(context.Background(), "alice", "lease.renew", "INC-1", nil); errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "reanchor") {
		t.Fatalf("append without witness: %v", err)
	}
	e, err := f.log.Reanchor(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 6 || e.Actor != "bob" || e.Action != "audit.reanchor" ||
		!strings.Contains(string(e.Detail), `"previous_witness":"none"`) || !strings.Contains(string(e.Detail), `"found_head":"5:`) {
		t.Fatalf("reanchor entry: %+v %s", e, e.Detail)
	}
	if r := f.verify(t); !r.OK() || !r.Witnessed || r.Entries != 6 {
		t.Fatalf("after reanchor: %+v", r)
	}
	if _, err := f.log.Append(context.Background(), "alice", "lease.renew", "INC-1", nil); err != nil {
		t.Fatalf("append after reanchor: %v", err)
	}
}

// Someone with the whole $REKEY_HOME (database, witness and key) can
// replace the log with one that verifies on this machine; an anchor kept
// elsewhere shows it.
func TestHeadAnchorDetectsAReplacedLog(t *testing.T) {
	for _, n := range []int{3, 8} { // shorter than the anchor, and longer
		f := newFixture(t)
		r := f.verify(t)
		anchor, err := ParseAnchor(Anchor{Seq: r.HeadSeq, Hash: r.Head}.String())
		if err != nil {
			t.Fatal(err)
		}
		f.exec(t, `DELETE FROM audit_log`)
		os.Remove(f.log.witness)
		for range n {
			if _, err := f.log.Append(context.Background(), "mallory", "incident.open", "INC-2", nil); err != nil {
				t.Fatal(err)
			}
		}
		if r := f.verify(t); !r.OK() {
			t.Fatalf("the replaced log should verify without the anchor (else the test proves nothing): %+v", r)
		}
		r, err = f.log.Verify(context.Background(), anchor)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK() || !hasBreak(r, 5, "anchor 5:") {
			t.Fatalf("replaced log (%d entries) against anchor %s: %+v", n, anchor, r)
		}
	}
}

func TestParseAnchor(t *testing.T) {
	h := strings.Repeat("a1", 32)
	if a, err := ParseAnchor(" 12:" + strings.ToUpper(h) + "\n"); err != nil || a.Seq != 12 || a.Hash != h || a.String() != "12:"+h {
		t.Errorf("ParseAnchor: %+v, %v", a, err)
	}
	for _, bad := range []string{"", "12", "12:", "x:" + h, "0:" + h, "-1:" + h, "12:" + h[:10], "12:" + strings.Repeat("zz", 32)} {
		if _, err := ParseAnchor(bad); errs.KindOf(err) != errs.Invalid {
			t.Errorf("ParseAnchor(%q): %v, want Invalid", bad, err)
		}
	}
}

// Without the key file, entries that carry MACs cannot be checked: that
// is a failure, not a pass.
func TestMissingKeyIsAFailure(t *testing.T) {
	f := newFixture(t)
	r, err := New(f.log.s, "").WithKey(filepath.Join(t.TempDir(), KeyFile), false).Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || r.MACChecked || !hasBreak(r, 0, "no audit key") {
		t.Fatalf("verify without the key: %+v", r)
	}
}

// A store written before migration 0004 upgrades in place: its entries
// keep their hashes, gain an empty MAC, verify as older entries, and the
// log goes on signed.
func TestUpgradeFromBeforeMACs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rekey.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	// Back to schema 3, as an older rekey left it, with its entries.
	old := New(s, WitnessPath(dir, "rekey.db"))
	for range 3 {
		if _, err := old.Append(context.Background(), "alice", "incident.open", "INC-1", nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{`ALTER TABLE audit_log DROP COLUMN mac`, `DROP TABLE claims`, `DROP TABLE incident_inventories`, `DROP TABLE watch_offsets`, `DROP TABLE watch_baselines`, `DROP TABLE canaries`, `DROP TABLE broker_leases`, `DROP TABLE tokens`, `DROP TABLE web_sessions`, `DROP TABLE key_checks`, `DROP TABLE trace_sources`, `DROP TABLE trace_secrets`, `DROP INDEX audit_log_incident`, `ALTER TABLE incidents DROP COLUMN version`, `ALTER TABLE leases DROP COLUMN key_id`, `DELETE FROM schema_migrations WHERE version > 3`} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	s, err = sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	l := New(s, WitnessPath(dir, "rekey.db")).WithKey(filepath.Join(dir, KeyFile), true)
	if _, err := l.Append(context.Background(), "alice", "lease.renew", "INC-1", nil); err != nil {
		t.Fatalf("append after the upgrade: %v", err)
	}
	r, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Unsigned != 3 || r.Signed != 1 {
		t.Fatalf("after the upgrade: %+v", r)
	}
}

// TestConcurrentAppendsInOneProcess: goroutines of one process (the
// engine's parallel steps, the broker's leases) append through one log at
// once, from a new log (no witness yet) on; none is refused and the log
// verifies with its witness at the head.
func TestConcurrentAppendsInOneProcess(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := fixture{log: New(s, WitnessPath(dir, "rekey.db")).WithKey(filepath.Join(dir, KeyFile), true), db: s.DB(), dir: dir}
	var wg sync.WaitGroup
	errc := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.log.Append(context.Background(), "broker", "lease.issue", "", map[string]int{"n": i}); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("concurrent append: %v", err)
	}
	if n := f.count(t); n != 40 {
		t.Errorf("%d entries after 40 appends", n)
	}
	if r := f.verify(t); !r.OK() {
		t.Errorf("verify after concurrent appends: %+v", r)
	}
}
