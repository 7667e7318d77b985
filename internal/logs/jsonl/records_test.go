package jsonl

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/logs"
)

type got struct {
	Records   []string
	Lines     []int
	Offsets   []int64
	Malformed []string // "line:reason"
	Count     int
}

func records(t *testing.T, r func(string) interface{ Read([]byte) (int, error) }, in string) got {
	t.Helper()
	var g got
	var st logs.Stats
	err := Records(context.Background(), "f", r(in), &st, func(rec Record) error {
		g.Records = append(g.Records, string(rec.Data))
		g.Lines = append(g.Lines, rec.Line)
		g.Offsets = append(g.Offsets, rec.Offset)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Malformed {
		g.Malformed = append(g.Malformed, strconv.Itoa(m.Line)+":"+m.Reason)
	}
	g.Count = st.Records
	return g
}

func TestRecordsShapes(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     got
	}{
		{"lines with CRLF and blanks", "{\"a\":1}\r\n\r\n  {\"b\":\"x\"}  \n", got{
			Records: []string{`{"a":1}`, `{"b":"x"}`}, Lines: []int{1, 3}, Offsets: []int64{0, 13}, Count: 2}},
		{"one-line array", `[{"a":1},{"b":"]}\"{"}]`, got{
			Records: []string{`{"a":1}`, `{"b":"]}\"{"}`}, Lines: []int{1, 1}, Offsets: []int64{1, 9}, Count: 2}},
		{"pretty array", "[\n  {\n    \"a\": [1, {\"c\": 2}]\n  },\n  {\"b\": 2}\n]\n", got{
			Records: []string{"{\n    \"a\": [1, {\"c\": 2}]\n  }", `{"b": 2}`}, Lines: []int{2, 5}, Offsets: []int64{4, 36}, Count: 2}},
		{"byte order mark", "\xef\xbb\xbf{\"a\":1}\n", got{Records: []string{`{"a":1}`}, Lines: []int{1}, Offsets: []int64{3}, Count: 1}},
		{"array then lines", "[{\"a\":1}]\n{\"b\":2}\n", got{
			Records: []string{`{"a":1}`, `{"b":2}`}, Lines: []int{1, 2}, Offsets: []int64{1, 10}, Count: 2}},
		{"scalar elements", "[1, \"s\", true, null, {\"a\":1}, []]", got{
			Records: []string{`{"a":1}`}, Lines: []int{1}, Offsets: []int64{21}, Count: 6,
			Malformed: []string{"1:array element is not an object", "1:array element is not an object", "1:array element is not an object",
				"1:array element is not an object", "1:array element is not an object"}}},
		{"broken array resyncs on the next line", "[{\"a\":1} {\"b\":2},\n{\"c\":3}\n", got{
			Records: []string{`{"a":1}`, `{"c":3}`}, Lines: []int{1, 2}, Offsets: []int64{1, 18}, Count: 2,
			Malformed: []string{`1:invalid JSON: '{' between array elements`}}},
		{"mismatched bracket", "[{\"a\":[1}]\n{\"c\":3}\n", got{
			Records: []string{`{"c":3}`}, Lines: []int{2}, Offsets: []int64{11}, Count: 2,
			Malformed: []string{`1:invalid JSON: unexpected '}'`}}},
		{"text lines", "hello\n{\"a\":1}\n\x00\x00\n", got{
			Records: []string{`{"a":1}`}, Lines: []int{2}, Offsets: []int64{6}, Count: 1,
			Malformed: []string{`1:not a JSON object: starts with 'h'`, `3:not a JSON object: starts with byte 0x00`}}},
		{"truncated array", "[{\"a\":1},{\"b\":", got{
			Records: []string{`{"a":1}`}, Lines: []int{1}, Offsets: []int64{1}, Count: 2,
			Malformed: []string{`1:truncated: the input ends inside a record`}}},
		{"unterminated array", "[{\"a\":1}", got{
			Records: []string{`{"a":1}`}, Lines: []int{1}, Offsets: []int64{1}, Count: 1,
			Malformed: []string{`1:truncated: the input ends inside a record`}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for name, r := range map[string]func(string) interface{ Read([]byte) (int, error) }{
				"plain": func(s string) interface{ Read([]byte) (int, error) } { return strings.NewReader(s) },
				"onebyte": func(s string) interface{ Read([]byte) (int, error) } {
					return iotest.OneByteReader(strings.NewReader(s))
				},
			} {
				if diff := cmp.Diff(c.want, records(t, r, c.in)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

func TestRecordsTooLarge(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", MaxRecord) + `"}`
	for _, in := range []string{big + "\n{\"b\":1}\n", "[" + big + ",{\"b\":1}]"} {
		var st logs.Stats
		var n int
		err := Records(context.Background(), "f", strings.NewReader(in), &st, func(rec Record) error {
			if string(rec.Data) != `{"b":1}` {
				t.Errorf("record %.20q", rec.Data)
			}
			n++
			return nil
		})
		if err != nil || n != 1 || st.Records != 2 || st.MalformedCount != 1 || !strings.Contains(st.Malformed[0].Reason, "larger than") {
			t.Errorf("%v, %d records, %+v", err, n, st)
		}
	}
}

func TestRecordsReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, in := range []string{"{\"a\":1}\n{\"a\"", "[{\"a\":1},\n{\"a\""} {
		var st logs.Stats
		err := Records(context.Background(), "f.json", ioMulti(in, boom), &st, func(Record) error { return nil })
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "f.json: line 2: ") {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func ioMulti(s string, err error) interface{ Read([]byte) (int, error) } {
	return &errAfter{r: bytes.NewReader([]byte(s)), err: err}
}

type errAfter struct {
	r   *bytes.Reader
	err error
}

func (e *errAfter) Read(b []byte) (int, error) {
	n, _ := e.r.Read(b)
	if n == 0 {
		return 0, e.err
	}
	return n, nil
}
