package audit

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// fixture is a store with five appended entries, its raw database for
// tampering, and the audit log over both.
type fixture struct {
	log *Log
	db  *sql.DB
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l := New(s, WitnessPath(dir, "rekey.db"))
	for _, a := range []string{"incident.open", "incident.plan", "step.running", "step.done", "incident.approve"} {
		if _, err := l.Append(context.Background(), "alice", a, "INC-1", map[string]string{"step": a}); err != nil {
			t.Fatal(err)
		}
	}
	return fixture{log: l, db: s.DB()}
}

func (f fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
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
	if !r.OK() || r.Entries != 5 || !r.Witnessed {
		t.Fatalf("intact log: %+v", r)
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
	if r.OK() || r.Witnessed {
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
