package scan

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/git"
	"github.com/rekeyhq/rekey/internal/source/git/gittest"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// unprobed hides a source's Prober side: Run then walks it in full.
type unprobed struct{ source.Source }

// counting counts the chunks a walk emits (Match), not the probes.
type counting struct {
	Prober
	emitted atomic.Int64
}

func (c *counting) Match(ch source.Chunk) []Finding {
	c.emitted.Add(1)
	return c.Prober.Match(ch)
}

func copiesOf(t *testing.T, m Matcher, s source.Source) []copyAt {
	t.Helper()
	fs, err := Run(context.Background(), Options{Matcher: m, Workers: 2}, []source.Source{s})
	if err != nil {
		t.Fatal(err)
	}
	var out []copyAt
	for _, f := range fs {
		out = append(out, copyAt{f.Rule, f.Path, f.Commit, f.Line, f.AtHead, f.Fingerprint})
	}
	return out
}

// repacks store a history's objects the ways repositories hold them: as
// fast-import left them, in one pack of long delta chains (against bases
// by offset, or by id as older git and some servers write them), all
// loose, and packed with the newest commits loose.
var repacks = []struct {
	name  string
	store func(t *testing.T, dir string)
}{
	{"fast-import", func(t *testing.T, dir string) {}},
	{"aggressive", func(t *testing.T, dir string) {
		gittest.Git(t, dir, "repack", "-adf", "-q", "--depth=50", "--window=250")
	}},
	{"ref-deltas", func(t *testing.T, dir string) {
		gittest.Git(t, dir, "-c", "repack.useDeltaBaseOffset=false", "repack", "-adf", "-q", "--depth=50", "--window=50")
	}},
	{"loose", func(t *testing.T, dir string) { gittest.Unpack(t, dir) }},
	{"mixed", func(t *testing.T, dir string) {
		gittest.Git(t, dir, "repack", "-adf", "-q")
		keep, _ := filepath.Glob(filepath.Join(dir, ".git/objects/pack/*.pack"))
		gittest.BuildRepo(t, dir, []gittest.Commit{
			{Files: map[string]string{"src/long.c": longFile(map[int]string{151: "\tconst char *key = \"tok_fiftieth0001\";", 3: "main moves on", 100: "tok_newandloose0"})}},
			{Files: map[string]string{"src/long.c": longFile(map[int]string{151: "\tconst char *key = \"tok_fiftieth0001\";", 3: "main moves on", 100: "tok_newandloose0", 299: "end"})}},
		})
		gittest.Unpack(t, dir, keep...)
	}},
}

// TestProbedScanFindsWhatFullScanFinds: skipping the blobs the probe
// finds nothing in (reading the packs' deltas) reports exactly the copies
// a full walk reports, however the objects are stored, for both scan and
// trace; and it does skip.
func TestProbedScanFindsWhatFullScanFinds(t *testing.T) {
	for _, rp := range repacks {
		t.Run(rp.name, func(t *testing.T) {
			dir := t.TempDir()
			historyCases(t, dir)
			rp.store(t, dir)
			g, err := git.New(git.Options{Path: dir, OnError: func(e *source.FileError) { t.Error(e) }})
			if err != nil {
				t.Fatal(err)
			}
			full := &counting{Prober: historyMatcher(t)}
			want := copiesOf(t, full, unprobed{g})
			probed := &counting{Prober: historyMatcher(t)}
			got := copiesOf(t, probed, g)
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("probed scan differs (-full +probed):\n%s", d)
			}
			if len(want) < 10 {
				t.Fatalf("only %d copies: the history lost its cases", len(want))
			}
			t.Logf("chunks emitted: full %d, probed %d", full.emitted.Load(), probed.emitted.Load())
			if rp.name != "loose" && probed.emitted.Load()*2 > full.emitted.Load() {
				t.Errorf("the probed scan emitted %d chunks of the full scan's %d: it did not skip", probed.emitted.Load(), full.emitted.Load())
			}

			tr := traceOf(t, "tok_fiftieth0001")
			if d := cmp.Diff(copiesOf(t, tr, unprobed{g}), copiesOf(t, tr, g)); d != "" {
				t.Fatalf("probed trace differs (-full +probed):\n%s", d)
			}
		})
	}
}

// TestProbedScanOnRandomHistories: on histories where real credentials
// (every rule's own examples) are added, edited around, cut, moved
// between files and renamed with them, over long files of several
// languages, the probed scan with the full rule set reports exactly the
// copies the full walk reports.
func TestProbedScanOnRandomHistories(t *testing.T) {
	det, err := rules.Detector()
	if err != nil {
		t.Fatal(err)
	}
	fp, err := secret.NewFingerprinter([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	var examples []string
	for _, r := range det.Rules() {
		examples = append(examples, r.Examples...)
	}
	paths := []string{"app/main.c", "app/config.py", "deploy/values.yaml", "settings.json", ".env", "lib/util.go", "docs/notes.md"}
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			filler := func(p string, i int) string {
				return fmt.Sprintf("    step_%d(%q, %d); // %s keeps its order", rng.IntN(1000), path.Base(p), i, "this line")
			}
			files := map[string][]string{}
			for _, p := range paths {
				for i := range 150 + rng.IntN(150) {
					files[p] = append(files[p], filler(p, i))
				}
			}
			var commits []gittest.Commit
			snapshot := func(c gittest.Commit) {
				c.Files = map[string]string{}
				for p, ls := range files {
					c.Files[p] = strings.Join(ls, "\n") + "\n"
				}
				commits = append(commits, c)
			}
			snapshot(gittest.Commit{})
			for range 90 {
				p := paths[rng.IntN(len(paths))]
				ls := files[p]
				at := rng.IntN(len(ls) + 1)
				switch op := rng.IntN(10); {
				case op < 4: // add a credential
					ex := strings.Split(examples[rng.IntN(len(examples))], "\n")
					ls = slices.Insert(ls, at, ex...)
				case op < 6: // edit lines near it
					for range 1 + rng.IntN(4) {
						if len(ls) > 0 {
							ls[rng.IntN(len(ls))] = filler(p, rng.IntN(1000))
						}
					}
				case op < 8: // cut a run of lines
					n := min(len(ls)-at, 1+rng.IntN(6))
					ls = slices.Delete(ls, at, at+n)
				default: // move a run of lines to another file
					n := min(len(ls)-at, 1+rng.IntN(8))
					q := paths[rng.IntN(len(paths))]
					if q != p {
						moved := slices.Clone(ls[at : at+n])
						ls = slices.Delete(ls, at, at+n)
						files[q] = slices.Insert(files[q], rng.IntN(len(files[q])+1), moved...)
					}
				}
				files[p] = ls
				var del []string
				if rng.IntN(12) == 0 { // rename without rename detection
					np := "renamed/" + path.Base(p)
					if _, ok := files[np]; !ok {
						files[np], del = files[p], []string{p}
						delete(files, p)
						paths = slices.DeleteFunc(slices.Clone(paths), func(s string) bool { return s == p })
						paths = append(paths, np)
					}
				}
				snapshot(gittest.Commit{Delete: del})
			}
			dir := t.TempDir()
			gittest.BuildRepo(t, dir, commits)
			gittest.Git(t, dir, "repack", "-adf", "-q", "--depth=50", "--window=250")
			g, err := git.New(git.Options{Path: dir, OnError: func(e *source.FileError) { t.Error(e) }})
			if err != nil {
				t.Fatal(err)
			}
			m := &Rules{Detector: det, Fingerprinter: fp}
			want := copiesOf(t, m, unprobed{g})
			got := copiesOf(t, m, g)
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("probed scan differs (-full +probed):\n%s", d)
			}
			if len(want) < 20 {
				t.Fatalf("only %d copies in the history: the test lost its credentials", len(want))
			}
			t.Logf("%d copies", len(want))
		})
	}
}

// BenchmarkHistoryScan scans a history with the full rule set, probed
// (the default) and with every version read through git. Set
// REKEY_BENCH_REPO to a repository (docs/performance.md uses tmux) to
// scan it instead of one built from the Go tree.
func BenchmarkHistoryScan(b *testing.B) {
	dir := os.Getenv("REKEY_BENCH_REPO")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "repo")
		gittest.BuildBulk(b, dir, gittest.BulkOptions{Source: filepath.Join(testutil.GoRoot(b), "src"), Commits: 500, Seed: 1})
	}
	det, err := rules.Detector()
	if err != nil {
		b.Fatal(err)
	}
	fp, err := secret.NewFingerprinter([]byte(strings.Repeat("k", 32)))
	if err != nil {
		b.Fatal(err)
	}
	g, err := git.New(git.Options{Path: dir})
	if err != nil {
		b.Fatal(err)
	}
	m := &Rules{Detector: det, Fingerprinter: fp}
	for _, c := range []struct {
		name string
		src  source.Source
	}{{"probed", g}, {"unprobed", unprobed{g}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Run(context.Background(), Options{Matcher: m}, []source.Source{c.src}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestProbedScanOnHandMadeDeltas stores old versions as deltas against
// the newest (as git does) with the smallest instructions, which git's
// own delta search may or may not choose: a value changed under an
// unchanged keyword line (found through the context lines), a token
// formed where two copies meet (a cut, nothing inserted), and keys whose
// middle line is all that differs from a version that holds no valid key
// (found through the whole block around the change). The probed
// scan must report what the full walk reports, and it must find each.
func TestProbedScanOnHandMadeDeltas(t *testing.T) {
	d, err := detect.New([]*detect.Rule{
		{ID: "tok", Provider: "test", Keywords: []string{"tok_"}, Severity: detect.High,
			Regex: regexp.MustCompile(`\b(tok_[a-z0-9]{12})\b`)},
		{ID: "pem", Provider: "test", Keywords: []string{"-----begin"}, Severity: detect.High, Window: 8192,
			Regex: regexp.MustCompile(`(-----BEGIN PRIVATE KEY-----\n(?:[A-Za-z0-9+/=]+\n)+-----END PRIVATE KEY-----)`)},
		{ID: "kw", Provider: "test", Keywords: []string{"secret_key"}, Severity: detect.High, Window: 256,
			Regex: regexp.MustCompile(`secret_key = \(\n\s*"([a-z0-9]{16})"`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	fp, err := secret.NewFingerprinter([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	value := func(v string) string {
		return longFile(map[int]string{99: "secret_key = (", 100: "    \"" + v + "\"", 101: ")"})
	}
	joined := func(mid string) string { return longFile(map[int]string{150: "x = tok_abcdef" + mid + "ghijkl;"}) }
	key := func(middle string) string { return "# service key\n" + pemBlock(middle) + "\n# end\n" }
	versions := []map[string]string{
		{"settings.py": value("a000000000000001"), "split.c": joined("-CUT-"), "key.txt": key("AAAAfirstmiddleline000")},
		{"settings.py": value("a000000000000002"), "split.c": joined(""), "key.txt": key("BBBBsecondmiddleline00")},
		{"settings.py": value("a000000000000003"), "split.c": joined("-CUT-AGAIN-"), "key.txt": key("CCCCthirdmiddleline000")},
		{"settings.py": value("NOT A VALUE"), "split.c": joined("-NO-"), "key.txt": key("** no longer a key **")},
	}
	var cs []gittest.Commit
	for _, v := range versions {
		cs = append(cs, gittest.Commit{Files: v})
	}
	dir := t.TempDir()
	ids := gittest.BuildRepo(t, dir, cs)
	deltas := map[string]gittest.Delta{}
	newest := ids[len(ids)-1]
	for _, p := range []string{"settings.py", "split.c", "key.txt"} {
		base := gittest.BlobAt(t, dir, newest, p)
		for _, c := range ids[:len(ids)-1] {
			deltas[gittest.BlobAt(t, dir, c, p)] = gittest.Delta{Base: base}
		}
	}
	gittest.WritePack(t, dir, deltas)
	g, err := git.New(git.Options{Path: dir, OnError: func(e *source.FileError) { t.Error(e) }})
	if err != nil {
		t.Fatal(err)
	}
	m := &Rules{Detector: d, Fingerprinter: fp}
	want := copiesOf(t, m, unprobed{g})
	rules := map[string]int{}
	for _, c := range want {
		rules[c.Rule]++
	}
	if rules["kw"] != 3 || rules["tok"] != 1 || rules["pem"] != 3 {
		t.Fatalf("the full walk found %v, want kw 3, tok 1, pem 3: %v", rules, want)
	}
	if diff := cmp.Diff(want, copiesOf(t, m, g)); diff != "" {
		t.Fatalf("probed scan differs (-full +probed):\n%s", diff)
	}
}
