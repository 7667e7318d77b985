package decode

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestRewriteJSON decodes the strings of JSON and JSON-lines files, by
// extension and by content, and maps every byte of a decoded value back to
// its place in the file.
func TestRewriteJSON(t *testing.T) {
	for _, tt := range []struct {
		path, in string
		want     string // a value the copy must hold whole
		at       string // where its first byte sits in the file
	}{
		{"export/2024-05-14.json", `[{"text": "dsn postgres:\/\/etl:pw0rd@pg:5432\/route"}]`, "postgres://etl:pw0rd@pg:5432/route", `postgres:\/\/`},
		{"logs/app.jsonl", "{\"a\":\"\\u0041\"}\n{\"dsn\":\"mysql:\\/\\/u:p@h\\/db\"}\n", "mysql://u:p@h/db", `mysql:`},
		{"notes/events", `{"cfg": "{\"password\": \"s3cr3t-Value\"}"}`, `{"password": "s3cr3t-Value"}`, `{\"password`},
		{"keys.json", `{"k": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}`, "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END", "-----BEGIN"},
	} {
		rw := Rewrite(tt.path, []byte(tt.in))
		if rw == nil || rw.Encoding != JSONEscaped {
			t.Fatalf("%s: no rewrite", tt.path)
		}
		i := bytes.Index(rw.Data, []byte(tt.want))
		if i < 0 {
			t.Fatalf("%s: %q not in %q", tt.path, tt.want, rw.Data)
		}
		if got, want := rw.Raw(i), strings.Index(tt.in, tt.at); got != want {
			t.Errorf("%s: decoded offset %d maps to %d, want %d", tt.path, i, got, want)
		}
		// The value's last byte maps to the last byte of its raw form.
		s, e := rw.RawSpan(i, i+len(tt.want))
		if s != strings.Index(tt.in, tt.at) || e <= s || e > len(tt.in) {
			t.Errorf("%s: span %d-%d", tt.path, s, e)
		}
	}
}

func TestRewriteNothingToDo(t *testing.T) {
	for path, in := range map[string]string{
		"plain.json":    `{"a": "no escapes here"}`,
		"config.ini":    "[section]\npath = C:\\temp\\x\n",
		"notes.txt":     `he said "a\/b" once`,
		"broken.json":   `{"a": `,
		"empty.json":    ``,
		"settings.toml": "[tool]\nx = \"a\\tb\"\n",
	} {
		if rw := Rewrite(path, []byte(in)); rw != nil {
			t.Errorf("%s: rewritten to %q", path, rw.Data)
		}
	}
}

// TestRewriteSplit joins values split over lines in the shapes people
// write them, keeps only the touched lines, and maps the joined value's
// first byte back to its place in the file.
func TestRewriteSplit(t *testing.T) {
	for _, tt := range []struct {
		path, in string
		want     string // a line of the copy
		at       string // where the value starts in the file
	}{
		{".env.production", "A=1\nTOKEN=abcdef\\\n  ghijkl\nB=2\n", "TOKEN=abcdefghijkl", "abcdef"},
		{"deploy.sh", "curl -s \\\n  -H \"X: y\" \\\n  https://x\n", `curl -s -H "X: y" https://x`, "curl"},
		{"notify.go", "package p\n\nconst tok = \"xoxb-1\" +\n\t\"234\"\n", `const tok = "xoxb-1234"`, "xoxb"},
		{"billing.py", "key = (\n    \"sk_live_a\"\n    \"bc\"\n)\n", `    "sk_live_abc"`, "sk_live"},
		{"app.js", "const k = 'ab'\n  + 'cd';\n", `const k = 'abcd';`, "ab'"},
		{"values.yaml", "a: 1\nb:\n  apiKey: >-\n    abcd\n    efgh\n  c: 2\n", "  apiKey: abcdefgh", "abcd"},
		{"values.yml", "k: |\n  ab\n  cd\n", "k: abcd", "ab\n"},
	} {
		rw := Rewrite(tt.path, []byte(tt.in))
		if rw == nil || rw.Encoding != Split {
			t.Fatalf("%s: no rewrite", tt.path)
		}
		lines := strings.Split(string(rw.Data), "\n")
		i := slices.Index(lines, tt.want)
		if i < 0 {
			t.Fatalf("%s: no line %q in %q", tt.path, tt.want, rw.Data)
		}
		off := strings.Index(string(rw.Data), tt.want) + strings.Index(tt.want, tt.at[:2])
		if got, want := rw.Raw(off), strings.Index(tt.in, tt.at); got != want {
			t.Errorf("%s: offset %d of the copy maps to %d, want %d", tt.path, off, got, want)
		}
	}
}

func TestRewriteSplitLeavesAlone(t *testing.T) {
	for path, in := range map[string]string{
		"notes.md":    "a \"quoted\"\n\"next\" line\n", // not code
		"a.go":        "x := \"a\",\n\t\"b\"\n",        // a list, not a concatenation
		"prose.yaml":  "msg: |\n  two words\n  more words\n",
		"pem.yaml":    "key: |\n  -----BEGIN PRIVATE KEY-----\n  MIIE\n  -----END PRIVATE KEY-----\n",
		"one.yaml":    "k: |\n  single\n",
		"escaped.env": "A=b\\\\\nC=d\n", // an escaped backslash ends the line
	} {
		if rw := Rewrite(path, []byte(in)); rw != nil {
			t.Errorf("%s: rewritten to %q", path, rw.Data)
		}
	}
}

// BenchmarkRewriteJSON measures decoding the strings of a pretty-printed
// JSON document with escapes on some lines, as a Slack day file has.
func BenchmarkRewriteJSON(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[\n")
	for i := range 2000 {
		if i > 0 {
			sb.WriteString(",\n")
		}
		fmt.Fprintf(&sb, "    {\n        \"type\": \"message\",\n        \"text\": \"see https:\\/\\/example.com\\/%d \\u2014 ok\",\n        \"ts\": \"1709370000.%06d\",\n        \"reply_count\": %d,\n        \"blocks\": [{\"type\": \"rich_text\", \"elements\": []}]\n    }", i, i, i%7)
	}
	sb.WriteString("\n]\n")
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for range b.N {
		if Rewrite("day.json", data) == nil {
			b.Fatal("no rewrite")
		}
	}
}

// FuzzRewrite: any input, under any of the names that select a rewrite,
// must not panic, and every byte of a copy must map into the input, in
// order.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		`[{"text": "postgres:\/\/u:p@h\/d \u00e9 \"q\""}]`,
		"{\"a\":\"\\ud83d\\ude00\"}\n{\"b\": \"x\\ny\"}\n",
		"TOKEN=abc\\\n  def\n",
		"const k = \"ab\" +\n\t\"cd\"\n",
		"k: >-\n  ab\n  cd\n",
		"{\"a\": \"\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		data := []byte(s)
		for _, name := range []string{"x.json", "x.go", "x.yaml", ".env"} {
			rw := Rewrite(name, data)
			if rw == nil {
				continue
			}
			prev := -1
			for d := range rw.Data {
				r := rw.Raw(d)
				if r < 0 || r >= len(data) || r < prev {
					t.Fatalf("%s: byte %d of the copy maps to %d (previous %d, input %d bytes)", name, d, r, prev, len(data))
				}
				prev = r
			}
		}
	})
}
