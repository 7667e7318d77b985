package gittest

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Delta says how WritePack stores one blob: as a delta against Base (a
// blob id), built from Ops when set, else from the common prefix and
// suffix of the two (one insert between two copies, or two copies that
// meet where the base had more).
type Delta struct {
	Base string
	Ops  []DeltaOp
}

// DeltaOp is one instruction of a hand-made delta: a copy of Len bytes of
// the base from Off, or (Insert set) literal bytes.
type DeltaOp struct {
	Off, Len int
	Insert   string
}

// WritePack replaces the objects of the repository at dir with one pack,
// written here rather than by git, so that a test decides which blob is
// stored against which and with which instructions: what git's own
// delta search would choose differently from run to run. Objects not in
// deltas are stored whole. git index-pack checks the pack and writes its
// index (so every delta must rebuild its blob exactly).
func WritePack(t testing.TB, dir string, deltas map[string]Delta) {
	t.Helper()
	all := Git(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
	type object struct {
		id, typ string
		data    []byte
	}
	var objs []object
	byID := map[string]int{}
	for _, line := range strings.Split(all, "\n") {
		id, typ, _ := strings.Cut(line, " ")
		out, err := GitInput(dir, nil, "cat-file", typ, id)
		if err != nil {
			t.Fatal(err)
		}
		byID[id] = len(objs)
		objs = append(objs, object{id, typ, out})
	}
	// Bases before the deltas against them: the offsets of OFS deltas
	// point back.
	var order []int
	placed := map[string]bool{}
	var place func(id string, depth int)
	place = func(id string, depth int) {
		if placed[id] || depth > len(objs) {
			return
		}
		if d, ok := deltas[id]; ok {
			if _, ok := byID[d.Base]; !ok {
				t.Fatalf("delta base %s of %s is not an object of %s", d.Base, id, dir)
			}
			place(d.Base, depth+1)
		}
		placed[id] = true
		order = append(order, byID[id])
	}
	for _, o := range objs {
		place(o.id, 0)
	}
	var pack bytes.Buffer
	pack.WriteString("PACK")
	binary.Write(&pack, binary.BigEndian, uint32(2))
	binary.Write(&pack, binary.BigEndian, uint32(len(objs)))
	offset := map[string]int{}
	types := map[string]int{"commit": 1, "tree": 2, "blob": 3, "tag": 4}
	for _, i := range order {
		o := objs[i]
		offset[o.id] = pack.Len()
		typ, body := types[o.typ], o.data
		d, isDelta := deltas[o.id]
		if isDelta {
			typ = 6
			body = encodeDelta(t, objs[byID[d.Base]].data, o.data, d.Ops)
		}
		writeHeader(&pack, typ, len(body))
		if isDelta {
			writeOffset(&pack, offset[o.id]-offset[d.Base])
		}
		zw := zlib.NewWriter(&pack)
		zw.Write(body)
		zw.Close()
	}
	sum := sha1.Sum(pack.Bytes())
	pack.Write(sum[:])

	packDir := filepath.Join(dir, ".git", "objects", "pack")
	old, _ := filepath.Glob(filepath.Join(packDir, "*"))
	for _, f := range old {
		os.Remove(f)
	}
	loose, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "[0-9a-f][0-9a-f]"))
	for _, d := range loose {
		os.RemoveAll(d)
	}
	name := filepath.Join(packDir, fmt.Sprintf("pack-%x.pack", sum))
	if err := os.WriteFile(name, pack.Bytes(), 0o444); err != nil {
		t.Fatal(err)
	}
	Git(t, dir, "index-pack", name)
}

func writeHeader(w *bytes.Buffer, typ, size int) {
	c := byte(typ<<4) | byte(size&15)
	size >>= 4
	for size > 0 {
		w.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	w.WriteByte(c)
}

// writeOffset writes an OFS_DELTA's distance back to its base: big-endian
// base-128, each continuation one less (pack-format).
func writeOffset(w *bytes.Buffer, ofs int) {
	var b [10]byte
	pos := len(b) - 1
	b[pos] = byte(ofs & 127)
	for ofs >>= 7; ofs > 0; ofs >>= 7 {
		ofs--
		pos--
		b[pos] = 128 | byte(ofs&127)
	}
	w.Write(b[pos:])
}

func varint(w *bytes.Buffer, n int) {
	for n >= 0x80 {
		w.WriteByte(byte(n) | 0x80)
		n >>= 7
	}
	w.WriteByte(byte(n))
}

func encodeDelta(t testing.TB, base, target []byte, ops []DeltaOp) []byte {
	if ops == nil {
		p := 0
		for p < len(base) && p < len(target) && base[p] == target[p] {
			p++
		}
		s := 0
		for s < len(base)-p && s < len(target)-p && base[len(base)-1-s] == target[len(target)-1-s] {
			s++
		}
		ops = []DeltaOp{{Off: 0, Len: p}, {Insert: string(target[p : len(target)-s])}, {Off: len(base) - s, Len: s}}
	}
	var d bytes.Buffer
	varint(&d, len(base))
	varint(&d, len(target))
	var built []byte
	for _, op := range ops {
		if op.Insert != "" {
			for in := op.Insert; len(in) > 0; {
				n := min(len(in), 127)
				d.WriteByte(byte(n))
				d.WriteString(in[:n])
				in = in[n:]
			}
			built = append(built, op.Insert...)
			continue
		}
		for off, n := op.Off, op.Len; n > 0; {
			m := min(n, 0x10000)
			var args []byte
			cmd := byte(0x80)
			for i := range 4 {
				if b := byte(off >> (8 * i)); b != 0 {
					cmd |= 1 << i
					args = append(args, b)
				}
			}
			if m != 0x10000 {
				for i := range 3 {
					if b := byte(m >> (8 * i)); b != 0 {
						cmd |= 0x10 << i
						args = append(args, b)
					}
				}
			}
			d.WriteByte(cmd)
			d.Write(args)
			built = append(built, base[off:off+m]...)
			off += m
			n -= m
		}
	}
	if !bytes.Equal(built, target) {
		t.Fatalf("the delta builds %d bytes that are not its target's %d", len(built), len(target))
	}
	return d.Bytes()
}

// BlobAt returns the id of the blob at path in commit.
func BlobAt(t testing.TB, dir, commit, path string) string {
	t.Helper()
	return Git(t, dir, "rev-parse", commit+":"+path)
}
