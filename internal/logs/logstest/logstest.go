// Package logstest is the conformance suite every log parser passes: golden
// output for each testdata input (refreshed with -update), the same result
// through awkward readers, evidence that points at the real record, no
// failure on truncated or garbage input, emit's error returned unchanged,
// and constant memory on a large input.
package logstest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files of the log parser tests")

// Case is one testdata input of a parser.
type Case struct {
	// Input is the path of the log file, relative to the package under
	// test; it may be gzip-compressed.
	Input string
	// Golden is the path of the expected output; Input+".golden.json"
	// when empty.
	Golden string
}

func (c Case) golden() string {
	if c.Golden != "" {
		return c.Golden
	}
	return c.Input + ".golden.json"
}

// Cases returns a Case for each file matching glob, skipping golden files.
func Cases(t testing.TB, glob string) []Case {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatal(err)
	}
	var out []Case
	for _, f := range files {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		out = append(out, Case{Input: f})
	}
	if len(out) == 0 {
		t.Fatalf("logstest: no inputs match %s", glob)
	}
	return out
}

// Result is what a parse produced, as the golden files hold it.
type Result struct {
	Stats  logs.Stats   `json:"stats"`
	Events []logs.Event `json:"events"`
	Err    string       `json:"error,omitempty"`
}

// Parse runs p over r, collecting every event.
func Parse(p logs.Parser, file string, r io.Reader) Result {
	var res Result
	res.Events = []logs.Event{}
	st, err := p.Parse(context.Background(), file, r, func(e logs.Event) error {
		res.Events = append(res.Events, e)
		return nil
	})
	res.Stats = st
	if err != nil {
		res.Err = err.Error()
	}
	return res
}

func encode(t testing.TB, r Result) string {
	t.Helper()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// content reads a test input, decompressed.
func content(t testing.TB, path string) []byte {
	t.Helper()
	rc, err := logs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Run checks p against the conformance suite with the given inputs.
func Run(t *testing.T, p logs.Parser, cases []Case) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("logstest: no cases")
	}
	if p.Name() == "" {
		t.Error("Name() is empty")
	}
	for _, c := range cases {
		c := c
		data := content(t, c.Input)
		want := Parse(p, c.Input, bytes.NewReader(data))
		t.Run("golden/"+filepath.Base(c.Input), func(t *testing.T) { checkGolden(t, p, c, want) })
		t.Run("readers/"+filepath.Base(c.Input), func(t *testing.T) { checkReaders(t, p, c, data, want) })
		t.Run("gzip/"+filepath.Base(c.Input), func(t *testing.T) { checkGzip(t, p, c, data, want) })
		t.Run("evidence/"+filepath.Base(c.Input), func(t *testing.T) { checkEvidence(t, c, data, want) })
		t.Run("truncated/"+filepath.Base(c.Input), func(t *testing.T) { checkTruncated(t, p, c, data, want) })
		t.Run("emit-error/"+filepath.Base(c.Input), func(t *testing.T) { checkEmitError(t, p, c, data, want) })
		t.Run("read-error/"+filepath.Base(c.Input), func(t *testing.T) { checkReadError(t, p, c, data) })
		t.Run("sniff/"+filepath.Base(c.Input), func(t *testing.T) {
			head := data
			if len(head) > logs.HeadSize {
				head = head[:logs.HeadSize]
			}
			if !p.Sniff(head) {
				t.Errorf("Sniff rejects the head of %s", c.Input)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) { checkGarbage(t, p) })
	t.Run("memory", func(t *testing.T) { checkMemory(t, p, cases) })
}

func checkGolden(t *testing.T, p logs.Parser, c Case, want Result) {
	got := encode(t, want)
	if want.Err != "" {
		t.Errorf("Parse(%s): %s", c.Input, want.Err)
	}
	if want.Stats.Events != len(want.Events) {
		t.Errorf("Stats.Events = %d, emitted %d", want.Stats.Events, len(want.Events))
	}
	if len(want.Events) == 0 {
		t.Errorf("%s yields no events: a test input should", c.Input)
	}
	if *update {
		if err := os.WriteFile(c.golden(), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(c.golden())
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(b), got); diff != "" {
		t.Errorf("%s: output differs from %s (-want +got; go test -update rewrites it):\n%s", p.Name(), c.golden(), diff)
	}
}

func checkReaders(t *testing.T, p logs.Parser, c Case, data []byte, want Result) {
	w := encode(t, want)
	for name, r := range map[string]io.Reader{
		"OneByteReader": iotest.OneByteReader(bytes.NewReader(data)),
		"HalfReader":    iotest.HalfReader(bytes.NewReader(data)),
		"DataErrReader": iotest.DataErrReader(bytes.NewReader(data)),
	} {
		if diff := cmp.Diff(w, encode(t, Parse(p, c.Input, r))); diff != "" {
			t.Errorf("through %s (-plain +%s):\n%s", name, name, diff)
		}
	}
}

func checkGzip(t *testing.T, p logs.Parser, c Case, data []byte, want Result) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	path := filepath.Join(t.TempDir(), "log") // no .gz: Open goes by content
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := logs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if diff := cmp.Diff(encode(t, want), encode(t, Parse(p, c.Input, rc))); diff != "" {
		t.Errorf("gzipped (-plain +gzip):\n%s", diff)
	}
}

// checkEvidence reads the line (or offset) each event names and checks it
// is the record: it holds the credential's name.
func checkEvidence(t *testing.T, c Case, data []byte, want Result) {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for i, e := range want.Events {
		if e.File != c.Input {
			t.Errorf("event %d: File = %q, want %q", i, e.File, c.Input)
		}
		var rec string
		switch {
		case e.Line > 0:
			if e.Line > len(lines) {
				t.Errorf("event %d: line %d is past the end (%d lines)", i, e.Line, len(lines))
				continue
			}
			rec = lines[e.Line-1]
		case e.Offset > 0 || i == 0:
			if e.Offset >= int64(len(data)) {
				t.Errorf("event %d: offset %d is past the end (%d bytes)", i, e.Offset, len(data))
				continue
			}
			rec = string(data[e.Offset:min(int64(len(data)), e.Offset+64<<10)])
		default:
			t.Errorf("event %d has neither Line nor Offset", i)
			continue
		}
		if e.Credential != "" && !strings.Contains(rec, e.Credential) && !namedAtLogin(lines, e) {
			t.Errorf("event %d (%s %s): %s:%d does not name %q: %q", i, e.Action, e.Outcome, c.Input, e.Line, e.Credential, rec)
		}
	}
}

// namedAtLogin reports whether the line that Detail "login_line" names
// holds the credential: a record that does not name its user (a MySQL
// general log statement) is attributed through its session's login.
func namedAtLogin(lines []string, e logs.Event) bool {
	n, err := strconv.Atoi(e.Detail["login_line"])
	return err == nil && n > 0 && n <= len(lines) && n <= e.Line && strings.Contains(lines[n-1], e.Credential)
}

// checkTruncated cuts the input at random points: every cut parses without
// error, and the events before the last are those of the whole input.
func checkTruncated(t *testing.T, p logs.Parser, c Case, data []byte, want Result) {
	rnd := rand.New(rand.NewSource(int64(len(data))))
	for i := 0; i < 40 && len(data) > 1; i++ {
		cut := rnd.Intn(len(data))
		got := Parse(p, c.Input, bytes.NewReader(data[:cut]))
		if got.Err != "" {
			t.Errorf("cut at %d: %s", cut, got.Err)
			continue
		}
		if got.Stats.Events != len(got.Events) {
			t.Errorf("cut at %d: Stats.Events = %d, emitted %d", cut, got.Stats.Events, len(got.Events))
		}
		if len(got.Events) > len(want.Events) {
			t.Errorf("cut at %d: %d events, more than the whole input's %d", cut, len(got.Events), len(want.Events))
			continue
		}
		if n := len(got.Events) - 1; n > 0 {
			a := encode(t, Result{Events: want.Events[:n]})
			b := encode(t, Result{Events: got.Events[:n]})
			if diff := cmp.Diff(a, b); diff != "" {
				t.Errorf("cut at %d: events before the last differ (-whole +cut):\n%s", cut, diff)
			}
		}
	}
}

var errStop = errors.New("logstest: stop")

func checkEmitError(t *testing.T, p logs.Parser, c Case, data []byte, want Result) {
	if len(want.Events) == 0 {
		t.Skip("no events")
	}
	calls := 0
	_, err := p.Parse(context.Background(), c.Input, bytes.NewReader(data), func(logs.Event) error {
		calls++
		return errStop
	})
	if err != errStop {
		t.Errorf("Parse returned %v, want emit's error unchanged", err)
	}
	if calls != 1 {
		t.Errorf("emit called %d times after returning an error, want 1", calls)
	}
}

var errRead = errors.New("logstest: read failed")

func checkReadError(t *testing.T, p logs.Parser, c Case, data []byte) {
	r := io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(errRead))
	_, err := p.Parse(context.Background(), c.Input, r, func(logs.Event) error { return nil })
	if !errors.Is(err, errRead) {
		t.Errorf("Parse over a failing reader returned %v, want it to wrap the reader's error", err)
	}
}

// Garbage is input no parser should find an event in.
func Garbage() map[string][]byte {
	rnd := rand.New(rand.NewSource(1))
	bin := make([]byte, 8<<10)
	rnd.Read(bin)
	for i := 0; i < len(bin); i += 97 {
		bin[i] = '\n'
	}
	bin[0] = 'x'
	return map[string][]byte{
		"binary": bin,
		"text":   []byte("hello world\nthis is not a log\r\n\t\tindented\n{\"json\": true}\n,,,,,\n\"unterminated\n"),
		"json":   []byte("{\"a\":1}\n[1,2,3]\n{\"message\":\n"),
		"zeros":  make([]byte, 4096),
		"long":   append(bytes.Repeat([]byte("A"), 3<<20), '\n'),
	}
}

func checkGarbage(t *testing.T, p logs.Parser) {
	for name, data := range Garbage() {
		got := Parse(p, name, bytes.NewReader(data))
		if got.Err != "" {
			t.Errorf("%s: Parse failed: %s", name, got.Err)
		}
		if len(got.Events) != 0 {
			t.Errorf("%s: %d events from garbage: %+v", name, len(got.Events), got.Events[0])
		}
		if got.Stats.MalformedCount == 0 {
			t.Errorf("%s: garbage counted as no malformed record", name)
		}
		if len(got.Stats.Malformed) > logs.MaxMalformed || len(got.Stats.Malformed) > got.Stats.MalformedCount {
			t.Errorf("%s: %d malformed positions kept of %d", name, len(got.Stats.Malformed), got.Stats.MalformedCount)
		}
		for _, m := range got.Stats.Malformed {
			if m.File != name || m.Line == 0 && m.Offset == 0 && m != got.Stats.Malformed[0] || m.Reason == "" {
				t.Errorf("%s: malformed position without file, place or reason: %+v", name, m)
				break
			}
		}
		if p.Sniff(data[:min(len(data), logs.HeadSize)]) {
			t.Errorf("%s: Sniff accepts garbage", name)
		}
	}
}

// repeater yields data over and over up to n bytes, without holding more
// than one copy.
type repeater struct {
	data []byte
	pos  int
	left int64
}

func (r *repeater) Read(b []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > r.left {
		b = b[:r.left]
	}
	n := copy(b, r.data[r.pos:])
	r.pos = (r.pos + n) % len(r.data)
	r.left -= int64(n)
	return n, nil
}

// Repeat returns a reader of n bytes made by repeating the input (with a
// final newline added when it lacks one).
func Repeat(data []byte, n int64) io.Reader {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(append([]byte(nil), data...), '\n')
	}
	return &repeater{data: data, left: n}
}

// MemoryLimit bounds the heap in use while parsing a large input.
const MemoryLimit = 64 << 20

// checkMemory parses ~200 MB made by repeating the largest input and checks
// the heap never holds it.
func checkMemory(t *testing.T, p logs.Parser, cases []Case) {
	if testing.Short() {
		t.Skip("200 MB parse skipped under -short")
	}
	var data []byte
	for _, c := range cases {
		if d := content(t, c.Input); len(d) > len(data) {
			data = d
		}
	}
	const size = 200 << 20
	var (
		events int
		st     logs.Stats
		err    error
	)
	peak := testutil.PeakHeap(func() {
		st, err = p.Parse(context.Background(), "big", Repeat(data, size), func(logs.Event) error {
			events++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if events == 0 || st.Events != events {
		t.Errorf("%d events, Stats.Events = %d", events, st.Events)
	}
	t.Logf("%s: %d MiB, %d records, %d events, %d malformed, peak heap in use %.1f MiB",
		p.Name(), size>>20, st.Records, events, st.MalformedCount, float64(peak)/(1<<20))
	if peak > MemoryLimit {
		t.Errorf("peak heap in use %.1f MiB parsing %d MiB, want < %d MiB", float64(peak)/(1<<20), size>>20, MemoryLimit>>20)
	}
}

// Fuzz adds the inputs (and cuts of them) to f's corpus and checks that any
// input parses without error or panic, with every event placed.
func Fuzz(f *testing.F, p logs.Parser, cases []Case) {
	f.Helper()
	for _, c := range cases {
		data := content(f, c.Input)
		if len(data) > 64<<10 {
			data = data[:64<<10]
		}
		f.Add(data)
		f.Add(data[:len(data)/3])
	}
	for _, g := range Garbage() {
		if len(g) < 16<<10 {
			f.Add(g)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events := 0
		st, err := p.Parse(context.Background(), "fuzz", bytes.NewReader(data), func(e logs.Event) error {
			events++
			if e.File != "fuzz" || e.Line <= 0 && e.Offset <= 0 && events > 1 {
				return fmt.Errorf("event not placed: %+v", e)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Events != events || st.MalformedCount < len(st.Malformed) {
			t.Fatalf("inconsistent stats %+v for %d events", st, events)
		}
	})
}

// Benchmark parses the input repeated to about 16 MiB, reporting MB/s and
// events/s.
func Benchmark(b *testing.B, p logs.Parser, input string) {
	b.Helper()
	data := content(b, input)
	if data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	big := bytes.Repeat(data, max(1, (16<<20)/len(data)))
	b.SetBytes(int64(len(big)))
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for i := 0; i < b.N; i++ {
		_, err := p.Parse(context.Background(), input, bytes.NewReader(big), func(logs.Event) error {
			events++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
