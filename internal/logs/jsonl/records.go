package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	json "github.com/goccy/go-json"
	"io"
	"strings"

	"github.com/rekeyhq/rekey/internal/logs"
)

// MaxRecord bounds the bytes one record may take. A longer one is counted
// malformed and skipped without being held in memory: a Kubernetes audit
// record at level RequestResponse can be large, but never this large in
// practice.
const MaxRecord = 8 << 20

// Record is one JSON object of a stream and where it starts.
type Record struct {
	// Data is the object's bytes, valid until the callback returns.
	Data []byte
	// Line (1-based) and Offset (in the decompressed input) of its first
	// byte, the opening brace.
	Line   int
	Offset int64
}

// Malformed returns the position of r for Stats, with reason.
func (r Record) Malformed(file, reason string) logs.Position {
	return logs.Position{File: file, Line: r.Line, Offset: r.Offset, Reason: reason}
}

// Records streams the JSON objects of r to fn, for the parsers of JSON
// logs (this package's, k8s-audit, vault-audit, github-audit). It reads
// both shapes exports come in: JSON lines (one object per line) and a
// top-level array of objects (a JSON export, on one line or
// pretty-printed), one after the other in the same file if need be.
//
// Every object is counted in st.Records. What is not an object (a line of
// text, an array element that is a number), a cut line and a record larger
// than MaxRecord are counted in st as malformed and skipped; a broken line
// costs that line only. fn's error ends the stream and is returned
// unchanged, as is ctx's; a read error is returned wrapped with the file
// and line. Memory is bounded by MaxRecord whatever the input.
func Records(ctx context.Context, file string, r io.Reader, st *logs.Stats, fn func(Record) error) error {
	s := &stream{ctx: ctx, br: bufio.NewReaderSize(r, 64<<10), line: 1}
	for {
		if err := s.tick(); err != nil {
			return err
		}
		c, err := s.skipSpace()
		if err != nil {
			return s.end(file, err)
		}
		switch c {
		case '[':
			s.consume(c)
			if err := s.array(file, st, fn); err != nil {
				var stop stopped
				if errors.As(err, &stop) {
					return stop.err
				}
				return s.end(file, err)
			}
		case '{':
			rec, long, err := s.restOfLine()
			if err != nil && err != io.EOF {
				return s.end(file, err)
			}
			st.Records++
			if long {
				st.AddMalformed(rec.Malformed(file, fmt.Sprintf("record larger than %d bytes", MaxRecord)))
			} else if e := fn(rec); e != nil {
				return e
			}
		case 0xef:
			if s.offset == 0 {
				if b, _ := s.br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
					s.br.Discard(3)
					s.offset += 3
					continue
				}
			}
			fallthrough
		default:
			line, off := s.line, s.offset
			if _, _, err := s.restOfLine(); err != nil && err != io.EOF {
				return s.end(file, err)
			}
			st.AddMalformed(logs.Position{File: file, Line: line, Offset: off, Reason: fmt.Sprintf("not a JSON object: starts with %s", quoteByte(c))})
		}
	}
}

// stream is the state of one Records call.
type stream struct {
	ctx    context.Context
	n      int // records and lines seen, for tick
	br     *bufio.Reader
	line   int   // line of the next byte
	offset int64 // offset of the next byte
	buf    []byte
}

// tick returns the context's error every 1024 calls.
func (s *stream) tick() error {
	if s.n++; s.n%1024 == 0 {
		return s.ctx.Err()
	}
	return nil
}

// end turns the error that stopped reading into Records' result: nil at
// the end of input.
func (s *stream) end(file string, err error) error {
	if err == io.EOF {
		return nil
	}
	return fmt.Errorf("%s: line %d: %w", file, s.line, err)
}

func (s *stream) advance(c byte) {
	s.offset++
	if c == '\n' {
		s.line++
	}
}

// consume moves past c, the byte skipSpace returned.
func (s *stream) consume(c byte) {
	s.br.ReadByte()
	s.advance(c)
}

// skipSpace returns the next byte that is not JSON white space, without
// consuming it.
func (s *stream) skipSpace() (byte, error) {
	for {
		b, err := s.br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			s.advance(b)
			continue
		}
		s.br.UnreadByte()
		return b, nil
	}
}

// restOfLine reads up to the end of the line (not kept in Data), keeping
// at most MaxRecord bytes; long reports a longer line. Trailing white
// space is trimmed.
func (s *stream) restOfLine() (rec Record, long bool, err error) {
	rec.Line, rec.Offset = s.line, s.offset
	s.buf = s.buf[:0]
	for {
		chunk, e := s.br.ReadSlice('\n')
		s.offset += int64(len(chunk))
		if len(s.buf)+len(chunk) <= MaxRecord {
			s.buf = append(s.buf, chunk...)
		} else {
			long = true
		}
		if e == bufio.ErrBufferFull {
			continue
		}
		if e == nil {
			s.line++
		}
		rec.Data = bytes.TrimRight(s.buf, " \t\r\n")
		if e == io.EOF && len(chunk) == 0 && len(s.buf) == 0 {
			return rec, long, io.EOF
		}
		if e != nil && e != io.EOF {
			return rec, long, e
		}
		return rec, long, nil
	}
}

// stopped carries fn's error out of array, to be returned unchanged.
type stopped struct{ err error }

func (s stopped) Error() string { return s.err.Error() }

// errTruncated reports input that ends inside a value.
var errTruncated = errors.New("truncated: the input ends inside a record")

// array streams the elements of the array whose '[' was just read. A
// broken structure is counted malformed and the rest of its line skipped;
// the caller then reads on as JSON lines or another array.
func (s *stream) array(file string, st *logs.Stats, fn func(Record) error) error {
	bad := func(line int, off int64, reason string) error {
		st.AddMalformed(logs.Position{File: file, Line: line, Offset: off, Reason: reason})
		if _, _, err := s.restOfLine(); err != nil && err != io.EOF {
			return err
		}
		return nil
	}
	for first := true; ; first = false {
		if err := s.tick(); err != nil {
			return stopped{err}
		}
		c, err := s.skipSpace()
		if err == io.EOF {
			return bad(s.line, s.offset, errTruncated.Error())
		}
		if err != nil {
			return err
		}
		if c == ']' {
			s.consume(c)
			return nil
		}
		if !first {
			if c != ',' {
				return bad(s.line, s.offset, fmt.Sprintf("invalid JSON: %s between array elements", quoteByte(c)))
			}
			s.consume(c)
			if c, err = s.skipSpace(); err == io.EOF {
				return bad(s.line, s.offset, errTruncated.Error())
			} else if err != nil {
				return err
			}
		}
		rec := Record{Line: s.line, Offset: s.offset}
		long, reason, err := s.value()
		if err != nil && err != io.EOF {
			return err
		}
		st.Records++
		switch {
		case reason != "":
			return bad(rec.Line, rec.Offset, reason)
		case c != '{':
			st.AddMalformed(rec.Malformed(file, "array element is not an object"))
		case long:
			st.AddMalformed(rec.Malformed(file, fmt.Sprintf("record larger than %d bytes", MaxRecord)))
		default:
			rec.Data = s.buf
			if err := fn(rec); err != nil {
				return stopped{err}
			}
		}
	}
}

// value reads one JSON value into s.buf (up to MaxRecord bytes; long
// reports a larger one, read to its end but not kept). It follows strings
// and nesting only, leaving validation to the decoder; reason is set when
// the input ends inside the value or a closing bracket does not match.
func (s *stream) value() (long bool, reason string, err error) {
	s.buf = s.buf[:0]
	first, err := s.br.ReadByte()
	if err != nil {
		return false, errTruncated.Error(), nil
	}
	s.br.UnreadByte()
	if first != '{' && first != '[' && first != '"' {
		// A number, true, false or null: up to the next delimiter.
		for {
			b, err := s.br.ReadByte()
			if err == io.EOF {
				return long, "", nil
			}
			if err != nil {
				return long, "", err
			}
			switch b {
			case ',', ']', '}', ' ', '\t', '\r', '\n':
				s.br.UnreadByte()
				return long, "", nil
			}
			s.advance(b)
			if len(s.buf) < 64 {
				s.buf = append(s.buf, b)
			}
		}
	}
	var stack []byte
	inString, escaped := false, false
	for {
		b, err := s.br.ReadByte()
		if err != nil {
			if err == io.EOF {
				return long, errTruncated.Error(), nil
			}
			return long, "", err
		}
		if len(s.buf) < MaxRecord {
			s.buf = append(s.buf, b)
		} else {
			long = true
		}
		s.advance(b)
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
				if len(stack) == 0 {
					return long, "", nil
				}
			}
			continue
		case b == '"':
			inString = true
			continue
		case b == '{' || b == '[':
			if len(stack) >= 10000 {
				return long, "invalid JSON: nested too deep", nil
			}
			stack = append(stack, b)
		case b == '}' || b == ']':
			open := byte('{')
			if b == ']' {
				open = '['
			}
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return long, fmt.Sprintf("invalid JSON: unexpected %s", quoteByte(b)), nil
			}
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			return long, "", nil
		}
	}
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// Decode is the Parse of a JSON-records format: every record of r that
// filter accepts is decoded; a reason from decode counts it malformed at
// its position, ok false skips it, and an event is emitted with the
// record's file, line and offset as evidence.
func Decode(ctx context.Context, file string, r io.Reader, filter *logs.KeyFilter,
	decode func(raw []byte) (ev logs.Event, ok bool, reason string), emit func(logs.Event) error) (logs.Stats, error) {
	var st logs.Stats
	err := Records(ctx, file, r, &st, func(rec Record) error {
		if !filter.Match(rec.Data) {
			return nil
		}
		ev, ok, reason := safely(decode, rec.Data)
		if reason != "" {
			st.AddMalformed(rec.Malformed(file, reason))
			return nil
		}
		if !ok {
			return nil
		}
		ev.File, ev.Line, ev.Offset = file, rec.Line, rec.Offset
		st.Events++
		return emit(ev)
	})
	return st, err
}

// safely runs decode, turning a panic into a malformed record: decoders
// run third-party code on hostile input, and a panic must cost the
// record, not the review.
func safely(decode func([]byte) (logs.Event, bool, string), raw []byte) (ev logs.Event, ok bool, reason string) {
	defer func() {
		if v := recover(); v != nil {
			ev, ok, reason = logs.Event{}, false, fmt.Sprintf("undecodable record: %v", v)
		}
	}()
	return decode(raw)
}

// Unmarshal decodes raw into v leniently: a field of an unexpected type is
// skipped and the rest decoded (a log written by another version of its
// system must not lose whole records for one field). reason is non-empty
// when raw is not JSON at all.
func Unmarshal(raw []byte, v any) (reason string) {
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
		}
	}
	return ""
}
