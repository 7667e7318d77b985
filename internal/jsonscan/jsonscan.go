// Package jsonscan is a small streaming JSON tokenizer that knows the exact
// line and byte column of every value it reads. The export sources (Slack,
// Jira) need it because a finding in an export must point at the real place
// in the file, and decode needs the byte offset of every escape sequence
// to match a JSON file's strings decoded; encoding/json gives byte offsets
// at best. It sits below both (a layer-0 package) so either may use it.
// jsonscan reads
// the document one token at a time without holding it, counting lines and
// columns as it goes, and accepts exactly what encoding/json accepts (but
// for a leading UTF-8 byte order mark, which it skips).
//
// A caller reads the top-level value with [Scanner.Value], walks objects and
// arrays with [Scanner.Object] and [Scanner.Array], passes the values it does
// not want to [Scanner.Skip], and ends with [Scanner.End]. Malformed input is
// a [*SyntaxError].
package jsonscan

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// A JSON document nested deeper than maxDepth, or holding a string longer
// than maxString bytes, is refused rather than held in memory.
const (
	maxDepth  = 10000
	maxString = 64 << 20
)

// Kind is the kind of a [Token].
type Kind uint8

// The kinds of token. EOF is the end of input; Object, ObjectEnd, Array and
// ArrayEnd are '{', '}', '[' and ']'; Literal is true, false or null.
const (
	EOF Kind = iota
	Object
	ObjectEnd
	Array
	ArrayEnd
	Colon
	Comma
	String
	Number
	Literal
)

// Token is one JSON token and where it starts: its 1-based line and byte
// column, or for a string the position of its first content byte (just
// after the opening quote), which is where the decoded text starts on the
// same physical line.
type Token struct {
	Kind Kind
	Str  string // decoded value of a String
	Lit  string // "true", "false" or "null" for a Literal
	Line int
	Col  int
	// Off is the byte offset of the same place (the BOM counts).
	Off int
}

func (t Token) isValue() bool {
	switch t.Kind {
	case Object, Array, String, Number, Literal:
		return true
	}
	return false
}

// Describe names the token for an error message: "'{'", "string",
// "number", the literal itself, or "end of input".
func (t Token) Describe() string {
	switch t.Kind {
	case Object:
		return "'{'"
	case ObjectEnd:
		return "'}'"
	case Array:
		return "'['"
	case ArrayEnd:
		return "']'"
	case Colon:
		return "':'"
	case Comma:
		return "','"
	case String:
		return "string"
	case Number:
		return "number"
	case Literal:
		return t.Lit
	}
	return "end of input"
}

// SyntaxError is malformed JSON, with the 1-based line and byte column
// where the problem is.
type SyntaxError struct {
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Scanner reads JSON from a stream one token at a time, counting lines
// and byte columns as it goes, so the position of every value is known
// without holding the document. A leading UTF-8 byte order mark is skipped.
// Strings keep invalid UTF-8 bytes as they are; lone UTF-16 surrogates in
// \u escapes become U+FFFD, as encoding/json does.
type Scanner struct {
	r     *bufio.Reader
	line  int // position of the next unread byte
	col   int
	off   int
	depth int
	buf   []byte
	// esc, when non-nil, collects every escape sequence read.
	esc *[]Escape
}

// Escape is one escape sequence of a string: Len bytes at byte offset Off
// of the input stood for Dec[:N].
type Escape struct {
	Off int
	Len int
	Dec [4]byte
	N   int
}

// RecordEscapes makes the Scanner append every escape sequence it reads,
// in any string (keys included), to *into: a caller that rewrites the
// input with its strings decoded needs each one's place.
func (s *Scanner) RecordEscapes(into *[]Escape) { s.esc = into }

// More skips white space and reports whether input remains: a caller
// reading a stream of values (JSON lines) calls Value while it does.
func (s *Scanner) More() bool {
	for {
		b, ok := s.peek()
		if !ok {
			return false
		}
		switch b {
		case ' ', '\t', '\n', '\r':
			_, _ = s.read()
		default:
			return true
		}
	}
}

// New returns a Scanner reading from r (buffered; the Scanner may read
// past the end of the document).
func New(r io.Reader) *Scanner {
	size := 64 << 10
	if br, ok := r.(*bytes.Reader); ok {
		// A short document in memory needs no 64 KiB buffer: the
		// decoders run this on every small JSON-looking piece of text.
		size = max(16, min(size, br.Len()))
	}
	s := &Scanner{r: bufio.NewReaderSize(r, size), line: 1, col: 1}
	if b, err := s.r.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		_, _ = s.r.Discard(3)
		s.col += 3
		s.off += 3
	}
	return s
}

// Errorf returns a *SyntaxError at the 1-based line and byte column given,
// for a caller that finds well-formed JSON of the wrong shape.
func (s *Scanner) Errorf(line, col int, format string, args ...any) error {
	return &SyntaxError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

func (s *Scanner) read() (byte, error) {
	b, err := s.r.ReadByte()
	if err != nil {
		return 0, err
	}
	s.off++
	if b == '\n' {
		s.line++
		s.col = 1
	} else {
		s.col++
	}
	return b, nil
}

// readIn reads one byte of a token that started at line, col: the end of
// input there is a syntax error.
func (s *Scanner) readIn(line, col int, what string) (byte, error) {
	b, err := s.read()
	if err == io.EOF {
		return 0, s.Errorf(line, col, "unexpected end of input in %s", what)
	}
	return b, err
}

func (s *Scanner) peek() (byte, bool) {
	b, err := s.r.Peek(1)
	if err != nil {
		return 0, false
	}
	return b[0], true
}

func char(b byte) string {
	if b >= 0x20 && b < 0x7f {
		return fmt.Sprintf("%q", rune(b))
	}
	return fmt.Sprintf("byte 0x%02x", b)
}

// skipSpace consumes the white space already buffered in one go
// (indentation of pretty-printed documents is most of their bytes).
func (s *Scanner) skipSpace() {
	for {
		avail, _ := s.r.Peek(s.r.Buffered())
		n := 0
		for n < len(avail) {
			switch avail[n] {
			case '\n':
				s.line++
				s.col = 0
			case ' ', '\t', '\r':
			default:
				s.off += n
				_, _ = s.r.Discard(n)
				return
			}
			s.col++
			n++
		}
		if n == 0 {
			return
		}
		s.off += n
		_, _ = s.r.Discard(n)
	}
}

// next reads the next token; at the end of input it returns EOF.
func (s *Scanner) next() (Token, error) {
	for {
		s.skipSpace()
		line, col, off := s.line, s.col, s.off
		b, err := s.read()
		if err == io.EOF {
			return Token{Kind: EOF, Line: line, Col: col, Off: off}, nil
		}
		if err != nil {
			return Token{}, err
		}
		t := Token{Line: line, Col: col, Off: off}
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			t.Kind = Object
		case '}':
			t.Kind = ObjectEnd
		case '[':
			t.Kind = Array
		case ']':
			t.Kind = ArrayEnd
		case ':':
			t.Kind = Colon
		case ',':
			t.Kind = Comma
		case '"':
			t.Kind, t.Col, t.Off = String, col+1, off+1
			t.Str, err = s.readString(line, col)
		case 't':
			t.Kind, t.Lit = Literal, "true"
			err = s.literal("rue", line, col)
		case 'f':
			t.Kind, t.Lit = Literal, "false"
			err = s.literal("alse", line, col)
		case 'n':
			t.Kind, t.Lit = Literal, "null"
			err = s.literal("ull", line, col)
		default:
			if b != '-' && (b < '0' || b > '9') {
				return t, s.Errorf(line, col, "invalid character %s looking for a value", char(b))
			}
			t.Kind = Number
			err = s.number(b, line, col)
		}
		return t, err
	}
}

func (s *Scanner) literal(rest string, line, col int) error {
	for i := 0; i < len(rest); i++ {
		l, c := s.line, s.col
		b, err := s.readIn(line, col, "literal")
		if err != nil {
			return err
		}
		if b != rest[i] {
			return s.Errorf(l, c, "invalid character %s in literal", char(b))
		}
	}
	return nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// number reads the rest of a number whose first byte was first:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) number(first byte, line, col int) error {
	digit := func() error {
		l, c := s.line, s.col
		b, err := s.readIn(line, col, "number")
		if err != nil {
			return err
		}
		if !isDigit(b) {
			return s.Errorf(l, c, "invalid character %s in number", char(b))
		}
		return nil
	}
	digits := func() {
		for {
			if b, ok := s.peek(); !ok || !isDigit(b) {
				return
			}
			_, _ = s.read()
		}
	}
	lead := first
	if first == '-' {
		l, c := s.line, s.col
		b, err := s.readIn(line, col, "number")
		if err != nil {
			return err
		}
		if !isDigit(b) {
			return s.Errorf(l, c, "invalid character %s in number", char(b))
		}
		lead = b
	}
	if lead != '0' {
		digits()
	}
	if b, ok := s.peek(); ok && b == '.' {
		_, _ = s.read()
		if err := digit(); err != nil {
			return err
		}
		digits()
	}
	if b, ok := s.peek(); ok && (b == 'e' || b == 'E') {
		_, _ = s.read()
		if b, ok := s.peek(); ok && (b == '+' || b == '-') {
			_, _ = s.read()
		}
		if err := digit(); err != nil {
			return err
		}
		digits()
	}
	return nil
}

func hexVal(b byte) (rune, bool) {
	switch {
	case b >= '0' && b <= '9':
		return rune(b - '0'), true
	case b >= 'a' && b <= 'f':
		return rune(b-'a') + 10, true
	case b >= 'A' && b <= 'F':
		return rune(b-'A') + 10, true
	}
	return 0, false
}

func hex4(p []byte) (rune, bool) {
	var r rune
	for _, b := range p {
		v, ok := hexVal(b)
		if !ok {
			return 0, false
		}
		r = r<<4 | v
	}
	return r, true
}

// readString reads a string's content after its opening quote (at line,
// col) and returns it unescaped.
func (s *Scanner) readString(line, col int) (string, error) {
	s.buf = s.buf[:0]
	for {
		if len(s.buf) > maxString {
			return "", s.Errorf(line, col, "string longer than %d bytes", maxString)
		}
		// Copy the run of plain bytes already buffered in one go: a
		// string holds no line break, so only the column moves.
		if avail, _ := s.r.Peek(s.r.Buffered()); len(avail) > 0 {
			n := 0
			for n < len(avail) && avail[n] != '"' && avail[n] != '\\' && avail[n] >= 0x20 {
				n++
			}
			if n > 0 {
				s.buf = append(s.buf, avail[:n]...)
				_, _ = s.r.Discard(n)
				s.col += n
				s.off += n
				continue
			}
		}
		l, c, at := s.line, s.col, s.off
		b, err := s.readIn(line, col, "string")
		if err != nil {
			return "", err
		}
		switch {
		case b == '"':
			return string(s.buf), nil
		case b < 0x20:
			return "", s.Errorf(l, c, "invalid control character %s in string", char(b))
		case b != '\\':
			s.buf = append(s.buf, b)
			continue
		}
		e, err := s.readIn(line, col, "string")
		if err != nil {
			return "", err
		}
		start := len(s.buf)
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			var h [4]byte
			for i := range h {
				if h[i], err = s.readIn(line, col, "string"); err != nil {
					return "", err
				}
			}
			r, ok := hex4(h[:])
			if !ok {
				return "", s.Errorf(l, c, "invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				pair := utf8.RuneError
				if r < 0xdc00 {
					// A high surrogate pairs with a following \uDC00-\uDFFF.
					if p, _ := s.r.Peek(6); len(p) == 6 && p[0] == '\\' && p[1] == 'u' {
						if lo, ok := hex4(p[2:]); ok && lo >= 0xdc00 && lo <= 0xdfff {
							_, _ = s.r.Discard(6)
							s.col += 6
							s.off += 6
							pair = utf16.DecodeRune(r, lo)
						}
					}
				}
				r = pair
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			return "", s.Errorf(l, c, "invalid escape \\%s in string", string(rune(e)))
		}
		if s.esc != nil {
			x := Escape{Off: at, Len: s.off - at, N: len(s.buf) - start}
			copy(x.Dec[:], s.buf[start:])
			*s.esc = append(*s.esc, x)
		}
	}
}

func (s *Scanner) unexpected(t Token, want string) error {
	col := t.Col
	if t.Kind == String {
		col-- // the opening quote
	}
	return s.Errorf(t.Line, col, "unexpected %s, %s", t.Describe(), want)
}

// Value reads the first token of a value; for an object or array, pass it
// to Object, Array or Skip to read the rest.
func (s *Scanner) Value() (Token, error) {
	t, err := s.next()
	if err != nil {
		return t, err
	}
	if !t.isValue() {
		return t, s.unexpected(t, "expecting a value")
	}
	return t, nil
}

func (s *Scanner) enter(t Token) error {
	s.depth++
	if s.depth > maxDepth {
		return s.Errorf(t.Line, t.Col, "nested deeper than %d levels", maxDepth)
	}
	return nil
}

// Object reads the members of the object whose '{' (open) was just read.
// fn gets each key and the first token of its value, and must consume the
// rest of that value (Skip does).
func (s *Scanner) Object(open Token, fn func(key, v Token) error) error {
	defer func() { s.depth-- }()
	if err := s.enter(open); err != nil {
		return err
	}
	t, err := s.next()
	if err != nil {
		return err
	}
	if t.Kind == ObjectEnd {
		return nil
	}
	for {
		if t.Kind != String {
			return s.unexpected(t, "expecting a string key")
		}
		c, err := s.next()
		if err != nil {
			return err
		}
		if c.Kind != Colon {
			return s.unexpected(c, "expecting ':' after an object key")
		}
		v, err := s.Value()
		if err != nil {
			return err
		}
		if err := fn(t, v); err != nil {
			return err
		}
		if t, err = s.next(); err != nil {
			return err
		}
		switch t.Kind {
		case ObjectEnd:
			return nil
		case Comma:
			if t, err = s.next(); err != nil {
				return err
			}
		default:
			return s.unexpected(t, "expecting ',' or '}' after an object member")
		}
	}
}

// Array reads the elements of the array whose '[' (open) was just read; fn
// gets the first token of each and must consume the rest of it.
func (s *Scanner) Array(open Token, fn func(v Token) error) error {
	defer func() { s.depth-- }()
	if err := s.enter(open); err != nil {
		return err
	}
	t, err := s.next()
	if err != nil {
		return err
	}
	if t.Kind == ArrayEnd {
		return nil
	}
	for {
		if !t.isValue() {
			return s.unexpected(t, "expecting a value")
		}
		if err := fn(t); err != nil {
			return err
		}
		if t, err = s.next(); err != nil {
			return err
		}
		switch t.Kind {
		case ArrayEnd:
			return nil
		case Comma:
			if t, err = s.next(); err != nil {
				return err
			}
		default:
			return s.unexpected(t, "expecting ',' or ']' after an array element")
		}
	}
}

// Skip consumes the rest of the value that starts with v.
func (s *Scanner) Skip(v Token) error {
	switch v.Kind {
	case Object:
		return s.Object(v, func(_, v Token) error { return s.Skip(v) })
	case Array:
		return s.Array(v, s.Skip)
	}
	return nil
}

// End checks that nothing but white space follows the top-level value.
func (s *Scanner) End() error {
	t, err := s.next()
	if err != nil {
		return err
	}
	if t.Kind != EOF {
		return s.unexpected(t, "expecting the end of input after the top-level value")
	}
	return nil
}
