package logs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rekeyhq/rekey/internal/logs"
	_ "github.com/rekeyhq/rekey/internal/logs/logstest" // defines -update for go test ./internal/logs/... -update
)

func gz(t *testing.T, members ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, m := range members {
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(m))
		zw.Close()
	}
	return b.Bytes()
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"plain.log":         {[]byte("line 1\nline 2\n"), "line 1\nline 2\n"},
		"plain.gz":          {[]byte("not compressed\n"), "not compressed\n"},
		"rotated.log.1":     {gz(t, "compressed\n"), "compressed\n"}, // no .gz: told by content
		"multi.gz":          {gz(t, "first\n", "second\n"), "first\nsecond\n"},
		"empty":             {nil, ""},
		"one-byte":          {[]byte{0x1f}, "\x1f"},
		"magic-but-garbage": {[]byte{0x1f, 0x8b, 0, 0}, "error"},
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		rc, err := logs.Open(path)
		if err != nil {
			if c.want != "error" {
				t.Errorf("Open(%s): %v", name, err)
			}
			continue
		}
		got, err := io.ReadAll(rc)
		if err != nil && c.want != "error" {
			t.Errorf("read %s: %v", name, err)
		}
		if err := rc.Close(); err != nil {
			t.Errorf("close %s: %v", name, err)
		}
		if c.want != "error" && string(got) != c.want {
			t.Errorf("Open(%s) read %q, want %q", name, got, c.want)
		}
	}
	if _, err := logs.Open(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want not exist", err)
	}
}

type fake struct{ name, magic string }

func (f fake) Name() string { return f.name }
func (fake) Parse(_ context.Context, _ string, _ io.Reader, _ func(logs.Event) error) (logs.Stats, error) {
	return logs.Stats{}, nil
}
func (f fake) Sniff(head []byte) bool { return bytes.HasPrefix(head, []byte(f.magic)) }

func TestDetect(t *testing.T) {
	ps := []logs.Parser{fake{"a", "AA"}, fake{"b", "A"}}
	for head, want := range map[string]string{"AAx": "a", "Ax": "b", "x": ""} {
		got := ""
		if p := logs.Detect([]byte(head), ps); p != nil {
			got = p.Name()
		}
		if got != want {
			t.Errorf("Detect(%q) = %q, want %q", head, got, want)
		}
	}
}
