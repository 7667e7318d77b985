package redis

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestWriteCommand(t *testing.T) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeCommand(w, "ACL", "SETUSER", "rk", ">p w\r\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "*4\r\n$3\r\nACL\r\n$7\r\nSETUSER\r\n$2\r\nrk\r\n$6\r\n>p w\r\n\r\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestReadValue(t *testing.T) {
	in := "+OK\r\n-WRONGPASS invalid username-password pair\r\n:42\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n*0\r\n" +
		"*2\r\n$5\r\nflags\r\n*2\r\n+on\r\n$6\r\nnopass\r\n"
	want := []value{
		{kind: '+', str: "OK"},
		{kind: '-', str: "WRONGPASS invalid username-password pair"},
		{kind: ':', num: 42},
		{kind: '$', str: "he\r\no"},
		{kind: '$', null: true},
		{kind: '*', null: true},
		{kind: '*', arr: []value{}},
		{kind: '*', arr: []value{{kind: '$', str: "flags"}, {kind: '*', arr: []value{{kind: '+', str: "on"}, {kind: '$', str: "nopass"}}}}},
	}
	// One byte at a time: replies split anywhere must read the same.
	r := bufio.NewReader(iotest.OneByteReader(strings.NewReader(in)))
	var got []value
	for range want {
		v, err := readValue(r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(value{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := readValue(r); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read past the end: %v, want unexpected EOF", err)
	}
	var se *serverError
	if !errors.As(got[1].err(), &se) || se.code() != "WRONGPASS" {
		t.Errorf("error reply: %v", got[1].err())
	}
	if m, ok := got[7].fields(); !ok || len(m) != 1 {
		t.Errorf("fields() = %v %v", m, ok)
	}
}

func TestReadValueMalformed(t *testing.T) {
	for _, in := range []string{
		"?what\r\n",
		"+OK\n",
		"\r\n",
		":x\r\n",
		"$-2\r\n",
		"$999999999999\r\n",
		"$3\r\nabcde",
		"$3\r\nab",
		"*2\r\n:1\r\n",
		"*99999999\r\n",
		strings.Repeat("*1\r\n", maxDepth+2) + ":1\r\n",
		"+" + strings.Repeat("a", 8192) + "\r\n",
	} {
		_, err := readValue(bufio.NewReaderSize(strings.NewReader(in), 4096))
		if err == nil {
			t.Errorf("readValue(%.20q): no error", in)
		}
	}
}

func FuzzReadValue(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "*2\r\n$1\r\na\r\n:1\r\n", "$-1\r\n", "-ERR x\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for i := 0; i < 8; i++ {
			if _, err := readValue(r); err != nil {
				return
			}
		}
	})
}

func TestReadValueLongBulk(t *testing.T) {
	long := strings.Repeat("x", 200000)
	v, err := readValue(bufio.NewReader(strings.NewReader("$200000\r\n" + long + "\r\n")))
	if err != nil || v.str != long {
		t.Fatalf("long bulk: %v, %d bytes", err, len(v.str))
	}
	if _, err := readValue(bufio.NewReader(strings.NewReader("$200000000\r\nshort\r\n"))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("bulk cut short: %v, want unexpected EOF", err)
	}
}
