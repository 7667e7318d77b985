package jsonscan

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// validate reads one whole document with the scanner.
func validate(data []byte, oneByte bool) error {
	var r io.Reader = bytes.NewReader(data)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	s := New(r)
	v, err := s.Value()
	if err != nil {
		return err
	}
	if err := s.Skip(v); err != nil {
		return err
	}
	return s.End()
}

func TestScannerErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{``, "line 1, column 1: unexpected end of input, expecting a value"},
		{"  \n ", "line 2, column 2: unexpected end of input, expecting a value"},
		{`[1,]`, "line 1, column 4: unexpected ']', expecting a value"},
		{`{"a":1,}`, "line 1, column 8: unexpected '}', expecting a string key"},
		{`{"a" 1}`, "line 1, column 6: unexpected number, expecting ':' after an object key"},
		{"{\"a\":1\n \"b\":2}", "line 2, column 2: unexpected string, expecting ',' or '}' after an object member"},
		{`[1 2]`, "line 1, column 4: unexpected number, expecting ',' or ']' after an array element"},
		{`[01]`, "line 1, column 3: unexpected number, expecting ',' or ']' after an array element"},
		{`[-]`, "line 1, column 3: invalid character ']' in number"},
		{`[1.]`, "line 1, column 4: invalid character ']' in number"},
		{`[1e+]`, "line 1, column 5: invalid character ']' in number"},
		{`[tru]`, "line 1, column 5: invalid character ']' in literal"},
		{`[nul`, "line 1, column 2: unexpected end of input in literal"},
		{`[x]`, "line 1, column 2: invalid character 'x' looking for a value"},
		{"[\"a\tb\"]", "line 1, column 4: invalid control character byte 0x09 in string"},
		{`["\x"]`, `line 1, column 3: invalid escape \x in string`},
		{`["\u12G4"]`, `line 1, column 3: invalid \u escape`},
		{`["abc`, "line 1, column 2: unexpected end of input in string"},
		{`[] []`, "line 1, column 4: unexpected '[', expecting the end of input after the top-level value"},
		{`{"a":[}`, "line 1, column 7: unexpected '}', expecting a value"},
		{strings.Repeat("[", maxDepth+1), "line 1, column 10001: nested deeper than 10000 levels"},
	} {
		for _, oneByte := range []bool{false, true} {
			err := validate([]byte(tt.in), oneByte)
			if err == nil || err.Error() != tt.want {
				t.Errorf("%.40q: got %v, want %s", tt.in, err, tt.want)
			}
		}
	}
}

func TestScannerStrings(t *testing.T) {
	for in, want := range map[string]string{
		`"plain"`:                  "plain",
		`"a\/b\\c\"d"`:             `a/b\c"d`,
		`"\b\f\n\r\t"`:             "\b\f\n\r\t",
		`"\u00e9\u20AC"`:           "é€",
		`"\ud83d\ude00"`:           "\U0001F600",
		`"\ud83dx"`:                "\uFFFDx",
		`"\ude00\ud83d"`:           "\uFFFD\uFFFD",
		`"\ud83d\u0041"`:           "\uFFFDA",
		"\"raw \xff bytes\"":       "raw \xff bytes",
		"\xef\xbb\xbf\"with BOM\"": "with BOM",
	} {
		s := New(strings.NewReader(in))
		tok, err := s.Value()
		if err != nil || tok.Kind != String || tok.Str != want {
			t.Errorf("%s: got %q %v, want %q", in, tok.Str, err, want)
		}
		if err := s.End(); err != nil {
			t.Errorf("%s: %v", in, err)
		}
		if in[0] != '"' && tok.Col != 5 {
			t.Errorf("after a BOM the string starts at byte column 5, got %d", tok.Col)
		}
	}
}

// The scanner accepts exactly what encoding/json accepts (but for a
// leading byte order mark, which it skips).
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e+3,true,false,null,"x\u00e9"]}`, `[]`, `0`, `"\ud800"`, "[\n1,\n2]", `{"a":{}}`, `[1,]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := validate(data, false)
		if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
			data = data[3:]
		}
		if valid := json.Valid(data); valid != (err == nil) {
			t.Fatalf("json.Valid = %v, scanner: %v", valid, err)
		}
		if err := validate(data, true); (err == nil) != json.Valid(data) {
			t.Fatalf("one byte reader disagrees: %v", err)
		}
	})
}

// TestRecordEscapes checks each escape's byte offset and length in the
// input and the bytes it stands for, across keys, values, a BOM, surrogate
// pairs and a stream of several values (JSON lines).
func TestRecordEscapes(t *testing.T) {
	in := "\xef\xbb\xbf{\"k\\/ey\": \"a\\u00e9\\ud83d\\ude00\\n\"}\n[\"x\\\"y\"]\n"
	var esc []Escape
	s := New(iotest.OneByteReader(strings.NewReader(in)))
	s.RecordEscapes(&esc)
	values := 0
	for s.More() {
		v, err := s.Value()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Skip(v); err != nil {
			t.Fatal(err)
		}
		values++
	}
	if values != 2 {
		t.Fatalf("%d values, want 2", values)
	}
	want := []struct{ raw, dec string }{{`\/`, "/"}, {`\u00e9`, "é"}, {`\ud83d\ude00`, "😀"}, {`\n`, "\n"}, {`\"`, `"`}}
	if len(esc) != len(want) {
		t.Fatalf("%d escapes, want %d: %+v", len(esc), len(want), esc)
	}
	from := 0
	for i, w := range want {
		at := strings.Index(in[from:], w.raw) + from
		e := esc[i]
		if e.Off != at || e.Len != len(w.raw) || string(e.Dec[:e.N]) != w.dec {
			t.Errorf("escape %d: off %d len %d %q, want off %d len %d %q", i, e.Off, e.Len, e.Dec[:e.N], at, len(w.raw), w.dec)
		}
		from = at + len(w.raw)
	}
}
