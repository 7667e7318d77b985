// Package gittest builds git repositories for tests and benchmarks, with
// fixed identities and dates so that commit ids are the same on every run.
// Histories are written through git fast-import: thousands of commits take
// seconds.
package gittest

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Epoch is the commit time of the first commit BuildRepo and BuildBulk
// write; each later commit is an hour after the one before.
const Epoch = 1_700_000_000

// Env is the environment git runs with here: a fixed identity and date,
// no user or system config, and nothing inherited that would point git at
// another repository.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "GIT_") {
			continue
		}
		env = append(env, kv)
	}
	date := strconv.Itoa(Epoch) + " +0000"
	return append(env,
		"GIT_AUTHOR_NAME=A U Thor", "GIT_AUTHOR_EMAIL=author@example.com", "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME=C O Mitter", "GIT_COMMITTER_EMAIL=committer@example.com", "GIT_COMMITTER_DATE="+date,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
	)
}

// Git runs git in dir and returns its trimmed stdout; a failure fails t.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := GitInput(dir, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// GitInput runs git in dir with stdin and returns its stdout.
func GitInput(dir string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
	}, args...)...)
	cmd.Dir = dir
	cmd.Env = Env()
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("git %s in %s: %v: %s", strings.Join(args, " "), dir, err, stderr.Bytes())
	}
	return out, nil
}

// Init makes dir (created if needed) an empty repository on branch main.
func Init(t testing.TB, dir string, args ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	Git(t, dir, append([]string{"init", "-q"}, args...)...)
}

// Commit is one commit for BuildRepo.
type Commit struct {
	// Branch is committed to (without refs/heads/; default main).
	Branch string
	// From is the branch a new Branch forks from; a new Branch without
	// From starts a root commit (an orphan branch).
	From string
	// Merge names branches whose tips become further parents. The tree is
	// still only the first parent's tree with Files and Delete applied, as
	// after a merge resolved by hand.
	Merge []string
	// Files are written (added or replaced): path → content.
	Files map[string]string
	// Modes gives a file a mode other than 100644: "100755", or "120000"
	// for a symlink whose target is the content.
	Modes   map[string]string
	Delete  []string
	Message string
	// Tag, when set, is an annotated tag on this commit.
	Tag string
}

// BuildRepo writes commits into the repository at dir (initialised if it
// is not one yet), checks out main when it exists, and returns the full id
// of each commit in order.
func BuildRepo(t testing.TB, dir string, commits []Commit) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		Init(t, dir)
	}
	imp := startImport(t, dir)
	for i, c := range commits {
		imp.commit(t, i, c)
	}
	ids := imp.finish(t)
	if _, err := GitInput(dir, nil, "rev-parse", "--verify", "-q", "refs/heads/main"); err == nil {
		Git(t, dir, "checkout", "-q", "-f", "main")
	}
	return ids[:len(commits)]
}

// importer writes a fast-import stream.
type importer struct {
	dir   string
	cmd   *exec.Cmd
	w     *bufio.Writer
	in    io.WriteCloser
	marks string
	tips  map[string]int // branch → mark of its tip
	n     int            // commits written
	errb  bytes.Buffer
}

func startImport(t testing.TB, dir string) *importer {
	t.Helper()
	imp := &importer{dir: dir, tips: map[string]int{}}
	imp.marks = filepath.Join(t.TempDir(), "marks")
	imp.cmd = exec.Command("git", "fast-import", "--quiet", "--done", "--export-marks="+imp.marks)
	imp.cmd.Dir = dir
	imp.cmd.Env = Env()
	imp.cmd.Stderr = &imp.errb
	in, err := imp.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.in = in
	imp.w = bufio.NewWriterSize(in, 1<<20)
	if err := imp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return imp
}

func (imp *importer) data(b []byte) {
	fmt.Fprintf(imp.w, "data %d\n", len(b))
	imp.w.Write(b)
	imp.w.WriteByte('\n')
}

func quotePath(p string) string {
	if strings.ContainsAny(p, "\n\"\\") || strings.HasPrefix(p, " ") {
		return strconv.Quote(p)
	}
	return p
}

// begin writes a commit's header and parents and returns its mark.
func (imp *importer) begin(t testing.TB, branch, from string, merge []string, msg string) int {
	t.Helper()
	imp.n++
	mark := imp.n
	when := Epoch + 3600*(mark-1)
	fmt.Fprintf(imp.w, "commit refs/heads/%s\nmark :%d\n", branch, mark)
	fmt.Fprintf(imp.w, "author A U Thor <author@example.com> %d +0000\n", when)
	fmt.Fprintf(imp.w, "committer C O Mitter <committer@example.com> %d +0000\n", when)
	if msg == "" {
		msg = fmt.Sprintf("commit %d", mark)
	}
	imp.data([]byte(msg))
	if tip, ok := imp.tips[branch]; ok {
		fmt.Fprintf(imp.w, "from :%d\n", tip)
	} else if from != "" {
		fork, ok := imp.tips[from]
		if !ok {
			t.Fatalf("gittest: branch %s forks from %s, which has no commit yet", branch, from)
		}
		fmt.Fprintf(imp.w, "from :%d\n", fork)
	} else if _, err := GitInput(imp.dir, nil, "rev-parse", "--verify", "-q", "refs/heads/"+branch); err == nil {
		// The branch exists from an earlier import: continue it.
		fmt.Fprintf(imp.w, "from refs/heads/%s^0\n", branch)
	}
	for _, m := range merge {
		tip, ok := imp.tips[m]
		if !ok {
			t.Fatalf("gittest: merging %s, which has no commit", m)
		}
		fmt.Fprintf(imp.w, "merge :%d\n", tip)
	}
	imp.tips[branch] = mark
	return mark
}

func (imp *importer) file(path, mode string, content []byte) {
	if mode == "" {
		mode = "100644"
	}
	fmt.Fprintf(imp.w, "M %s inline %s\n", mode, quotePath(path))
	imp.data(content)
}

func (imp *importer) commit(t testing.TB, i int, c Commit) {
	t.Helper()
	branch := cmp.Or(c.Branch, "main")
	mark := imp.begin(t, branch, c.From, c.Merge, c.Message)
	for _, p := range c.Delete {
		fmt.Fprintf(imp.w, "D %s\n", quotePath(p))
	}
	for _, p := range sortedKeys(c.Files) {
		imp.file(p, c.Modes[p], []byte(c.Files[p]))
	}
	imp.w.WriteByte('\n')
	if c.Tag != "" {
		fmt.Fprintf(imp.w, "tag %s\nfrom :%d\n", c.Tag, mark)
		fmt.Fprintf(imp.w, "tagger A U Thor <author@example.com> %d +0000\n", Epoch+3600*(mark-1))
		imp.data([]byte("tag " + c.Tag))
	}
}

// finish ends the stream and returns the full id of each commit, by mark
// order.
func (imp *importer) finish(t testing.TB) []string {
	t.Helper()
	imp.w.WriteString("done\n")
	if err := imp.w.Flush(); err != nil {
		t.Fatalf("git fast-import: %v: %s", err, imp.errb.Bytes())
	}
	imp.in.Close()
	if err := imp.cmd.Wait(); err != nil {
		t.Fatalf("git fast-import: %v: %s", err, imp.errb.Bytes())
	}
	raw, err := os.ReadFile(imp.marks)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, imp.n)
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		mark, id, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(strings.TrimPrefix(mark, ":"))
		if !ok || err != nil || n < 1 || n > imp.n {
			continue
		}
		ids[n-1] = id
	}
	return ids
}

// BulkOptions shape the history BuildBulk writes.
type BulkOptions struct {
	// Source is a directory whose regular files are committed over time
	// ($GOROOT/src makes a realistic code base).
	Source string
	// Commits is the number of commits on main, merges included (default 3000).
	Commits int
	// AddFraction is the share of commits that also add new files from
	// Source (default 0.6: the tree grows over the first 60%).
	AddFraction float64
	// Modify is the number of existing files each commit changes, by
	// rewriting a trailing line (default 3).
	Modify int
	// DeleteEvery deletes one file every so many commits (default 25; <0 never).
	DeleteEvery int
	// MergeEvery makes every so many commits a topic branch of two
	// commits merged back into main (default 100; <0 never).
	MergeEvery int
	// MaxFiles caps the files taken from Source (0: all).
	MaxFiles int
	// Seed drives every random choice.
	Seed uint64
	// Plant, when set, returns extra files to write in commit i (0-based),
	// for planting test secrets.
	Plant func(i int) map[string]string
}

// BulkResult describes what BuildBulk wrote.
type BulkResult struct {
	Commits int   // including merges and topic commits
	Files   int   // distinct paths ever added
	Blobs   int   // file versions written (an upper bound on distinct blobs)
	Bytes   int64 // bytes of all file versions written
	Head    int   // files at the tip of main
}

// BuildBulk writes a long history into a new repository at dir, quickly,
// and checks out main: files from o.Source are added in batches, a few
// files change in every commit, some are deleted, and topic branches are
// merged back now and then.
func BuildBulk(t testing.TB, dir string, o BulkOptions) BulkResult {
	t.Helper()
	o.Commits = cmp.Or(o.Commits, 3000)
	o.Modify = cmp.Or(o.Modify, 3)
	o.DeleteEvery = cmp.Or(o.DeleteEvery, 25)
	o.MergeEvery = cmp.Or(o.MergeEvery, 100)
	if o.AddFraction <= 0 || o.AddFraction > 1 {
		o.AddFraction = 0.6
	}
	var files []string
	err := filepath.WalkDir(o.Source, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(o.Source, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	if o.MaxFiles > 0 && len(files) > o.MaxFiles {
		files = files[:o.MaxFiles]
	}
	Init(t, dir)
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	imp := startImport(t, dir)
	var res BulkResult

	// State of main: paths present and the edit each carries (0: as in
	// Source).
	edits := map[string]int{}
	var live []string
	next := 0 // files[next] is the next one to add
	addCommits := max(1, int(float64(o.Commits)*o.AddFraction))
	perAdd := (len(files) + addCommits - 1) / addCommits

	content := func(p string, edit int) []byte {
		b, err := os.ReadFile(filepath.Join(o.Source, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if edit > 0 {
			b = fmt.Appendf(b, "\n// edit %d\n", edit)
		}
		return b
	}
	write := func(p string, edit int) {
		b := content(p, edit)
		imp.file(p, "", b)
		res.Blobs++
		res.Bytes += int64(len(b))
	}
	// change picks up to n live files and gives each a new edit.
	change := func(n int, edit int, into map[string]int) {
		for range min(n, len(live)) {
			p := live[rng.IntN(len(live))]
			into[p] = edit
			write(p, edit)
		}
	}
	for i := 0; i < o.Commits; i++ {
		if o.MergeEvery > 0 && i > 0 && i%o.MergeEvery == 0 && len(live) > 0 {
			// A topic branch of two commits, then a merge that brings its
			// changes into main.
			topic := fmt.Sprintf("topic-%d", i)
			changed := map[string]int{}
			for k := range 2 {
				imp.begin(t, topic, "main", nil, fmt.Sprintf("%s: change %d", topic, k))
				change(o.Modify, 1_000_000+i*10+k, changed)
				imp.w.WriteByte('\n')
				res.Commits++
			}
			imp.begin(t, "main", "", []string{topic}, "Merge "+topic)
			for _, p := range sortedKeys(changed) {
				edits[p] = changed[p]
				write(p, changed[p])
			}
			imp.w.WriteByte('\n')
			res.Commits++
			continue
		}
		imp.begin(t, "main", "", nil, fmt.Sprintf("change %d", i))
		if i < addCommits {
			for ; next < len(files) && next < (i+1)*perAdd; next++ {
				p := files[next]
				edits[p] = 0
				live = append(live, p)
				write(p, 0)
				res.Files++
			}
		}
		changed := map[string]int{}
		change(o.Modify, i+1, changed)
		for p, e := range changed {
			edits[p] = e
		}
		if o.DeleteEvery > 0 && i > 0 && i%o.DeleteEvery == 0 && len(live) > 1 {
			k := rng.IntN(len(live))
			p := live[k]
			if _, just := changed[p]; !just {
				live = slices.Delete(live, k, k+1)
				delete(edits, p)
				fmt.Fprintf(imp.w, "D %s\n", quotePath(p))
			}
		}
		if o.Plant != nil {
			extra := o.Plant(i)
			for _, p := range sortedKeys(extra) {
				imp.file(p, "", []byte(extra[p]))
				res.Blobs++
				res.Bytes += int64(len(extra[p]))
			}
		}
		imp.w.WriteByte('\n')
		res.Commits++
	}
	imp.finish(t)
	Git(t, dir, "checkout", "-q", "-f", "main")
	res.Head = len(edits)
	return res
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Unpack turns the packs of the repository at dir, all but those named in
// keep, into loose objects: what a repository holds between its commits
// and its next gc. unpack-objects skips objects a pack in the repository
// holds, so each pack is moved out first.
func Unpack(t testing.TB, dir string, keep ...string) {
	t.Helper()
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.pack"))
	moved := t.TempDir()
	for _, p := range packs {
		if slices.Contains(keep, p) {
			continue
		}
		base := strings.TrimSuffix(p, ".pack")
		for _, ext := range []string{".pack", ".idx", ".rev"} {
			if _, err := os.Stat(base + ext); err == nil {
				if err := os.Rename(base+ext, filepath.Join(moved, filepath.Base(base+ext))); err != nil {
					t.Fatal(err)
				}
			}
		}
		f, err := os.Open(filepath.Join(moved, filepath.Base(p)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = GitInput(dir, f, "unpack-objects", "-q")
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}
