package cloudtrail

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

const (
	readSize = 256 << 10
	// MaxRecord bounds the bytes one record may take. CloudTrail caps an
	// event at 256 KB; a larger record is counted malformed and skipped
	// without being held in memory.
	MaxRecord = 8 << 20
)

// errEOF is the end of input reached inside a value: the record is truncated.
var errEOF = errors.New("unexpected end of input")

var errTooLong = errors.New("string longer than MaxRecord")

// scanner is a byte-level reader over JSON text that finds the span of
// each value by tracking depth, strings and escapes, without decoding.
// It keeps buf[pin:] (or buf[pos:] when nothing is pinned) across
// refills, so memory is bounded by the largest record, not the input.
type scanner struct {
	r    io.Reader
	buf  []byte
	pos  int   // next byte to read
	end  int   // buf[pos:end] is unread data
	base int64 // file offset of buf[0]
	pin  int   // index kept on refill, -1 for none
	// oversize is set when a pinned value outgrew MaxRecord; the pin was
	// dropped and the value is being skipped.
	oversize bool
	rerr     error // sticky error of r (io.EOF at the end)

	lines   int // newlines in buf[:counted] and every discarded byte
	counted int
}

// bufs pools scanner buffers: a review reads tens of thousands of
// delivered files, and a fresh buffer for each showed in its profile.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, readSize); return &b }}

func newScanner(r io.Reader) *scanner {
	b := bufs.Get().(*[]byte)
	return &scanner{r: r, buf: (*b)[:0], pin: -1}
}

// release returns the buffer to the pool; the scanner is done.
func (s *scanner) release() {
	if cap(s.buf) == readSize {
		b := s.buf[:0]
		bufs.Put(&b)
	}
	s.buf = nil
}

// offset is the file offset of buf[i].
func (s *scanner) offset(i int) int64 { return s.base + int64(i) }

// lineAt returns the 1-based line of buf[i]; i must be at or after
// every discarded byte.
func (s *scanner) lineAt(i int) int {
	if i > s.counted {
		s.lines += bytes.Count(s.buf[s.counted:i], []byte{'\n'})
	} else {
		s.lines -= bytes.Count(s.buf[i:s.counted], []byte{'\n'})
	}
	s.counted = i
	return s.lines + 1
}

// fill reads more input, keeping buf[pin:] or buf[pos:]. It returns false
// at the end of input or on a read error (in s.rerr).
func (s *scanner) fill() bool {
	if s.rerr != nil {
		return false
	}
	keep := s.pos
	if s.pin >= 0 && s.pin < keep {
		if s.pos-s.pin >= MaxRecord {
			s.pin = -1
			s.oversize = true
		} else {
			keep = s.pin
		}
	}
	// Compact only when the tail is short, and grow when the kept bytes
	// fill half the buffer: every byte is copied O(1) times on average,
	// however small the reads.
	if cap(s.buf)-s.end < readSize/2 {
		if keep > 0 {
			s.lineAt(keep)
			n := copy(s.buf[:cap(s.buf)], s.buf[keep:s.end])
			s.buf = s.buf[:n]
			s.base += int64(keep)
			s.pos -= keep
			s.end -= keep
			s.counted -= keep
			if s.pin >= 0 {
				s.pin -= keep
			}
		}
		if s.end > cap(s.buf)/2 || cap(s.buf)-s.end < readSize/2 {
			nb := make([]byte, s.end, 2*cap(s.buf))
			copy(nb, s.buf[:s.end])
			s.buf = nb
		}
	}
	for tries := 0; tries < 100; tries++ {
		n, err := s.r.Read(s.buf[s.end:cap(s.buf)])
		s.end += n
		s.buf = s.buf[:s.end]
		if err != nil {
			s.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	s.rerr = io.ErrNoProgress
	return false
}

// readErr is the reader's failure, nil at a clean end of input.
func (s *scanner) readErr() error {
	if s.rerr == io.EOF {
		return nil
	}
	return s.rerr
}

// skipSpace advances past JSON white space and returns the next byte
// without consuming it; ok is false at the end of input.
func (s *scanner) skipSpace() (byte, bool) {
	for {
		for s.pos < s.end {
			c := s.buf[s.pos]
			if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
				return c, true
			}
			s.pos++
		}
		if !s.fill() {
			return 0, false
		}
	}
}

// skipLine advances past the next newline (or to the end of input).
func (s *scanner) skipLine() {
	for {
		if i := bytes.IndexByte(s.buf[s.pos:s.end], '\n'); i >= 0 {
			s.pos += i + 1
			return
		}
		s.pos = s.end
		if !s.fill() {
			return
		}
	}
}

// readString reads a string starting at the opening quote at s.pos and
// returns its raw contents (escapes kept). The slice is valid until the
// next fill.
func (s *scanner) readString() ([]byte, error) {
	from := 0 // how far the contents were scanned, across refills
	for {
		start := s.pos // the quote
		j, next, ok := stringEnd(s.buf[start+1:s.end], from)
		if ok {
			s.pos = start + 1 + j + 1
			return s.buf[start+1 : start+1+j], nil
		}
		from = next
		if s.end-start > MaxRecord {
			return nil, errTooLong
		}
		// fill keeps buf[pos:], so the string survives the refill.
		if !s.fill() {
			s.pos = s.end
			return nil, errEOF
		}
	}
}

// stringEnd finds the closing quote of a string whose contents are b,
// scanning from b[from:] (from is a previous call's next: b[:from] holds
// no closing quote). Without one, next is where to resume once b grows.
func stringEnd(b []byte, from int) (end, next int, ok bool) {
	i := from
	for i <= len(b) {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			// Skip complete escapes so a resumed scan starts outside one.
			for {
				bs := bytes.IndexByte(b[i:], '\\')
				if bs < 0 {
					return 0, len(b), false
				}
				i += bs + 2
				if i >= len(b) {
					return 0, i, false
				}
			}
		}
		bs := bytes.IndexByte(b[i:i+q], '\\')
		if bs < 0 {
			return i + q, 0, true
		}
		i += bs + 2 // the escape and the byte it escapes
	}
	return 0, i, false
}

// structural marks the bytes that matter outside strings when skipping.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// skipValue advances past one JSON value starting at s.pos (after white
// space). Containers are matched by depth only; their contents are not
// validated (the decoder does that for records).
func (s *scanner) skipValue() error {
	c := s.buf[s.pos]
	switch c {
	case '"':
		_, err := s.readString()
		return err
	case '{', '[':
	default:
		// A scalar: runs to the next delimiter.
		for {
			for s.pos < s.end {
				switch s.buf[s.pos] {
				case ',', '}', ']', ' ', '\n', '\r', '\t':
					return nil
				}
				s.pos++
			}
			if !s.fill() {
				return nil
			}
		}
	}
	s.pos++
	depth := 1
outer:
	for {
		buf := s.buf[:s.end]
		i := s.pos
		for i < len(buf) {
			c := buf[i]
			if !structural[c] {
				i++
				continue
			}
			switch c {
			case '"':
				j, _, ok := stringEnd(buf[i+1:], 0)
				if !ok {
					s.pos = i
					if _, err := s.readString(); err != nil {
						return err
					}
					continue outer
				}
				i += j + 2
				continue
			case '{', '[':
				depth++
			default:
				depth--
				if depth == 0 {
					s.pos = i + 1
					return nil
				}
			}
			i++
		}
		s.pos = i
		if !s.fill() {
			return errEOF
		}
	}
}
