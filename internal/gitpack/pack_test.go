package gitpack

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// gitRun runs git in dir with a fixed identity and no user config.
func gitRun(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// packedRepo builds a repository whose files change a line at a time over
// many commits, then packs it so that most versions are deltas.
func packedRepo(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	gitRun(t, dir, "init", "-q", "-b", "main")
	lines := make([]string, 300)
	for i := range lines {
		lines[i] = fmt.Sprintf("line %d of a file that changes slowly: %x", i, sha1.Sum([]byte{byte(i)}))
	}
	for c := range 60 {
		lines[(c*37)%len(lines)] = fmt.Sprintf("changed in commit %d", c)
		if c%7 == 0 {
			lines = append(lines[:10], lines[12:]...)
		}
		for f := range 3 {
			body := strings.Join(lines[f*10:], "\n") + "\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", f)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		gitRun(t, dir, "add", "-A")
		gitRun(t, dir, "commit", "-q", "-m", fmt.Sprintf("c%d", c))
	}
	gitRun(t, dir, "gc", "-q", "--aggressive")
	return dir
}

// openPacked opens the pack of a packedRepo, closed when t ends.
func openPacked(t *testing.T) (dir string, p *Pack) {
	t.Helper()
	dir = packedRepo(t)
	p, err := Open(onlyPack(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return dir, p
}

func onlyPack(t testing.TB, dir string) string {
	t.Helper()
	packs, _ := filepath.Glob(filepath.Join(dir, ".git/objects/pack/*.pack"))
	if len(packs) != 1 {
		t.Fatalf("want one pack, have %v", packs)
	}
	return packs[0]
}

func blobID(data []byte) [20]byte {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	var id [20]byte
	h.Sum(id[:0])
	return id
}

// Every blob Walk rebuilds hashes to its id, and the walk meets every blob
// git lists.
func TestWalkRebuildsEveryBlob(t *testing.T) {
	dir, p := openPacked(t)
	var mu sync.Mutex
	seen := map[string]bool{}
	deltas := 0
	err := Walk(context.Background(), p, WalkOptions{Workers: 2}, func(o *Object[struct{}]) error {
		if o.Err != nil {
			return o.Err
		}
		if id := blobID(o.Data); string(id[:]) != string(o.ID) {
			return fmt.Errorf("object %x rebuilt as %x", o.ID, id)
		}
		mu.Lock()
		defer mu.Unlock()
		seen[fmt.Sprintf("%x", o.ID)] = true
		if o.Base != nil {
			deltas++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(gitRun(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectname)"))
	blobs := 0
	for i := 0; i+1 < len(want); i += 2 {
		if want[i] == "blob" {
			blobs++
			if !seen[want[i+1]] {
				t.Errorf("blob %s not visited", want[i+1])
			}
		}
	}
	if len(seen) != blobs {
		t.Errorf("visited %d blobs, git lists %d", len(seen), blobs)
	}
	if deltas < blobs/2 {
		t.Errorf("only %d of %d blobs were deltas: the test does not exercise them", deltas, blobs)
	}
}

// A damaged pack never panics the walk: each object is either rebuilt
// exactly (its id checks out) or visited with an error, and so is
// everything stored against a damaged one.
func TestWalkOfDamagedPack(t *testing.T) {
	dir := packedRepo(t)
	src := onlyPack(t, dir)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(strings.TrimSuffix(src, ".pack") + ".idx")
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{len(data) / 3, len(data) / 2, len(data) * 3 / 4} {
		bad := append([]byte(nil), data...)
		for i := at; i < at+64 && i < len(bad)-HashLen; i++ {
			bad[i] ^= 0x5a
		}
		tmp := t.TempDir()
		pack := filepath.Join(tmp, "pack-x.pack")
		if err := os.WriteFile(pack, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "pack-x.idx"), idx, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Open(pack)
		if err != nil {
			continue // a damaged header is refused whole: also fine
		}
		var mu sync.Mutex
		failed := 0
		err = Walk(context.Background(), p, WalkOptions{}, func(o *Object[struct{}]) error {
			mu.Lock()
			defer mu.Unlock()
			if o.Err != nil {
				failed++
				return nil
			}
			if id := blobID(o.Data); string(id[:]) != string(o.ID) {
				t.Errorf("damage at %d: object %x rebuilt without error as %x", at, o.ID, id)
			}
			return nil
		})
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if failed == 0 {
			t.Errorf("damage at %d: no object reported it", at)
		}
	}
}

// Changed names what a delta inserted and where copies from distant
// places of the base meet: a copy that starts or ends the object away
// from the base's own start or end counts as a join too.
func TestChanged(t *testing.T) {
	base := &Object[struct{}]{Data: []byte("0123456789abcdefghij")} // 20 bytes
	cases := []struct {
		name   string
		copies []Copy
		size   int
		want   [][2]int
	}{
		{"unchanged", []Copy{{0, 0, 20}}, 20, nil},
		{"an insert in the middle", []Copy{{0, 0, 10}, {10, 13, 10}}, 23, [][2]int{{10, 13}}},
		{"a cut: two copies meet", []Copy{{0, 0, 5}, {15, 5, 5}}, 10, [][2]int{{5, 5}}},
		{"split copies that continue", []Copy{{0, 0, 8}, {8, 8, 12}}, 20, nil},
		{"starts from the middle of the base", []Copy{{5, 0, 15}}, 15, [][2]int{{0, 0}}},
		{"ends before the end of the base", []Copy{{0, 0, 15}}, 15, [][2]int{{15, 15}}},
		{"appended", []Copy{{0, 0, 20}}, 25, [][2]int{{20, 25}}},
		{"all inserted", nil, 7, [][2]int{{0, 7}}},
	}
	for _, c := range cases {
		o := &Object[struct{}]{Data: make([]byte, c.size), Base: base, Copies: c.copies}
		got := o.Changed(nil)
		if fmt.Sprint(got) != fmt.Sprint(c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("%s: Changed = %v, want %v", c.name, got, c.want)
		}
	}
	whole := &Object[struct{}]{Data: []byte("abc")}
	if got := whole.Changed(nil); fmt.Sprint(got) != "[[0 3]]" {
		t.Errorf("an object stored whole: Changed = %v", got)
	}
}

// With Want, the walk visits the wanted blobs and the objects they are
// stored against, and nothing else.
func TestWalkWant(t *testing.T) {
	_, p := openPacked(t)
	// The deepest delta: wanting it alone visits exactly its chain.
	deepest, depth := -1, 0
	for k := range p.Len() {
		d := 0
		for b := p.base[k]; b >= 0; b = p.base[b] {
			d++
		}
		if d > depth {
			deepest, depth = k, d
		}
	}
	if depth < 3 {
		t.Fatalf("deepest chain %d: the test needs deltas of deltas", depth)
	}
	want := string(p.ID(deepest))
	var mu sync.Mutex
	var visited []string
	err := Walk(context.Background(), p, WalkOptions{Want: func(id []byte) bool { return string(id) == want }}, func(o *Object[struct{}]) error {
		mu.Lock()
		defer mu.Unlock()
		visited = append(visited, string(o.ID))
		return o.Err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(visited) != depth+1 || visited[len(visited)-1] != want {
		t.Errorf("visited %d objects ending with %x, want the chain of %d ending with %x", len(visited), visited[len(visited)-1], depth+1, want)
	}
}

// A chain that would hold more than MaxHeld is not rebuilt past that
// point: its objects come with ErrTooLarge, and the rest still rebuild.
func TestWalkMaxHeld(t *testing.T) {
	_, p := openPacked(t)
	var mu sync.Mutex
	ok, tooLarge := 0, 0
	err := Walk(context.Background(), p, WalkOptions{MaxHeld: 24 << 10}, func(o *Object[struct{}]) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(o.Err, ErrTooLarge):
			tooLarge++
		case o.Err != nil:
			return o.Err
		default:
			if id := blobID(o.Data); string(id[:]) != string(o.ID) {
				return fmt.Errorf("object %x rebuilt as %x", o.ID, id)
			}
			ok++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok == 0 || tooLarge == 0 {
		t.Errorf("%d rebuilt, %d over the bound: want some of each", ok, tooLarge)
	}
}
