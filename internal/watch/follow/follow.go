// Package follow follows log files as they grow, across rotation, and
// hands their complete records, parsed, to a watch.Handler.
//
// A file is known by the content it starts with: the SHA-256 of its first
// KiB (decompressed), never its path or inode, which rotation changes.
// app.log renamed app.log.1 and later compressed to app.log.2.gz keeps its
// key, so its stored offset follows it and nothing is read twice; a new
// app.log starts with other bytes and is a new file. A file truncated in
// place (copytruncate) no longer starts with the bytes of its key, or is
// shorter than its offset: it is read again from 0.
//
// A file shorter than a KiB is keyed by what it has (head_len < 1024);
// when it grows, its head is hashed again and the stored offset is moved
// to the new key in one write. After a restart, a file whose KiB hash is
// unknown is matched against the stored short keys by hashing its first
// head_len bytes. Two files that begin with the same bytes (under a KiB,
// or a KiB of identical content) cannot be told apart by this scheme: the
// second resumes at the first one's offset. Logs start with timestamps and
// process ids, so this takes two files written the same instant by the
// same process.
//
// Only complete records are consumed: up to the last newline (for CSV
// formats, the last newline outside a quoted field, since a statement may
// span lines); a partial last line waits for the rest. A compressed file
// (rolled, complete) is read to its end once and marked done.
//
// Changes are noticed through fsnotify on the directories of the files and
// patterns; a periodic rescan runs as well, and alone when inotify is
// unavailable or a watch fails.
package follow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/fsnotify/fsnotify"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/logs"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/watch"
)

// HeadLen is how many bytes of a file's decompressed content its key
// hashes.
const HeadLen = 1024

// Defaults.
const (
	DefaultPoll     = time.Second
	DefaultChunk    = 4 << 20
	DefaultLinger   = time.Minute
	maxRecordBuffer = 16 << 20
	// maxRolledRecord bounds a record of a compressed file, which is
	// complete: CloudTrail delivers a whole {"Records":[…]} document on
	// one line, tens of MiB decompressed in a busy account.
	maxRolledRecord = 1 << 30
)

// Config says what to follow.
type Config struct {
	// Paths are files or doublestar patterns (** for any depth).
	Paths []string
	// Format is a parser name; "" detects each file's format from its
	// content.
	Format string
	// Parsers are the formats known (logs/all.Parsers()).
	Parsers []logs.Parser
	// Store keeps the offsets.
	Store store.Watch
	// Poll is the rescan interval (DefaultPoll when zero).
	Poll time.Duration
	// NoNotify turns inotify off: rescans alone.
	NoNotify bool
	// Chunk is the most bytes handed over in one batch (DefaultChunk).
	Chunk int
	// Linger is how long a file that no path names any more (renamed out
	// of the patterns, deleted) stays open for a writer that still has it
	// (DefaultLinger).
	Linger time.Duration
}

// Follower follows files; see the package comment.
type Follower struct {
	cfg      Config
	parser   logs.Parser // cfg.Format's, or nil to detect
	files    map[fileID]*file
	done     map[fileID]bool // compressed files read to their end
	counts   watch.Counts
	latest   map[string]position // furthest position committed, by key
	buf      []byte              // read buffer (drains run one at a time)
	notified atomic.Bool         // inotify in use (false: polling only)
	// maxRecord is the longest record of a plain file (maxRecordBuffer;
	// tests shorten it).
	maxRecord int
}

var _ watch.Follower = (*Follower)(nil)

type fileID struct{ dev, ino uint64 }

type position struct {
	off  int64
	line int
}

type file struct {
	f       *os.File
	id      fileID
	path    string
	key     string
	headLen int
	off     int64 // decompressed bytes consumed
	line    int   // lines consumed
	gz      bool
	parser  logs.Parser
	csv     bool
	offsets bool      // the parser gives byte offsets: shift them by off
	probed  bool      // offsets was found out
	gone    time.Time // when no path named it any more
}

// New checks cfg and returns a Follower.
func New(cfg Config) (*Follower, error) {
	const op = "watch: follow"
	if len(cfg.Paths) == 0 {
		return nil, errs.New(op, errs.Invalid, "", "no paths to follow")
	}
	if cfg.Store == nil {
		return nil, errs.New(op, errs.Invalid, "", "no store for offsets")
	}
	for _, p := range cfg.Paths {
		if !doublestar.ValidatePattern(filepath.ToSlash(p)) {
			return nil, errs.New(op, errs.Invalid, p, "not a valid path pattern")
		}
	}
	fl := &Follower{cfg: cfg, files: map[fileID]*file{}, done: map[fileID]bool{}, latest: map[string]position{}, maxRecord: maxRecordBuffer}
	if cfg.Format != "" {
		for _, p := range cfg.Parsers {
			if p.Name() == cfg.Format {
				fl.parser = p
			}
		}
		if fl.parser == nil {
			return nil, errs.New(op, errs.Invalid, cfg.Format, "unknown log format")
		}
	}
	if fl.cfg.Poll <= 0 {
		fl.cfg.Poll = DefaultPoll
	}
	if fl.cfg.Chunk <= 0 {
		fl.cfg.Chunk = DefaultChunk
	}
	if fl.cfg.Linger <= 0 {
		fl.cfg.Linger = DefaultLinger
	}
	return fl, nil
}

// Stats implements watch.Follower: per file path.
func (fl *Follower) Stats() map[string]logs.Stats { return fl.counts.Snapshot() }

// Notified reports whether Follow has a directory watched by inotify.
func (fl *Follower) Notified() bool { return fl.notified.Load() }

// Follow implements watch.Follower.
func (fl *Follower) Follow(ctx context.Context, h watch.Handler) error {
	defer fl.closeAll()
	var (
		w       *fsnotify.Watcher
		events  <-chan fsnotify.Event
		errc    <-chan error
		watched = map[string]bool{}
	)
	if !fl.cfg.NoNotify {
		if nw, err := fsnotify.NewWatcher(); err == nil {
			defer nw.Close()
			w, events, errc = nw, nw.Events, nw.Errors
		}
	}
	tick := time.NewTicker(fl.cfg.Poll)
	defer tick.Stop()
	for {
		if w != nil {
			// A directory that could not be watched yet (not created,
			// no permission) is tried again on every rescan.
			for _, d := range fl.dirs() {
				if !watched[d] && w.Add(d) == nil {
					watched[d] = true
				}
			}
			fl.notified.Store(len(watched) > 0)
		}
		if err := fl.Pass(ctx, h); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case ev := <-events:
			if (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) && watched[ev.Name] {
				delete(watched, ev.Name) // the kernel dropped its watch: add it again when it is back
			}
		case <-errc:
			// The kernel's queue overflowed or a watch broke: the next
			// tick's rescan covers what was missed.
		}
	}
}

// dirs are the directories to watch: each pattern's fixed base.
func (fl *Follower) dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range fl.cfg.Paths {
		base, _ := doublestar.SplitPattern(filepath.ToSlash(p))
		d := filepath.FromSlash(base)
		if !strings.ContainsAny(p, "*?[{") {
			d = filepath.Dir(p)
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// Pass rescans the paths once and consumes every complete record there
// is. Follow calls it on each change; tests may call it directly.
func (fl *Follower) Pass(ctx context.Context, h watch.Handler) error {
	named := map[fileID]bool{}
	for _, p := range fl.cfg.Paths {
		matches, err := doublestar.FilepathGlob(p, doublestar.WithFilesOnly())
		if err != nil {
			return errs.E("watch: follow", errs.Invalid, p, err)
		}
		for _, m := range matches {
			id, ok := statID(m)
			if !ok {
				continue
			}
			named[id] = true
			if t := fl.files[id]; t != nil {
				t.path, t.gone = m, time.Time{}
				continue
			}
			if fl.done[id] {
				continue
			}
			if err := fl.open(ctx, m, id); err != nil {
				return err
			}
		}
	}
	now := time.Now()
	for id, t := range fl.files {
		if err := fl.drain(ctx, t, h); err != nil {
			return err
		}
		switch {
		case t.gz && fl.done[id]:
			fl.drop(t)
		case !named[id] && t.gone.IsZero():
			t.gone = now
		case !named[id] && now.Sub(t.gone) > fl.cfg.Linger:
			fl.drop(t)
		}
	}
	return nil
}

func statID(path string) (fileID, bool) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return fileID{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, true //nolint:unconvert // Dev's type differs by platform
}

func (fl *Follower) drop(t *file) {
	t.f.Close()
	delete(fl.files, t.id)
}

func (fl *Follower) closeAll() {
	for _, t := range fl.files {
		fl.drop(t)
	}
}

// open starts following a file no tracked one is: its key, format and
// stored offset. An empty file, or one whose format cannot be told yet,
// is left for a later pass.
func (fl *Follower) open(ctx context.Context, path string, id fileID) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // gone between the glob and now
	}
	t := &file{f: f, id: id, path: path}
	head, gz, err := readHead(f, logs.HeadSize)
	if err != nil || len(head) == 0 {
		f.Close()
		return nil
	}
	t.gz = gz
	t.parser = fl.parser
	if t.parser == nil {
		if t.parser = logs.Detect(head, fl.cfg.Parsers); t.parser == nil {
			f.Close()
			if len(head) >= logs.HeadSize || gz {
				// Enough to tell, and nothing recognises it: every record
				// of it is unparseable. Said once, never followed.
				fl.done[id] = true
				var st logs.Stats
				st.AddMalformed(logs.Position{File: path, Reason: "log format not recognised"})
				fl.counts.Add(path, st)
			}
			return nil
		}
	}
	t.csv = strings.HasSuffix(t.parser.Name(), "csv")
	t.headLen = min(len(head), HeadLen)
	t.key = keyOf(head[:t.headLen])
	o, ok, err := fl.cfg.Store.Offset(ctx, t.key)
	if err != nil {
		f.Close()
		return err
	}
	replaces := ""
	if !ok {
		// A file first keyed while shorter than it is now.
		o, ok, err = fl.shortMatch(ctx, head)
		if err != nil {
			f.Close()
			return err
		}
		replaces = o.Key
	}
	if ok {
		if gz && o.Done {
			f.Close()
			fl.done[id] = true
			return nil
		}
		t.off, t.line = o.Bytes, o.Line
		if !gz {
			if fi, err := f.Stat(); err == nil && fi.Size() < o.Bytes {
				t.off, t.line = 0, 0 // shorter than what was read: new content
			}
		}
		if replaces != "" {
			if err := fl.commit(ctx, t, replaces); err != nil {
				f.Close()
				return err
			}
		}
	}
	fl.files[id] = t
	return nil
}

func (fl *Follower) shortMatch(ctx context.Context, head []byte) (store.Offset, bool, error) {
	shorts, err := fl.cfg.Store.ShortOffsets(ctx, HeadLen)
	if err != nil {
		return store.Offset{}, false, err
	}
	var best store.Offset
	found := false
	for _, o := range shorts {
		if o.HeadLen <= len(head) && o.HeadLen > best.HeadLen && keyOf(head[:o.HeadLen]) == o.Key {
			best, found = o, true
		}
	}
	return best, found, nil
}

func keyOf(head []byte) string {
	sum := sha256.Sum256(head)
	return hex.EncodeToString(sum[:])
}

// readHead returns up to n bytes of f's decompressed content from its
// start, and whether it is compressed.
func readHead(f *os.File, n int) ([]byte, bool, error) {
	r, err := logs.NewReader(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	var magic [2]byte
	_, _ = f.ReadAt(magic[:], 0)
	gz := magic == [2]byte{0x1f, 0x8b}
	head := make([]byte, n)
	k, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		if gz && k > 0 {
			return head[:k], gz, nil // a compressed file still being written
		}
		return nil, gz, err
	}
	return head[:k], gz, nil
}

// recheck notices a plain file truncated or rewritten in place
// (copytruncate) and a short one that grew past its key; it returns the
// key to replace in the next commit.
func (fl *Follower) recheck(t *file) (replaces string, err error) {
	fi, err := t.f.Stat()
	if err != nil {
		return "", err
	}
	size := fi.Size()
	if size == 0 {
		t.off, t.line = 0, 0
		return "", nil
	}
	n := min(int(min(size, HeadLen)), HeadLen)
	head := make([]byte, n)
	if _, err := t.f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	switch {
	case size < t.off || keyOf(head[:min(t.headLen, n)]) != t.key || n < t.headLen:
		// Content replaced: a new file under the same inode.
		t.off, t.line = 0, 0
		t.headLen, t.key = n, keyOf(head)
	case n > t.headLen:
		replaces = t.key
		t.headLen, t.key = n, keyOf(head)
	}
	return replaces, nil
}

// drain consumes every complete record after t's offset.
func (fl *Follower) drain(ctx context.Context, t *file, h watch.Handler) error {
	var src io.Reader
	if t.gz {
		r, err := logs.NewReader(io.NewSectionReader(t.f, 0, 1<<62))
		if err != nil {
			return nil // not yet a whole gzip header: later
		}
		defer r.Close()
		src = r
	} else {
		replaces, err := fl.recheck(t)
		if err != nil {
			return err
		}
		if replaces != "" {
			// Re-keyed now, even if no record is whole yet, so that the
			// stored short key never outlives the file's growth.
			if err := fl.commit(ctx, t, replaces); err != nil {
				return err
			}
		}
	}
	fl.adopt(t)
	if t.gz {
		if _, err := io.CopyN(io.Discard, src, t.off); err != nil {
			if errors.Is(err, io.EOF) {
				// Whole, and no longer than what was read of its content.
				fl.done[t.id] = true
				return fl.commitDone(ctx, t)
			}
			return nil // still being written: later
		}
	} else {
		src = io.NewSectionReader(t.f, t.off, 1<<62)
	}
	// One buffer for the follower, not one per file: hundreds of rolled
	// files must not hold a chunk each.
	if fl.buf == nil {
		fl.buf = make([]byte, 0, fl.cfg.Chunk)
	}
	buf := fl.buf[:0]
	cleanEOF := false
	for {
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := false
		switch {
		case err == nil:
			if len(buf) < cap(buf) {
				continue
			}
		case errors.Is(err, io.EOF):
			eof, cleanEOF = true, true
		case t.gz && errors.Is(err, io.ErrUnexpectedEOF):
			eof = true // a compressed file still being written
		default:
			return fmt.Errorf("watch: follow %s: %w", t.path, err)
		}
		cut := complete(buf, t.csv)
		switch {
		case eof && cleanEOF && t.gz:
			cut = len(buf) // a finished compressed file: its last line is whole
		case eof && cleanEOF && cut < len(buf) && wholeJSON(buf[cut:]):
			// A JSON document with no newline after it: CloudTrail's
			// delivered {"Records":[…]} file, decompressed. A prefix of
			// an object or array is never valid JSON, so one still being
			// written waits.
			cut = len(buf)
		}
		if cut == 0 && !eof && len(buf) == cap(buf) {
			limit := fl.maxRecord
			if t.gz {
				limit = max(limit, maxRolledRecord)
			}
			if cap(buf) >= limit {
				cut = len(buf) // one record larger than any real one: the parser says malformed
			} else {
				nb := make([]byte, len(buf), 2*cap(buf))
				copy(nb, buf)
				buf = nb
				continue
			}
		}
		if cut > 0 {
			if err := fl.consume(ctx, t, buf[:cut], h); err != nil {
				return err
			}
			buf = buf[:copy(buf, buf[cut:])]
		}
		if eof {
			break
		}
	}
	if t.gz && cleanEOF && len(buf) == 0 {
		fl.done[t.id] = true
		return fl.commitDone(ctx, t)
	}
	return nil
}

// adopt moves t to the furthest position read of any file with its key:
// the same content open twice (app.log renamed and still open, and its
// compressed copy) is read once.
func (fl *Follower) adopt(t *file) {
	if p, ok := fl.latest[t.key]; ok && p.off > t.off {
		t.off, t.line = p.off, p.line
	}
}

// offsetStyle reports whether p gives each event's byte offset in its
// input (JSON formats do; line formats give lines only), by parsing the
// file's first record twice over: the second event's offset tells.
func offsetStyle(p logs.Parser, head []byte, csv bool) bool {
	first := firstRecord(head, csv)
	if first == 0 {
		return false
	}
	two := append(append([]byte(nil), head[:first]...), head[:first]...)
	var offs []int64
	_, _ = p.Parse(context.Background(), "", bytes.NewReader(two), func(e logs.Event) error {
		offs = append(offs, e.Offset)
		return nil
	})
	return len(offs) == 2 && offs[1] > 0
}

// firstRecord returns the length of b's first complete record.
func firstRecord(b []byte, csv bool) int {
	in := false
	for i, c := range b {
		switch {
		case c == '"' && csv:
			in = !in
		case c == '\n' && !in:
			return i + 1
		}
	}
	return 0
}

// consume parses one run of complete records, hands them over and
// records the new offset.
func (fl *Follower) consume(ctx context.Context, t *file, b []byte, h watch.Handler) error {
	var evs []logs.Event
	st, err := t.parser.Parse(ctx, t.path, bytes.NewReader(b), func(e logs.Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("watch: follow %s: %w", t.path, err)
	}
	if !t.probed {
		t.offsets, t.probed = offsetStyle(t.parser, b, t.csv), true
	}
	offsets := t.offsets
	for i := range evs {
		if evs[i].Line > 0 {
			evs[i].Line += t.line
		}
		if offsets {
			evs[i].Offset += t.off
		}
	}
	for i := range st.Malformed {
		if st.Malformed[i].Line > 0 {
			st.Malformed[i].Line += t.line
		}
	}
	if err := h(ctx, watch.Batch{Source: t.path, Events: evs, Stats: st}); err != nil {
		return err
	}
	fl.counts.Add(t.path, st)
	t.off += int64(len(b))
	t.line += bytes.Count(b, []byte{'\n'})
	// Recorded even when ctx just ended: the handler stored the batch's
	// effect, and reading it again after a clean stop would repeat it.
	return fl.commit(context.WithoutCancel(ctx), t, "")
}

func (fl *Follower) commit(ctx context.Context, t *file, replaces string) error {
	return fl.put(ctx, t, false, replaces)
}

func (fl *Follower) commitDone(ctx context.Context, t *file) error {
	return fl.put(ctx, t, true, "")
}

func (fl *Follower) put(ctx context.Context, t *file, done bool, replaces string) error {
	if p, ok := fl.latest[t.key]; !ok || t.off > p.off {
		fl.latest[t.key] = position{t.off, t.line}
	}
	delete(fl.latest, replaces)
	return fl.cfg.Store.PutOffset(ctx, store.Offset{Key: t.key, HeadLen: t.headLen, Bytes: t.off, Line: t.line, Done: done, Path: t.path}, replaces)
}

// wholeJSON reports whether b is one complete JSON object or array.
func wholeJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 1 && (b[0] == '{' && b[len(b)-1] == '}' || b[0] == '[' && b[len(b)-1] == ']') && json.Valid(b)
}

// complete returns the length of b's complete records: up to and with
// its last newline, or for CSV its last newline outside quotes.
func complete(b []byte, csv bool) int {
	if !csv {
		return bytes.LastIndexByte(b, '\n') + 1
	}
	in, last := false, 0
	for i, c := range b {
		switch c {
		case '"':
			in = !in
		case '\n':
			if !in {
				last = i + 1
			}
		}
	}
	return last
}
