package git

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rekeyhq/rekey/internal/gitpack"
	"github.com/rekeyhq/rekey/internal/source"
)

// sniffLen is how much of a blob decides whether it is binary: a NUL byte
// in it means binary, as git itself decides for diffs.
const sniffLen = 8000

// Walk lists the history, then reads each distinct blob once and emits it
// with Loc set to its primary occurrence (a copy at HEAD if there is one,
// else the earliest introduction) and Loc.Also set to every other path and
// commit holding the same bytes. Binary blobs, symlinks and submodules are
// skipped.
//
// A blob that cannot be read (a missing object, a damaged pack) goes to
// OnError and the walk goes on. When git cannot list the history at all,
// or only part of it, Walk scans whatever was listed and then returns an
// error naming the repository.
func (s *Source) Walk(ctx context.Context, emit func(source.Chunk) error) error {
	return s.walk(ctx, nil, emit)
}

// walk is Walk, less the blobs in which probe finds nothing when probe is
// set (see probe.go).
func (s *Source) walk(ctx context.Context, probe source.Probe, emit func(source.Chunk) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The packs are opened (their indexes and object headers read) while
	// git lists the history.
	probing := probe != nil && !s.opts.WholeVersions
	var packs []*gitpack.Pack
	opened := make(chan struct{})
	if probing {
		go func() {
			defer close(opened)
			packs = s.openPacks(ctx)
		}()
	} else {
		close(opened)
	}
	defer func() {
		<-opened
		for _, p := range packs {
			p.Close()
		}
	}()
	h := newHistory()
	// A damaged repository may fail any of these part way: what was
	// listed is scanned all the same, and the failure reported at the end.
	var listErr error
	for _, list := range []func(context.Context, *history) error{s.readHead, s.readLog, s.readRefs} {
		if err := list(ctx, h); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			listErr = errors.Join(listErr, err)
		}
	}
	// Only the blobs and their occurrences are needed from here on.
	h.seen, h.paths, h.head = nil, nil, nil
	todo := h.blobs
	<-opened
	if probing && s.probePacks(ctx, h, probe, packs) {
		todo = nil
		for _, b := range h.blobs {
			if b.need != needNone {
				todo = append(todo, b)
			}
		}
	}
	if err := s.readBlobs(ctx, h, todo, emit); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if listErr != nil {
		return s.fail(ctx, "listing history", listErr)
	}
	return nil
}

func (s *Source) fail(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("git repository %s: %s: %w", s.root, what, err)
}

// stopError carries an error returned by emit, which ends the walk as is.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }

// readBlobs streams every blob through one git cat-file --batch. If git
// dies on a blob (a damaged pack can make it exit rather than report), that
// blob is reported and a new cat-file carries on after it.
func (s *Source) readBlobs(ctx context.Context, h *history, todo []*blob, emit func(source.Chunk) error) error {
	failures := 0
	for len(todo) > 0 {
		n, err := s.catFile(ctx, h, todo, emit)
		todo = todo[n:]
		if err == nil {
			return nil
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(todo) == 0 {
			// Everything was read; git failed on its way out.
			return nil
		}
		s.blobError(h, todo[0], err)
		todo = todo[1:]
		if n > 0 {
			failures = 0
		} else if failures++; failures >= 10 {
			return s.fail(ctx, "reading blobs", err)
		}
	}
	return nil
}

// catFile reads blobs in order through one git process and returns how
// many it finished with.
func (s *Source) catFile(ctx context.Context, h *history, blobs []*blob, emit func(source.Chunk) error) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// git keeps up to 96 MiB of inflated delta bases by default, which
	// made cat-file the largest process of a history scan; a third of it
	// costs little time, since blobs are asked for in history order and
	// each one's base is usually the version just before.
	cmd := command(ctx, s.gitDir, "-c", "core.deltaBaseCacheLimit=32m", "cat-file", "--batch")
	var stderr tailBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("git cat-file: %w", err)
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		w := bufio.NewWriterSize(stdin, 64<<10)
		for _, b := range blobs {
			w.WriteString(b.id)
			if err := w.WriteByte('\n'); err != nil {
				break // git is gone; the reader says why
			}
		}
		w.Flush()
		stdin.Close()
	}()
	r := bufio.NewReaderSize(stdout, 256<<10)
	done := 0
	var readErr error
	for _, b := range blobs {
		if readErr = ctx.Err(); readErr != nil {
			break
		}
		if readErr = s.readBlob(r, h, b, emit); readErr != nil {
			break
		}
		done++
	}
	if readErr != nil {
		cancel() // kills git, which unblocks the writer
	}
	<-wrote
	waitErr := cmd.Wait()
	switch {
	case readErr == nil && waitErr == nil:
		return done, nil
	case readErr == nil:
		return done, gitError("cat-file", waitErr, &stderr)
	case errors.As(readErr, new(stopError)):
		return done, readErr
	case len(bytes.TrimSpace(stderr.b)) > 0:
		return done, fmt.Errorf("%w (git: %s)", readErr, bytes.TrimSpace(stderr.b))
	}
	return done, readErr
}

// readBlob reads one cat-file --batch answer and emits the blob. Errors
// other than a stopError mean the stream is unusable.
func (s *Source) readBlob(r *bufio.Reader, h *history, b *blob, emit func(source.Chunk) error) error {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", b.id, unexpected(err))
	}
	// "<id> blob <size>\n", or "<id> missing\n" (also "ambiguous").
	f := bytes.Fields(line)
	if len(f) == 2 && string(f[0]) == b.id {
		s.blobError(h, b, fmt.Errorf("object %s", f[1]))
		return nil
	}
	if len(f) != 3 || string(f[0]) != b.id {
		return fmt.Errorf("reading blob %s: unexpected git cat-file output %q", b.id, truncate(line))
	}
	size, err := strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil || size < 0 {
		return fmt.Errorf("reading blob %s: unexpected git cat-file output %q", b.id, truncate(line))
	}
	skip := func(err error) error {
		if _, derr := r.Discard(int(size)); derr != nil {
			return fmt.Errorf("reading blob %s: %w", b.id, unexpected(derr))
		}
		if err != nil {
			s.blobError(h, b, err)
		}
		return endOfObject(r, b)
	}
	if string(f[1]) != "blob" {
		return skip(fmt.Errorf("object %s is a %s, not a blob", b.id, f[1]))
	}
	if s.opts.MaxBlobSize > 0 && size > s.opts.MaxBlobSize {
		return skip(fmt.Errorf("%w (%d bytes)", ErrTooLarge, size))
	}
	if size == 0 {
		return endOfObject(r, b)
	}
	if b.need == needLines {
		// Read only for the lines a kept version is diffed against.
		if size > int64(s.opts.Chunking.Size) {
			return skip(nil)
		}
		if cap(h.buf) < int(size) {
			h.buf = make([]byte, size)
		}
		data := h.buf[:size]
		if _, err := io.ReadFull(r, data); err != nil {
			return fmt.Errorf("reading blob %s: %w", b.id, unexpected(err))
		}
		if !binary(data) {
			hs, _ := lineHashes(data)
			h.lines.remember(b, hs)
		}
		return endOfObject(r, b)
	}
	loc := locate(h, b)
	if s.opts.Stat != nil {
		s.opts.Stat(loc.Path, size)
	}
	stop := func(c source.Chunk) error {
		if err := emit(c); err != nil {
			return stopError{err}
		}
		return nil
	}
	chunking := s.opts.Chunking
	if size <= int64(chunking.Size) {
		// Read into a buffer kept between blobs: what is emitted is
		// copied out, whole or (mostly) the few changed regions, so the
		// history's gigabyte of versions is not a gigabyte of garbage.
		if cap(h.buf) < int(size) {
			h.buf = make([]byte, size)
		}
		data := h.buf[:size]
		if _, err := io.ReadFull(r, data); err != nil {
			return fmt.Errorf("reading blob %s: %w", b.id, unexpected(err))
		}
		if err := endOfObject(r, b); err != nil {
			return err
		}
		if binary(data) {
			return nil
		}
		return s.emitVersion(h, b, data, loc, stop)
	}
	head := make([]byte, min(size, sniffLen))
	if _, err := io.ReadFull(r, head); err != nil {
		return fmt.Errorf("reading blob %s: %w", b.id, unexpected(err))
	}
	rest := &exactReader{r: r, n: size - int64(len(head))}
	if binary(head) {
		return skip0(r, rest, b)
	}
	if err := chunking.ReadChunks(io.MultiReader(bytes.NewReader(head), rest), loc, stop); err != nil {
		if errors.As(err, new(stopError)) {
			return err
		}
		return fmt.Errorf("reading blob %s: %w", b.id, err)
	}
	return skip0(r, rest, b)
}

// emitVersion emits a blob read whole (data is reused after it returns): only where it differs from the
// version it replaced (each change with its context, at its real line in
// this version) when that version's lines are known, else all of it.
func (s *Source) emitVersion(h *history, b *blob, data []byte, loc source.Location, emit func(source.Chunk) error) error {
	hs, starts := lineHashes(data)
	var old []uint64
	ok := false
	if base := h.base(b); base != nil && !s.opts.WholeVersions {
		old, ok = h.lines.get(base)
	}
	h.lines.remember(b, hs)
	if !ok {
		return emit(source.Chunk{Data: bytes.Clone(data), Loc: loc})
	}
	for _, r := range regions(data, starts, changedLines(old, hs)) {
		l := loc
		l.Line = r.lo + 1
		if err := emit(source.Chunk{Data: bytes.Clone(data[starts[r.lo]:starts[r.hi]]), Loc: l}); err != nil {
			return err
		}
	}
	return nil
}

// skip0 drops what is left of a blob read in part, and the newline after
// it.
func skip0(r *bufio.Reader, rest *exactReader, b *blob) error {
	if _, err := io.Copy(io.Discard, rest); err != nil {
		return fmt.Errorf("reading blob %s: %w", b.id, err)
	}
	return endOfObject(r, b)
}

func endOfObject(r *bufio.Reader, b *blob) error {
	c, err := r.ReadByte()
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", b.id, unexpected(err))
	}
	if c != '\n' {
		return fmt.Errorf("reading blob %s: git cat-file output out of step", b.id)
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func binary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), sniffLen)], 0) >= 0
}

// errTruncated is deliberately not io.ErrUnexpectedEOF, which
// Chunking.ReadChunks takes for a normal end.
var errTruncated = errors.New("git cat-file output ended inside a blob")

// exactReader reads exactly n bytes from r and fails if r ends first.
type exactReader struct {
	r io.Reader
	n int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if err == io.EOF {
		if e.n > 0 {
			return n, errTruncated
		}
		err = nil
	}
	return n, err
}

// blobError reports a blob that could not be scanned, at its primary
// place.
func (s *Source) blobError(h *history, b *blob, err error) {
	if s.opts.OnError == nil {
		return
	}
	loc := locate(h, b)
	where := "blob " + b.id
	if loc.Commit != "" {
		where += " in commit " + loc.Commit
	} else if loc.Ref != "" {
		where += " in " + loc.Ref
	}
	s.opts.OnError(&source.FileError{
		Path: s.root + ":" + loc.Path,
		Err:  fmt.Errorf("%s: %w", where, err),
	})
}

// locate builds a blob's locations: the primary one (a copy at HEAD if
// any, else the earliest introduced) with every other occurrence in Also.
func locate(h *history, b *blob) source.Location {
	p := 0
	for i, o := range b.occ {
		if o.atHead {
			p = i
			break
		}
	}
	loc := h.location(b, b.occ[p])
	loc.Line, loc.Column = 1, 1
	if len(b.occ) > 1 {
		also := make([]source.Location, 0, len(b.occ)-1)
		for i, o := range b.occ {
			if i != p {
				also = append(also, h.location(b, o))
			}
		}
		loc.Also = also
	}
	return loc
}

func (h *history) location(b *blob, o occurrence) source.Location {
	l := source.Location{Path: o.path, AtHead: o.atHead, Blob: b.id, Ref: o.ref, Class: source.ClassHistory}
	if o.commit >= 0 {
		l.Commit = h.commits[o.commit]
		l.Seq = int(o.commit) + 1
		if ts := h.times[o.commit]; ts > 0 {
			l.Time = time.Unix(ts, 0).UTC()
		}
	}
	if o.atHead {
		l.Class = source.Classify(o.path)
	}
	return l
}
