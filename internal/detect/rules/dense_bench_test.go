package rules

import (
	"strings"
	"testing"
)

// BenchmarkDenseMinifiedLine is the prefilter's worst realistic case: one
// 4 MB line of minified code naming token and password every few dozen
// bytes, so every keyword-windowed rule runs over most of the line.
func BenchmarkDenseMinifiedLine(b *testing.B) {
	d := newDetector(b)
	seg := `function(e){var t=e.csrfToken||n.token;return o.post("/api/session",{token:t,password:e.pw})},`
	data := []byte(strings.Repeat(seg, (4<<20)/len(seg)))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Scan(data)
	}
}
