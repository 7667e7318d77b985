package sqlstore

import (
	"strconv"
	"testing"

	"github.com/rekeyhq/rekey/internal/store"
)

// TestSnapshotCacheStaysBounded: the kept snapshots never exceed their
// number or their rows, a snapshot kept again replaces itself, and one
// too big to keep is not kept.
func TestSnapshotCacheStaysBounded(t *testing.T) {
	var c snapshotCache
	withEvents := func(n int) store.Snapshot { return store.Snapshot{Events: make([]store.Event, n)} }
	check := func(when string) {
		t.Helper()
		rows := 0
		for _, e := range c.m {
			rows += e.rows
		}
		if len(c.m) > maxSnapshots || c.rows > maxSnapshotRows || rows != c.rows {
			t.Fatalf("%s: %d kept, %d rows counted, %d rows held; bounds %d and %d", when, len(c.m), c.rows, rows, maxSnapshots, maxSnapshotRows)
		}
	}
	for i := range maxSnapshots + 100 {
		c.put(snapshotKey{id: strconv.Itoa(i)}, 1, withEvents(2))
	}
	check("many small")
	if len(c.m) != maxSnapshots {
		t.Errorf("%d kept, want the bound %d", len(c.m), maxSnapshots)
	}
	for i := range 20 {
		c.put(snapshotKey{id: "big" + strconv.Itoa(i)}, 1, withEvents(maxSnapshotRows/5))
	}
	check("big ones")
	c.put(snapshotKey{id: "big0"}, 2, withEvents(10))
	check("one replaced")
	if e, ok := c.get(snapshotKey{id: "big0"}); !ok || e.version != 2 {
		t.Errorf("replaced snapshot: %+v, %v; want version 2", e.version, ok)
	}
	c.put(snapshotKey{id: "huge"}, 1, withEvents(maxSnapshotRows))
	if _, ok := c.get(snapshotKey{id: "huge"}); ok {
		t.Error("a snapshot of more rows than a quarter of the bound was kept")
	}
	check("huge")
}
