package git

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// lcs is the length of the longest common subsequence, by the textbook
// dynamic programme: the oracle for changedLines' minimality.
func lcs(a, b []uint64) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(cur[j], prev[j+1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// TestChangedLinesAgainstLCS checks on random versions that the lines left
// unmarked are a common subsequence of both (so every added line is
// marked) and that no more lines are marked than a minimal diff adds.
func TestChangedLinesAgainstLCS(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 2000; iter++ {
		a := make([]uint64, r.IntN(40))
		for i := range a {
			a[i] = uint64(r.IntN(6))
		}
		b := slices.Clone(a)
		for e := r.IntN(8); e > 0; e-- {
			switch i := r.IntN(len(b) + 1); r.IntN(3) {
			case 0:
				b = slices.Insert(b, i, uint64(r.IntN(8)))
			case 1:
				if i < len(b) {
					b = slices.Delete(b, i, i+1)
				}
			default:
				if i < len(b) {
					b[i] = uint64(r.IntN(8))
				}
			}
		}
		changed := changedLines(a, b)
		added := map[int]bool{}
		last := -1
		for _, s := range changed {
			if s.lo < last || s.hi > len(b) || s.hi-s.lo > 1 && !(s.lo == 0 && s.hi == len(b)) {
				t.Fatalf("a=%v b=%v: span %v out of order or range", a, b, s)
			}
			last = s.lo
			for i := s.lo; i < s.hi; i++ {
				added[i] = true
			}
		}
		var kept []uint64
		for i, x := range b {
			if !added[i] {
				kept = append(kept, x)
			}
		}
		if lcs(a, kept) != len(kept) {
			t.Fatalf("a=%v b=%v: unmarked lines %v are not a subsequence of a", a, b, kept)
		}
		if want := len(b) - lcs(a, b); len(added) != want {
			t.Fatalf("a=%v b=%v: %d lines marked, a minimal diff adds %d", a, b, len(added), want)
		}
		if len(added) == 0 && !slices.Equal(a, b) && len(changed) == 0 {
			t.Fatalf("a=%v b=%v: a removal left no mark", a, b)
		}
	}
}

// TestChangedLinesTooDifferent: past maxEditCost the whole middle is marked,
// a superset of the added lines.
func TestChangedLinesTooDifferent(t *testing.T) {
	var a, b []uint64
	a = append(a, 1)
	b = append(b, 1)
	for i := 0; i < maxEditCost; i++ {
		a = append(a, uint64(10+2*i))
		b = append(b, uint64(11+2*i))
	}
	a, b = append(a, 2), append(b, 2)
	if got := changedLines(a, b); !slices.Equal(got, []span{{1, 1 + maxEditCost}}) {
		t.Fatalf("got %v", got)
	}
}

// TestChangedLinesBoundsWork: in a very long file, a few dozen scattered
// changes are more work than a diff is allowed; the middle is marked whole.
func TestChangedLinesBoundsWork(t *testing.T) {
	a := make([]uint64, 1<<20)
	for i := range a {
		a[i] = uint64(i)
	}
	b := slices.Clone(a)
	for i := 1; i < len(b)-1; i += len(b) / 40 {
		b[i] = 1 << 40
	}
	got := changedLines(a, b)
	if len(got) != 1 || got[0].lo != 1 || got[0].hi < len(b)-len(b)/40 {
		t.Fatalf("got %d spans starting %v", len(got), got[:min(len(got), 3)])
	}
	// Within the budget the same changes are found one by one.
	a, b = a[:1<<14], b[:1<<14]
	for i := 1; i < len(b)-1; i += len(b) / 40 {
		b[i] = 1 << 40
	}
	if got := changedLines(a, b); len(got) < 40 {
		t.Fatalf("got %d spans, want one per change", len(got))
	}
}

func TestRegionsWidenToKeyBlocks(t *testing.T) {
	var lines []string
	for i := 0; i < 60; i++ {
		lines = append(lines, "line "+strconv.Itoa(i))
	}
	lines[20] = "-----BEGIN PRIVATE KEY-----"
	lines[40] = "-----END PRIVATE KEY-----"
	data := []byte(strings.Join(lines, "\n") + "\n")
	_, starts := lineHashes(data)
	got := regions(data, starts, []span{{30, 31}, {55, 55}})
	want := []span{{20, 41}, {51, 59}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Changes closer than the context merge into one region.
	if got := regions(data, starts, []span{{2, 3}, {9, 10}}); !slices.Equal(got, []span{{0, 14}}) {
		t.Fatalf("got %v", got)
	}
}

func BenchmarkChangedLines(b *testing.B) {
	var old []string
	for i := 0; i < 5000; i++ {
		old = append(old, "\tline "+strconv.Itoa(i)+" of a long C file;")
	}
	cur := slices.Clone(old)
	for i := 100; i < len(cur); i += 500 {
		cur[i] = "\tchanged " + strconv.Itoa(i)
	}
	a, _ := lineHashes([]byte(strings.Join(old, "\n")))
	data := []byte(strings.Join(cur, "\n"))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		h, _ := lineHashes(data)
		changedLines(a, h)
	}
}
