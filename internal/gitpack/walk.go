package gitpack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/klauspost/compress/zlib"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Copy is one copy instruction of a delta: Len bytes of the base from Src
// land at Dst in the object. The bytes of an object that no copy covers
// are the ones its delta inserted.
type Copy struct{ Src, Dst, Len int }

// Object is one blob met by Walk. It and everything it points to are valid
// only during the call to visit (buffers are reused), except State, which
// the objects stored against it see through Base while they are visited.
type Object[S any] struct {
	ID []byte
	// Data is the object's content; nil when Err is set.
	Data []byte
	// Base is the object this one is stored as a delta against, nil for
	// an object stored whole. Its Data is valid during this visit.
	Base *Object[S]
	// Copies are the delta's copies from Base, in the order of Dst.
	Copies []Copy
	// Err says why Data could not be rebuilt: damage, a base in another
	// pack, a size over WalkOptions.MaxSize. Every object stored against
	// this one gets an error too.
	Err error
	// State is the caller's: set it during the visit, read it from Base.
	State S
}

// WalkOptions configure Walk.
type WalkOptions struct {
	// Workers rebuild separate delta trees at once (default GOMAXPROCS).
	Workers int
	// MaxSize is the largest object rebuilt (0: no limit); a larger one,
	// and everything stored against it, is visited with ErrTooLarge.
	MaxSize int64
	// MaxHeld bounds the bytes one worker holds for the chain it is
	// rebuilding (each version's base stays in memory while the versions
	// stored against it are rebuilt): an object that would take the chain
	// past it is visited with ErrTooLarge, as are those stored against
	// it. 0 means 256 MiB.
	MaxHeld int64
	// Want, when set, limits the walk to the objects it accepts and those
	// they are stored against (which are rebuilt and visited too, since a
	// wanted object holds what it copies from them).
	Want func(id []byte) bool
}

// ErrTooLarge is the Err of an object over WalkOptions.MaxSize, or whose
// chain of bases would hold more than WalkOptions.MaxHeld.
var ErrTooLarge = errors.New("object larger than the size limit")

// ErrBaseMissing is the Err of a delta whose base is not in its pack.
var ErrBaseMissing = errors.New("delta base not in the pack")

// Walk visits every blob of the pack, each base before the objects stored
// against it, rebuilding each one from its base so that every version
// costs the inflation of its delta and one copy. Separate delta trees are
// walked by separate workers at once, so visit must be safe for
// concurrent use; one tree's objects are visited one at a time. Memory is
// the rebuilt objects of one path from a root to a leaf per worker (git
// bounds delta chains at 50 by default). Walk stops at the first error
// visit returns, or when ctx is done.
func Walk[S any](ctx context.Context, p *Pack, opts WalkOptions, visit func(*Object[S]) error) error {
	n := p.Len()
	// Children of each object, as index ranges into kids.
	first := make([]int32, n+1)
	for _, b := range p.base {
		if b >= 0 {
			first[b+1]++
		}
	}
	for i := range n {
		first[i+1] += first[i]
	}
	kids := make([]int32, first[n])
	fill := slices.Clone(first[:n])
	for k, b := range p.base {
		if b >= 0 {
			kids[fill[b]] = int32(k)
			fill[b]++
		}
	}
	// Roots: blobs stored whole, and deltas whose base is elsewhere (of
	// unknown type: visited with ErrBaseMissing, which a caller looking
	// for blobs ignores for anything it does not know as one). Largest
	// trees first, so that workers finish together.
	sub := make([]int32, n)
	for k := n - 1; k >= 0; k-- {
		sub[k]++
		if b := p.base[k]; b >= 0 && int(b) < k {
			sub[b] += sub[k]
		}
	}
	var needed []bool
	if opts.Want != nil {
		needed = make([]bool, n)
		for k := range n {
			if !opts.Want(p.ID(k)) {
				continue
			}
			for b := int32(k); b >= 0 && !needed[b]; b = p.base[b] {
				needed[b] = true
			}
		}
	}
	var roots []int32
	for k := range n {
		if (p.kind[k] == Blob || p.base[k] == missingBase) && (needed == nil || needed[k]) {
			roots = append(roots, int32(k))
		}
	}
	slices.SortStableFunc(roots, func(a, b int32) int { return int(sub[b] - sub[a]) })

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		errOnce sync.Once
		walkErr error
		wg      sync.WaitGroup
	)
	for range min(workers, max(1, len(roots))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &walker[S]{p: p, opts: opts, first: first, kids: kids, needed: needed, visit: visit}
			for {
				i := next.Add(1) - 1
				if int(i) >= len(roots) || ctx.Err() != nil {
					return
				}
				if err := w.node(int(roots[i]), 0, nil); err != nil {
					errOnce.Do(func() { walkErr = err; cancel() })
					return
				}
				w.shrink()
			}
		}()
	}
	wg.Wait()
	if walkErr != nil {
		return walkErr
	}
	return ctx.Err()
}

// walker is one worker's state: a rebuilt object and its copies per depth
// of the tree being walked, reused from tree to tree.
type walker[S any] struct {
	p           *Pack
	opts        WalkOptions
	first, kids []int32
	needed      []bool // nil: every object
	visit       func(*Object[S]) error
	levels      []*level[S]
	packed      []byte // the zlib stream being inflated
	delta       []byte
	zr          io.ReadCloser
	br          bytes.Reader
}

type level[S any] struct {
	obj    Object[S]
	buf    []byte
	copies []Copy
}

// held is what the levels above depth d keep: the bases of the object
// being rebuilt at d.
func (w *walker[S]) held(d int) int64 {
	var n int64
	for _, lv := range w.levels[:d] {
		n += int64(cap(lv.buf))
	}
	return n
}

// shrink lets go, between trees, of the buffers a large file grew, so
// one large tree does not keep its memory for the rest of the walk.
func (w *walker[S]) shrink() {
	for _, lv := range w.levels {
		if cap(lv.buf) > 1<<20 {
			lv.buf = nil
		}
	}
	if cap(w.delta) > 1<<20 {
		w.delta = nil
	}
	if cap(w.packed) > 1<<20 {
		w.packed = nil
	}
}

func (w *walker[S]) level(d int) *level[S] {
	for len(w.levels) <= d {
		w.levels = append(w.levels, &level[S]{})
	}
	return w.levels[d]
}

// node rebuilds object k (stored against parent, or whole when parent is
// nil), visits it and then its children. A tree is at most as deep as
// git's delta chains (50 by default, 4095 at most), so recursion is fine.
func (w *walker[S]) node(k, depth int, parent *Object[S]) error {
	lv := w.level(depth)
	obj := &lv.obj
	var zero S
	*obj = Object[S]{ID: w.p.ID(k), Base: parent, State: zero}
	switch {
	case parent == nil && w.p.base[k] == missingBase:
		obj.Err = ErrBaseMissing
	case parent != nil && parent.Err != nil:
		obj.Err = fmt.Errorf("its delta base %x: %w", parent.ID, parent.Err)
	case parent == nil:
		size := w.p.size[k]
		if err := w.p.plausible(k); err != nil {
			obj.Err = err
			break
		}
		if w.opts.MaxSize > 0 && size > w.opts.MaxSize || size > w.maxHeld() {
			obj.Err = ErrTooLarge
			break
		}
		lv.buf = w.grow(lv, depth, int(size))
		if err := w.inflate(k, lv.buf); err != nil {
			obj.Err = err
			break
		}
		obj.Data = lv.buf
	default:
		if err := w.p.plausible(k); err != nil {
			obj.Err = err
			break
		}
		w.delta = grow(w.delta, int(w.p.size[k]))
		if err := w.inflate(k, w.delta); err != nil {
			obj.Err = err
			break
		}
		size, err := targetSize(w.delta, len(parent.Data))
		if err != nil {
			obj.Err = err
			break
		}
		if w.opts.MaxSize > 0 && int64(size) > w.opts.MaxSize || w.held(depth)+int64(size) > w.maxHeld() {
			obj.Err = ErrTooLarge
			break
		}
		lv.buf = w.grow(lv, depth, size)
		if lv.copies, err = apply(parent.Data, w.delta, lv.buf, lv.copies[:0]); err != nil {
			obj.Err = err
			break
		}
		obj.Data, obj.Copies = lv.buf, lv.copies
	}
	if obj.Err != nil {
		obj.Err = fmt.Errorf("object %x in %s: %w", obj.ID, w.p.path, obj.Err)
	}
	if err := w.visit(obj); err != nil {
		return err
	}
	for _, c := range w.kids[w.first[k]:w.first[k+1]] {
		if w.needed != nil && !w.needed[c] {
			continue
		}
		if err := w.node(int(c), depth+1, obj); err != nil {
			return err
		}
	}
	return nil
}

// maxRatio bounds how much deflate can expand: 258 bytes from 2 bits,
// ~1032:1 (RFC 1951), with room for the stream's header.
const maxRatio = 1032

// plausible refuses a header size no zlib stream of the object's stored
// length can hold, before a buffer of that size is made: a damaged or
// crafted pack must not make the walk allocate what it says.
func (p *Pack) plausible(k int) error {
	stored := p.off[k+1] - p.data[k]
	if p.size[k] < 0 || p.size[k] > stored*maxRatio+64 {
		return fmt.Errorf("its header says %d bytes, its %d stored bytes cannot hold them", p.size[k], stored)
	}
	return nil
}

// inflate reads object k's zlib stream into out, which has the size its
// header gives.
func (w *walker[S]) inflate(k int, out []byte) error {
	start, end := w.p.data[k], w.p.off[k+1]
	w.packed = grow(w.packed, int(end-start))
	if _, err := w.p.r.ReadAt(w.packed, start); err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	w.br.Reset(w.packed)
	var err error
	if w.zr == nil {
		w.zr, err = zlib.NewReader(&w.br)
	} else {
		err = w.zr.(zlib.Resetter).Reset(&w.br, nil)
	}
	if err != nil {
		return fmt.Errorf("inflating: %w", err)
	}
	if _, err := io.ReadFull(w.zr, out); err != nil {
		return fmt.Errorf("inflating: %w", err)
	}
	// Reading to the end is what checks the stream's checksum, and that
	// it is no longer than the header said (a damaged size would
	// otherwise give a truncated object without an error). Object ids are
	// not recomputed: hashing every rebuilt version would cost more than
	// the rest of the walk.
	var one [1]byte
	if n, err := w.zr.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("the object is longer than its header says")
		}
		return fmt.Errorf("inflating: %w", err)
	}
	return nil
}

func (w *walker[S]) maxHeld() int64 {
	if w.opts.MaxHeld > 0 {
		return w.opts.MaxHeld
	}
	return 256 << 20
}

// grow resizes a level's buffer to n bytes; when it must be reallocated,
// the room it keeps to spare stays within what the chain may hold.
func (w *walker[S]) grow(lv *level[S], depth, n int) []byte {
	if cap(lv.buf) >= n {
		return lv.buf[:n]
	}
	lv.buf = nil
	spare := min(n/4, int(max(0, w.maxHeld()-w.held(depth)-int64(n))))
	return make([]byte, n, n+spare)
}

// grow returns b resized to n, reallocated with a quarter to spare when
// too small: the next versions of a file are usually a little larger.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n, n+n/4)
	}
	return b[:n]
}

var errDelta = errors.New("damaged delta")

// varint reads a delta header size: little-endian base-128.
func varint(d []byte) (int, []byte, bool) {
	v, shift := 0, 0
	for i, c := range d {
		if shift > 56 {
			return 0, nil, false
		}
		v |= int(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			return v, d[i+1:], true
		}
	}
	return 0, nil, false
}

// targetSize checks a delta's base size and returns the size of what it
// builds.
func targetSize(delta []byte, baseLen int) (int, error) {
	src, rest, ok := varint(delta)
	if !ok {
		return 0, errDelta
	}
	if src != baseLen {
		return 0, fmt.Errorf("%w: it is against %d bytes, its base has %d", errDelta, src, baseLen)
	}
	dst, _, ok := varint(rest)
	if !ok {
		return 0, errDelta
	}
	return dst, nil
}

// apply runs a delta's instructions against base into out (of the target
// size) and returns its copies.
func apply(base, delta, out []byte, copies []Copy) ([]Copy, error) {
	_, d, _ := varint(delta)
	_, d, _ = varint(d)
	at := 0
	for i := 0; i < len(d); {
		c := d[i]
		i++
		if c&0x80 == 0 {
			if c == 0 {
				return copies, fmt.Errorf("%w: reserved instruction 0", errDelta)
			}
			n := int(c)
			if i+n > len(d) || at+n > len(out) {
				return copies, fmt.Errorf("%w: insert past its end", errDelta)
			}
			copy(out[at:], d[i:i+n])
			i += n
			at += n
			continue
		}
		// A copy: which offset and size bytes follow is in c's low
		// seven bits; a size of 0 means 64 KiB.
		var off, n int
		for b := range 7 {
			if c&(1<<b) == 0 {
				continue
			}
			if i >= len(d) {
				return copies, fmt.Errorf("%w: copy instruction cut short", errDelta)
			}
			if b < 4 {
				off |= int(d[i]) << (8 * b)
			} else {
				n |= int(d[i]) << (8 * (b - 4))
			}
			i++
		}
		if n == 0 {
			n = 0x10000
		}
		if off+n > len(base) || at+n > len(out) {
			return copies, fmt.Errorf("%w: copy outside its base or target", errDelta)
		}
		copy(out[at:], base[off:off+n])
		copies = append(copies, Copy{Src: off, Dst: at, Len: n})
		at += n
	}
	if at != len(out) {
		return copies, fmt.Errorf("%w: it builds %d bytes of %d", errDelta, at, len(out))
	}
	return copies, nil
}

// Changed returns the byte ranges of o.Data that are not a continuation
// of the base: what the delta inserted, and (as empty ranges) the places
// where two copies from distant places of the base meet, which can bring
// together text that was apart. An object stored whole has no base to
// compare with: Changed returns its whole content as one range.
func (o *Object[S]) Changed(out [][2]int) [][2]int {
	out = out[:0]
	if o.Base == nil {
		return append(out, [2]int{0, len(o.Data)})
	}
	// The start and end of the object count as places in the base (its
	// start and end): a copy from the middle of the base that begins the
	// object puts text at the start of a line, or of the file, that was
	// not there before.
	at, prevEnd := 0, 0
	for _, c := range o.Copies {
		switch {
		case c.Dst > at:
			out = append(out, [2]int{at, c.Dst})
		case c.Src != prevEnd:
			out = append(out, [2]int{at, at})
		}
		at = c.Dst + c.Len
		prevEnd = c.Src + c.Len
	}
	switch {
	case at < len(o.Data):
		out = append(out, [2]int{at, len(o.Data)})
	case prevEnd != len(o.Base.Data):
		out = append(out, [2]int{at, at})
	}
	return out
}
