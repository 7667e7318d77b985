package decode

import (
	"bytes"
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
