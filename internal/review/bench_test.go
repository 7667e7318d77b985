package review

import (
	"fmt"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
)

// BenchmarkAdd measures the reviewer alone, on events that all concern
// the credential (the prefilter has dropped the others): a few hundred
// sources and actions, a month of baseline and a week of exposure.
func BenchmarkAdd(b *testing.B) {
	events := make([]logs.Event, 4096)
	start := leak.Add(-DefaultBaseline)
	for i := range events {
		events[i] = ev(start.Add(time.Duration(i)*(37*24*time.Hour/4096)), fmt.Sprintf("s3:Op%d", i%40),
			from(fmt.Sprintf("10.0.%d.%d", i%3, i%200)))
	}
	r := New(config())
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r.Add(events[i%len(events)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
