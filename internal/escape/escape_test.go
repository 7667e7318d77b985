package escape

import (
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain/path.env", "plain/path.env"},
		{"café ünïcode 日本", "café ünïcode 日本"},
		{"a\nHIGH fake-row", `a\nHIGH fake-row`},
		{"cr\rover", `cr\rover`},
		{"tab\there", `tab\there`},
		{"\x1b[2Jclear", `\x1b[2Jclear`},
		{"del\x7f", `del\x7f`},
		{"rtl\u202eexe.txt", `rtl\u202eexe.txt`},
		{"line\u2028sep", `line\u2028sep`},
		{"nel\u0085", `nel\u0085`},
		{"nbsp\u00a0x", `nbsp\u00a0x`},
		{"bad\xffutf8", `bad\xffutf8`},
		{`back\slash`, `back\slash`},
		{"pipe|kept", "pipe|kept"},
	} {
		got := Text(c.in)
		if got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.ContainsAny(got, "\n\r\x1b") {
			t.Errorf("Text(%q) still holds a control character", c.in)
		}
	}
}

func TestCell(t *testing.T) {
	if got, want := Cell("a|b\nc"), `a\|b\nc`; got != want {
		t.Fatalf("Cell = %q, want %q", got, want)
	}
}

func FuzzTextHasNoControls(f *testing.F) {
	f.Add("a\nb")
	f.Add("\u202e\x00\xff")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Text(s) {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("Text(%q) holds %U", s, r)
			}
		}
	})
}
