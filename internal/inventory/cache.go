package inventory

import (
	"crypto/sha256"
	"sync"
)

// Cache keeps the last parse of each inventory file it loaded, for a
// process that reads the same file again and again (rekey serve reads it
// for every scope it answers). The file is read every time, which is
// cheap; parsing it is not. A parse is reused only while the bytes read
// hash the same: an edit is seen on the next Load whatever it did to the
// file's size or time (an editor that keeps both, a restored backup).
//
// The Inventory returned is shared by every caller that loaded the same
// bytes: it must not be changed.
type Cache struct {
	opts Options
	mu   sync.Mutex
	m    map[string]parsed
}

// maxCached bounds the files kept: a server reads the few inventories
// its incidents were opened with.
const maxCached = 64

type parsed struct {
	sum [sha256.Size]byte
	inv *Inventory
	rep *Report
}

// NewCache returns a cache whose parses use opts, the same for every
// file (Getenv in it must answer the same over the cache's life).
func NewCache(opts Options) *Cache { return &Cache{opts: opts} }

// Load is the package's Load through the cache.
func (c *Cache) Load(path string) (*Inventory, *Report, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(data)
	c.mu.Lock()
	p, ok := c.m[path]
	c.mu.Unlock()
	if ok && p.sum == sum {
		return p.inv, p.rep, nil
	}
	inv, rep, err := Parse(path, data, c.opts)
	if err != nil {
		return nil, nil, err // not kept: the next Load tells again
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]parsed{}
	}
	if _, ok := c.m[path]; !ok && len(c.m) >= maxCached {
		for k := range c.m { // any one: map order is unspecified
			delete(c.m, k)
			break
		}
	}
	c.m[path] = parsed{sum: sum, inv: inv, rep: rep}
	return inv, rep, nil
}
