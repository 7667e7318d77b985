package sqlstore

import (
	"context"
	"sync"

	"github.com/rekeyhq/rekey/internal/store"
)

// The snapshots kept are bounded in number and in rows (about 300 bytes
// each): the API reads the same incidents again and again (its pages, its
// clients polling), a typical snapshot is tens of kilobytes, and one
// incident with a hundred thousand logged uses must not fill the memory.
const (
	maxSnapshots    = 4096
	maxSnapshotRows = 200_000
)

// rowsOf is what a snapshot weighs against maxSnapshotRows.
func rowsOf(s store.Snapshot) int {
	n := 1 + len(s.Occurrences) + len(s.Consumers) + len(s.Events) + len(s.Reviews)
	for _, id := range s.Identities {
		n += 1 + len(id.Privileges) + len(id.Sessions) + len(id.Related)
	}
	return n
}

// snapshotCache keeps the last snapshot read of each incident with the
// version it was read at (in the same transaction as its rows). Every
// write that holds the incident raises that version in its own
// transaction (Store.write), so a snapshot whose version is still the
// incident's holds what the store holds: a write committed after it was
// read has raised the version, and one committed before is in it. The
// version lives in the database, so writes by other processes (the CLI,
// other replicas) count as well as this one's.
type snapshotCache struct {
	mu   sync.Mutex
	m    map[snapshotKey]cachedSnapshot
	rows int // rowsOf every kept snapshot
}

type snapshotKey struct {
	id    string
	parts snapshotParts
}

// snapshotParts is the set of store.SnapshotPart a snapshot was read with.
type snapshotParts uint8

func partsOf(with []store.SnapshotPart) snapshotParts {
	var p snapshotParts
	for _, w := range with {
		p |= 1 << w
	}
	return p
}

func (p snapshotParts) has(w store.SnapshotPart) bool { return p&(1<<w) != 0 }

type cachedSnapshot struct {
	version int64
	snap    store.Snapshot
	rows    int
}

func (c *snapshotCache) get(k snapshotKey) (cachedSnapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok
}

func (c *snapshotCache) put(k snapshotKey, version int64, snap store.Snapshot) {
	rows := rowsOf(snap)
	if rows > maxSnapshotRows/4 {
		return // too big to keep without pushing out many others
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[snapshotKey]cachedSnapshot{}
	}
	c.drop(k)
	for old := range c.m { // any ones: map order is unspecified
		if len(c.m) < maxSnapshots && c.rows+rows <= maxSnapshotRows {
			break
		}
		c.drop(old)
	}
	c.m[k] = cachedSnapshot{version: version, snap: snap, rows: rows}
	c.rows += rows
}

func (c *snapshotCache) drop(k snapshotKey) {
	if e, ok := c.m[k]; ok {
		c.rows -= e.rows
		delete(c.m, k)
	}
}

// cachedSnapshot returns the kept snapshot for k when the incident's
// version is still the one it was read at. Any failure to tell is a
// miss: the full read then reports it.
func (s *Store) cachedSnapshot(ctx context.Context, k snapshotKey) (store.Snapshot, bool) {
	e, ok := s.snaps.get(k)
	if !ok {
		return store.Snapshot{}, false
	}
	var v int64
	if err := s.db.QueryRowContext(ctx, `SELECT version FROM incidents WHERE id = $1`, k.id).Scan(&v); err != nil || v != e.version {
		return store.Snapshot{}, false
	}
	return e.snap.Clone(), true
}

// withVersion scans a row of incidentCols followed by the version.
type withVersion struct {
	r       scanner
	version *int64
}

func (w withVersion) Scan(dest ...any) error { return w.r.Scan(append(dest, w.version)...) }

// DropSnapshots forgets every kept snapshot: the next read of each
// incident reads it whole, as its first read or its first after a write
// does (for benchmarks of that read).
func (s *Store) DropSnapshots() {
	s.snaps.mu.Lock()
	defer s.snaps.mu.Unlock()
	s.snaps.m, s.snaps.rows = nil, 0
}
