package rules

import (
	"strings"
	"testing"
)

func BenchmarkScanExamples(b *testing.B) {
	var sb strings.Builder
	for _, r := range All() {
		for _, e := range append(r.Examples, r.NoMatch...) {
			sb.WriteString(e + "\n")
		}
	}
	data := []byte(strings.Repeat(sb.String(), 20))
	d := newDetector(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d.Scan(data)
	}
}

func BenchmarkScanMinified(b *testing.B) {
	line := strings.Repeat(`var token=a.token||b.token;secret:c.secret,password:d.password,apiKey:e.apiKey;`, 20000)
	data := []byte(line)
	d := newDetector(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d.Scan(data)
	}
}
