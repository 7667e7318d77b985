package slack

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/rekeyhq/rekey/internal/source"
)

func BenchmarkParseDay(b *testing.B) {
	one, err := os.ReadFile("testdata/export/sre-private/2024-03-05.json")
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(one), []byte("[")), []byte("]"))
	var buf bytes.Buffer
	buf.WriteString("[")
	for i := 0; i < 2000; i++ {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.Write(body)
	}
	buf.WriteString("]")
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if err := parseDay(context.Background(), bytes.NewReader(data), "d", "c", func(source.Chunk) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
