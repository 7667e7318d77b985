package gitpack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzApply: any delta against any base is applied or refused, never a
// panic, and what is applied fits the target size and the copies' bounds.
func FuzzApply(f *testing.F) {
	f.Add([]byte("0123456789"), []byte{10, 12, 0x90, 4, 2, 'x', 'y', 0x91, 4, 6})
	f.Add([]byte("abc"), []byte{3, 0})
	f.Add([]byte(""), []byte{0, 1, 1, 'a'})
	f.Add([]byte("abcdef"), []byte{6, 3, 0x80 | 0x01 | 0x10, 0xff, 3})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		size, err := targetSize(delta, len(base))
		if err != nil || size > 1<<20 {
			return
		}
		out := make([]byte, size)
		copies, err := apply(base, delta, out, nil)
		if err != nil {
			return
		}
		for _, c := range copies {
			if c.Src < 0 || c.Src+c.Len > len(base) || c.Dst < 0 || c.Dst+c.Len > len(out) {
				t.Fatalf("copy %+v outside base %d or target %d", c, len(base), len(out))
			}
			if !bytes.Equal(out[c.Dst:c.Dst+c.Len], base[c.Src:c.Src+c.Len]) {
				t.Fatalf("copy %+v does not hold the base's bytes", c)
			}
		}
	})
}

// FuzzOpen: a pack and index of any bytes are opened and walked or
// refused, never a panic, and never an allocation of what a header says.
func FuzzOpen(f *testing.F) {
	// A small history: fuzzing mutates inputs of a few KiB far better
	// than the 50 KiB pack of packedRepo.
	dir := f.TempDir()
	gitRun(f, dir, "init", "-q", "-b", "main")
	body := "first line\n" + strings.Repeat("a line that stays the same in every version\n", 12)
	for c := range 6 {
		body += fmt.Sprintf("added in commit %d\n", c)
		if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(body), 0o644); err != nil {
			f.Fatal(err)
		}
		gitRun(f, dir, "add", "-A")
		gitRun(f, dir, "commit", "-q", "-m", fmt.Sprint(c))
	}
	gitRun(f, dir, "repack", "-adq", "--window=10", "--depth=10")
	src := onlyPack(f, dir)
	pack, err := os.ReadFile(src)
	if err != nil {
		f.Fatal(err)
	}
	idx, err := os.ReadFile(src[:len(src)-len(".pack")] + ".idx")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pack, idx, 12)
	f.Add(pack, idx, len(pack)/2)
	f.Add(pack, idx, len(pack)-30)
	f.Fuzz(func(t *testing.T, pack, idx []byte, flip int) {
		if len(pack) > 0 {
			pack = bytes.Clone(pack)
			pack[(flip%len(pack)+len(pack))%len(pack)] ^= 0xa5
		}
		p, err := read("fuzz", idx, bytes.NewReader(pack), int64(len(pack)))
		if err != nil {
			return
		}
		defer p.Close()
		_ = Walk(context.Background(), p, WalkOptions{Workers: 1, MaxHeld: 8 << 20}, func(o *Object[struct{}]) error { return nil })
	})
}
