package logs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/rekeyhq/rekey/internal/safefile"
)

// gzipMagic starts every gzip member (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// bufSize is the read buffer of an opened log.
const bufSize = 64 << 10

// Readers are pooled: a review reads tens of thousands of small delivered
// files, and a fresh gzip window and buffers for each was a quarter of its
// time in allocation and garbage collection.
var (
	bufPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	gzipPool sync.Pool // *gzip.Reader
)

// Open opens the log file at path for reading, decompressing it when its
// content is gzip (told by its magic bytes, not its name: rotated logs are
// often compressed without a .gz suffix, and a .gz may be plain). Reading
// is streamed; nothing is held in memory beyond a buffer. The reader it
// returns is buffered (Peek works on it); Close returns its buffers for
// reuse.
func Open(path string) (*Reader, error) {
	f, err := safefile.OpenRegular("open log", path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.closers = append(r.closers, f)
	return r, nil
}

// Reader is a log's content, decompressed when it was gzip.
type Reader struct {
	*bufio.Reader
	raw     *bufio.Reader
	zr      *gzip.Reader
	closers []io.Closer
}

// NewReader reads src, decompressing it when it starts with gzip's magic
// bytes.
func NewReader(src io.Reader) (*Reader, error) {
	raw := bufPool.Get().(*bufio.Reader)
	raw.Reset(src)
	head, err := raw.Peek(len(gzipMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		bufPool.Put(raw)
		return nil, err
	}
	if !bytes.Equal(head, gzipMagic) {
		return &Reader{Reader: raw}, nil
	}
	zr, err := getGzip(raw)
	if err != nil {
		bufPool.Put(raw)
		return nil, fmt.Errorf("gzip: %w", err)
	}
	out := bufPool.Get().(*bufio.Reader)
	out.Reset(zr)
	return &Reader{Reader: out, raw: raw, zr: zr}, nil
}

func getGzip(r io.Reader) (*gzip.Reader, error) {
	if zr, ok := gzipPool.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(r)
}

// Close closes the file and returns the buffers to their pools; the
// reader must not be used afterwards.
func (r *Reader) Close() error {
	var errs []error
	if r.zr != nil {
		errs = append(errs, r.zr.Close())
		gzipPool.Put(r.zr)
		r.zr = nil
	}
	for _, c := range r.closers {
		errs = append(errs, c.Close())
	}
	r.closers = nil
	if r.raw != nil {
		r.raw.Reset(nil)
		bufPool.Put(r.raw)
		r.raw = nil
	}
	if r.Reader != nil {
		r.Reader.Reset(nil)
		bufPool.Put(r.Reader)
		r.Reader = nil
	}
	return errors.Join(errs...)
}

// Gunzip returns r decompressed when it starts with gzip's magic bytes, and
// r itself otherwise, for parsers handed a stream that may still be
// compressed; close releases what it took.
func Gunzip(r io.Reader) (out io.Reader, close func(), err error) {
	lr, err := NewReader(r)
	if err != nil {
		return nil, nil, err
	}
	return lr, func() { lr.Close() }, nil
}

// HeadSize is how many bytes of a file Detect needs to see.
const HeadSize = 4096

// Detect returns the first of parsers whose Sniff accepts head (the first
// HeadSize bytes of a decompressed file, or fewer for a short file), or nil
// when none does. Order parsers from the most specific.
func Detect(head []byte, parsers []Parser) Parser {
	for _, p := range parsers {
		if p.Sniff(head) {
			return p
		}
	}
	return nil
}
