package follow

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/watch"
)

// BenchmarkFollow measures records followed per second: a file grows by a
// block of real records, and one Pass reads, parses and hands them over
// (offsets stored in SQLite per chunk). Run with -cpu 1 for one core:
//
//	go test -run '^$' -bench Follow -cpu 1 ./internal/watch/follow/
func BenchmarkFollow(b *testing.B) {
	for _, fx := range fixtures {
		b.Run(fx.name, func(b *testing.B) {
			raw, err := os.ReadFile(fx.path)
			if err != nil {
				b.Fatal(err)
			}
			// A block of about 4 MiB of the fixture's records, repeated.
			var block bytes.Buffer
			for block.Len() < 4<<20 {
				block.Write(raw)
			}
			st := newStoreB(b)
			path := filepath.Join(b.TempDir(), "app.log")
			fl, err := New(Config{Paths: []string{path}, Format: fx.format, Parsers: all.Parsers(), Store: st, NoNotify: true})
			if err != nil {
				b.Fatal(err)
			}
			defer fl.closeAll()
			records := 0
			h := func(_ context.Context, bt watch.Batch) error {
				records += bt.Stats.Records
				return nil
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			b.SetBytes(int64(block.Len()))
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				if _, err := f.Write(block.Bytes()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := fl.Pass(context.Background(), h); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			// Wall time includes the store's fsync of each offset; CPU
			// time is what one core spends per record.
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(records)/(cpuTime()-cpu0).Seconds(), "records/cpu-s")
		})
	}
}

// cpuTime is the process's user and system CPU time so far (the block
// writes between passes are included: an upper bound on following's).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
