package git

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"hash/maphash"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rekeyhq/rekey/internal/gitpack"
	"github.com/rekeyhq/rekey/internal/source"
)

// A probed walk (WalkProbed) first reads the repository's packs directly
// and runs the caller's probe on every version of every blob, but only
// where a version differs from the one the pack stores it against (the
// delta's inserted bytes and the joins of its copies, each with
// ContextLines of context and any key block it touches) or, for a version
// stored whole, on all of it. Then only the blobs where the probe found
// something, and those no pack could give (loose objects, damage, very
// large files), go through the ordinary walk, with the same chunks, so
// the same findings, as an unprobed walk.
//
// Why this misses nothing an unprobed walk finds: every byte of a version
// is either inserted by its delta or copied from its base. Something the
// probe finds in a version either lies within one copy (then the base
// holds it at the copied place, and, by induction down to a version
// stored whole, some version where it was probed holds it; its offset is
// carried down through the copies to every version that copies it, which
// is then kept) or it overlaps an inserted range or a join (then it is in
// a probed window). The probe sees each version under the same path (so
// the same decoders) as the ordinary walk; a version stored against one
// of another extension, or against one not probed (binary, unreadable),
// is probed whole. Identical windows under the same extension are probed
// once: the probe's answer depends only on the text and the path's
// decoders (a 64-bit hash decides identity, ~2⁻⁶⁴ per pair).
//
// Objects the packs do not hold (loose objects, another repository's
// alternates that are not packs) are simply not seen, and the ordinary
// walk reads them.

// maxHeld bounds what each worker of the pack walk keeps of a delta
// chain (gitpack.WalkOptions.MaxHeld): long chains of large files past it
// are read by the ordinary walk instead, so memory stays near the scan's
// own whatever the repository.
const maxHeld = 64 << 20

// probeState is what a probed version tells the versions stored against
// it.
type probeState struct {
	probed bool   // every place the probe could find something in was probed or inherited
	ext    string // the extension of the path it was probed under
	hits   []int  // offsets in the version where the probe found something
	keys   bool   // it may hold a key block: its copies must widen to one
}

// WalkProbed implements source.Prober: Walk, less the blobs in which probe
// finds nothing.
func (s *Source) WalkProbed(ctx context.Context, probe source.Probe, emit func(source.Chunk) error) error {
	return s.walk(ctx, probe, emit)
}

var _ source.Prober = (*Source)(nil)

// probePacks runs probe over every blob of the repository's packs and
// marks in h which listed blobs need the ordinary walk. It returns false
// when the packs cannot be used at all, and then nothing is marked.
func (s *Source) probePacks(ctx context.Context, h *history, probe source.Probe, packs []*gitpack.Pack) bool {
	for _, b := range h.blobs {
		if len(b.id) != 2*gitpack.HashLen {
			return false // a SHA-256 repository
		}
	}
	if len(packs) == 0 {
		return false
	}
	seen := make([]bool, len(h.blobs))
	hit := make([]bool, len(h.blobs))
	index := make(map[string]int32, len(h.blobs))
	for i, b := range h.blobs {
		index[b.id] = int32(i)
	}
	indexOf := func(id []byte) (int32, bool) {
		var hexID [2 * gitpack.HashLen]byte
		hex.Encode(hexID[:], id)
		i, ok := index[string(hexID[:])]
		return i, ok
	}
	want := func(id []byte) bool {
		_, ok := indexOf(id)
		return ok
	}
	cache := windowCache{seed: maphash.MakeSeed()}
	opts := gitpack.WalkOptions{MaxSize: int64(s.opts.Chunking.Size), MaxHeld: maxHeld, Want: want}
	for _, p := range packs {
		err := gitpack.Walk(ctx, p, opts, func(o *gitpack.Object[probeState]) error {
			i, listed := indexOf(o.ID)
			if o.Err != nil {
				return nil
			}
			if binary(o.Data) {
				if listed {
					seen[i] = true // the ordinary walk skips it too
				}
				return nil
			}
			// A blob no ref reaches (a pack may hold them) has no path: it
			// is probed as its base was, which is what matters for the
			// versions stored against it.
			p := ""
			if listed {
				p = primaryPath(h.blobs[i])
			} else if o.Base != nil {
				p = "unreachable" + o.Base.State.ext
			}
			found := s.probeVersion(o, p, probe, &cache)
			if listed {
				// Each blob is visited once per pack that holds it;
				// distinct blobs are distinct slots.
				seen[i] = true
				if found {
					hit[i] = true
				}
			}
			return nil
		})
		if err != nil {
			return false
		}
	}
	for i, b := range h.blobs {
		if seen[i] && !hit[i] {
			b.need = needNone
		}
	}
	// A kept version is scanned where it differs from the version it
	// replaced, as in an unprobed walk: that version's lines are read too.
	for _, b := range h.blobs {
		if b.need == needScan {
			if base := h.base(b); base != nil && base.need == needNone {
				base.need = needLines
			}
		}
	}
	return true
}

// probeVersion probes what o adds to its base (or all of o) under path p,
// records in o.State what its descendants need, and reports whether the
// probe found anything in o, there or inherited.
func (s *Source) probeVersion(o *gitpack.Object[probeState], p string, probe source.Probe, cache *windowCache) bool {
	ext := strings.ToLower(path.Ext(p))
	st := &o.State
	st.ext = ext
	base := o.Base
	if base == nil || !base.State.probed || base.State.ext != ext || wholeFile(p) || len(o.Copies) == 0 {
		st.hits = offsetsIn(probe(source.Chunk{Data: o.Data, Loc: source.Location{Path: p, Line: 1, Column: 1}}), 0, nil)
		st.probed = true
		st.keys = mayHoldKeys(o.Data)
		return len(st.hits) > 0
	}
	for _, h := range base.State.hits {
		for _, c := range o.Copies {
			if c.Src <= h && h < c.Src+c.Len {
				st.hits = append(st.hits, c.Dst+h-c.Src)
			}
		}
	}
	scratch := scratchPool.Get().(*probeScratch)
	defer scratchPool.Put(scratch)
	scratch.changed = o.Changed(scratch.changed)
	changed := scratch.changed
	st.keys = base.State.keys
	if !st.keys {
		// A marker cut by a change is within 32 bytes of it (markers are
		// shorter); nearby changes are searched as one span.
		lo, hi := -1, -1
		for _, c := range changed {
			a, b := max(0, c[0]-32), min(len(o.Data), c[1]+32)
			if a <= hi {
				hi = max(hi, b)
				continue
			}
			if hi > lo && mayHoldKeys(o.Data[lo:hi]) {
				break
			}
			lo, hi = a, b
		}
		st.keys = hi > lo && mayHoldKeys(o.Data[lo:hi])
	}
	scratch.windows = windows(o.Data, changed, st.keys, scratch.windows[:0])
	for _, w := range scratch.windows {
		data := o.Data[w[0]:w[1]]
		key := cache.key(ext, data)
		if cache.has(key) {
			continue
		}
		// A window at the top of the file is probed as the start of a
		// file (the ordinary walk's first region is too); others as a
		// region further down.
		line := 2
		if w[0] == 0 {
			line = 1
		}
		found := probe(source.Chunk{Data: data, Loc: source.Location{Path: p, Line: line, Column: 1}})
		if len(found) == 0 {
			cache.add(key)
			continue
		}
		st.hits = offsetsIn(found, w[0], st.hits)
	}
	st.probed = true
	return len(st.hits) > 0
}

// probeScratch holds one visit's ranges, reused across visits.
type probeScratch struct{ changed, windows [][2]int }

var scratchPool = sync.Pool{New: func() any { return new(probeScratch) }}

func offsetsIn(found []int, at int, out []int) []int {
	for _, f := range found {
		out = append(out, at+f)
	}
	return out
}

func mayHoldKeys(b []byte) bool {
	for _, m := range blockMarkers {
		if bytes.Contains(b, m.begin) || bytes.Contains(b, m.end) {
			return true
		}
	}
	return false
}

// windows turns the changed byte ranges of data into the byte ranges to
// probe: each widened to whole lines and ContextLines more on each side,
// overlapping ones merged; when data may hold key blocks, as the ordinary
// walk's regions do, widened to every block a change touches.
func windows(data []byte, changed [][2]int, keys bool, out [][2]int) [][2]int {
	if keys {
		_, starts := lineHashes(data)
		spans := make([]span, 0, len(changed))
		for _, c := range changed {
			lo := lineOf(starts, c[0])
			hi := lo
			if c[1] > c[0] {
				hi = lineOf(starts, c[1]-1) + 1
			}
			spans = append(spans, span{lo, hi})
		}
		for _, r := range regions(data, starts, spans) {
			out = append(out, [2]int{starts[r.lo], starts[r.hi]})
		}
		return out
	}
	for _, c := range changed {
		last := c[0]
		if c[1] > c[0] {
			last = c[1] - 1
		}
		if n := len(out); n > 0 && c[0] < out[n-1][1] {
			// Starts inside the window before: only its end can grow.
			if last >= out[n-1][1] {
				hi := lineEnd(data, last)
				for k := 0; k < ContextLines && hi < len(data); k++ {
					hi = lineEnd(data, hi)
				}
				out[n-1][1] = max(out[n-1][1], hi)
			}
			continue
		}
		lo := lineStart(data, c[0])
		for k := 0; k < ContextLines && lo > 0; k++ {
			lo = lineStart(data, lo-1)
		}
		hi := lineEnd(data, last)
		for k := 0; k < ContextLines && hi < len(data); k++ {
			hi = lineEnd(data, hi)
		}
		if n := len(out); n > 0 && lo <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], hi)
			continue
		}
		out = append(out, [2]int{lo, hi})
	}
	return out
}

// lineOf returns the line (0-based) holding offset off; starts ends with
// the sentinel len(data).
func lineOf(starts []int, off int) int {
	lo, hi := 0, len(starts)-1
	for lo+1 < hi {
		m := (lo + hi) / 2
		if starts[m] <= off {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// lineStart is the start of the line holding offset i.
func lineStart(data []byte, i int) int {
	return bytes.LastIndexByte(data[:min(i, len(data))], '\n') + 1
}

// lineEnd is the offset just past the end of the line holding offset i.
func lineEnd(data []byte, i int) int {
	if i >= len(data) {
		return len(data)
	}
	if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(data)
}

// primaryPath is the path a blob is emitted under (see locate).
func primaryPath(b *blob) string {
	for _, o := range b.occ {
		if o.atHead {
			return o.path
		}
	}
	return b.occ[0].path
}

// windowCache remembers windows the probe found nothing in, by a hash of
// their extension and text, shared by the walk's workers.
type windowCache struct {
	seed   maphash.Seed
	shards [16]struct {
		mu  sync.Mutex
		set map[uint64]struct{}
	}
}

func (c *windowCache) key(ext string, data []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(ext)
	h.WriteByte(0)
	h.Write(data)
	return h.Sum64()
}

func (c *windowCache) has(k uint64) bool {
	s := &c.shards[k%16]
	s.mu.Lock()
	_, ok := s.set[k]
	s.mu.Unlock()
	return ok
}

func (c *windowCache) add(k uint64) {
	s := &c.shards[k%16]
	s.mu.Lock()
	if s.set == nil {
		s.set = map[uint64]struct{}{}
	}
	s.set[k] = struct{}{}
	s.mu.Unlock()
}

// openPacks opens the packs of the repository's object store and of its
// alternates. A pack that cannot be read is left out: its blobs are then
// not seen, and the ordinary walk reads them.
func (s *Source) openPacks(ctx context.Context) []*gitpack.Pack {
	var out []*gitpack.Pack
	for _, f := range s.packFiles(ctx) {
		if p, err := gitpack.Open(f); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// packFiles lists the packs of the repository's object store and of its
// alternates.
func (s *Source) packFiles(ctx context.Context) []string {
	out, err := run(ctx, s.gitDir, "rev-parse", "--git-path", "objects")
	if err != nil {
		return nil
	}
	objects := strings.TrimSpace(string(out))
	if !filepath.IsAbs(objects) {
		objects = filepath.Join(s.gitDir, objects)
	}
	dirs := []string{objects}
	if f, err := os.Open(filepath.Join(objects, "info", "alternates")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !filepath.IsAbs(line) {
				line = filepath.Join(objects, line)
			}
			dirs = append(dirs, line)
		}
		f.Close()
	}
	var packs []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, "pack", "*.pack"))
		packs = append(packs, m...)
	}
	return packs
}
