package jira

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

// FuzzJiraJSON: an export never panics the parser; malformed JSON is always
// an error; New's quick check refuses nothing the parser reads; every chunk
// is Flat, on a line ≥ 1, and points at a JSON string in the input that
// starts its text.
func FuzzJiraJSON(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`[{"key":"A-1","fields":{"description":{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"a"},{"type":"hardBreak"},{"type":"inlineCard","attrs":{"url":"u"}}]}]}}}]`))
	f.Add([]byte(`{"key":"A-1","fields":{"comment":[{"body":"b"}],"worklog":{"worklogs":[{"comment":"w"}]}},"changelog":{"histories":[{"items":[{"toString":"t"}]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var chunks []source.Chunk
		err := parseJSON(context.Background(), bytes.NewReader(data), "export.json", func(ch source.Chunk) error {
			chunks = append(chunks, ch)
			return nil
		})
		for _, ch := range chunks {
			if ch.Loc.Line < 1 || ch.Loc.Column < 1 || !ch.Loc.Flat || ch.Loc.Class != source.ClassTicket || len(ch.Data) == 0 {
				t.Fatalf("bad chunk %+v %q", ch.Loc, ch.Data)
			}
		}
		if err == nil && !json.Valid(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))) {
			t.Fatalf("malformed JSON accepted")
		}
		// New refuses only what Walk would refuse.
		if shape := jsonShape(bytes.NewReader(data)); shape != nil && err == nil {
			t.Fatalf("New refuses an export Walk reads: %v", shape)
		}
		if utf8.Valid(data) {
			for _, ch := range chunks {
				checkJSONAt(t, data, ch)
			}
		}
	})
}

// FuzzJiraCSV: a CSV export never panics the parser, and every chunk
// starts where the file holds its text.
func FuzzJiraCSV(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "export.csv")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("\ufeffSummary,Issue key,Comment\r\n\"a\r\n\"\"b\"\"\",K-1,\"1/Jan/24;x;c\"\r\n"))
	f.Add([]byte("Issue key,Description\n,\n\nK,\"\n\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var chunks []source.Chunk
		_ = parseCSV(context.Background(), bytes.NewReader(data), "export.csv", func(ch source.Chunk) error {
			chunks = append(chunks, ch)
			return nil
		})
		for _, ch := range chunks {
			if ch.Loc.Line < 2 || ch.Loc.Column < 1 || ch.Loc.Flat || len(ch.Data) == 0 {
				t.Fatalf("bad chunk %+v %q", ch.Loc, ch.Data)
			}
			checkCSVAt(t, data, ch)
		}
	})
}
