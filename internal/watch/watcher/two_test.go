package watcher

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/incident"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/postgres"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// gate holds each watcher's first offset write until every watcher has
// reached its own: all of them have then read and acted on the same
// batch, the race two watchers following one log run. The bound only
// keeps a broken test from hanging; reached says whether all arrived.
type gate struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func newGate(n int) *gate { return &gate{n: n, all: make(chan struct{})} }

func (g *gate) arrive() {
	g.mu.Lock()
	g.arrived++
	if g.arrived == g.n {
		close(g.all)
	}
	g.mu.Unlock()
	select {
	case <-g.all:
	case <-time.After(60 * time.Second):
	}
}

func (g *gate) reached() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.arrived == g.n
}

// gatedStore is a watcher's store whose first offset write waits at the
// gate.
type gatedStore struct {
	store.Store
	g    *gate
	once sync.Once
}

func (s *gatedStore) PutOffset(ctx context.Context, o store.Offset, replaces string) error {
	s.once.Do(s.g.arrive)
	return s.Store.PutOffset(ctx, o, replaces)
}

// Two watchers on one store (two handles, as two rekey processes have),
// following the same log and both acting on its batch: one incident,
// opened and notified once; one containment, decided under the
// incident's claim; each of the four findings recorded once, neither
// lost nor doubled.
func TestTwoWatchersOneStore(t *testing.T) {
	for _, c := range []struct {
		name string
		open func(t *testing.T, dir string) func() store.Store
	}{
		{"sqlite", func(t *testing.T, dir string) func() store.Store {
			return func() store.Store {
				st, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
		}},
		{"postgres", func(t *testing.T, _ string) func() store.Store {
			url := testutil.PostgresDB(t)
			return func() store.Store {
				st, err := postgres.Open(context.Background(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) { twoWatchers(t, c.open(t, t.TempDir())) })
	}
}

func twoWatchers(t *testing.T, open func() store.Store) {
	dir := t.TempDir()
	logData, err := os.ReadFile(liveCSV)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pg.csv"), logData, 0o600); err != nil {
		t.Fatal(err)
	}
	g := newGate(2)
	var cfgs []Config
	var recs []*recorder
	for range 2 {
		st := open()
		cfg, rec := worldIn(t, dir, &gatedStore{Store: st, g: g}, "logs:\n  - { type: postgres-csv, path: pg.csv }\n",
			"watch:\n  trigger: [sensitive-action]\n  auto_contain: [sensitive-action]\n")
		cfg.Deps.Claim = incident.StoreClaim(st, incident.WatchActor)
		cfgs, recs = append(cfgs, cfg), append(recs, rec)
	}
	all := func() []Event {
		var out []Event
		for _, r := range recs {
			evs, _ := r.snapshot()
			out = append(out, evs...)
		}
		return out
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	for _, cfg := range cfgs {
		go func() { errc <- Run(ctx, cfg) }()
	}
	deadline := time.Now().Add(90 * time.Second)
	for len(all()) < 2 || !g.reached() {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("gave up waiting: events %+v, both at the gate %v", all(), g.reached())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	for range cfgs {
		if err := <-errc; err != nil {
			t.Fatalf("Run after a stop: %v", err)
		}
	}
	evs := all()
	kinds := map[string]int{}
	for _, e := range evs {
		kinds[e.Kind]++
	}
	if len(evs) != 2 || kinds[EventOpened] != 1 || kinds[EventContainFailed] != 1 {
		t.Errorf("notified %+v, want one opening and one containment (failed: nothing to run it with here)", evs)
	}
	bg := context.Background()
	st := cfgs[0].Deps.Store
	incs, err := st.ListIncidents(bg, store.Filter{})
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents: %+v %v, want one", incs, err)
	}
	id := incs[0].ID
	actions := map[string]int{}
	log, err := st.AuditLog(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		actions[e.Action]++
	}
	if actions["incident.open"] != 1 || actions["watch.contain"] != 1 || actions["watch.contained"] != 1 || actions["watch.finding"] != 4 {
		t.Errorf("audit log: %v, want one incident.open, watch.contain and watch.contained, and the four findings once each", actions)
	}
	rs, err := st.Reviews(bg, id)
	var rep struct{ Findings []json.RawMessage }
	if err != nil || len(rs) != 1 || json.Unmarshal(rs[0].Body, &rep) != nil || len(rep.Findings) != 4 {
		t.Errorf("watch review: %v, %d review(s), %d findings, want the four sensitive statements once each", err, len(rs), len(rep.Findings))
	}
	if stored, err := st.Events(bg, id); err != nil || len(stored) != 4 {
		t.Errorf("%d events stored with the incident (%v), want the four statements once each", len(stored), err)
	}
}
