package git

import (
	"bufio"
	"context"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/git/gittest"
)

// Before git 2.31 merges are diffed against every parent (-m); the
// introducing commits must not change.
func TestEveryParentDiff(t *testing.T) {
	dir := t.TempDir()
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"conf.txt": "base\n"}},
		{Branch: "topic", From: "main", Files: map[string]string{"t.txt": "from-topic\n"}},
		{Files: map[string]string{"m.txt": "from-main\n"}},
		{Merge: []string{"topic"}, Files: map[string]string{"t.txt": "from-topic\n", "conf.txt": "resolved\n"}},
	})
	want := map[string]string{"base\n": ids[0], "from-topic\n": ids[1], "from-main\n": ids[2], "resolved\n": ids[3]}
	for _, firstParent := range []bool{true, false} {
		s, err := New(Options{Path: dir})
		if err != nil {
			t.Fatal(err)
		}
		s.firstParent = firstParent
		got := map[string]string{}
		err = s.Walk(context.Background(), func(c source.Chunk) error {
			got[string(c.Data)] = c.Loc.Commit
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for data, c := range want {
			if got[data] != c {
				t.Errorf("firstParent=%v: %q introduced by %s, want %s", firstParent, data, got[data], c)
			}
		}
	}
}

func TestParseLogRejectsGarbage(t *testing.T) {
	for _, in := range []string{
		"not-a-commit\x00",
		":100644 100644 abc\x00path\x00", // raw line before any commit
		strings.Repeat("a", 40) + "\x00\n:100644 100644 x y\x00p\x00",
	} {
		if err := parseLog(bufio.NewReader(strings.NewReader(in)), newHistory()); err == nil {
			t.Errorf("parseLog(%q) = nil, want an error", in)
		}
	}
	h := newHistory()
	c := strings.Repeat("c", 40)
	b := strings.Repeat("b", 40)
	z := strings.Repeat("0", 40)
	in := c + "\x00\n:000000 100644 " + z + " " + b + " A\x00\nstarts with newline\x00" +
		":000000 120000 " + z + " " + b + " A\x00link\x00"
	if err := parseLog(bufio.NewReader(strings.NewReader(in)), h); err != nil {
		t.Fatal(err)
	}
	if len(h.blobs) != 1 || len(h.blobs[0].occ) != 1 || h.blobs[0].occ[0].path != "\nstarts with newline" {
		t.Errorf("parsed %+v", h.blobs)
	}
}
