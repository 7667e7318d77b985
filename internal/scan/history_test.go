package scan

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/git"
	"github.com/rekeyhq/rekey/internal/source/git/gittest"
	"github.com/rekeyhq/rekey/internal/trace"
)

// historyMatcher finds one-line tokens and PEM blocks (a rule that needs
// the whole block from its header).
func historyMatcher(t *testing.T) *Rules {
	t.Helper()
	d, err := detect.New([]*detect.Rule{
		{ID: "tok", Provider: "test", Keywords: []string{"tok_"}, Severity: detect.High,
			Regex: regexp.MustCompile(`\b(tok_[a-z0-9]{12})\b`)},
		{ID: "pem", Provider: "test", Keywords: []string{"-----begin"}, Severity: detect.High, Window: 8192,
			Regex: regexp.MustCompile(`(-----BEGIN PRIVATE KEY-----\n(?:[A-Za-z0-9+/=]+\n)+-----END PRIVATE KEY-----)`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	fp, err := secret.NewFingerprinter([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return &Rules{Detector: d, Fingerprinter: fp}
}

// longFile is a 300-line source file with line i replaced by edit[i].
func longFile(edit map[int]string) string {
	var b strings.Builder
	for i := 0; i < 300; i++ {
		if s, ok := edit[i]; ok {
			b.WriteString(s + "\n")
		} else {
			fmt.Fprintf(&b, "\tcall(%d); /* unchanged line of a long file */\n", i)
		}
	}
	return b.String()
}

func pemBlock(middle string) string {
	lines := []string{"-----BEGIN PRIVATE KEY-----"}
	for i := 0; i < 20; i++ {
		lines = append(lines, fmt.Sprintf("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC%032d", i))
	}
	lines[10] = middle
	return strings.Join(append(lines, "-----END PRIVATE KEY-----"), "\n")
}

// historyCases builds a repository where copies come and go in the ways
// a change scan could lose them, and returns its commits.
func historyCases(t *testing.T, dir string) []string {
	var cs []gittest.Commit
	// A long file edited 60 times; its 50th version adds a token in the
	// middle, which stays until HEAD, and its 30th one that goes again.
	for v := 1; v <= 60; v++ {
		edit := map[int]string{v % 7 * 40: fmt.Sprintf("\tversion(%d);", v)}
		if v >= 50 {
			edit[151] = "\tconst char *key = \"tok_fiftieth0001\";"
		}
		if v >= 30 && v < 35 {
			edit[200] = "\tconst char *old = \"tok_thirtieth001\";"
		}
		cs = append(cs, gittest.Commit{Files: map[string]string{"src/long.c": longFile(edit)}})
	}
	// A PEM key whose middle line changes in a later commit, then an edit
	// elsewhere in the file so the changed version is not HEAD's.
	cs = append(cs,
		gittest.Commit{Files: map[string]string{"keys/k.txt": "head\n" + pemBlock("AAAAoriginalmiddleline") + "\ntail\n"}},
		gittest.Commit{Files: map[string]string{"keys/k.txt": "head\n" + pemBlock("BBBBchangedmiddleline0") + "\ntail\n"}},
		gittest.Commit{Files: map[string]string{"keys/k.txt": "head 2\n" + pemBlock("BBBBchangedmiddleline0") + "\ntail\n\n\n\n\n\n\n\n\nmore\n"}},
	)
	// Removed, then added back (in a different place) two versions later.
	cs = append(cs,
		gittest.Commit{Files: map[string]string{"re.c": longFile(map[int]string{10: "x = tok_readdedtoken;"})}},
		gittest.Commit{Files: map[string]string{"re.c": longFile(nil)}},
		gittest.Commit{Files: map[string]string{"re.c": longFile(map[int]string{250: "y = tok_readdedtoken;"})}},
		gittest.Commit{Files: map[string]string{"re.c": longFile(map[int]string{250: "y = tok_readdedtoken;", 0: "/* edited */"})}},
	)
	// Renamed (a delete and an add without rename detection), then edited.
	cs = append(cs,
		gittest.Commit{Files: map[string]string{"old/name.c": longFile(map[int]string{100: "tok_renamedfile0"})}},
		gittest.Commit{Delete: []string{"old/name.c"}, Files: map[string]string{"new/name.c": longFile(map[int]string{100: "tok_renamedfile0"})}},
		gittest.Commit{Files: map[string]string{"new/name.c": longFile(map[int]string{100: "tok_renamedfile0", 5: "edit"})}},
	)
	// A side branch adds a token to a shared file and is merged.
	cs = append(cs,
		gittest.Commit{Branch: "topic", From: "main", Files: map[string]string{"re.c": longFile(map[int]string{250: "y = tok_readdedtoken;", 0: "/* edited */", 120: "tok_fromthetopic"})}},
		gittest.Commit{Files: map[string]string{"src/long.c": longFile(map[int]string{151: "\tconst char *key = \"tok_fiftieth0001\";", 3: "main moves on"})}},
		gittest.Commit{Merge: []string{"topic"}, Files: map[string]string{"re.c": longFile(map[int]string{250: "y = tok_readdedtoken;", 0: "/* edited */", 120: "tok_fromthetopic"})}},
	)
	// A token split over two string literals, added to a long Go file's
	// third version: found only in the file with its split values joined.
	split := map[int]string{150: "\tconst k = \"tok_splits\" +", 151: "\t\t\"plitva\""}
	cs = append(cs,
		gittest.Commit{Files: map[string]string{"split.go": longFile(nil)}},
		gittest.Commit{Files: map[string]string{"split.go": longFile(map[int]string{1: "edit"})}},
		gittest.Commit{Files: map[string]string{"split.go": longFile(split)}},
		gittest.Commit{Files: map[string]string{"split.go": longFile(map[int]string{1: "edit again"})}},
	)
	// A binary file that becomes text holding a token.
	cs = append(cs,
		gittest.Commit{Files: map[string]string{"blob.bin": "\x00\x01tok_inbinaryfile\n"}},
		gittest.Commit{Files: map[string]string{"blob.bin": "text now\ntok_inbinaryfile\n"}},
		gittest.Commit{Files: map[string]string{"blob.bin": "text now, edited\ntok_inbinaryfile\n"}},
	)
	return gittest.BuildRepo(t, dir, cs)
}

// traceOf is the trace matcher of one value.
func traceOf(t *testing.T, value string) *Trace {
	t.Helper()
	s := secret.New([]byte(value))
	tm, err := trace.New(s)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := secret.NewFingerprinter([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return &Trace{Secret: s, Matcher: tm, Fingerprinter: fp}
}

type copyAt struct {
	Rule, Path, Commit string
	Line               int
	AtHead             bool
	Fingerprint        secret.Fingerprint
}

func runHistory(t *testing.T, m Matcher, opts git.Options) []copyAt {
	t.Helper()
	opts.OnError = func(e *source.FileError) { t.Error(e) }
	g, err := git.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return copiesOf(t, m, g)
}

// TestChangeScanFindsWhatWholeScanFinds: scanning each version only where
// it changed reports the same copies, at the same lines, commits and
// HEAD state, as scanning every version whole.
func TestChangeScanFindsWhatWholeScanFinds(t *testing.T) {
	dir := t.TempDir()
	ids := historyCases(t, dir)
	m := historyMatcher(t)
	whole := runHistory(t, m, git.Options{Path: dir, WholeVersions: true})
	changed := runHistory(t, m, git.Options{Path: dir})
	if d := cmp.Diff(whole, changed); d != "" {
		t.Fatalf("change scan differs from whole scan (-whole +change):\n%s", d)
	}
	// And what the whole scan finds is what this history holds.
	want := []struct {
		path   string
		line   int
		commit string
		atHead bool
	}{
		{"blob.bin", 2, ids[78], true},
		{"split.go", 151, ids[75], false},
		{"keys/k.txt", 2, ids[60], false},
		{"keys/k.txt", 2, ids[61], true}, // the key whose middle line changed, found whole
		{"new/name.c", 101, ids[68], true},
		{"old/name.c", 101, ids[67], false},
		{"re.c", 121, ids[70], true},
		// Removed and added back at another line: one copy, at HEAD,
		// brought first by the commit that added it before.
		{"re.c", 251, ids[63], true},
		{"src/long.c", 152, ids[49], true},
		{"src/long.c", 201, ids[29], false},
	}
	var got []string
	for _, c := range changed {
		got = append(got, fmt.Sprintf("%s:%d %s %v", c.Path, c.Line, c.Commit, c.AtHead))
	}
	var wantS []string
	for _, w := range want {
		wantS = append(wantS, fmt.Sprintf("%s:%d %s %v", w.path, w.line, w.commit, w.atHead))
	}
	slices.Sort(got)
	slices.Sort(wantS)
	if d := cmp.Diff(wantS, got); d != "" {
		t.Errorf("copies (-want +got):\n%s", d)
	}
}

// TestChangeScanTracesEveryCopy: trace, which shares the history source,
// finds the same copies of a known secret, exact and partial, with the
// change scan as with whole versions. The partial copy (a truncated token)
// sits on a line of its own next to an unchanged line.
func TestChangeScanTracesEveryCopy(t *testing.T) {
	dir := t.TempDir()
	ids := historyCases(t, dir)
	later := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"src/long.c": longFile(map[int]string{151: "\tconst char *key = \"tok_fiftieth0001\";", 3: "main moves on", 100: "/* was tok_fiftie */"})}},
		{Files: map[string]string{"src/long.c": longFile(map[int]string{151: "\tconst char *key = \"tok_fiftieth0001\";", 3: "main moves on", 100: "/* was tok_fiftie */", 299: "end"})}},
	})
	m := traceOf(t, "tok_fiftieth0001")
	s, fp := m.Secret, m.Fingerprinter
	whole := runHistory(t, m, git.Options{Path: dir, WholeVersions: true})
	changed := runHistory(t, m, git.Options{Path: dir})
	if d := cmp.Diff(whole, changed); d != "" {
		t.Fatalf("change scan differs from whole scan (-whole +change):\n%s", d)
	}
	// Each copy with the commit that brought it, the exact one at its
	// HEAD line.
	want := []copyAt{
		{"trace", "src/long.c", later[0], 101, true, fp.Of(s)},
		{"trace", "src/long.c", ids[49], 152, true, fp.Of(s)},
	}
	if d := cmp.Diff(want, changed); d != "" {
		t.Fatalf("copies (-want +got):\n%s", d)
	}
}
