package logs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// gzipMagic starts every gzip member (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// Open opens the log file at path for reading, decompressing it when its
// content is gzip (told by its magic bytes, not its name: rotated logs are
// often compressed without a .gz suffix, and a .gz may be plain). Reading
// is streamed; nothing is held in memory beyond a buffer.
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, err := br.Peek(len(gzipMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !bytes.Equal(head, gzipMagic) {
		return &readCloser{Reader: br, closers: []io.Closer{f}}, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: gzip: %w", path, err)
	}
	return &readCloser{Reader: zr, closers: []io.Closer{zr, f}}, nil
}

type readCloser struct {
	io.Reader
	closers []io.Closer
}

func (r *readCloser) Close() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
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
