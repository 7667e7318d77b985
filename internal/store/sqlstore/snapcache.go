package sqlstore

import (
	"context"
	"sync"

	"github.com/rekeyhq/rekey/internal/store"
)

// maxSnapshots bounds the snapshots kept: the API reads the same
// incidents again and again (its pages, its clients polling), and an
// incident's snapshot is tens of kilobytes.
const maxSnapshots = 2048

// snapshotCache keeps the last snapshot read of each incident with the
// version it was read at (in the same transaction as its rows). Every
// write that holds the incident raises that version in its own
// transaction (Store.write), so a snapshot whose version is still the
// incident's holds what the store holds: a write committed after it was
// read has raised the version, and one committed before is in it. The
// version lives in the database, so writes by other processes (the CLI,
// other replicas) count as well as this one's.
type snapshotCache struct {
	mu sync.Mutex
	m  map[snapshotKey]cachedSnapshot
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
}

func (c *snapshotCache) get(k snapshotKey) (cachedSnapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok
}

func (c *snapshotCache) put(k snapshotKey, version int64, snap store.Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[snapshotKey]cachedSnapshot{}
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= maxSnapshots {
		for old := range c.m { // any one: map order is unspecified
			delete(c.m, old)
			break
		}
	}
	c.m[k] = cachedSnapshot{version: version, snap: snap}
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
