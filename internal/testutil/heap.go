package testutil

import (
	"bytes"
	"runtime"
	"sync"
	"time"
)

// PeakHeap runs fn and returns the highest runtime HeapInuse seen while it
// ran, sampled every 10 ms and once at the end: how memory-bound tests
// prove that a streaming reader holds a bounded window, not its input.
func PeakHeap(fn func()) uint64 {
	runtime.GC()
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	})
	fn()
	sample()
	close(done)
	wg.Wait()
	return peak
}

// Offset is the byte offset of a 1-based line and byte column in data, or
// -1 past its end: the inverse of source.Position, for tests that check a
// reported position against the file.
func Offset(data []byte, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	return off + col - 1
}
