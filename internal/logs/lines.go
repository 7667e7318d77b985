package logs

import (
	"bufio"
	"bytes"
	"io"
)

// LineReader reads the lines of a line-oriented log, each cut at a
// maximum length (a record longer than any real one is malformed, and
// must not make the reader hold the whole file), counting them for
// evidence.
type LineReader struct {
	br   *bufio.Reader
	buf  []byte
	max  int
	line int
}

// NewLineReader reads r in lines of at most max bytes.
func NewLineReader(r io.Reader, max int) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Line is the number (1-based) of the line Next returned last.
func (l *LineReader) Line() int { return l.line }

// Next returns the next line without its line ending, valid until the next
// call; long reports that it was cut at the maximum. err is io.EOF after
// the last line.
func (l *LineReader) Next() (b []byte, long bool, err error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.br.ReadSlice('\n')
		if len(l.buf)+len(chunk) <= l.max {
			l.buf = append(l.buf, chunk...)
		} else {
			long = true
			l.buf = append(l.buf, chunk[:max(0, l.max-len(l.buf))]...)
		}
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil:
		case io.EOF:
			if len(l.buf) == 0 {
				return nil, false, io.EOF
			}
		default:
			return nil, false, err
		}
		l.line++
		b = bytes.TrimSuffix(l.buf, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		return b, long, nil
	}
}
