package provider

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestParallelCallsEachIndexOnce(t *testing.T) {
	seen := make([]int32, 1000)
	if err := Parallel(context.Background(), len(seen), 4, func(i int) { atomic.AddInt32(&seen[i], 1) }); err != nil {
		t.Fatal(err)
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("index %d called %d times", i, n)
		}
	}
}

func TestParallelStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	err := Parallel(ctx, 1000, 2, func(i int) {
		if calls.Add(1) == 10 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || calls.Load() >= 1000 {
		t.Fatalf("err %v after %d calls", err, calls.Load())
	}
}
