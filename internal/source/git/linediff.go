package git

import (
	"bytes"
	"hash/maphash"
)

// A version of a file is scanned only where it differs from the version it
// replaced at the same path. The difference is computed here, in Go, from
// the two blobs' lines, not parsed from `git log -p` text: git's patch
// output depends on diff drivers, textconv and whitespace options, and would
// mean inflating and formatting every blob a second time. Lines are compared
// by a 64-bit hash (a collision, ~2⁻⁶⁴ per pair, would hide one changed
// line), and Myers' O(ND) algorithm finds the smallest set of added lines.
// A pair of versions differing by more than maxEditCost edits is treated as
// wholly rewritten between the common prefix and suffix: the result is then
// a superset of the added lines, which is always safe to scan.
//
// Why not a library: the Go diff modules served here (sergi/go-diff,
// pmezard/go-difflib, go-udiff) diff strings and return text edits, which
// would mean converting every version to strings and mapping edits back to
// line numbers; what is needed is only "which lines of the new blob are
// new", on hashes that are cached between versions.

// maxEditCost bounds the edits one diff looks for (and its O(D²) trace
// memory, ~4 MiB of int32 at this bound); maxDiffWork bounds its time,
// O((N+M)·D) comparisons: a generated file of a million lines rewritten in
// a few dozen places is scanned whole rather than diffed for seconds.
const (
	maxEditCost = 1000
	maxDiffWork = 1 << 25
)

var lineSeed = maphash.MakeSeed()

// lineHashes returns the hash of each line of data (a line includes its
// newline; a last line without one is a line too) and the offset at which
// each line starts, with len(data) appended as a sentinel.
func lineHashes(data []byte) (hashes []uint64, starts []int) {
	n := bytes.Count(data, []byte{'\n'}) + 1
	hashes = make([]uint64, 0, n)
	starts = make([]int, 0, n+1)
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off + 1
		}
		starts = append(starts, off)
		hashes = append(hashes, maphash.Bytes(lineSeed, data[off:end]))
		off = end
	}
	return hashes, append(starts, len(data))
}

// span is a half-open range of lines [lo, hi) of the new version.
type span struct{ lo, hi int }

// changedLines returns, in order, the lines of b that are not in a (as
// one-line spans) and the places in b where lines of a were removed (as
// empty spans): a removal can bring a keyword and a value together.
func changedLines(a, b []uint64) []span {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	A, B := a[p:len(a)-s], b[p:len(b)-s]
	if len(A) == 0 && len(B) == 0 {
		return nil
	}
	out := myers(A, B)
	if out == nil {
		out = []span{{0, len(B)}} // too different: the whole middle is new
	}
	for i := range out {
		out[i].lo += p
		out[i].hi += p
	}
	return out
}

// myers returns the edits turning A into B as spans of B (see
// changedLines), or nil when finding them would cost more than maxEditCost
// edits or maxDiffWork comparisons.
func myers(A, B []uint64) []span {
	n, m := len(A), len(B)
	maxD := min(n+m, maxEditCost, max(16, maxDiffWork/(n+m)))
	off := maxD + 1
	v := make([]int32, 2*maxD+3)
	// trace[d] is v[-d..d] as it was before step d.
	var trace [][]int32
	for d := 0; d <= maxD; d++ {
		trace = append(trace, append([]int32(nil), v[off-d:off+d+1]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || k != d && v[off+k-1] < v[off+k+1] {
				x = int(v[off+k+1])
			} else {
				x = int(v[off+k-1]) + 1
			}
			y := x - k
			for x < n && y < m && A[x] == B[y] {
				x++
				y++
			}
			v[off+k] = int32(x)
			if x >= n && y >= m {
				return backtrack(trace, n, m, d)
			}
		}
	}
	return nil
}

func backtrack(trace [][]int32, x, y, d int) []span {
	var rev []span
	for ; d > 0; d-- {
		prev := trace[d] // v[-(d)..d] before step d, i.e. after step d-1
		at := func(k int) int { return int(prev[k+d]) }
		k := x - y
		var pk int
		if k == -d || k != d && at(k-1) < at(k+1) {
			pk = k + 1 // a line of B inserted
		} else {
			pk = k - 1 // a line of A removed
		}
		px := at(pk)
		py := px - pk
		if pk == k+1 {
			rev = append(rev, span{py, py + 1})
		} else {
			rev = append(rev, span{py, py})
		}
		x, y = px, py
	}
	out := make([]span, len(rev))
	for i, s := range rev {
		out[len(rev)-1-i] = s
	}
	return out
}
