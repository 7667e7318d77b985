package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/testutil"
)

type hit struct {
	path      string // base name of the export file
	line, col int
	ref       string
}

func (h hit) String() string { return fmt.Sprintf("%s:%d:%d %s", h.path, h.line, h.col, h.ref) }

type collector struct {
	chunks []source.Chunk
	errs   []*source.FileError
}

func walk(t *testing.T, path string) *collector {
	t.Helper()
	c := &collector{}
	s, err := New(Options{Path: path, OnError: func(e *source.FileError) { c.errs = append(c.errs, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Walk(context.Background(), func(ch source.Chunk) error {
		c.chunks = append(c.chunks, ch)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// find reports where needle is found, as a detector's finding would be.
func find(chunks []source.Chunk, needle string) []hit {
	var out []hit
	for _, ch := range chunks {
		for base := 0; ; {
			i := bytes.Index(ch.Data[base:], []byte(needle))
			if i < 0 {
				break
			}
			line, col := source.Position(ch.Data, base+i, ch.Loc)
			out = append(out, hit{filepath.Base(ch.Loc.Path), line, col, ch.Loc.Ref})
			base += i + 1
		}
	}
	return sortHits(out)
}

func sortHits(h []hit) []hit {
	slices.SortFunc(h, func(a, b hit) int { return strings.Compare(a.String(), b.String()) })
	return h
}

func TestExportNeedles(t *testing.T) {
	c := walk(t, "testdata")
	if len(c.errs) > 0 {
		t.Fatalf("file errors: %v", c.errs)
	}
	tests := []struct {
		needle string
		want   []hit
	}{
		// v2 description (a Flat JSON string) and the CSV's multi-line
		// description (not Flat: the finding is on its own line).
		{"postgres://orders_svc:Tr0ub4dor-Zebra-91@db.internal.example:5432/orders", []hit{
			{"search-v2.json", 66, 25, "OPS-12"},
			{"export.csv", 5, 14, "OPS-12"},
		}},
		{"AKIAQ7XK2RZ4M5NPTW3E", []hit{
			{"search-v2.json", 100, 24, "OPS-12#comment-10001"},
			{"export.csv", 8, 202, "OPS-12#comment-1"},
		}},
		{"aws_secret_access_key = h8Zq3vR0mK1sT9yU4wL6pN2xC7bF5dJ0aE3gH1iQ", []hit{
			{"search-v2.json", 100, 24, "OPS-12#comment-10001"},
			{"export.csv", 9, 1, "OPS-12#comment-2"},
		}},
		{"Tr0ub4dor-Zebra-91\"", []hit{{"search-v2.json", 130, 24, "OPS-12#comment-10002"}}},
		{"Old one was Tr0ub4dor-Zebra-91", []hit{{"export.csv", 9, 120, "OPS-12#comment-3"}}},
		{"hvs.CAESIJx7Tq0wZm4Lr8YbN3vK2pQdF9sHgE1uA6cW5yXoRt-Runbook", []hit{
			{"search-v2.json", 68, 31, "OPS-12"},
			{"export.csv", 8, 76, "OPS-12"},
		}},
		{"xoxb-284719365021-5038261947133-Qm7RzT2kLw9VhXc4NpB8sYdE", []hit{
			{"search-v2.json", 170, 27, "OPS-12#worklog-10300"},
			{"search-v3.json", 236, 34, "OPS-20#comment-10101"},
			{"export.csv", 10, 182, "OPS-13#comment-1"},
		}},
		{"PGPASSWORD=Nw7-Kestrel-Q2", []hit{{"search-v2.json", 205, 32, "OPS-12#changelog-10200"}}},
		{"redis://default:Nw7-Kestrel-Q2@cache.internal:6379", []hit{{"search-v3.json", 121, 28, "OPS-20"}}},
		// ADF: the text nodes of a paragraph are one chunk, marks or not.
		{"The password: hunter2-Osprey-55 is the admin one.", []hit{{"search-v3.json", 87, 28, "OPS-20"}}},
		{"ghp_R8vK2mXq9LwT4zN7bY1cF6hJ3sD0pG5aE2uQ", []hit{
			{"search-v3.json", 121, 28, "OPS-20"},
			{"export.csv", 11, 140, "OPS-14"},
		}},
		{"first line\nsecond line after a break", []hit{{"search-v3.json", 136, 36, "OPS-20"}}},
		{"https://wiki.example.com/runbooks/redis", []hit{{"search-v3.json", 204, 29, "OPS-20"}}},
		{"staging, eu-west-1", []hit{{"search-v3.json", 184, 28, "OPS-20"}}},
		{"prod-eu-1", []hit{
			{"search-v2.json", 67, 25, "OPS-12"},
			{"export.csv", 8, 38, "OPS-12"},
		}},
		{"Rotate the CI deploy key", []hit{
			{"search-v2.json", 272, 21, "OPS-13"},
			{"export.csv", 10, 1, "OPS-13"},
		}},
		{"Summary, with a comma", []hit{{"export.csv", 11, 2, "OPS-14"}}},
		// Sorted keys: the key comes after the fields, and a comment without
		// an id is named by its rank.
		{"sk_test_FAKE4eC39HqLyjWDarjtT1zdp7dc", []hit{{"issue-OPS-30.json", 1, 207, "OPS-30"}}},
		{"npm_FAKEa1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7", []hit{{"issue-OPS-30.json", 1, 44, "OPS-30#comment-1"}}},
		// A doubled quote earlier on the line makes the column one byte
		// short per pair (the file has this at column 25).
		{"so: rotate.", []hit{{"export.csv", 8, 23, "OPS-12"}}},
		// Authors, account ids and dates are not text; neither is a
		// number custom field's value in JSON.
		{"5b10a2844c20165700ede21g", nil},
		{"557058:", nil},
		{"Alice Example", nil},
		{"04/Mar/24", nil},
		{"2024-03-04T", nil},
		{"OPS Sprint 12", nil},
		{"Sev-2", nil},
	}
	for _, tt := range tests {
		got := find(c.chunks, tt.needle)
		if want := sortHits(tt.want); !slices.Equal(got, want) {
			t.Errorf("%q:\n got %v\nwant %v", tt.needle, got, want)
		}
	}
	for _, ch := range c.chunks {
		if ch.Loc.Class != source.ClassTicket || ch.Loc.Line < 1 || ch.Loc.Column < 1 || len(ch.Data) == 0 {
			t.Errorf("bad chunk %+v", ch.Loc)
		}
		if wantFlat := filepath.Ext(ch.Loc.Path) == ".json"; ch.Loc.Flat != wantFlat {
			t.Errorf("%s: Flat = %v", ch.Loc.Path, ch.Loc.Flat)
		}
	}
	checkPositions(t, c.chunks)
}

// checkPositions proves each chunk's Line and Column against its file.
func checkPositions(t *testing.T, chunks []source.Chunk) {
	t.Helper()
	files := map[string][]byte{}
	for _, ch := range chunks {
		data, ok := files[ch.Loc.Path]
		if !ok {
			var err error
			if data, err = os.ReadFile(ch.Loc.Path); err != nil {
				t.Fatal(err)
			}
			files[ch.Loc.Path] = data
		}
		if ch.Loc.Flat {
			checkJSONAt(t, data, ch)
		} else {
			checkCSVAt(t, data, ch)
		}
	}
}

// checkJSONAt: a JSON string starts just before the chunk's position, and
// the chunk's text starts with it (an ADF block joins its text nodes).
func checkJSONAt(t *testing.T, data []byte, ch source.Chunk) {
	t.Helper()
	off := testutil.Offset(data, ch.Loc.Line, ch.Loc.Column)
	if off < 1 || off > len(data) || data[off-1] != '"' {
		t.Fatalf("%s:%d:%d: no string starts there", ch.Loc.Path, ch.Loc.Line, ch.Loc.Column)
	}
	var s string
	if err := json.NewDecoder(bytes.NewReader(data[off-1:])).Decode(&s); err != nil {
		t.Fatalf("%s:%d:%d: %v", ch.Loc.Path, ch.Loc.Line, ch.Loc.Column, err)
	}
	if !strings.HasPrefix(string(ch.Data), s) {
		t.Fatalf("%s:%d:%d: chunk %q, file has %q", ch.Loc.Path, ch.Loc.Line, ch.Loc.Column, ch.Data, s)
	}
}

// checkCSVAt: the file holds the chunk's text from its position on, with
// quotes doubled and line breaks as \n or \r\n.
func checkCSVAt(t *testing.T, data []byte, ch source.Chunk) {
	t.Helper()
	j := testutil.Offset(data, ch.Loc.Line, ch.Loc.Column)
	if j < 0 {
		t.Fatalf("%s:%d:%d: past the end", ch.Loc.Path, ch.Loc.Line, ch.Loc.Column)
	}
	for i := 0; i < len(ch.Data); i++ {
		switch {
		case j+1 < len(data) && data[j] == '"' && data[j+1] == '"' && ch.Data[i] == '"':
			j += 2
		case j+1 < len(data) && data[j] == '\r' && data[j+1] == '\n' && ch.Data[i] == '\n':
			j += 2
		case j < len(data) && data[j] == ch.Data[i]:
			j++
		default:
			t.Fatalf("%s:%d:%d: chunk %q differs from the file at byte %d", ch.Loc.Path, ch.Loc.Line, ch.Loc.Column, ch.Data, i)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedFilesReportedAndWalkGoesOn(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata")); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "a-broken.json")
	writeFile(t, broken, "{\n  \"issues\": [\n    {\"key\": \"OPS-1\", \"fields\": {\"summary\": \"before the break\"}},\n    {\"key\": \"OPS-2\" \"fields\": {}}\n  ]\n}\n")
	notJira := filepath.Join(dir, "sub", "package.json")
	writeFile(t, notJira, `{"name": "web", "version": "1.0.0"}`)
	badCSV := filepath.Join(dir, "sub", "bad.csv")
	writeFile(t, badCSV, "Summary,Issue key\nok,K-1\nbare \"quote,K-2\n")
	otherCSV := filepath.Join(dir, "sub", "other.csv")
	writeFile(t, otherCSV, "name,email\nalice,alice@example.com\n")

	c := walk(t, dir)
	got := map[string]string{}
	for _, e := range c.errs {
		got[e.Path] = e.Err.Error()
		if !strings.Contains(e.Error(), e.Path) {
			t.Errorf("%q does not name the file", e)
		}
	}
	want := map[string]string{
		broken:   `line 4, column 21: unexpected string, expecting ',' or '}' after an object member`,
		notJira:  `line 1, column 1: ` + ErrNotExport.Error() + `: no "issues" array and no issue key; scanned as plain text`,
		badCSV:   `parse error on line 3, column 6: bare " in non-quoted-field`,
		otherCSV: ErrNotExport.Error() + "; scanned as plain text",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	// What came before the break was emitted; the other files were walked.
	// A file that is no export at all is searched as plain text (no ref).
	for needle, ref := range map[string]string{"before the break": "OPS-1", "ok": "K-1", "hunter2-Osprey-55": "OPS-20", "sk_test_FAKE": "OPS-30",
		"alice@example.com": "", `"version": "1.0.0"`: ""} {
		if h := find(c.chunks, needle); len(h) == 0 || h[0].ref != ref {
			t.Errorf("%q: %v, want ref %s", needle, h, ref)
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "package.json")
	writeFile(t, notJSON, `{"name": "web", "dependencies": {"left-pad": "1.0.0"}}`)
	numbers := filepath.Join(dir, "numbers.json")
	writeFile(t, numbers, `[1, 2, 3]`)
	scalar := filepath.Join(dir, "scalar.json")
	writeFile(t, scalar, ` "just a string"`)
	text := filepath.Join(dir, "notes.txt")
	writeFile(t, text, "just some notes\n")
	empty := filepath.Join(dir, "empty")
	writeFile(t, filepath.Join(empty, "README.md"), "# nothing\n")
	for path, want := range map[string]string{
		filepath.Join(dir, "missing.json"): "no such file or directory",
		notJSON:                            `no "issues" array and no issue key`,
		numbers:                            "no element of the array is an issue",
		scalar:                             "not a Jira export",
		text:                               "not a Jira export",
		empty:                              "no .json, .csv or .xml file",
	} {
		_, err := New(Options{Path: path})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%s) = %v, want an error naming it: %s", path, err, want)
		}
	}
	// Malformed JSON is not New's business: Walk reports it for the file.
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, `{"issues": [{"key": "A-1",,]}`)
	c := walk(t, bad)
	if len(c.errs) != 1 || c.errs[0].Path != bad || !strings.Contains(c.errs[0].Err.Error(), "line 1, column 27") {
		t.Errorf("errors: %v", c.errs)
	}
	// An empty search result is an export with nothing in it.
	emptyResult := filepath.Join(dir, "none.json")
	writeFile(t, emptyResult, `{"startAt":0,"maxResults":50,"total":0,"issues":[]}`)
	if c := walk(t, emptyResult); len(c.chunks) != 0 || len(c.errs) != 0 {
		t.Errorf("empty result: %v %v", c.chunks, c.errs)
	}
}

func TestTopLevelArrayAndKeyOrder(t *testing.T) {
	in := `[
 {"fields": {"summary": "first", "description": {"type": "doc", "version": 1, "content": [
   {"type": "paragraph", "content": [{"text": "second", "type": "text", "marks": [{"type": "link", "attrs": {"href": "https://u:p4ss@example.com"}}]}]}]}},
  "key": "A-1"},
 {"id": "10002", "fields": {"comment": [{"body": "bare array comment", "id": "7"}], "customfield_1": ["x"], "customfield_2": 5}},
 "not an issue"
]`
	var got []string
	err := parseJSON(context.Background(), strings.NewReader(in), "x.json", func(ch source.Chunk) error {
		checkJSONAt(t, []byte(in), ch)
		got = append(got, fmt.Sprintf("%s %d:%d %s", ch.Loc.Ref, ch.Loc.Line, ch.Loc.Column, ch.Data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"A-1 2:26 first",
		"A-1 3:119 https://u:p4ss@example.com",
		"A-1 3:48 second",
		"10002#comment-7 5:51 bare array comment",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCSVWithBOMAndCRLF(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jira.csv")
	writeFile(t, path, "\ufeffSummary,Issue key,Issue id,Description,Comment,Comment\r\n"+
		"S one,K-1,1,\"multi\r\nline \"\"quoted\"\" secret-one\r\nend\",\"01/Jan/24 1:00 PM;abc;first\",\"no prefix; here\"\r\n"+
		"\r\n"+
		"S two,,2,,,\r\n")
	c := walk(t, path)
	var got []string
	for _, ch := range c.chunks {
		got = append(got, fmt.Sprintf("%s %d:%d %q", ch.Loc.Ref, ch.Loc.Line, ch.Loc.Column, ch.Data))
	}
	want := []string{
		`K-1 2:1 "S one"`,
		`K-1 2:14 "multi\nline \"quoted\" secret-one\nend"`,
		`K-1#comment-1 4:29 "first"`,
		`K-1#comment-2 4:37 "no prefix; here"`,
		`2 6:1 "S two"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if h := find(c.chunks, "secret-one"); len(h) != 1 || h[0].line != 3 {
		t.Errorf("secret-one: %v", h)
	}
	checkPositions(t, c.chunks)
}

func TestStreamingReaders(t *testing.T) {
	for _, name := range []string{"search-v2.json", "search-v3.json", "issue-OPS-30.json", "export.csv"} {
		path := filepath.Join("testdata", name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		parse := parseJSON
		if filepath.Ext(name) == ".csv" {
			parse = parseCSV
		}
		run := func(r io.Reader) []source.Chunk {
			var out []source.Chunk
			if err := parse(context.Background(), r, path, func(ch source.Chunk) error {
				out = append(out, ch)
				return nil
			}); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return out
		}
		whole := run(bytes.NewReader(data))
		for rname, r := range map[string]io.Reader{
			"one byte": iotest.OneByteReader(bytes.NewReader(data)),
			"half":     iotest.HalfReader(bytes.NewReader(data)),
			"data+err": iotest.DataErrReader(bytes.NewReader(data)),
		} {
			got := run(r)
			if len(got) != len(whole) {
				t.Fatalf("%s %s: %d chunks, want %d", name, rname, len(got), len(whole))
			}
			for i := range got {
				if !bytes.Equal(got[i].Data, whole[i].Data) || !reflect.DeepEqual(got[i].Loc, whole[i].Loc) {
					t.Errorf("%s %s: chunk %d differs: %+v vs %+v", name, rname, i, got[i].Loc, whole[i].Loc)
				}
			}
		}
	}
}

func TestEmitErrorAndCancelStopTheWalk(t *testing.T) {
	s, err := New(Options{Path: "testdata"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"json", "csv"} {
		enough := errors.New("enough")
		calls := 0
		err = s.Walk(context.Background(), func(ch source.Chunk) error {
			calls++
			if strings.HasSuffix(ch.Loc.Path, "."+name) {
				return enough
			}
			return nil
		})
		if !errors.Is(err, enough) {
			t.Fatalf("%s: Walk = %v, want %v", name, err, enough)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Walk(ctx, func(source.Chunk) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Walk = %v", err)
	}
}

func TestReadErrorIsTheFilesError(t *testing.T) {
	boom := errors.New("disk on fire")
	for name, parse := range map[string]func(context.Context, io.Reader, string, func(source.Chunk) error) error{
		"json": parseJSON, "csv": parseCSV,
	} {
		head := `{"issues":[{"key":"A-1","fields":{"summary":"s"}},`
		if name == "csv" {
			head = "Summary,Issue key\ns,A-1\n"
		}
		n := 0
		err := parse(context.Background(), io.MultiReader(strings.NewReader(head), iotest.ErrReader(boom)), "f", func(source.Chunk) error { n++; return nil })
		if !errors.Is(err, boom) || n != 1 {
			t.Errorf("%s: got %v after %d chunks, want %v after 1", name, err, n, boom)
		}
	}
}

// TestChunksCarryWhenTheyWereWritten: a comment's chunk has the comment's
// created time, the fields the issue's, so an incident can take
// its leak time from the earliest copy in a ticket.
func TestChunksCarryWhenTheyWereWritten(t *testing.T) {
	src, err := New(Options{Path: filepath.Join("testdata", "search-v2.json")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	err = src.Walk(context.Background(), func(c source.Chunk) error {
		if _, ok := got[c.Loc.Ref]; !ok {
			got[c.Loc.Ref] = c.Loc.Time
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"OPS-12":                 "2024-03-04T08:02:11Z",
		"OPS-12#comment-10001":   "2024-03-04T09:15:00Z",
		"OPS-12#changelog-10200": "2024-03-05T15:40:00Z",
	} {
		w, _ := time.Parse(time.RFC3339, want)
		if at, ok := got[ref]; !ok || !at.Equal(w) {
			t.Errorf("%s: time %v (seen %v), want %s", ref, at, ok, want)
		}
	}
}

// TestServerXML reads Jira Server's XML (RSS) export: an item's key comes
// after its description, texts are HTML escaped as XML, and each text is
// found on its own line with HTML tags blanked.
func TestServerXML(t *testing.T) {
	const doc = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="0.92">
<channel>
    <title>Example Jira</title>
<item>
    <title>[INFRA-7] Relay</title>
    <description>&lt;p&gt;Config:&lt;/p&gt;
&lt;pre&gt;SMTP_PASSWORD=needle-one
&lt;/pre&gt;</description>
    <key id="10007">INFRA-7</key>
    <summary>needle-two in the summary</summary>
    <comments>
        <comment id="20417" author="bob" created="Mon, 10 Jun 2024 14:02:11 +0000">&lt;p&gt;DB password: needle-three&lt;/p&gt;</comment>
    </comments>
    <customfields><customfield id="customfield_1"><customfieldname>Notes</customfieldname>
        <customfieldvalues><customfieldvalue>needle-four</customfieldvalue></customfieldvalues></customfield></customfields>
</item>
<item><key id="10008">INFRA-8</key><summary>second</summary><comments><comment id="1">&lt;b&gt;needle-five&lt;/b&gt;</comment></comments></item>
</channel>
</rss>
`
	path := filepath.Join(t.TempDir(), "SearchRequest.xml")
	writeFile(t, path, doc)
	c := walk(t, path)
	if len(c.errs) > 0 {
		t.Fatal(c.errs)
	}
	// Columns after an entity on the same line are short by its length
	// less one (&lt;p&gt; is 9 bytes in the file, 3 in the text).
	for needle, want := range map[string]hit{
		"SMTP_PASSWORD=needle-one": {"SearchRequest.xml", 8, 12 - 6, "INFRA-7"},
		"needle-two":               {"SearchRequest.xml", 11, 14, "INFRA-7"},
		"password: needle-three":   {"SearchRequest.xml", 13, 96 - 6, "INFRA-7#comment-20417"},
		"needle-four":              {"SearchRequest.xml", 16, 46, "INFRA-7"},
		"needle-five":              {"SearchRequest.xml", 18, 96 - 6, "INFRA-8#comment-1"},
	} {
		if h := find(c.chunks, needle); len(h) != 1 || h[0] != want {
			t.Errorf("%q: %v, want %v", needle, h, want)
		}
	}
	for _, ch := range c.chunks {
		if bytes.Contains(ch.Data, []byte("<p>")) || ch.Loc.Class != source.ClassTicket || ch.Loc.Flat {
			t.Errorf("chunk %q at %+v", ch.Data, ch.Loc)
		}
	}
}

func TestTextReadsFieldValuesAsTheExportDoes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`"plain v2 text"`, []string{"plain v2 text"}},
		{`{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"pass: "},{"type":"text","text":"hunter2","marks":[{"type":"code"}]},{"type":"hardBreak"},{"type":"text","text":"next"}]},{"type":"paragraph","content":[{"type":"inlineCard","attrs":{"url":"https://x.example/?t=abc"}}]}]}`,
			[]string{"pass: hunter2\nnext", "https://x.example/?t=abc"}},
		{`null`, []string{}},
	} {
		got, err := Text([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Text(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
