package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/rekeyhq/rekey/internal/source"
)

// FuzzSlackDay: a day file never panics the parser; malformed JSON is
// always an error and a well-formed array never is; every chunk points at
// a JSON string in the input that decodes to its data.
func FuzzSlackDay(f *testing.F) {
	days, _ := filepath.Glob(filepath.Join(export, "*", "*.json"))
	for _, p := range append(days, filepath.Join(export, "channels.json")) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`[{"text":"a\nb","ts":"1.0","attachments":[{"fields":[{"value":"v"}]}],"blocks":[{"type":"mrkdwn","text":"&lt;"}]}]`))
	f.Add([]byte(`[{"message":{"message":{"text":"deep"}}}, 1, "x", [], {}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var chunks []source.Chunk
		err := parseDay(context.Background(), bytes.NewReader(data), "day.json", "c", func(ch source.Chunk) error {
			chunks = append(chunks, ch)
			return nil
		})
		for _, ch := range chunks {
			if ch.Loc.Line < 1 || ch.Loc.Column < 1 || !ch.Loc.Flat || ch.Loc.Path != "day.json" {
				t.Fatalf("bad location %+v", ch.Loc)
			}
			if line, col := source.Position(ch.Data, len(ch.Data), ch.Loc); line != ch.Loc.Line || col != ch.Loc.Column {
				t.Fatalf("a flat chunk moved: %d:%d", line, col)
			}
		}
		doc := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		valid := json.Valid(doc)
		if err == nil && !valid {
			t.Fatalf("malformed JSON accepted")
		}
		if valid && bytes.HasPrefix(bytes.TrimLeft(doc, " \t\r\n"), []byte("[")) && err != nil {
			t.Fatalf("valid array refused: %v", err)
		}
		if utf8.Valid(data) {
			for _, ch := range chunks {
				checkAt(t, data, ch)
			}
		}
	})
}
