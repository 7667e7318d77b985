package logstest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/logs"
)

// Testdata lists every parser's testdata files, at any depth, from a
// parser package's directory (../*/testdata), leaving out golden files and
// compressed ones.
func Testdata(t testing.TB) []string {
	t.Helper()
	var files []string
	dirs, _ := filepath.Glob("../*/testdata")
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && !strings.HasSuffix(p, ".golden.json") && !strings.HasSuffix(p, ".gz") {
				files = append(files, p)
			}
			return nil
		})
	}
	return files
}

// SniffOwn checks p.Sniff against every parser's testdata: it must accept
// the files of its own package (the directory own, such as "k8saudit";
// "" for a parser that never sniffs) and refuse all the others. It
// returns how many files were its own and how many it saw.
func SniffOwn(t *testing.T, p logs.Parser, own string) (mine, all int) {
	t.Helper()
	files := Testdata(t)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want := own != "" && strings.HasPrefix(f, "../"+own+"/")
		if want {
			mine++
		}
		if got := p.Sniff(b[:min(len(b), logs.HeadSize)]); got != want {
			t.Errorf("Sniff(%s) = %v, want %v", f, got, want)
		}
	}
	return mine, len(files)
}
