package slack

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
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/testutil"
)

const export = "testdata/export"

type hit struct {
	path      string // relative to the export, slash separated
	line, col int
	ref       string
}

func (h hit) String() string { return fmt.Sprintf("%s:%d:%d %s", h.path, h.line, h.col, h.ref) }

type collector struct {
	mu     sync.Mutex
	chunks []source.Chunk
	errs   []*source.FileError
}

func (c *collector) emit(ch source.Chunk) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunks = append(c.chunks, ch)
	return nil
}

func (c *collector) onError(e *source.FileError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, e)
}

func walk(t *testing.T, dir string) *collector {
	t.Helper()
	c := &collector{}
	s, err := New(Options{Dir: dir, OnError: c.onError})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Walk(context.Background(), c.emit); err != nil {
		t.Fatal(err)
	}
	return c
}

// find reports where needle is found, as a detector's finding would.
func find(t *testing.T, dir string, chunks []source.Chunk, needle string) []hit {
	t.Helper()
	var out []hit
	for _, ch := range chunks {
		data := ch.Data
		for base := 0; ; {
			i := bytes.Index(data[base:], []byte(needle))
			if i < 0 {
				break
			}
			line, col := source.Position(ch.Data, base+i, ch.Loc)
			rel, err := filepath.Rel(dir, ch.Loc.Path)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, hit{filepath.ToSlash(rel), line, col, ch.Loc.Ref})
			base += i + 1
		}
	}
	slices.SortFunc(out, func(a, b hit) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func TestExportNeedles(t *testing.T) {
	c := walk(t, export)
	if len(c.errs) > 0 {
		t.Fatalf("unexpected file errors: %v", c.errs)
	}
	for _, ch := range c.chunks {
		if ch.Loc.Class != source.ClassChat || !ch.Loc.Flat || ch.Loc.Line < 1 || ch.Loc.Column < 1 || len(ch.Data) == 0 {
			t.Errorf("bad chunk %+v", ch.Loc)
		}
	}
	tests := []struct {
		needle string
		want   []hit
	}{
		{"xoxb-284719365021-5038261947133-Qm7RzT2kLw9VhXc4NpB8sYdE", []hit{
			{"general/2024-03-04.json", 43, 18, "#general@1709547000.200100"},
		}},
		{"postgres://orders_svc:Tr0ub4dor-Zebra-91@db.internal.example:5432/orders", []hit{
			{"ops-alerts/2024-03-04.json", 17, 26, "#ops-alerts@1709553600.000200"},
		}},
		{"AKIAQ7XK2RZ4M5NPTW3E", []hit{
			{"ops-alerts/2024-03-04.json", 26, 35, "#ops-alerts@1709553600.000200"},
		}},
		{"Deploy of orders-api", []hit{{"ops-alerts/2024-03-04.json", 13, 30, "#ops-alerts@1709553600.000200"}}},
		{"orders-api deploy #4812", []hit{{"ops-alerts/2024-03-04.json", 14, 27, "#ops-alerts@1709553600.000200"}}},
		{"Production deploy", []hit{{"ops-alerts/2024-03-04.json", 16, 29, "#ops-alerts@1709553600.000200"}}},
		{"h8Zq3vR0mK1sT9yU4wL6pN2xC7bF5dJ0aE3gH1iQ", []hit{
			{"sre-private/2024-03-05.json", 102, 18, "#sre-private@1709640600.000300"},
		}},
		// Slack escapes & in message text; blocks keep it raw, and repeat
		// the text, so they are left out.
		{"PGPASSWORD=s3cr&t-Plover-77", []hit{
			{"D07ALICEBOB/2024-03-05.json", 5, 18, "#D07ALICEBOB@1709650000.000100"},
		}},
		{"&amp;", nil},
		{"ghp_R8vK2mXq9LwT4zN7bY1cF6hJ3sD0pG5aE2uQ", []hit{
			{"D07ALICEBOB/2024-03-05.json", 72, 29, "#D07ALICEBOB@1709650200.000200"},
		}},
		// A \n escape does not move a Flat chunk's findings.
		{"redis://default:Nw7-Kestrel-Q2@cache.internal:6379", []hit{
			{"D07ALICEBOB/2024-03-05.json", 72, 29, "#D07ALICEBOB@1709650200.000200"},
		}},
		// The file's title is its name: one copy.
		{"deploy.env", []hit{
			{"D07ALICEBOB/2024-03-05.json", 52, 26, "#D07ALICEBOB@1709650200.000200"},
		}},
		// The minified day: one line, real columns.
		{"kq3Lm9XwZr7TbN2vY5sD8fGh", []hit{
			{"ops-alerts/2024-03-06.json", 1, 204, "#ops-alerts@1709719800.000200"},
		}},
		{"Disk 91%", []hit{{"ops-alerts/2024-03-06.json", 1, 52, "#ops-alerts@1709719200.000100"}}},
		// The channel's topic, from channels.json.
		{"Gr4f4na-Adm1n-Topic-2024", []hit{{"channels.json", 38, 23, "#ops-alerts"}}},
		// A surrogate pair decodes to one emoji.
		{"Thanks \U0001F64F will do", []hit{
			{"general/2024-03-05.json", 47, 18, "#general@1709633400.000200"},
		}},
		{"Reminder: rotate", []hit{
			{"general/2024-03-05.json", 5, 18, "#general@1709632800.000100"},
		}},
		// Not a day file; user names and profile URLs are not text.
		{"notscanned", nil},
		{"alice@example.com", nil},
		{"gravatar", nil},
		{"files.slack.com", nil},
	}
	for _, tt := range tests {
		got := find(t, export, c.chunks, tt.needle)
		slices.SortFunc(tt.want, func(a, b hit) int { return strings.Compare(a.String(), b.String()) })
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q:\n got %v\nwant %v", tt.needle, got, tt.want)
		}
	}
	checkPositions(t, c.chunks)
}

// checkPositions proves each chunk's Line and Column against its file: a
// JSON string starts just before that position and decodes to the chunk's
// data (with Slack's &amp; &lt; &gt; decoded for mrkdwn fields).
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
		checkAt(t, data, ch)
	}
}

func checkAt(t *testing.T, data []byte, ch source.Chunk) {
	t.Helper()
	off := testutil.Offset(data, ch.Loc.Line, ch.Loc.Column)
	if off < 1 || off > len(data) || data[off-1] != '"' {
		t.Fatalf("%s:%d:%d: no string starts there", ch.Loc.Path, ch.Loc.Line, ch.Loc.Column)
	}
	var s string
	if err := json.NewDecoder(bytes.NewReader(data[off-1:])).Decode(&s); err != nil {
		t.Fatalf("%s:%d:%d: %v", ch.Loc.Path, ch.Loc.Line, ch.Loc.Column, err)
	}
	if got := string(ch.Data); got != s && got != entities.Replace(s) {
		t.Fatalf("%s:%d:%d: chunk %q, file has %q", ch.Loc.Path, ch.Loc.Line, ch.Loc.Column, got, s)
	}
}

func copyExport(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(export)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMalformedFilesReportedAndWalkGoesOn(t *testing.T) {
	dir := copyExport(t)
	broken := filepath.Join(dir, "general", "2024-03-07.json")
	// A comma missing after "ts" on line 5.
	write(t, broken, "[\n    {\n        \"type\": \"message\",\n        \"text\": \"xoxb-before-the-break\",\n        \"ts\": \"1709800000.000100\"\n        \"user\": \"U01ALICE01\"\n    }\n]\n")
	notArray := filepath.Join(dir, "sre-private", "2024-03-08.json")
	write(t, notArray, `{"ok": true}`)
	truncated := filepath.Join(dir, "D07ALICEBOB", "2024-03-09.json")
	write(t, truncated, "[\n    {\n        \"text\": \"cut off")
	write(t, filepath.Join(dir, "groups.json"), "[{\"id\": \"G06SREPRIV\", \"name\": ")

	c := walk(t, dir)
	got := map[string]string{}
	for _, e := range c.errs {
		got[e.Path] = e.Err.Error()
		if !strings.Contains(e.Error(), e.Path) {
			t.Errorf("error %q does not name %s", e, e.Path)
		}
	}
	// A day file that yields no message is scanned as plain text instead.
	const plain = "; scanned as plain text"
	want := map[string]string{
		broken:                            `line 6, column 9: unexpected string, expecting ',' or '}' after an object member` + plain,
		notArray:                          `line 1, column 1: not a Slack day file: want a JSON array, found '{'` + plain,
		truncated:                         `line 3, column 17: unexpected end of input in string` + plain,
		filepath.Join(dir, "groups.json"): `line 1, column 31: unexpected end of input, expecting a value`,
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: got error %q, want %q", p, got[p], w)
		}
	}
	if len(c.errs) != len(want) {
		t.Errorf("got %d errors, want %d: %v", len(c.errs), len(want), c.errs)
	}
	// The other files are walked; the private channel's folder keeps its
	// name though groups.json is broken.
	for _, needle := range []string{"xoxb-284719365021", "h8Zq3vR0mK1sT9yU4wL6pN2xC7bF5dJ0aE3gH1iQ", "ghp_R8vK2mXq9LwT4zN7bY1cF6hJ3sD0pG5aE2uQ"} {
		if hits := find(t, dir, c.chunks, needle); len(hits) == 0 {
			t.Errorf("%s not found after a malformed file", needle)
		}
	}
	if hits := find(t, dir, c.chunks, "h8Zq3vR0mK1sT9yU4wL6pN2xC7bF5dJ0aE3gH1iQ"); len(hits) == 0 || hits[0].ref != "#sre-private@1709640600.000300" {
		t.Errorf("private channel ref: %v", hits)
	}
	// The broken file's message is found in its plain text, on its line.
	want2 := []hit{{"general/2024-03-07.json", 4, 18, ""}}
	if hits := find(t, dir, c.chunks, "xoxb-before-the-break"); !reflect.DeepEqual(hits, want2) {
		t.Errorf("broken day file: %v, want %v", hits, want2)
	}
	for _, ch := range c.chunks {
		if ch.Loc.Path == broken && (ch.Loc.Flat || ch.Loc.Class != source.ClassChat) {
			t.Errorf("fallback chunk %+v", ch.Loc)
		}
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestChannelIDFoldersAndUnknownFolders(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "channels.json"), `[{"id":"C111","name":"payments"}]`)
	write(t, filepath.Join(dir, "C111", "2024-01-02.json"), `[{"text":"by id","ts":"1.1"}]`)
	write(t, filepath.Join(dir, "stray", "2024-01-02.json"), `[{"text":"unknown folder","ts":"2.2"},{"text":"no ts"},[],"x",null]`)
	write(t, filepath.Join(dir, "stray", "notes.json"), `[{"text":"not a day file"}]`)
	c := walk(t, dir)
	for needle, ref := range map[string]string{"by id": "#payments@1.1", "unknown folder": "#stray@2.2", "no ts": "#stray"} {
		if h := find(t, dir, c.chunks, needle); len(h) != 1 || h[0].ref != ref {
			t.Errorf("%q: %v, want ref %s", needle, h, ref)
		}
	}
	if h := find(t, dir, c.chunks, "not a day file"); h != nil {
		t.Errorf("non-day file scanned: %v", h)
	}
}

func TestNestedMessagesAndBlocks(t *testing.T) {
	day := `[
  {
    "type": "message", "subtype": "message_changed", "ts": "10.0",
    "message": {"text": "new &lt;text&gt;", "ts": "9.0", "edited": {"user": "U1", "ts": "10.0"}},
    "previous_message": {"text": "old secret", "ts": "9.0"}
  },
  {
    "ts": "10.5", "text": "key is abc123 ok",
    "blocks": [{"type": "rich_text", "elements": [{"type": "text", "text": "key is "}, {"type": "text", "text": "abc123"}, {"type": "text", "text": "not in text"}]}]
  },
  {
    "ts": "11.0",
    "blocks": [
      {"type": "section", "text": {"type": "mrkdwn", "text": "a &amp; b"}, "fields": [{"type": "plain_text", "text": "plain &amp;"}]},
      {"type": "rich_text", "elements": [{"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "pre"}, {"type": "link", "url": "https://x", "text": "label"}]}]}
    ],
    "attachments": [{"fields": [{"title": "k", "value": "v1"}], "message_blocks": [{"message": {"blocks": [{"type": "rich_text", "elements": [{"type": "text", "text": "shared"}]}]}}]}],
    "text": 5, "files": [{"name": null}]
  }
]`
	var got []string
	err := parseDay(context.Background(), strings.NewReader(day), "d.json", "c", func(ch source.Chunk) error {
		checkAt(t, []byte(day), ch)
		got = append(got, fmt.Sprintf("%s %d:%d %q", ch.Loc.Ref, ch.Loc.Line, ch.Loc.Column, ch.Data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`#c@9.0 4:26 "new <text>"`,
		`#c@9.0 5:35 "old secret"`,
		`#c@10.5 8:28 "key is abc123 ok"`,
		`#c@10.5 9:150 "not in text"`,
		`#c@11.0 14:63 "a & b"`,
		`#c@11.0 14:119 "plain &amp;"`,
		`#c@11.0 15:116 "pre"`,
		`#c@11.0 15:169 "label"`,
		`#c@11.0 17:58 "v1"`,
		`#c@11.0 17:169 "shared"`,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "export.zip")
	write(t, file, "PK")
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope")
	for path, want := range map[string]string{
		missing: "no such file or directory",
		file:    "not a directory",
		empty:   "not a Slack export",
	} {
		_, err := New(Options{Dir: path})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%s) = %v, want an error naming it: %s", path, err, want)
		}
	}
}

func TestStreamingReaders(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(export, "*", "*.json"))
	if err != nil || len(files) < 5 {
		t.Fatal(files, err)
	}
	files = append(files, filepath.Join(export, "channels.json"))
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		parse := parseDay
		if filepath.Base(path) == "channels.json" {
			parse = func(ctx context.Context, r io.Reader, path, _ string, emit func(source.Chunk) error) error {
				return parseList(ctx, r, path, map[string]string{}, emit)
			}
		}
		run := func(r io.Reader) []source.Chunk {
			var out []source.Chunk
			if err := parse(context.Background(), r, path, "c", func(ch source.Chunk) error {
				out = append(out, ch)
				return nil
			}); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return out
		}
		whole := run(bytes.NewReader(data))
		for name, r := range map[string]io.Reader{
			"one byte": iotest.OneByteReader(bytes.NewReader(data)),
			"half":     iotest.HalfReader(bytes.NewReader(data)),
			"data+err": iotest.DataErrReader(bytes.NewReader(data)),
		} {
			got := run(r)
			if len(got) != len(whole) {
				t.Fatalf("%s %s: %d chunks, want %d", path, name, len(got), len(whole))
			}
			for i := range got {
				if !bytes.Equal(got[i].Data, whole[i].Data) || !reflect.DeepEqual(got[i].Loc, whole[i].Loc) {
					t.Errorf("%s %s: chunk %d differs", path, name, i)
				}
			}
		}
		checkPositions(t, whole)
	}
}

func TestReadErrorIsTheFilesError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader(`[{"text":"a","ts":"1"},`), iotest.ErrReader(boom))
	n := 0
	err := parseDay(context.Background(), r, "d.json", "c", func(source.Chunk) error { n++; return nil })
	if !errors.Is(err, boom) || n != 1 {
		t.Fatalf("got %v after %d chunks, want %v after 1", err, n, boom)
	}
}

func TestEmitErrorAndCancelStopTheWalk(t *testing.T) {
	s, err := New(Options{Dir: export})
	if err != nil {
		t.Fatal(err)
	}
	stopErr := errors.New("enough")
	var mu sync.Mutex
	calls := 0
	err = s.Walk(context.Background(), func(source.Chunk) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return stopErr
	})
	if !errors.Is(err, stopErr) {
		t.Fatalf("Walk = %v, want %v", err, stopErr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Walk(ctx, func(source.Chunk) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Walk = %v", err)
	}
}

func TestTsTime(t *testing.T) {
	cases := map[string]time.Time{
		"#deploys@1709370060.000200": time.Unix(1709370060, 200_000).UTC(),
		"#deploys@1709370060":        time.Unix(1709370060, 0).UTC(),
		"#deploys":                   {},
		"#deploys@not-a-ts":          {},
	}
	for ref, want := range cases {
		if got := tsTime(ref); !got.Equal(want) {
			t.Errorf("%s: %v, want %v", ref, got, want)
		}
	}
}

// TestLayouts reads the layouts export tools write besides Slack's own:
// each must yield its message, with the right channel in the ref, at the
// line and column of the message's text in its file.
func TestLayouts(t *testing.T) {
	day := func(text, ts string) string {
		return "[\n  {\"type\": \"message\", \"user\": \"U1\", \"text\": \"" + text + "\", \"ts\": \"" + ts + "\"}\n]\n"
	}
	const list = `[{"id": "C01OPS", "name": "ops", "topic": {"value": ""}, "purpose": {"value": ""}}]`
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  []hit
	}{
		{"workspace export without lists", map[string]string{
			"users.json":                     `[{"id": "U1", "name": "alice"}]`,
			"incidents/2024-05-14.json":      day("needle one", "1715680800.000100"),
			"incidents/attachments/x.json":   day("needle in an attachment", "1"),
			"incidents/notes-2024-05-14.txt": "needle in a note",
		}, []hit{{"incidents/2024-05-14.json", 0, 0, "#incidents@1715680800.000100"}}},
		{"workspace export in a subfolder", map[string]string{
			"acme/channels.json":          list,
			"acme/C01OPS/2024-05-14.json": day("needle two", "1715680900.000100"),
		}, []hit{{"acme/C01OPS/2024-05-14.json", 0, 0, "#ops@1715680900.000100"}}},
		{"single channel", map[string]string{
			"2024-06-01.json": day("needle three", "1717200000.000100"),
		}, []hit{{"2024-06-01.json", 0, 0, "#export@1717200000.000100"}}},
		{"slackdump", map[string]string{
			"C06PAY.json": `{"channel_id": "C06PAY", "messages": [
  {"type": "message", "text": "root", "ts": "1718000000.000100", "slackdump_thread_replies": [
    {"type": "message", "text": "needle four", "ts": "1718000100.000200"}]}
], "name": "payments"}`,
			"users.json": `[{"id": "U1", "messages": "not a conversation"}]`,
		}, []hit{{"C06PAY.json", 0, 0, "#payments@1718000100.000200"}}},
		{"slackdump without a name, with the export's list", map[string]string{
			"channels.json": list,
			"C01OPS.json":   `{"channel_id": "C01OPS", "messages": [{"text": "needle five", "ts": "1.2"}]}`,
		}, []hit{{"C01OPS.json", 0, 0, "#ops@1.2"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "export")
			for name, s := range tt.files {
				write(t, filepath.Join(dir, name), s)
			}
			c := walk(t, dir)
			if len(c.errs) > 0 {
				t.Fatalf("file errors: %v", c.errs)
			}
			want := tt.want
			for i, w := range want {
				// The expected place is where the fixture has the needle.
				text := tt.files[w.path]
				at := strings.Index(text, "needle")
				want[i].line = 1 + strings.Count(text[:at], "\n")
				want[i].col = at - strings.LastIndex(text[:at], "\n")
			}
			if got := find(t, dir, c.chunks, "needle"); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
