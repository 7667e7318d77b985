// Package gitpack reads a git repository's object packs directly: the
// index, each object's header and its delta against the object it was
// stored against, and walks each pack's delta forest so that every version
// of every blob is rebuilt from its base, together with where it differs
// from it.
//
// Why not through git or go-git: a history scan needs, for each of tens of
// thousands of file versions, only the places where it differs from a
// version already scanned. The pack holds exactly that (a delta is a list
// of copies from its base and inserted bytes), but `git cat-file` and
// go-git's packfile API hand out whole objects, so the difference would
// have to be recomputed by diffing every version's lines (1.5 GB of text
// for tmux's history, most of the time of a history scan;
// docs/performance.md). The formats read here are git's documented
// pack-format (gitformat-pack(5)): index version 2, pack version 2 and 3.
package gitpack

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// Kind is a git object type as the pack stores it.
type Kind uint8

// The object types of pack-format; 5 is reserved.
const (
	Commit   Kind = 1
	Tree     Kind = 2
	Blob     Kind = 3
	Tag      Kind = 4
	OfsDelta Kind = 6
	RefDelta Kind = 7
)

// HashLen is the length of a SHA-1 object id; packs of SHA-256
// repositories are not read (Open refuses an index whose size does not fit
// SHA-1 ids).
const HashLen = 20

// noBase marks an object stored whole; missingBase a REF_DELTA whose base
// is not in the same pack.
const (
	noBase      = -1
	missingBase = -2
)

// Pack is one packfile with its index, read once by Open. Objects are
// numbered in the order they sit in the pack (offset order).
type Pack struct {
	path string
	r    io.ReaderAt
	c    io.Closer // nil for a pack in memory
	len  int64     // of the pack file
	ids  []byte    // HashLen bytes per object, in index (id) order
	pos  []int32   // index order → pack order
	off  []int64   // pack order → offset; off[n] is where the trailer starts
	idOf []int32   // pack order → index order
	kind []Kind    // pack order: the stored type (deltas as OfsDelta/RefDelta)
	data []int64   // pack order: offset of the zlib stream (after the header)
	size []int64   // pack order: the inflated size (of the delta, for deltas)
	base []int32   // pack order: the base's pack order number, noBase or missingBase
}

// Open reads the index of the pack at path (….pack, with ….idx beside it)
// and every object's header. The pack stays open until Close.
func Open(path string) (*Pack, error) {
	idxPath := strings.TrimSuffix(path, ".pack") + ".idx"
	idx, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	p, err := read(path, idx, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	p.c = f
	return p, nil
}

// read reads a pack of size bytes from r with its index idx; name says
// which in errors.
func read(name string, idx []byte, r io.ReaderAt, size int64) (*Pack, error) {
	p := &Pack{path: name, r: r, len: size}
	if err := p.readIndex(idx); err != nil {
		return nil, fmt.Errorf("%s (index): %w", name, err)
	}
	if err := p.readHeaders(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// Close closes the pack file.
func (p *Pack) Close() error {
	if p.c == nil {
		return nil
	}
	return p.c.Close()
}

// Len is the number of objects in the pack.
func (p *Pack) Len() int { return len(p.kind) }

// ID returns the id of object i (pack order); it must not be modified.
func (p *Pack) ID(i int) []byte {
	j := int(p.idOf[i])
	return p.ids[j*HashLen : (j+1)*HashLen]
}

var errIndex = errors.New("not a version 2 pack index")

// readIndex parses an index version 2: magic, version, a 256-entry fanout,
// the sorted ids, their CRCs, 31-bit offsets (the high bit set: an entry
// of the 64-bit table that follows) and two trailing checksums.
func (p *Pack) readIndex(b []byte) error {
	if len(b) < 8+256*4 || !bytes.Equal(b[:4], []byte{0xff, 't', 'O', 'c'}) || binary.BigEndian.Uint32(b[4:8]) != 2 {
		return errIndex
	}
	fan := b[8 : 8+256*4]
	n := int(binary.BigEndian.Uint32(fan[255*4:]))
	ids := 8 + 256*4
	offs := ids + n*HashLen + n*4
	large := offs + n*4
	if n < 0 || large+2*HashLen > len(b) {
		return fmt.Errorf("index truncated or not SHA-1 (%d objects, %d bytes)", n, len(b))
	}
	// The 64-bit table plus the two checksums is all that may follow; any
	// other size is a SHA-256 index or damage.
	rest := len(b) - large - 2*HashLen
	if rest%8 != 0 {
		return fmt.Errorf("index size does not fit %d SHA-1 ids", n)
	}
	p.ids = b[ids : ids+n*HashLen]
	off := make([]int64, n)
	for i := range n {
		o := binary.BigEndian.Uint32(b[offs+4*i:])
		if o&0x80000000 == 0 {
			off[i] = int64(o)
			continue
		}
		k := int(o & 0x7fffffff)
		if large+8*k+8 > len(b)-2*HashLen {
			return fmt.Errorf("object %d: 64-bit offset %d outside the table", i, k)
		}
		off[i] = int64(binary.BigEndian.Uint64(b[large+8*k:]))
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, c int32) int { return int(off[a] - off[c]) })
	p.idOf = order
	p.pos = make([]int32, n)
	p.off = make([]int64, n+1)
	for k, j := range order {
		p.pos[j] = int32(k)
		p.off[k] = off[j]
	}
	return nil
}

// readHeaders reads the pack once from start to end, taking each object's
// type, size and base from the header at its offset.
func (p *Pack) readHeaders() error {
	n := len(p.idOf)
	end := p.len - HashLen
	p.off[n] = end
	r := bufio.NewReaderSize(io.NewSectionReader(p.r, 0, p.len), int(min(1<<20, max(16, p.len))))
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return fmt.Errorf("reading the header: %w", err)
	}
	if string(head[:4]) != "PACK" {
		return errors.New("not a pack")
	}
	if v := binary.BigEndian.Uint32(head[4:]); v != 2 && v != 3 {
		return fmt.Errorf("pack version %d", v)
	}
	if c := binary.BigEndian.Uint32(head[8:]); int(c) != n {
		return fmt.Errorf("the pack holds %d objects, its index %d", c, n)
	}
	p.kind = make([]Kind, n)
	p.data = make([]int64, n)
	p.size = make([]int64, n)
	p.base = make([]int32, n)
	at := int64(12)
	for k := range n {
		o := p.off[k]
		if o < at || o >= end {
			return fmt.Errorf("object %x at offset %d outside the pack", p.ID(k), o)
		}
		if _, err := r.Discard(int(o - at)); err != nil {
			return fmt.Errorf("reading object at offset %d: %w", o, err)
		}
		at = o
		c, err := r.ReadByte()
		if err != nil {
			return fmt.Errorf("reading object at offset %d: %w", o, err)
		}
		at++
		kind := Kind(c >> 4 & 7)
		size := int64(c & 15)
		for shift := 4; c&0x80 != 0; shift += 7 {
			if c, err = r.ReadByte(); err != nil || shift > 56 {
				return fmt.Errorf("object header at offset %d is damaged", o)
			}
			at++
			size |= int64(c&0x7f) << shift
		}
		p.kind[k], p.size[k], p.base[k] = kind, size, noBase
		switch kind {
		case Commit, Tree, Blob, Tag:
		case OfsDelta:
			// A big-endian base-128 number, each continuation adding one
			// so that every value has a single encoding.
			c, err := r.ReadByte()
			if err != nil {
				return fmt.Errorf("object header at offset %d is damaged", o)
			}
			at++
			back := int64(c & 0x7f)
			for c&0x80 != 0 {
				if c, err = r.ReadByte(); err != nil || back > 1<<50 {
					return fmt.Errorf("object header at offset %d is damaged", o)
				}
				at++
				back = (back+1)<<7 | int64(c&0x7f)
			}
			b, ok := slices.BinarySearch(p.off[:k], o-back)
			if back <= 0 || !ok {
				return fmt.Errorf("delta at offset %d names base offset %d, which holds no object", o, o-back)
			}
			p.base[k] = int32(b)
		case RefDelta:
			var id [HashLen]byte
			if _, err := io.ReadFull(r, id[:]); err != nil {
				return fmt.Errorf("object header at offset %d is damaged", o)
			}
			at += HashLen
			p.base[k] = missingBase
			if j, ok := p.find(id[:]); ok {
				p.base[k] = p.pos[j]
			}
		default:
			return fmt.Errorf("object at offset %d has unknown type %d", o, kind)
		}
		p.data[k] = at
	}
	return nil
}

// find returns the index order number of id.
func (p *Pack) find(id []byte) (int, bool) {
	n := len(p.ids) / HashLen
	i := sort.Search(n, func(i int) bool { return bytes.Compare(p.ids[i*HashLen:(i+1)*HashLen], id) >= 0 })
	return i, i < n && bytes.Equal(p.ids[i*HashLen:(i+1)*HashLen], id)
}
