package rules

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/testutil"
)

// goSource reads up to limit bytes of text files under GOROOT/src, in walk
// order, skipping binaries and files over 1 MB. Go's own tree is a large,
// varied body of ordinary code that names tokens, secrets and passwords
// everywhere and holds almost no credentials: a fair test of speed and of
// false positives.
func goSource(tb testing.TB, limit int) (files [][]byte, names []string) {
	tb.Helper()
	root := filepath.Join(testutil.GoRoot(tb), "src")
	if _, err := os.Stat(root); err != nil {
		tb.Skipf("no Go source tree at %s", root)
	}
	total := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || total >= limit {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() > 1<<20 {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil || bytes.IndexByte(b, 0) >= 0 {
			return nil
		}
		files = append(files, b)
		names = append(names, path)
		total += len(b)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files, names
}

// BenchmarkScanGoSource measures single-goroutine Scan throughput over
// about 20 MB of Go's own source tree, one file per Scan call as a source
// would hand them over.
func BenchmarkScanGoSource(b *testing.B) {
	files, _ := goSource(b, 20<<20)
	d := newDetector(b)
	total := 0
	for _, f := range files {
		total += len(f)
	}
	b.SetBytes(int64(total))
	b.ResetTimer()
	for b.Loop() {
		for _, f := range files {
			d.Scan(f)
		}
	}
}

// TestGoRootFindings scans all of GOROOT/src and lists findings by rule,
// with samples. It is a tool for tuning rules, not a gate: set
// REKEY_SCAN_GOROOT=1 to run it.
func TestGoRootFindings(t *testing.T) {
	if os.Getenv("REKEY_SCAN_GOROOT") == "" {
		t.Skip("set REKEY_SCAN_GOROOT=1 to scan GOROOT/src")
	}
	files, names := goSource(t, 1<<40)
	d := newDetector(t)
	byRule := map[string][]string{}
	size := 0
	for i, f := range files {
		size += len(f)
		for _, fd := range d.Scan(f) {
			line := 1 + bytes.Count(f[:fd.Start], []byte("\n"))
			preview := string(fd.Secret.Reveal())
			if len(preview) > 60 {
				preview = preview[:60] + "…"
			}
			rel := strings.TrimPrefix(names[i], filepath.Join(testutil.GoRoot(t), "src")+"/")
			byRule[fd.Rule.ID] = append(byRule[fd.Rule.ID], fmt.Sprintf("%s:%d %q", rel, line, preview))
		}
	}
	var ids []string
	n := 0
	for id, fs := range byRule {
		ids = append(ids, id)
		n += len(fs)
	}
	sort.Slice(ids, func(i, j int) bool { return len(byRule[ids[i]]) > len(byRule[ids[j]]) })
	t.Logf("%d findings in %d files (%d MB)", n, len(files), size>>20)
	for _, id := range ids {
		t.Logf("%5d %s", len(byRule[id]), id)
		for _, s := range byRule[id][:min(len(byRule[id]), 8)] {
			t.Logf("        %s", s)
		}
	}
}
