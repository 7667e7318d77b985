package follow

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/logs/all"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
	"github.com/rekeyhq/rekey/internal/store/sqlstore"
	"github.com/rekeyhq/rekey/internal/watch"
)

// fixture is a real log of one format, from the parsers' testdata.
type fixture struct {
	name, format, path string
}

var fixtures = []fixture{
	{"postgres-csv", "postgres-csv", "../../logs/postgres/testdata/live.csv"},
	{"cloudtrail-jsonl", "cloudtrail", "../../logs/cloudtrail/testdata/records.jsonl"},
}

func (fx fixture) content(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(fx.path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// halves splits content at a record boundary near its middle.
func (fx fixture) halves(t *testing.T) (a, b []byte) {
	c := fx.content(t)
	cut := complete(c[:len(c)/2], fx.format == "postgres-csv")
	if cut == 0 {
		t.Fatal("fixture too small to split")
	}
	return c[:cut], c[cut:]
}

// direct parses content in one go: what following it must yield.
func direct(t *testing.T, format, file string, content []byte) []string {
	t.Helper()
	var out []string
	for _, p := range all.Parsers() {
		if p.Name() != format {
			continue
		}
		_, err := p.Parse(context.Background(), file, bytes.NewReader(content), func(e logs.Event) error {
			out = append(out, key(e))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// key is what identifies an event and its evidence.
func key(e logs.Event) string {
	return fmt.Sprintf("%s:%d@%d %s %s %s %s", filepath.Base(e.File), e.Line, e.Offset, e.Time.UTC().Format(time.RFC3339Nano), e.Credential, e.Action, e.Outcome)
}

func newStore(t *testing.T) *sqlstore.Store { return newStoreB(t) }

func newStoreB(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sink collects what a follower hands over.
type sink struct {
	mu     sync.Mutex
	events []string
}

func (s *sink) handle(_ context.Context, b watch.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range b.Events {
		s.events = append(s.events, key(e))
	}
	return nil
}

func (s *sink) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

func (s *sink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.events
	s.events = nil
	return out
}

func follower(t *testing.T, st *sqlstore.Store, format string, paths ...string) *Follower {
	t.Helper()
	fl, err := New(Config{Paths: paths, Format: format, Parsers: all.Parsers(), Store: st, NoNotify: true, Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fl.closeAll)
	return fl
}

func pass(t *testing.T, fl *Follower, s *sink) []string {
	t.Helper()
	if err := fl.Pass(context.Background(), s.handle); err != nil {
		t.Fatal(err)
	}
	return s.take()
}

func write(t *testing.T, path string, b []byte, flag int) {
	t.Helper()
	f, err := os.OpenFile(path, flag|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path string, b []byte) { write(t, path, b, os.O_APPEND) }

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d\ngot  %q\nwant %q", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: event %d = %q, want %q", what, i, got[i], want[i])
		}
	}
}

// Appending in pieces cut anywhere, mid-line included, yields each record
// once, with the line it has in the whole file; a restart from the
// stored offset reads only what was added since.
func TestAppendInPiecesAndRestart(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			st := newStore(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			c := fx.content(t)
			want := direct(t, fx.format, path, c)
			if len(want) < 10 {
				t.Fatalf("fixture yields %d events", len(want))
			}
			s := &sink{}
			fl := follower(t, st, "", path) // detected from content
			var got []string
			stop := len(c) * 2 / 3
			for i := 0; i < stop; i += 97 {
				appendTo(t, path, c[i:min(i+97, stop)])
				got = append(got, pass(t, fl, s)...)
			}
			// A restart: a new follower on the same store resumes at the
			// stored offset.
			fl.closeAll()
			fl2 := follower(t, st, "", path)
			appendTo(t, path, c[stop:])
			got = append(got, pass(t, fl2, s)...)
			equal(t, "appended", got, want)
			equal(t, "nothing new", pass(t, fl2, s), nil)
			fl3 := follower(t, st, "", path)
			equal(t, "after another restart", pass(t, fl3, s), nil)
		})
	}
}

// A partial last line waits for the rest.
func TestPartialLineWaits(t *testing.T) {
	fx := fixtures[1]
	st := newStore(t)
	path := filepath.Join(t.TempDir(), "ct.log")
	c := fx.content(t)
	first := bytes.IndexByte(c, '\n') + 1
	write(t, path, c[:first+40], os.O_TRUNC)
	s := &sink{}
	fl := follower(t, st, fx.format, path)
	if got := pass(t, fl, s); len(got) != 1 {
		t.Fatalf("%d events from one whole record and a part of another, want 1", len(got))
	}
	second := first + bytes.IndexByte(c[first:], '\n') + 1
	appendTo(t, path, c[first+40:second])
	if got := pass(t, fl, s); len(got) != 1 {
		t.Fatalf("%d events once the second record is whole, want 1", len(got))
	}
}

// Rename rotation: app.log → app.log.1, a new app.log. Records written to
// the old file after the last read and before the rename are read from
// the open file even though no pattern names it now.
func TestRenameRotation(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			st := newStore(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			a, b := fx.halves(t)
			aCut := complete(a[:len(a)/2], fx.format == "postgres-csv")
			s := &sink{}
			fl := follower(t, st, fx.format, path)
			write(t, path, a[:aCut], os.O_TRUNC)
			got := pass(t, fl, s)
			appendTo(t, path, a[aCut:]) // unread when the rotation comes
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			write(t, path, b, os.O_TRUNC)
			got = append(got, pass(t, fl, s)...)
			want := append(direct(t, fx.format, path, a), direct(t, fx.format, path, b)...)
			slicesSortEq(t, got, want)
		})
	}
}

// slicesSortEq compares as multisets: two files' batches interleave in
// map order.
func slicesSortEq(t *testing.T, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		count[g]--
	}
	for k, n := range count {
		if n != 0 {
			t.Fatalf("event %q: %+d (want − got)\ngot %d events, want %d", k, n, len(got), len(want))
		}
	}
}

// copytruncate: the content is copied to app.log.1 and app.log truncated
// in place; the new content is read from 0, whether it is shorter or
// longer than what was read before.
func TestCopyTruncate(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			st := newStore(t)
			path := filepath.Join(t.TempDir(), "app.log")
			a, b := fx.halves(t)
			s := &sink{}
			fl := follower(t, st, fx.format, path)
			write(t, path, a, os.O_TRUNC)
			equal(t, "first", pass(t, fl, s), direct(t, fx.format, path, a))
			// Same inode, shorter content.
			short := b[:complete(b[:len(b)/3], fx.format == "postgres-csv")]
			write(t, path, short, os.O_TRUNC)
			equal(t, "after truncation (shorter)", pass(t, fl, s), direct(t, fx.format, path, short))
			// Same inode, content longer than the offset.
			long := append(append([]byte(nil), b[len(short):]...), a...)
			write(t, path, long, os.O_TRUNC)
			equal(t, "after truncation (longer)", pass(t, fl, s), direct(t, fx.format, path, long))
		})
	}
}

func gzipFile(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw) //nolint:errcheck // a bytes.Buffer
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, to, buf.Bytes(), os.O_TRUNC)
	if err := os.Remove(from); err != nil {
		t.Fatal(err)
	}
}

// A rolled, compressed file is the same content under the same key: it
// is never read twice, and after a restart not even opened for records.
func TestGzipRolledReadOnce(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			st := newStore(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			a, b := fx.halves(t)
			aCut := complete(a[:len(a)/2], fx.format == "postgres-csv")
			s := &sink{}
			fl := follower(t, st, fx.format, path+"*")
			write(t, path, a[:aCut], os.O_TRUNC)
			got := pass(t, fl, s)
			appendTo(t, path, a[aCut:]) // unread when compressed
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			write(t, path, b, os.O_TRUNC)
			gzipFile(t, path+".1", path+".2.gz")
			got = append(got, pass(t, fl, s)...)
			want := append(direct(t, fx.format, path, a), direct(t, fx.format, path, b)...)
			if len(got) != len(want) {
				t.Fatalf("%d events, want %d: %q", len(got), len(want), got)
			}
			equal(t, "again", pass(t, fl, s), nil)
			fl.closeAll()
			fl2 := follower(t, st, fx.format, path+"*")
			equal(t, "after a restart", pass(t, fl2, s), nil)
			// A compressed file first seen as such is read once too.
			gzipFile(t, path, path+".3.gz")
			equal(t, "the current file compressed", pass(t, fl2, s), nil)
			if len(fl2.done) != 2 {
				t.Fatalf("%d compressed files marked done, want 2", len(fl2.done))
			}
		})
	}
}

// A file shorter than a KiB is keyed by what it has; when it grows, the
// offset moves to the new key, in the same run and across a restart.
func TestShortFileRekeyed(t *testing.T) {
	fx := fixtures[0]
	st := newStore(t)
	path := filepath.Join(t.TempDir(), "pg.csv")
	c := fx.content(t)
	first := complete(c[:600], true)
	write(t, path, c[:first], os.O_TRUNC)
	s := &sink{}
	fl := follower(t, st, fx.format, path)
	got := pass(t, fl, s)
	shorts, _ := st.ShortOffsets(context.Background(), HeadLen)
	if len(shorts) != 1 || shorts[0].HeadLen != first {
		t.Fatalf("short offsets %+v, want one of %d bytes", shorts, first)
	}
	fl.closeAll()
	// Grown past a KiB while nobody followed it.
	second := complete(c[:2000], true)
	appendTo(t, path, c[first:second])
	fl2 := follower(t, st, fx.format, path)
	got = append(got, pass(t, fl2, s)...)
	if shorts, _ := st.ShortOffsets(context.Background(), HeadLen); len(shorts) != 0 {
		t.Fatalf("short offsets after growth: %+v", shorts)
	}
	appendTo(t, path, c[second:])
	got = append(got, pass(t, fl2, s)...)
	equal(t, "short then grown", got, direct(t, fx.format, path, c))
}

// Records that do not parse are counted per file, never fatal.
func TestUnparseableCounted(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			st := newStore(t)
			path := filepath.Join(t.TempDir(), "app.log")
			a, b := fx.halves(t)
			junk := []byte("this is not a log record\nnor is this one\n")
			write(t, path, append(append(append([]byte(nil), a...), junk...), b...), os.O_TRUNC)
			s := &sink{}
			fl := follower(t, st, fx.format, path)
			got := pass(t, fl, s)
			want := len(direct(t, fx.format, path, a)) + len(direct(t, fx.format, path, b))
			if len(got) != want {
				t.Fatalf("%d events, want %d", len(got), want)
			}
			stats := fl.Stats()[path]
			if stats.MalformedCount != 2 || len(stats.Malformed) != 2 {
				t.Fatalf("stats %+v, want 2 malformed", stats)
			}
			wantLine := bytes.Count(a, []byte{'\n'}) + 1
			if stats.Malformed[0].Line != wantLine {
				t.Fatalf("first malformed at line %d, want %d", stats.Malformed[0].Line, wantLine)
			}
		})
	}
}

// Follow notices appends by itself (inotify, or polling when told to).
func TestFollowNotices(t *testing.T) {
	for _, notify := range []bool{true, false} {
		t.Run(fmt.Sprintf("notify=%v", notify), func(t *testing.T) {
			fx := fixtures[0]
			st := newStore(t)
			path := filepath.Join(t.TempDir(), "pg.csv")
			a, b := fx.halves(t)
			write(t, path, a, os.O_TRUNC)
			fl, err := New(Config{Paths: []string{filepath.Join(filepath.Dir(path), "*.csv")}, Format: fx.format, Parsers: all.Parsers(),
				Store: st, NoNotify: !notify, Poll: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			s := &sink{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- fl.Follow(ctx, s.handle) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			})
			want := len(direct(t, fx.format, path, a)) + len(direct(t, fx.format, path, b))
			waitFor(t, func() bool { return s.n() == len(direct(t, fx.format, path, a)) })
			appendTo(t, path, b)
			waitFor(t, func() bool { return s.n() == want })
			if fl.Notified() != notify {
				t.Fatalf("Notified() = %v", fl.Notified())
			}
		})
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("condition not met within 30s")
}

// A short file that grows past a KiB is re-keyed at once, even when what
// it grew by is not a whole record yet.
func TestShortFileRekeyedBeforeAWholeRecord(t *testing.T) {
	fx := fixtures[0]
	st := newStore(t)
	path := filepath.Join(t.TempDir(), "pg.csv")
	c := fx.content(t)
	first := complete(c[:600], true)
	partial := bytes.Repeat([]byte("x"), 700) // no newline: nothing whole to consume
	whole := append(append(append(append([]byte(nil), c[:first]...), partial...), '\n'), c[first:]...)
	write(t, path, c[:first], os.O_TRUNC)
	s := &sink{}
	fl := follower(t, st, fx.format, path)
	n := len(pass(t, fl, s))
	appendTo(t, path, partial)
	n += len(pass(t, fl, s))
	if shorts, _ := st.ShortOffsets(context.Background(), HeadLen); len(shorts) != 0 {
		t.Fatalf("short offsets after growth: %+v", shorts)
	}
	appendTo(t, path, whole[first+len(partial):])
	n += len(pass(t, fl, s))
	if want := len(direct(t, fx.format, path, whole)); n != want {
		t.Fatalf("%d events, want %d", n, want)
	}
}

// A directory that does not exist when following starts cannot be
// watched: rescans find the file once it appears, and watch it from then.
func TestPollingWhenWatchFails(t *testing.T) {
	fx := fixtures[1]
	st := newStore(t)
	dir := filepath.Join(t.TempDir(), "later")
	path := filepath.Join(dir, "trail.jsonl")
	fl, err := New(Config{Paths: []string{path}, Format: fx.format, Parsers: all.Parsers(), Store: st, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fl.Follow(ctx, s.handle) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	c := fx.content(t)
	write(t, path, c, os.O_TRUNC)
	want := len(direct(t, fx.format, path, c))
	waitFor(t, func() bool { return s.n() == want })
	// The directory is watched once it exists.
	waitFor(t, fl.Notified)
	more := direct(t, fx.format, path, c)
	appendTo(t, path, c)
	waitFor(t, func() bool { return s.n() == want+len(more) })
}

// A batch whose handler returned is recorded even when the follower is
// stopped during it (the handler saw ctx end and finished): a restart does
// not hand it over again.
func TestStopDuringHandlerRecordsTheBatch(t *testing.T) {
	fx := fixtures[0]
	st := newStore(t)
	path := filepath.Join(t.TempDir(), "app.log")
	appendTo(t, path, fx.content(t))
	ctx, cancel := context.WithCancel(context.Background())
	s := &sink{}
	fl := follower(t, st, fx.format, path)
	if err := fl.Pass(ctx, func(ctx context.Context, b watch.Batch) error {
		cancel() // the stop arrives while the batch is handled
		return s.handle(ctx, b)
	}); err != nil {
		t.Fatal(err)
	}
	if len(s.take()) == 0 {
		t.Fatal("nothing handed over")
	}
	fl.closeAll()
	equal(t, "after a restart", pass(t, follower(t, st, fx.format, path), s), nil)
}

// A CloudTrail file as delivered ({"Records":[…]} on one line, with no
// newline at its end), followed decompressed: the whole document is a
// complete record, read once, and once again by nobody after a restart.
// Half of it (a copy still being written) waits.
func TestDeliveredDocumentWithoutNewline(t *testing.T) {
	const fixturePath = "../../logs/cloudtrail/testdata/delivered.json"
	raw, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasSuffix(raw, []byte("\n")) {
		t.Fatal("the fixture must end without a newline, as CloudTrail writes it")
	}
	st := newStore(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "123456789012_CloudTrail_us-east-1_20260314T0905Z_abc.json")
	s := &sink{}
	fl := follower(t, st, "cloudtrail", filepath.Join(dir, "*.json"))
	write(t, path, raw[:len(raw)/2], os.O_TRUNC)
	equal(t, "half written", pass(t, fl, s), nil)
	appendTo(t, path, raw[len(raw)/2:])
	want := direct(t, "cloudtrail", path, raw)
	if len(want) == 0 {
		t.Fatal("the fixture yields no events")
	}
	equal(t, "whole", pass(t, fl, s), want)
	equal(t, "again", pass(t, fl, s), nil)
	fl.closeAll()
	equal(t, "after a restart", pass(t, follower(t, st, "cloudtrail", filepath.Join(dir, "*.json")), s), nil)
}

// JSON lines whose last line is whole before its newline is written: the
// line is taken at once, and the newline that follows is no record of
// its own (nothing malformed, every later line numbered as in the file).
func TestJSONLineBeforeItsNewline(t *testing.T) {
	fx := fixtures[1]
	a, b := fx.halves(t)
	st := newStore(t)
	path := filepath.Join(t.TempDir(), "ct.jsonl")
	s := &sink{}
	fl := follower(t, st, fx.format, path)
	write(t, path, a[:len(a)-1], os.O_TRUNC)
	got := pass(t, fl, s)
	appendTo(t, path, []byte("\n"))
	appendTo(t, path, b)
	got = append(got, pass(t, fl, s)...)
	equal(t, "all", got, direct(t, fx.format, path, append(append([]byte(nil), a...), b...)))
	if st := fl.Stats()[path]; st.MalformedCount != 0 {
		t.Errorf("stats %+v, want nothing malformed", st)
	}
}

// A compressed delivered document longer than the longest record of a
// plain file is still read whole (it is complete; CloudTrail's are tens of
// MiB in a busy account), while the same document plain is cut at that
// bound and counted as malformed.
func TestRolledDocumentPastTheRecordBound(t *testing.T) {
	raw, err := os.ReadFile("../../logs/cloudtrail/testdata/delivered.json")
	if err != nil {
		t.Fatal(err)
	}
	st := newStore(t)
	dir := t.TempDir()
	fl, err := New(Config{Paths: []string{filepath.Join(dir, "*")}, Format: "cloudtrail", Parsers: all.Parsers(), Store: st, NoNotify: true, Chunk: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fl.closeAll)
	fl.maxRecord = 8 << 10
	if len(raw) <= fl.maxRecord {
		t.Fatalf("the fixture (%d bytes) must be longer than the bound", len(raw))
	}
	gzPath := filepath.Join(dir, "a.json.gz")
	write(t, filepath.Join(dir, "a.tmp"), raw, os.O_TRUNC)
	gzipFile(t, filepath.Join(dir, "a.tmp"), gzPath)
	s := &sink{}
	equal(t, "compressed", pass(t, fl, s), direct(t, "cloudtrail", gzPath, raw))
	plain := filepath.Join(dir, "b.json")
	write(t, plain, append([]byte(`{"note":"another delivery",`), raw[1:]...), os.O_TRUNC)
	pass(t, fl, s)
	if st := fl.Stats()[plain]; st.MalformedCount == 0 {
		t.Errorf("the plain document past the bound: %+v, want it counted as malformed", st)
	}
}
