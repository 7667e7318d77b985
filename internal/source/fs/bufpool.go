package fs

import (
	"math/bits"
	"sync"
)

// Reading each file into a new buffer was half of everything a directory
// scan allocated (120 MB on the Go tree); the freed buffers made the GC run
// often and stayed resident until the scavenger returned them. Buffers are
// reused instead, by power-of-two size class, so a file takes at most twice
// its size and a small file never holds on to a big buffer.
const (
	minClassShift = 12 // 4 KiB: smaller files share the smallest class
	maxClassShift = 18 // 256 KiB: rarer, bigger files are allocated each time
)

var bufPools [maxClassShift - minClassShift + 1]sync.Pool

// classOf returns the index of the smallest class holding n bytes, or -1
// when n is larger than every class.
func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	shift := bits.Len(uint(n - 1))
	if shift > maxClassShift {
		return -1
	}
	return shift - minClassShift
}

// getBuf returns a buffer of length n and the function that gives it back
// for reuse; release is nil when n is too large to be pooled.
func getBuf(n int) (buf []byte, release func()) {
	c := classOf(n)
	if c < 0 {
		return make([]byte, n), nil
	}
	bp, _ := bufPools[c].Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 1<<(c+minClassShift))
		bp = &b
	}
	return (*bp)[:n], func() { bufPools[c].Put(bp) }
}
