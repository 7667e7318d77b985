package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

// BenchmarkAppendConcurrent appends from 20 goroutines to a SQLite store
// with its witness and key, as the broker's leases do, and with a copy of
// the witness in a shared directory, as replicas do: entries/s.
func BenchmarkAppendConcurrent(b *testing.B) {
	b.Run("witness", func(b *testing.B) { appendConcurrent(b, false) })
	b.Run("shared-witness", func(b *testing.B) { appendConcurrent(b, true) })
}

func appendConcurrent(b *testing.B, shared bool) {
	dir := b.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	l := New(s, WitnessPath(dir, "rekey.db")).WithKey(filepath.Join(dir, KeyFile), true)
	if shared {
		l = l.WithSharedWitnesses(filepath.Join(dir, "keys", WitnessDir), "a")
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := l.Append(context.Background(), "bench", "lease.issue", "", map[string]int{"n": 1}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
}

// BenchmarkJoin is a new replica's start over a log of 20,000 entries:
// the whole chain and its MACs checked, then the anchor appended.
func BenchmarkJoin(b *testing.B) {
	dir := b.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "rekey.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	shared := filepath.Join(dir, "keys", WitnessDir)
	l := New(s, WitnessPath(dir, "rekey.db")).WithKey(filepath.Join(dir, KeyFile), true).WithSharedWitnesses(shared, "a")
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if _, err := l.Append(context.Background(), "bench", "lease.issue", "", map[string]int{"n": 1}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ResetTimer()
	for i := range b.N {
		r := New(s, filepath.Join(dir, fmt.Sprintf("r%d.witness", i))).WithKey(l.keyPath, false).WithSharedWitnesses(shared, fmt.Sprintf("r%d", i))
		if _, err := r.Join(context.Background(), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
