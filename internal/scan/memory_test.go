package scan

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/testutil"
)

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
	d, err := detect.New(rules.All())
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := secret.NewFingerprinter([]byte(strings.Repeat("k", 32)))
	size := int64(1 << 30)
	if s := os.Getenv("REKEY_TEST_LINE_BYTES"); s != "" {
		size, _ = strconv.ParseInt(s, 10, 64)
	}
	p := NewProgress()
	var fs []Finding
	peak := testutil.PeakHeap(func() {
		fs, err = Run(context.Background(), Options{Matcher: &Rules{Detector: d, Fingerprinter: fp}, Progress: p}, []source.Source{readerSource{newOneLine(size)}})
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
