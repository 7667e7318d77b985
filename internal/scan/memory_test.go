package scan

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// realRules matches with the whole rule set, as `scan` does.
func realRules(tb testing.TB) *Rules {
	tb.Helper()
	return newRules(tb, rules.All())
}

// oneLine yields n bytes of a single line without newlines: minified-JSON
// looking filler with a credential-like assignment every 64 KiB, so the
// prefilter and the regexes both have work to do.
type oneLine struct {
	left    int64
	pos     int
	pattern []byte
}

func newOneLine(n int64) *oneLine {
	filler := strings.Repeat(`{"id":48213,"name":"orders-api","tags":["prod","eu-west-1"],"ok":true},`, 900)
	hit := `{"service":"billing","password":"Vq8#rT2mLx9!pW4z","token":"xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"},`
	return &oneLine{left: n, pattern: []byte(filler + hit)}
}

func (o *oneLine) Read(p []byte) (int, error) {
	if o.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && o.left > 0 {
		c := copy(p[n:min(len(p), n+int(min(o.left, int64(len(p)))))], o.pattern[o.pos:])
		o.pos = (o.pos + c) % len(o.pattern)
		n += c
		o.left -= int64(c)
	}
	return n, nil
}

type readerSource struct {
	r io.Reader
}

func (s readerSource) Walk(ctx context.Context, emit func(source.Chunk) error) error {
	return source.DefaultChunking.ReadChunks(s.r, source.Location{Path: "huge.json"}, emit)
}

// TestOneGigabyteLineInBoundedMemory streams 1 GB with no newline through
// the real rule set and checks the heap never holds more than a few chunks.
func TestOneGigabyteLineInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GB")
	}
	m := realRules(t)
	size := int64(1 << 30)
	if s := os.Getenv("REKEY_TEST_LINE_BYTES"); s != "" {
		size, _ = strconv.ParseInt(s, 10, 64)
	}
	p := NewProgress()
	var (
		fs  []Finding
		err error
	)
	peak := testutil.PeakHeap(func() {
		fs, err = Run(context.Background(), Options{Matcher: m, Progress: p}, []source.Source{readerSource{newOneLine(size)}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Bytes() != size {
		t.Fatalf("scanned %d bytes, want %d", p.Bytes(), size)
	}
	// Each planted record holds two secrets; they are the same two values
	// everywhere, so there are many copies of two fingerprints.
	fps := map[secret.Fingerprint]bool{}
	for _, f := range fs {
		fps[f.Fingerprint] = true
	}
	if len(fs) < 1000 || len(fps) != 2 {
		t.Fatalf("%d findings, %d distinct secrets", len(fs), len(fps))
	}
	const limit = 256 << 20
	t.Logf("1 GiB single line: %d findings, peak heap in use %d MiB, %s", len(fs), peak>>20, p.Line())
	if peak > limit {
		t.Fatalf("peak heap %d MiB, want under %d MiB", peak>>20, limit>>20)
	}
}

// benchFiles reads up to limit bytes of the files under GOROOT/src whose
// name ends in one of exts, as whole-file chunks.
func benchFiles(b *testing.B, limit int, exts ...string) []source.Chunk {
	b.Helper()
	root := filepath.Join(testutil.GoRoot(b), "src")
	var out []source.Chunk
	total := 0
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || total >= limit {
			return nil
		}
		ok := false
		for _, e := range exts {
			ok = ok || strings.HasSuffix(p, e)
		}
		if !ok {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil || len(data) > 1<<20 || bytes.IndexByte(data, 0) >= 0 {
			return nil
		}
		out = append(out, source.Chunk{Data: data, Loc: source.Location{Path: p, Line: 1, Column: 1, Class: source.Classify(p)}})
		total += len(data)
		return nil
	})
	if len(out) == 0 {
		b.Skip("no files under " + root)
	}
	return out
}

func runMatch(b *testing.B, chunks []source.Chunk) {
	m := realRules(b)
	total := 0
	for _, ch := range chunks {
		total += len(ch.Data)
	}
	b.SetBytes(int64(total))
	b.ResetTimer()
	for range b.N {
		for _, ch := range chunks {
			m.Match(ch)
		}
	}
}

// BenchmarkMatchGo: whole Go files (string concatenations across lines
// are common), the rule set, decoding and rewriting included.
func BenchmarkMatchGo(b *testing.B) { runMatch(b, benchFiles(b, 16<<20, ".go")) }

// BenchmarkMatchJSON: Go's JSON test data, full of escapes.
func BenchmarkMatchJSON(b *testing.B) { runMatch(b, benchFiles(b, 16<<20, ".json")) }
