package cloudtrail

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
)

// benchRecords makes a ~100 MB delivered file (about 77,000 records).
const benchRecords = 77_000

var benchData = sync.OnceValue(func() []byte { return genBytes(7, benchRecords) })

// BenchmarkParse reports records/s (records scanned, the review's
// throughput), events/s (events emitted) and MB/s on one core; run with
// -cpu 1.
func BenchmarkParse(b *testing.B) {
	data := benchData()
	for _, bc := range []struct {
		name string
		p    *Parser
	}{
		{"all", New()},
		{"prefilter-1key", NewFiltered(genTargetKey)},
		{"prefilter-3keys", NewFiltered(genTargetKey, "arn:aws:iam::123456789012:user/user042", "AIDAGEN0000000000042")},
		{"prefilter-10keys", NewFiltered(genTargetKey, "AKIAGENNOTPRESENT001", "AKIAGENNOTPRESENT002", "AKIAGENNOTPRESENT003",
			"AKIAGENNOTPRESENT004", "arn:aws:iam::123456789012:user/nobody", "AIDAGENNOTPRESENT005", "ASIAGENNOTPRESENT006",
			"ASIAGENNOTPRESENT007", "ASIAGENNOTPRESENT008")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var records, events int
			start := time.Now()
			for b.Loop() {
				st, err := bc.p.Parse(context.Background(), "bench.json", bytes.NewReader(data), func(logs.Event) error { return nil })
				if err != nil || st.MalformedCount != 0 {
					b.Fatal(err, st.Malformed)
				}
				records += st.Records
				events += st.Events
			}
			sec := time.Since(start).Seconds()
			b.ReportMetric(float64(records)/sec, "records/s")
			b.ReportMetric(float64(events)/sec, "events/s")
		})
	}
}
