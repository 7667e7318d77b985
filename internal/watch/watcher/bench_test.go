package watcher

import (
	"bytes"
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
	logsall "github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/watch/follow"
)

// BenchmarkWatcherSustained is the whole watcher's sustained throughput:
// a generator appends blocks of real PostgreSQL csv and CloudTrail
// records to two followed files while Run follows (inotify), parses,
// judges every event against its baseline (stored after each batch) and
// hands the findings to the acting part, until every record written is
// consumed (its offset stored). One iteration is about 1 MiB of each
// format. Run with -cpu 1 for one core:
//
//	go test -run '^$' -bench WatcherSustained -cpu 1 ./internal/watch/watcher/
func BenchmarkWatcherSustained(b *testing.B) {
	cfg, _ := worldOf(b, "logs:\n  - { type: postgres-csv, path: pg.csv }\n  - { type: cloudtrail, path: ct.jsonl }\n", "watch:\n  trigger: [canary-use]\n")
	cfg.NoNotify, cfg.Poll = false, time.Second
	pgPath, ctPath := cfg.Inventory.Abs("pg.csv"), cfg.Inventory.Abs("ct.jsonl")
	pgBlock, pgRecs := block(b, liveCSV, "postgres-csv")
	ctBlock, ctRecs := block(b, "../../logs/cloudtrail/testdata/records.jsonl", "cloudtrail")
	if err := os.WriteFile(ctPath, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	pg, ct := appender(b, pgPath), appender(b, ctPath)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, cfg) }()
	st := cfg.Deps.Store
	size := func() int64 {
		var n int64
		for _, f := range []*os.File{pg, ct} {
			fi, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			n += fi.Size()
		}
		return n
	}
	consumed := func() int64 {
		offs, err := st.ShortOffsets(context.Background(), follow.HeadLen+1)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, o := range offs {
			n += o.Bytes
		}
		return n
	}
	// The fixture already in pg.csv is read first, outside the timing.
	for consumed() < size() {
		time.Sleep(10 * time.Millisecond)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		if _, err := pg.Write(pgBlock); err != nil {
			b.Fatal(err)
		}
		if _, err := ct.Write(ctBlock); err != nil {
			b.Fatal(err)
		}
	}
	for want := size(); consumed() < want; {
		select {
		case err := <-errc:
			b.Fatalf("Run returned: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	b.StopTimer()
	records := b.N * (pgRecs + ctRecs)
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(records)/(cpuTime()-cpu0).Seconds(), "records/cpu-s")
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// block is about 1 MiB of the fixture's records, repeated, and how many
// records it holds.
func block(b *testing.B, path, format string) ([]byte, int) {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	for buf.Len() < 1<<20 {
		buf.Write(raw)
	}
	return buf.Bytes(), records(b, buf.Bytes(), format)
}

func records(b *testing.B, data []byte, format string) int {
	p := logsall.ByName(logsall.Parsers(), format)
	st, err := p.Parse(context.Background(), "", bytes.NewReader(data), func(logs.Event) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	return st.Records
}

func appender(b *testing.B, path string) *os.File {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// cpuTime is the process's user and system CPU time so far: following,
// judging and storing, and the generator's writes (an upper bound).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
