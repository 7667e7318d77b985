package git_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/testutil"

	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/git"
	"github.com/rekeyhq/rekey/internal/source/git/gittest"
)

// TestAgainstOracle checks a generated history with merges, deletions and
// rewrites against a slow, obvious computation: the first commit, in date
// order, whose tree holds each (blob, path) pair.
func TestAgainstOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := t.TempDir()
	gittest.BuildBulk(t, dir, gittest.BulkOptions{
		Source: filepath.Join(testutil.GoRoot(t), "src", "strings"), Commits: 120, MergeEvery: 15, DeleteEvery: 7, Seed: 1,
		Plant: func(i int) map[string]string {
			if i%40 == 5 {
				return map[string]string{"secrets/s.env": "k=1\n"} // the same blob, added again after a delete
			}
			if i%40 == 6 {
				return map[string]string{"secrets/s.env": "k=2\n"}
			}
			return nil
		},
	})
	type pair struct{ blob, path string }
	want := map[pair]string{}
	head := map[pair]bool{}
	for _, c := range strings.Fields(gittest.Git(t, dir, "rev-list", "--all", "--reverse", "--date-order")) {
		for _, line := range strings.Split(gittest.Git(t, dir, "ls-tree", "-r", c), "\n") {
			meta, path, _ := strings.Cut(line, "\t")
			f := strings.Fields(meta)
			if _, seen := want[pair{f[2], path}]; !seen {
				want[pair{f[2], path}] = c
			}
		}
	}
	for _, line := range strings.Split(gittest.Git(t, dir, "ls-tree", "-r", "HEAD"), "\n") {
		meta, path, _ := strings.Cut(line, "\t")
		head[pair{strings.Fields(meta)[2], path}] = true
	}
	chunks := mustWalk(t, dir)
	got := map[pair]string{}
	for _, c := range chunks {
		for _, l := range append([]source.Location{c.Loc}, c.Loc.Also...) {
			p := pair{l.Blob, l.Path}
			if _, dup := got[p]; dup {
				t.Errorf("%v reported twice", p)
			}
			got[p] = l.Commit
			if l.AtHead != head[p] {
				t.Errorf("%v: AtHead %v, want %v", p, l.AtHead, head[p])
			}
		}
	}
	for p, c := range want {
		if g, ok := got[p]; !ok {
			// Only binary blobs may be missing.
			data := gittest.Git(t, dir, "cat-file", "blob", p.blob)
			if !strings.Contains(data, "\x00") && data != "" {
				t.Errorf("%v not reported", p)
			}
		} else if g != c {
			t.Errorf("%v: commit %s, want %s", p, g, c)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%v reported but not in history", p)
		}
	}
	t.Logf("%d pairs, %d chunks", len(want), len(chunks))
}

// BenchmarkWalk walks a history of ~3000 commits made from $GOROOT/src.
// Set REKEY_BENCH_REPO to a directory to build it there once and reuse it.
func BenchmarkWalk(b *testing.B) {
	dir := os.Getenv("REKEY_BENCH_REPO")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "repo")
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		start := time.Now()
		res := gittest.BuildBulk(b, dir, gittest.BulkOptions{Source: filepath.Join(testutil.GoRoot(b), "src"), Commits: 3000, Seed: 1})
		b.Logf("built %+v in %v", res, time.Since(start))
	}
	s, err := git.New(git.Options{Path: dir, OnError: func(e *source.FileError) { b.Error(e) }})
	if err != nil {
		b.Fatal(err)
	}
	var blobs, bytesRead, places, lines int
	b.ResetTimer()
	for b.Loop() {
		blobs, bytesRead, places, lines = 0, 0, 0, 0
		last := ""
		err := s.Walk(context.Background(), func(c source.Chunk) error {
			if c.Loc.Blob != last {
				blobs++
				places += 1 + len(c.Loc.Also)
				last = c.Loc.Blob
			}
			bytesRead += len(c.Data) - c.Tail
			lines += bytes.Count(c.Data, []byte{'\n'}) // touch every byte, as a scanner would
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(blobs), "blobs")
	b.ReportMetric(float64(places), "places")
	b.ReportMetric(float64(blobs)/sec, "blobs/s")
	b.ReportMetric(float64(bytesRead)/sec/1e6, "MB/s")
}
