package redis

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The provider speaks RESP2 itself: it sends a handful of commands (HELLO,
// ACL, CLIENT LIST, COMMAND) and reads their replies, which needs about as
// much code as adapting a client library's types would, keeps go.mod free
// of a dependency with its own pools and retries, and leaves every error
// text to this package, so that none can quote the connection string.

// Limits on what a reply may claim, so that a broken or hostile server
// cannot make the provider allocate without bound.
const (
	maxBulk  = 256 << 20 // CLIENT LIST of a very busy server stays far below
	maxArray = 1 << 22
	maxDepth = 16
)

// value is one RESP2 reply.
type value struct {
	kind byte // '+' simple string, '-' error, ':' integer, '$' bulk string, '*' array
	str  string
	num  int64
	arr  []value
	null bool // a null bulk string or array
}

// serverError is an error reply. Its text comes from the server, which
// never sees the provider's secrets except the AUTH arguments, and no
// server error quotes those.
type serverError struct{ msg string }

func (e *serverError) Error() string { return e.msg }

// code is the error's first word: "WRONGPASS", "NOPERM", "ERR"…
func (e *serverError) code() string {
	for i := 0; i < len(e.msg); i++ {
		if e.msg[i] == ' ' {
			return e.msg[:i]
		}
	}
	return e.msg
}

// errProtocol is a reply that does not follow RESP2.
var errProtocol = errors.New("malformed reply")

func (v value) err() error {
	if v.kind == '-' {
		return &serverError{v.str}
	}
	return nil
}

// text returns a string or bulk string reply; ok is false for other kinds.
func (v value) text() (string, bool) {
	if (v.kind == '+' || v.kind == '$') && !v.null {
		return v.str, true
	}
	return "", false
}

// fields reads a flat [key, value, key, value…] array (HELLO, ACL GETUSER)
// as a map; values keep their RESP form.
func (v value) fields() (map[string]value, bool) {
	if v.kind != '*' || v.null || len(v.arr)%2 != 0 {
		return nil, false
	}
	m := make(map[string]value, len(v.arr)/2)
	for i := 0; i < len(v.arr); i += 2 {
		k, ok := v.arr[i].text()
		if !ok {
			return nil, false
		}
		m[k] = v.arr[i+1]
	}
	return m, true
}

// strings reads an array of strings.
func (v value) strings() ([]string, bool) {
	if v.kind != '*' {
		return nil, false
	}
	out := make([]string, 0, len(v.arr))
	for _, e := range v.arr {
		s, ok := e.text()
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// writeCommand encodes one command as an array of bulk strings; the
// writer's error, sticky, comes back from Flush.
func writeCommand(w *bufio.Writer, args ...string) {
	w.WriteByte('*')
	w.WriteString(strconv.Itoa(len(args)))
	w.WriteString("\r\n")
	for _, a := range args {
		w.WriteByte('$')
		w.WriteString(strconv.Itoa(len(a)))
		w.WriteString("\r\n")
		w.WriteString(a)
		w.WriteString("\r\n")
	}
}

// readValue reads one reply.
func readValue(r *bufio.Reader) (value, error) { return readDepth(r, 0) }

func readDepth(r *bufio.Reader, depth int) (value, error) {
	if depth > maxDepth {
		return value{}, fmt.Errorf("%w: nested too deep", errProtocol)
	}
	line, err := readLine(r)
	if err != nil {
		return value{}, err
	}
	if len(line) == 0 {
		return value{}, fmt.Errorf("%w: empty line", errProtocol)
	}
	v := value{kind: line[0]}
	rest := string(line[1:])
	switch v.kind {
	case '+', '-':
		v.str = rest
	case ':':
		if v.num, err = strconv.ParseInt(rest, 10, 64); err != nil {
			return value{}, fmt.Errorf("%w: bad integer", errProtocol)
		}
	case '$':
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 || n > maxBulk {
			return value{}, fmt.Errorf("%w: bad bulk length", errProtocol)
		}
		if n == -1 {
			v.null = true
			return v, nil
		}
		// Grow with what arrives rather than trust the length.
		var buf []byte
		if n < 1<<16 {
			buf = make([]byte, n+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return value{}, eof(err)
			}
		} else {
			var b bytes.Buffer
			if _, err := io.CopyN(&b, r, int64(n)+2); err != nil {
				return value{}, eof(err)
			}
			buf = b.Bytes()
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return value{}, fmt.Errorf("%w: bulk string not terminated", errProtocol)
		}
		v.str = string(buf[:n])
	case '*':
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 || n > maxArray {
			return value{}, fmt.Errorf("%w: bad array length", errProtocol)
		}
		if n == -1 {
			v.null = true
			return v, nil
		}
		v.arr = make([]value, 0, min(n, 1024))
		for i := 0; i < n; i++ {
			e, err := readDepth(r, depth+1)
			if err != nil {
				return value{}, err
			}
			v.arr = append(v.arr, e)
		}
	default:
		return value{}, fmt.Errorf("%w: unknown type %q", errProtocol, v.kind)
	}
	return v, nil
}

// readLine reads up to CRLF, without it. A line longer than the reader's
// buffer is refused: no RESP2 header or simple reply needs one.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line too long", errProtocol)
		}
		return nil, eof(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line not terminated by CRLF", errProtocol)
	}
	return line[:len(line)-2], nil
}

// eof reports a reply cut short as io.ErrUnexpectedEOF: the connection
// closed mid-reply.
func eof(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
