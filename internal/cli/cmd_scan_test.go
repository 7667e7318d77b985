package cli

import (
	"runtime/debug"
	"testing"
)

// TestLeanHeapLowersGCPercent: scan keeps its heap nearer its live size
// than Go's default, unless GOGC says otherwise.
func TestLeanHeapLowersGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	t.Setenv("GOGC", "")
	leanHeap()
	if got := debug.SetGCPercent(100); got != scanGCPercent {
		t.Fatalf("GC percent %d after leanHeap, want %d", got, scanGCPercent)
	}

	t.Setenv("GOGC", "200")
	leanHeap()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent %d with GOGC set, want it left at 100", got)
	}
}
