package scan

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
)

// chunks is a source made of fixed chunks, for driving the pipeline.
type chunks []source.Chunk

func (c chunks) Walk(ctx context.Context, emit func(source.Chunk) error) error {
	for _, ch := range c {
		if err := emit(ch); err != nil {
			return err
		}
	}
	return nil
}

func testMatcher(t *testing.T) *Rules {
	t.Helper()
	return newRules(t, []*detect.Rule{{
		ID: "tok", Provider: "test", Keywords: []string{"tok_"}, Severity: detect.High,
		Regex: regexp.MustCompile(`\b(tok_[a-z0-9]{12})\b`),
	}})
}

// newRules matches with rs under a fixed fingerprint key.
func newRules(tb testing.TB, rs []*detect.Rule) *Rules {
	tb.Helper()
	d, err := detect.New(rs)
	if err != nil {
		tb.Fatal(err)
	}
	fp, err := secret.NewFingerprinter([]byte(strings.Repeat("k", 32)))
	if err != nil {
		tb.Fatal(err)
	}
	return &Rules{Detector: d, Fingerprinter: fp}
}

func TestRunPositionsTailsAndAlso(t *testing.T) {
	m := testMatcher(t)
	data := []byte("a\nb tok_abcdefabcdef\n")
	src := chunks{
		{Data: data, Loc: source.Location{Path: "cur/app.env", Line: 1, Column: 1, Class: source.ClassConfig, AtHead: true, Commit: "c1",
			Also: []source.Location{{Path: "old/app.env", Commit: "c0", Class: source.ClassHistory}}}},
		// The same token inside a chunk's tail belongs to the next chunk.
		{Data: []byte("zz tok_000000000000"), Loc: source.Location{Path: "big.log", Line: 7, Column: 5}, Tail: 16},
		{Data: []byte("tok_000000000000 end"), Loc: source.Location{Path: "big.log", Line: 7, Column: 8}},
	}
	got, err := Run(context.Background(), Options{Matcher: m, Workers: 2}, []source.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	type pos struct {
		path      string
		line, col int
		class     source.Class
		commit    string
	}
	var ps []pos
	for _, f := range got {
		ps = append(ps, pos{f.Path, f.Line, f.Column, f.Class, f.Commit})
		if f.Preview == "" || len(f.Fingerprint) != 64 || f.Encoding != "plain" {
			t.Errorf("incomplete finding %+v", f)
		}
	}
	want := []pos{
		{"big.log", 7, 8, "", ""},
		{"cur/app.env", 2, 3, source.ClassConfig, "c1"},
		{"old/app.env", 2, 3, source.ClassHistory, "c0"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %+v, want %+v", ps, want)
	}
	for i := range want {
		if ps[i] != want[i] {
			t.Errorf("finding %d: got %+v, want %+v", i, ps[i], want[i])
		}
	}
}

func TestDedupeFoldsWorkTreeIntoHead(t *testing.T) {
	m := testMatcher(t)
	line := []byte("x=tok_abcdefabcdef\n")
	src := chunks{
		{Data: line, Loc: source.Location{Path: "r/.env", Line: 1, Column: 1, AtHead: true}},
		{Data: line, Loc: source.Location{Path: "r/.env", Line: 1, Column: 1, AtHead: true, Commit: "abc", Class: source.ClassConfig}},
	}
	got, err := Run(context.Background(), Options{Matcher: m}, []source.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Commit != "abc" {
		t.Fatalf("got %+v", got)
	}
}

func TestFlatChunkReportsFieldPosition(t *testing.T) {
	m := testMatcher(t)
	src := chunks{{Data: []byte("first line\nsecond tok_abcdefabcdef"), Loc: source.Location{Path: "export/2024-01-02.json", Line: 40, Column: 22, Flat: true, Ref: "#ops@1700000000.000100", Class: source.ClassChat}}}
	got, err := Run(context.Background(), Options{Matcher: m}, []source.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Line != 40 || got[0].Column != 22 || got[0].Ref != "#ops@1700000000.000100" {
		t.Fatalf("got %+v", got)
	}
}

func TestEmitErrorStopsRun(t *testing.T) {
	m := testMatcher(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	many := make(chunks, 100)
	for i := range many {
		many[i] = source.Chunk{Data: []byte("tok_abcdefabcdef"), Loc: source.Location{Path: "f"}}
	}
	if _, err := Run(ctx, Options{Matcher: m, Workers: 1}, []source.Source{many}); err == nil {
		t.Fatal("cancelled run returned no error")
	}
}

func TestProgressCountsFilesOnce(t *testing.T) {
	m := testMatcher(t)
	p := NewProgress()
	src := chunks{
		{Data: []byte("0123456789"), Loc: source.Location{Path: "a", Line: 1, Column: 1}, Tail: 4},
		{Data: []byte("6789abcdef"), Loc: source.Location{Path: "a", Line: 1, Column: 7}},
		{Data: []byte("xyz"), Loc: source.Location{Path: "b", Line: 1, Column: 1}},
	}
	if _, err := Run(context.Background(), Options{Matcher: m, Progress: p}, []source.Source{src}); err != nil {
		t.Fatal(err)
	}
	if p.Files() != 2 || p.Bytes() != 19 {
		t.Fatalf("files %d bytes %d", p.Files(), p.Bytes())
	}
}

func TestHistoryVersionsFoldIntoOneCopy(t *testing.T) {
	m := testMatcher(t)
	v1 := []byte("x=tok_abcdefabcdef\n")
	v2 := []byte("# edited\nx=tok_abcdefabcdef\n")
	v3 := []byte("# edited twice\n\nx=tok_abcdefabcdef\n")
	src := chunks{
		{Data: v2, Loc: source.Location{Path: "r/app.env", Line: 1, Column: 1, Commit: "c2", Seq: 2, Class: source.ClassHistory, Time: time.Unix(2000, 0)}},
		{Data: v3, Loc: source.Location{Path: "r/app.env", Line: 1, Column: 1, Commit: "c3", Seq: 3, AtHead: true, Class: source.ClassConfig}},
		{Data: v1, Loc: source.Location{Path: "r/app.env", Line: 1, Column: 1, Commit: "c1", Seq: 1, Class: source.ClassHistory, Time: time.Unix(1000, 0)}},
		// Another path keeps its own copy.
		{Data: v1, Loc: source.Location{Path: "r/old.env", Line: 1, Column: 1, Commit: "c2", Seq: 2, Class: source.ClassHistory}},
	}
	got, err := Run(context.Background(), Options{Matcher: m, Workers: 1}, []source.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d findings: %+v", len(got), got)
	}
	f := got[0]
	if f.Path != "r/app.env" || !f.AtHead || f.Line != 3 || f.Commit != "c1" || f.Class != source.ClassConfig {
		t.Fatalf("folded copy %+v: want HEAD's line 3, commit c1 (the first to hold it), class config", f)
	}
	if f.ExposedAt == nil || !f.ExposedAt.Equal(time.Unix(1000, 0)) {
		t.Fatalf("exposed at %v, want the first commit's time", f.ExposedAt)
	}
	if got[1].Path != "r/old.env" || got[1].AtHead || got[1].Commit != "c2" {
		t.Fatalf("second copy %+v", got[1])
	}
}

func TestTwoCopiesInOneVersionStayTwo(t *testing.T) {
	m := testMatcher(t)
	v1 := []byte("a=tok_abcdefabcdef\nb=tok_abcdefabcdef\n")
	v2 := []byte("# header\na=tok_abcdefabcdef\nb=tok_abcdefabcdef\n")
	src := chunks{
		{Data: v1, Loc: source.Location{Path: "k.go", Line: 1, Column: 1, Commit: "c1", Seq: 1, Class: source.ClassHistory}},
		{Data: v2, Loc: source.Location{Path: "k.go", Line: 1, Column: 1, Commit: "c2", Seq: 2, AtHead: true, Class: source.ClassCode}},
	}
	got, err := Run(context.Background(), Options{Matcher: m, Workers: 1}, []source.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Line != 2 || got[1].Line != 3 || !got[0].AtHead || got[0].Commit != "c1" || got[1].Commit != "c1" {
		t.Fatalf("got %+v", got)
	}
}

// TestMatchJSONEscaped finds a token that a JSON file only holds escaped,
// at its real line and column, and reports a token that the file holds as
// written once, not again from the decoded copy.
func TestMatchJSONEscaped(t *testing.T) {
	m := testMatcher(t)
	data := []byte("[\n  {\"text\": \"see tok_\\u0061bcdefabcdef\\/x\"},\n  {\"text\": \"plain tok_000000000000 and a\\/b\"}\n]\n")
	got := m.Match(source.Chunk{Data: data, Loc: source.Location{Path: "export/day.json", Line: 1, Column: 1, Class: source.ClassChat}})
	if len(got) != 2 {
		t.Fatalf("%d findings, want 2: %+v", len(got), got)
	}
	type pos struct {
		line, col int
		enc       string
	}
	want := map[string]pos{"tok_abcdefabcdef": {2, 17, "json-escaped"}, "tok_000000000000": {3, 19, "plain"}}
	for _, f := range got {
		w, ok := want[string(f.Secret.Reveal())]
		if !ok || f.Line != w.line || f.Column != w.col || f.Encoding != w.enc {
			t.Errorf("%s at %d:%d %s, want %+v", f.Secret.Reveal(), f.Line, f.Column, f.Encoding, w)
		}
	}
}

// TestMatchSplitValue reports a token continued over two lines once,
// whole, at its first line, and not the fragment the raw file shows.
func TestMatchSplitValue(t *testing.T) {
	m := newRules(t, []*detect.Rule{{
		ID: "tok", Provider: "test", Keywords: []string{"tok_"}, Severity: detect.High,
		Regex: regexp.MustCompile(`(tok_[a-z0-9]{6,})`),
	}})
	data := []byte("A=1\nTOKEN=tok_abcdef\\\n    123456\nOTHER=tok_zzzzzz9\n")
	got := m.Match(source.Chunk{Data: data, Loc: source.Location{Path: "app/.env", Line: 1, Column: 1, Class: source.ClassConfig}})
	type f struct {
		val       string
		line, col int
		enc       string
	}
	var fs []f
	for _, g := range got {
		fs = append(fs, f{string(g.Secret.Reveal()), g.Line, g.Column, g.Encoding})
	}
	want := []f{{"tok_abcdef123456", 2, 7, "split"}, {"tok_zzzzzz9", 4, 7, "plain"}}
	slices.SortFunc(fs, func(a, b f) int { return a.line - b.line })
	if !slices.Equal(fs, want) {
		t.Errorf("got %v, want %v", fs, want)
	}
}

// A source may reuse a chunk's buffer once Release is called: Run calls it
// after matching, and findings keep nothing of the buffer.
func TestRunReleasesChunksAfterMatching(t *testing.T) {
	m := testMatcher(t)
	var released atomic.Int32
	var src chunks
	for i := 0; i < 8; i++ {
		data := []byte("a\nb tok_abcdefabcdef\n")
		src = append(src, source.Chunk{Data: data, Loc: source.Location{Path: fmt.Sprintf("f%d.env", i), Line: 1, Column: 1},
			Release: func() {
				released.Add(1)
				for j := range data { // what the next file read into it would do
					data[j] = 'x'
				}
			}})
	}
	got, err := Run(context.Background(), Options{Matcher: m, Workers: 2}, []source.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	if n := released.Load(); n != int32(len(src)) {
		t.Errorf("%d of %d chunks released", n, len(src))
	}
	if len(got) != len(src) {
		t.Fatalf("%d findings, want %d", len(got), len(src))
	}
	for _, f := range got {
		if string(f.Secret.Reveal()) != "tok_abcdefabcdef" || f.Line != 2 || f.Column != 3 {
			t.Errorf("finding changed by the buffer's reuse: %q at %d:%d", f.Secret.Reveal(), f.Line, f.Column)
		}
	}
}
