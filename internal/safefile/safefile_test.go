//go:build unix

package safefile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// within fails the test when f has not returned after a generous bound:
// the bug this package fixes is a hang, which must fail, not stall, the
// suite.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still blocked after 30s", what)
	}
}

func mkfifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p
}

func TestOpenRegularRefusesSpecialFilesWithoutBlocking(t *testing.T) {
	for name, path := range map[string]string{
		"fifo":    mkfifo(t),
		"dir":     t.TempDir(),
		"chardev": "/dev/null",
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			within(t, "OpenRegular("+path+")", func() {
				var f *os.File
				f, err = OpenRegular("read secret", path)
				if f != nil {
					f.Close()
				}
			})
			if !errors.Is(err, ErrNotRegular) {
				t.Fatalf("err = %v, want ErrNotRegular", err)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q does not name %s on one line", msg, path)
			}
		})
	}
}

func TestOpenRegularReadsFilesAndLinksToThem(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s")
	if err := os.WriteFile(p, []byte("hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "l")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p, link} {
		f, err := OpenRegular("read", path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil || string(b) != "hunter2" {
			t.Fatalf("%s: read %q, %v", path, b, err)
		}
	}
	if _, err := OpenRegular("read", filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestWriteFileKeepsDevNullADevice(t *testing.T) {
	if err := WriteFile("report", "/dev/null", []byte("report"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeCharDevice == 0 {
		t.Fatalf("/dev/null is now %v", fi.Mode())
	}
}

func TestWriteFileWritesIntoAPipeInPlace(t *testing.T) {
	p := mkfifo(t)
	// Without a reader, refused at once rather than waiting for one.
	var err error
	within(t, "WriteFile to a pipe nobody reads", func() { err = WriteFile("report", p, []byte("x"), 0o600) })
	if err == nil || !strings.Contains(err.Error(), "nothing is reading") {
		t.Fatalf("err = %v", err)
	}
	got := make(chan string, 1)
	ready := make(chan struct{})
	go func() {
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		close(ready)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		var b []byte
		buf := make([]byte, 64)
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(b) < len("the report"); {
			n, _ := f.Read(buf)
			b = append(b, buf[:n]...)
			if n == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		got <- string(b)
	}()
	<-ready
	within(t, "WriteFile to a pipe", func() { err = WriteFile("report", p, []byte("the report"), 0o600) })
	if err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "the report" {
		t.Fatalf("reader got %q", s)
	}
	if fi, _ := os.Lstat(p); fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("pipe replaced: %v", fi.Mode())
	}
}

func TestWriteFileRefusesDirectoriesAndLinks(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(outside, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "report.md")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{dir, "is a directory"},
		{link, "is a symbolic link"},
	} {
		err := WriteFile("report", c.path, []byte("report"), 0o600)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: err = %v, want %q naming the path", c.path, err, c.want)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep me" {
		t.Fatalf("link target changed: %q", b)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatal("link replaced")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestWriteFileReplacesRegularFilesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.md")
	if err := WriteFile("report", p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".keep", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A hard link to the old file keeps the old content: the new one was
	// renamed over the name, not written into the inode.
	if err := os.Link(p, p+".old"); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile("report", p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("content %q", b)
	}
	if b, _ := os.ReadFile(p + ".old"); string(b) != "one" {
		t.Fatalf("old inode written in place: %q", b)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("temporary files left: %v", entries)
	}
}
