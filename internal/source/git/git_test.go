package git_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/source"
	"github.com/rekeyhq/rekey/internal/source/git"
	"github.com/rekeyhq/rekey/internal/source/git/gittest"
)

// walk runs a history walk with a deadline, so a hang fails the test.
func walk(t *testing.T, opts git.Options) (chunks []source.Chunk, errs []*source.FileError, err error) {
	t.Helper()
	if opts.OnError == nil {
		opts.OnError = func(e *source.FileError) { errs = append(errs, e) }
	}
	s, err := git.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = s.Walk(ctx, func(c source.Chunk) error {
		chunks = append(chunks, c)
		return nil
	})
	if ctx.Err() != nil {
		t.Fatalf("walk did not finish: %v", ctx.Err())
	}
	return chunks, errs, err
}

// places returns every location holding needle, as a scanner reports them:
// the chunk's own and each of Also.
func places(chunks []source.Chunk, needle string) []source.Location {
	var out []source.Location
	for _, c := range chunks {
		if !bytes.Contains(c.Data, []byte(needle)) {
			continue
		}
		out = append(out, strip(c.Loc))
		for _, l := range c.Loc.Also {
			out = append(out, strip(l))
		}
	}
	slices.SortFunc(out, func(a, b source.Location) int {
		return strings.Compare(a.Path+a.Commit, b.Path+b.Commit)
	})
	return out
}

func strip(l source.Location) source.Location {
	l.Also, l.Line, l.Column = nil, 0, 0
	return l
}

func mustWalk(t *testing.T, dir string) []source.Chunk {
	t.Helper()
	chunks, errs, err := walk(t, git.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("OnError: %v", e)
	}
	return chunks
}

func blobID(t *testing.T, dir, rev string) string {
	return gittest.Git(t, dir, "rev-parse", rev)
}

func wantPlaces(t *testing.T, got []source.Location, want ...source.Location) {
	t.Helper()
	slices.SortFunc(want, func(a, b source.Location) int {
		return strings.Compare(a.Path+a.Commit, b.Path+b.Commit)
	})
	if len(got) != len(want) {
		t.Fatalf("got %d places, want %d:\n got  %+v\n want %+v", len(got), len(want), got, want)
	}
	for i := range got {
		if got[i].Path != want[i].Path || got[i].Commit != want[i].Commit || got[i].AtHead != want[i].AtHead ||
			got[i].Class != want[i].Class || got[i].Blob != want[i].Blob || got[i].Ref != want[i].Ref {
			t.Errorf("place %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
}

func TestSecretRemovedLater(t *testing.T) {
	dir := t.TempDir()
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"README.md": "hello\n"}},
		{Files: map[string]string{"config/app.env": "TOKEN=secret-removed-1\n"}},
		{Files: map[string]string{"README.md": "hello again\n"}},
		{Delete: []string{"config/app.env"}},
	})
	chunks := mustWalk(t, dir)
	wantPlaces(t, places(chunks, "secret-removed-1"), source.Location{
		Path: "config/app.env", Commit: ids[1], AtHead: false, Class: source.ClassHistory,
		Blob: blobID(t, dir, ids[1]+":config/app.env"),
	})
	if len(ids[1]) != 40 {
		t.Errorf("commit id %q is not a full id", ids[1])
	}
	// The copy came to be with its commit: BuildRepo commits an hour apart.
	for _, c := range chunks {
		if bytes.Contains(c.Data, []byte("secret-removed-1")) && !c.Loc.Time.Equal(time.Unix(gittest.Epoch+3600, 0)) {
			t.Errorf("time %v, want the second commit's", c.Loc.Time)
		}
	}
}

func TestSecretStillAtHead(t *testing.T) {
	dir := t.TempDir()
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"deploy/values.yaml": "password: still-here-2\n"}},
		{Files: map[string]string{"main.go": "package main\n"}},
		{Files: map[string]string{"main.go": "package main // 2\n"}},
		{Files: map[string]string{"main.go": "package main // 3\n"}, Tag: "v1"},
	})
	var stats []string
	chunks, errs, err := walk(t, git.Options{Path: dir, Stat: func(p string, _ int64) { stats = append(stats, p) }})
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	if want := []string{"deploy/values.yaml", "main.go", "main.go", "main.go"}; !slices.Equal(stats, want) {
		t.Errorf("Stat got %q, want %q", stats, want)
	}
	wantPlaces(t, places(chunks, "still-here-2"), source.Location{
		Path: "deploy/values.yaml", Commit: ids[0], AtHead: true, Class: source.ClassIaC,
		Blob: blobID(t, dir, "HEAD:deploy/values.yaml"),
	})
	// Each distinct blob is emitted once: 1 + 3 versions of main.go.
	if len(chunks) != 4 {
		t.Errorf("got %d chunks, want 4", len(chunks))
	}
}

func TestSameBlobAtSeveralPaths(t *testing.T) {
	dir := t.TempDir()
	const creds = "aws_secret_access_key = same-blob-3\n"
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"a/credentials": creds, "b/notes.txt": creds}},
		{Files: map[string]string{"c/copy.txt": creds}},
		{Delete: []string{"b/notes.txt"}},
	})
	chunks := mustWalk(t, dir)
	blob := blobID(t, dir, "HEAD:a/credentials")
	n := 0
	for _, c := range chunks {
		if c.Loc.Blob == blob {
			n++
			if !c.Loc.AtHead {
				t.Errorf("primary location %+v is not the copy at HEAD", c.Loc)
			}
		}
	}
	if n != 1 {
		t.Errorf("blob emitted %d times, want once", n)
	}
	wantPlaces(t, places(chunks, "same-blob-3"),
		source.Location{Path: "a/credentials", Commit: ids[0], AtHead: true, Class: source.ClassConfig, Blob: blob},
		source.Location{Path: "b/notes.txt", Commit: ids[0], AtHead: false, Class: source.ClassHistory, Blob: blob},
		source.Location{Path: "c/copy.txt", Commit: ids[1], AtHead: true, Class: source.ClassCode, Blob: blob},
	)
}

func TestBranchesTagsAndOrphans(t *testing.T) {
	dir := t.TempDir()
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"README": "main\n"}},
		{Branch: "side", From: "main", Files: map[string]string{"side.txt": "key=side-branch-4\n"}},
		{Branch: "orphan", Files: map[string]string{"orphan.txt": "key=orphan-5\n"}},
		{Branch: "gone", From: "main", Files: map[string]string{"tagged.txt": "key=tag-only-6\n"}, Tag: "keep"},
		{Files: map[string]string{"README": "main 2\n"}},
	})
	gittest.Git(t, dir, "branch", "-D", "gone")
	// A tag on a bare blob, and an annotated tag on a bare tree.
	blob := strings.TrimSpace(gittestInput(t, dir, "key=blob-tag-7\n", "hash-object", "-w", "--stdin"))
	gittest.Git(t, dir, "tag", "loose-blob", blob)
	inner := strings.TrimSpace(gittestInput(t, dir, "key=tree-tag-8\n", "hash-object", "-w", "--stdin"))
	sub := strings.TrimSpace(gittestInput(t, dir, "100644 blob "+inner+"\ttree.txt\n", "mktree"))
	tree := strings.TrimSpace(gittestInput(t, dir, "040000 tree "+sub+"\tin\n", "mktree"))
	gittest.Git(t, dir, "tag", "-a", "-m", "a tree", "loose-tree", tree)
	other := strings.TrimSpace(gittestInput(t, dir, "key=nested-tag-9\n", "hash-object", "-w", "--stdin"))
	tree2 := strings.TrimSpace(gittestInput(t, dir, "100644 blob "+other+"\tn.txt\n", "mktree"))
	gittest.Git(t, dir, "tag", "-a", "-m", "inner", "inner", tree2)
	gittest.Git(t, dir, "tag", "-a", "-m", "a tag of a tag", "nested", "inner")
	gittest.Git(t, dir, "tag", "-d", "inner")

	chunks := mustWalk(t, dir)
	wantPlaces(t, places(chunks, "side-branch-4"), source.Location{
		Path: "side.txt", Commit: ids[1], Class: source.ClassHistory, Blob: blobID(t, dir, ids[1]+":side.txt")})
	wantPlaces(t, places(chunks, "orphan-5"), source.Location{
		Path: "orphan.txt", Commit: ids[2], Class: source.ClassHistory, Blob: blobID(t, dir, ids[2]+":orphan.txt")})
	wantPlaces(t, places(chunks, "tag-only-6"), source.Location{
		Path: "tagged.txt", Commit: ids[3], Class: source.ClassHistory, Blob: blobID(t, dir, ids[3]+":tagged.txt")})
	wantPlaces(t, places(chunks, "blob-tag-7"), source.Location{
		Path: "refs/tags/loose-blob", Ref: "refs/tags/loose-blob", Class: source.ClassHistory, Blob: blob})
	wantPlaces(t, places(chunks, "tree-tag-8"), source.Location{
		Path: "in/tree.txt", Ref: "refs/tags/loose-tree", Class: source.ClassHistory, Blob: inner})
	wantPlaces(t, places(chunks, "nested-tag-9"), source.Location{
		Path: "n.txt", Ref: "refs/tags/nested", Class: source.ClassHistory, Blob: other})
}

func gittestInput(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	out, err := gittest.GitInput(dir, strings.NewReader(stdin), args...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestMerges(t *testing.T) {
	dir := t.TempDir()
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"conf.txt": "base\n"}},
		{Branch: "topic", From: "main", Files: map[string]string{"conf.txt": "topic\n", "topic.txt": "key=from-topic-9\n"}},
		{Files: map[string]string{"conf.txt": "main\n"}},
		// The merge resolves the conflict with new content, and brings
		// topic.txt in.
		{Merge: []string{"topic"}, Files: map[string]string{
			"conf.txt": "resolved key=in-resolution-10\n", "topic.txt": "key=from-topic-9\n"}},
	})
	chunks := mustWalk(t, dir)
	wantPlaces(t, places(chunks, "in-resolution-10"), source.Location{
		Path: "conf.txt", Commit: ids[3], AtHead: true, Class: source.ClassCode, Blob: blobID(t, dir, "HEAD:conf.txt")})
	wantPlaces(t, places(chunks, "from-topic-9"), source.Location{
		Path: "topic.txt", Commit: ids[1], AtHead: true, Class: source.ClassCode, Blob: blobID(t, dir, "HEAD:topic.txt")})
	// Every version of conf.txt is there, each once.
	for _, v := range []string{"base\n", "topic\n", "main\n"} {
		if got := places(chunks, v); len(got) != 1 {
			t.Errorf("%q: %d places, want 1", v, len(got))
		}
	}
}

// A merge whose first parent is the side branch: what main had is
// introduced by main's own commit, not by the merge.
func TestMergeIntoSideBranch(t *testing.T) {
	dir := t.TempDir()
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"a.txt": "a\n"}},
		{Branch: "topic", From: "main", Files: map[string]string{"t.txt": "t\n"}},
		{Files: map[string]string{"m.txt": "key=main-only-11\n"}},
		{Branch: "topic", Merge: []string{"main"}, Files: map[string]string{"m.txt": "key=main-only-11\n"}},
	})
	chunks := mustWalk(t, dir)
	wantPlaces(t, places(chunks, "main-only-11"), source.Location{
		Path: "m.txt", Commit: ids[2], AtHead: true, Class: source.ClassCode, Blob: blobID(t, dir, "HEAD:m.txt")})
}

func TestSkipsBinaryAndLinks(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("filler line of text\n", 400) + "key=big-text-12\n"
	bigBin := "\x00" + strings.Repeat("x", 20000) + "key=big-binary-13\n"
	gittest.BuildRepo(t, dir, []gittest.Commit{{
		Files: map[string]string{
			"img.png":  "\x89PNG\x00\x00key=binary-14",
			"link":     "target-key=symlink-15",
			"big.txt":  big,
			"big.bin":  bigBin,
			"empty":    "",
			"text.txt": "key=text-16",
			// Larger than a chunk, smaller than the binary sniff.
			"mid.txt": strings.Repeat("m", 3000) + "key=mid-29",
		},
		Modes: map[string]string{"link": "120000"},
	}})
	chunks, errs, err := walk(t, git.Options{Path: dir, Chunking: source.Chunking{Size: 1024, Overlap: 64}})
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	for _, s := range []string{"binary-14", "symlink-15", "big-binary-13"} {
		if p := places(chunks, s); len(p) != 0 {
			t.Errorf("%s: found at %+v, want skipped", s, p)
		}
	}
	if len(places(chunks, "text-16")) != 1 || len(places(chunks, "mid-29")) != 1 {
		t.Error("text-16 or mid-29 not found")
	}
	// The large blob comes in bounded chunks whose positions add up.
	var text []source.Chunk
	for _, c := range chunks {
		if c.Loc.Path == "big.txt" {
			text = append(text, c)
			if len(c.Data) > 1024 {
				t.Errorf("chunk of %d bytes, want at most 1024", len(c.Data))
			}
		}
	}
	last := text[len(text)-1]
	off := bytes.Index(last.Data, []byte("key=big-text-12"))
	if off < 0 {
		t.Fatal("big-text-12 not in the last chunk")
	}
	if line, col := source.Position(last.Data, off, last.Loc); line != 401 || col != 1 {
		t.Errorf("big-text-12 at %d:%d, want 401:1", line, col)
	}
}

func TestMaxBlobSize(t *testing.T) {
	dir := t.TempDir()
	gittest.BuildRepo(t, dir, []gittest.Commit{{Files: map[string]string{
		"small.txt": "key=small-17", "large.txt": strings.Repeat("x", 5000) + "key=large-18"}}})
	chunks, errs, err := walk(t, git.Options{Path: dir, MaxBlobSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if len(places(chunks, "small-17")) != 1 || len(places(chunks, "large-18")) != 0 {
		t.Errorf("size limit not applied: %d chunks", len(chunks))
	}
	if len(errs) != 1 || !errors.Is(errs[0], git.ErrTooLarge) || !strings.HasSuffix(errs[0].Path, ":large.txt") {
		t.Errorf("OnError got %v, want one ErrTooLarge for large.txt", errs)
	}
}

func TestUnusualPaths(t *testing.T) {
	dir := t.TempDir()
	names := []string{"dir with space/ü.txt", "tab\there.txt", "new\nline.txt", "\"quoted\".txt", "-dash.txt"}
	files := map[string]string{}
	for i, n := range names {
		files[n] = "key=path-" + string(rune('a'+i))
	}
	gittest.BuildRepo(t, dir, []gittest.Commit{{Files: files}})
	chunks := mustWalk(t, dir)
	for i, n := range names {
		p := places(chunks, "key=path-"+string(rune('a'+i)))
		if len(p) != 1 || p[0].Path != n || !p[0].AtHead {
			t.Errorf("%q: got %+v", n, p)
		}
	}
}

func TestEmptyRepository(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	chunks := mustWalk(t, dir)
	if len(chunks) != 0 {
		t.Errorf("got %d chunks from an empty repository", len(chunks))
	}
	// An unborn HEAD beside a branch with history.
	gittest.BuildRepo(t, dir, []gittest.Commit{{Branch: "other", Files: map[string]string{"x": "key=unborn-19"}}})
	gittest.Git(t, dir, "symbolic-ref", "HEAD", "refs/heads/nothing-yet")
	chunks = mustWalk(t, dir)
	if p := places(chunks, "unborn-19"); len(p) != 1 || p[0].AtHead {
		t.Errorf("got %+v", p)
	}
}

func TestNotARepository(t *testing.T) {
	dir := t.TempDir()
	_, err := git.New(git.Options{Path: dir})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("New(plain dir) = %v, want an error naming %s", err, dir)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := git.New(git.Options{Path: missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("New(missing) = %v, want an error naming it", err)
	}
}

func TestBareRepository(t *testing.T) {
	dir := t.TempDir()
	ids := gittest.BuildRepo(t, filepath.Join(dir, "work"), []gittest.Commit{
		{Files: map[string]string{".env": "KEY=bare-20\n"}},
	})
	bare := filepath.Join(dir, "bare.git")
	gittest.Git(t, dir, "clone", "-q", "--bare", "work", bare)
	s, err := git.New(git.Options{Path: bare})
	if err != nil {
		t.Fatal(err)
	}
	if !sameFile(s.Root(), bare) {
		t.Errorf("Root() = %s, want %s", s.Root(), bare)
	}
	chunks := mustWalk(t, bare)
	wantPlaces(t, places(chunks, "bare-20"), source.Location{
		Path: ".env", Commit: ids[0], AtHead: true, Class: source.ClassConfig, Blob: blobID(t, bare, "HEAD:.env")})
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func TestSHA256Repository(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir, "--object-format=sha256")
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{{Files: map[string]string{"k.txt": "key=sha256-21"}}})
	if len(ids[0]) != 64 {
		t.Fatalf("commit id %q: not a sha256 repository", ids[0])
	}
	chunks := mustWalk(t, dir)
	wantPlaces(t, places(chunks, "sha256-21"), source.Location{
		Path: "k.txt", Commit: ids[0], AtHead: true, Class: source.ClassCode, Blob: blobID(t, dir, "HEAD:k.txt")})
}

func TestIsRepository(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	gittest.BuildRepo(t, work, []gittest.Commit{{Files: map[string]string{"sub/a.txt": "a"}}})
	gittest.Git(t, dir, "clone", "-q", "--bare", "work", "bare.git")
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{work, true},
		{filepath.Join(work, ".git"), true},
		{filepath.Join(dir, "bare.git"), true},
		{filepath.Join(work, "sub"), false},
		{dir, false},
	} {
		repo, ok := git.IsRepository(tc.path)
		if ok != tc.ok || ok && repo != tc.path {
			t.Errorf("IsRepository(%s) = %q, %v; want %v", tc.path, repo, ok, tc.ok)
		}
	}
}

func TestCleanTracked(t *testing.T) {
	dir := t.TempDir()
	gittest.BuildRepo(t, dir, []gittest.Commit{{
		Files: map[string]string{
			"clean.txt": "c", "sub/clean.txt": "c", "modified.txt": "m", "staged.txt": "s",
			"assumed.txt": "a", "crypt.env": "ciphertext", "link": "clean.txt",
		},
		Modes: map[string]string{"link": "120000"},
	}})
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("modified.txt", "m2")
	write("staged.txt", "s2")
	gittest.Git(t, dir, "add", "staged.txt")
	write("assumed.txt", "a2")
	gittest.Git(t, dir, "update-index", "--assume-unchanged", "assumed.txt")
	write("untracked.txt", "u")
	write(".git/info/attributes", "*.env filter=crypt\n")
	got, err := git.CleanTracked(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"clean.txt": true, "sub/clean.txt": true}
	if len(got) != len(want) || !got["clean.txt"] || !got["sub/clean.txt"] {
		t.Errorf("CleanTracked = %v, want %v", got, want)
	}
	empty := t.TempDir()
	gittest.Init(t, empty)
	if got, err := git.CleanTracked(empty); err != nil || len(got) != 0 {
		t.Errorf("CleanTracked(empty repo) = %v, %v", got, err)
	}
}

func TestMissingBlob(t *testing.T) {
	dir := t.TempDir()
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"a.txt": "key=before-22\n"}},
		{Files: map[string]string{"lost.txt": "key=lost-23\n"}},
		{Files: map[string]string{"z.txt": "key=after-24\n"}},
	})
	lost := blobID(t, dir, ids[1]+":lost.txt")
	removeObject(t, dir, lost)
	chunks, errs, err := walk(t, git.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(places(chunks, "before-22")) != 1 || len(places(chunks, "after-24")) != 1 {
		t.Error("blobs around the missing one were not scanned")
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), lost) || !strings.Contains(errs[0].Path, "lost.txt") ||
		!strings.HasPrefix(errs[0].Path, dir) {
		t.Errorf("OnError got %v, want one error for %s at lost.txt", errs, lost)
	}
}

// removeObject deletes an object. fast-import wrote a pack; its objects
// are made loose first (unpack-objects skips objects a pack in the
// repository holds, so the pack is moved out), so that one file holds id.
func removeObject(t *testing.T, dir, id string) {
	t.Helper()
	gittest.Unpack(t, dir)
	objects := filepath.Join(dir, ".git", "objects")
	if err := os.Remove(filepath.Join(objects, id[:2], id[2:])); err != nil {
		t.Fatal(err)
	}
}

func TestMissingTree(t *testing.T) {
	dir := t.TempDir()
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"a.txt": "key=first-25\n"}},
		{Files: map[string]string{"dir/b.txt": "key=second-26\n"}},
		{Files: map[string]string{"c.txt": "key=third-27\n"}},
	})
	removeObject(t, dir, blobID(t, dir, ids[1]+":dir"))
	chunks, _, err := walk(t, git.Options{Path: dir})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Walk = %v, want an error naming the repository", err)
	}
	t.Log(err)
	// What was listed before git stopped is still scanned.
	if len(places(chunks, "first-25")) != 1 {
		t.Error("first-25 not scanned")
	}
}

func TestTruncatedPack(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 50 {
		files[filepath.Join("d", strings.Repeat("x", i+1))] = strings.Repeat("line of text\n", 100*(i+1)) + "key=packed"
	}
	gittest.BuildRepo(t, dir, []gittest.Commit{{Files: files}})
	gittest.Git(t, dir, "repack", "-q", "-a", "-d")
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("packs: %v", packs)
	}
	fi, err := os.Stat(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(packs[0], fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	// Whatever git makes of it, the walk ends, without a panic, and says
	// something is wrong.
	_, errs, err := walk(t, git.Options{Path: dir})
	if err == nil && len(errs) == 0 {
		t.Error("a truncated pack went unnoticed")
	}
	t.Logf("Walk: %v; %d blob errors", err, len(errs))
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 100 {
		files[strings.Repeat("f", i+1)] = strings.Repeat("z", i+1)
	}
	gittest.BuildRepo(t, dir, []gittest.Commit{{Files: files}})
	s, err := git.New(git.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = s.Walk(ctx, func(source.Chunk) error {
		n++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || n > 2 {
		t.Errorf("Walk = %v after %d chunks, want context.Canceled at once", err, n)
	}

	stop := errors.New("stop")
	err = s.Walk(context.Background(), func(source.Chunk) error { return stop })
	if err != stop {
		t.Errorf("Walk = %v, want emit's own error", err)
	}
}

// Walk may run concurrently on one Source.
func TestConcurrentWalks(t *testing.T) {
	dir := t.TempDir()
	gittest.BuildRepo(t, dir, []gittest.Commit{{Files: map[string]string{"a": "key=a"}}, {Files: map[string]string{"b": "key=b"}}})
	s, err := git.New(git.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			n := 0
			if err := s.Walk(context.Background(), func(source.Chunk) error { n++; return nil }); err != nil || n != 2 {
				t.Errorf("Walk = %v, %d chunks", err, n)
			}
		})
	}
	wg.Wait()
}

// A damaged object inside a pack: git cat-file may die on it; the other
// blobs are still scanned and the damaged one is reported.
func TestCorruptObjectInPack(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 5 {
		var b strings.Builder
		for j := range 400 {
			b.WriteString(strings.Repeat(string(rune('a'+i)), j%50+1))
			b.WriteString("\n")
		}
		b.WriteString("key=corrupt-" + string(rune('a'+i)) + "\n")
		files[string(rune('a'+i))+".txt"] = b.String()
	}
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{{Files: files}})
	gittest.Git(t, dir, "repack", "-q", "-a", "-d", "-f", "--depth=0")
	victim := blobID(t, dir, ids[0]+":c.txt")
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.pack"))
	idx := strings.TrimSuffix(packs[0], ".pack") + ".idx"
	var offset, size int64
	for _, line := range strings.Split(gittest.Git(t, dir, "verify-pack", "-v", idx), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == victim {
			size, _ = strconv.ParseInt(f[3], 10, 64)
			offset, _ = strconv.ParseInt(f[4], 10, 64)
		}
	}
	if size == 0 {
		t.Fatal("victim not found in pack")
	}
	data, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := offset + size/3; i < offset+size*2/3; i++ {
		data[i] ^= 0x55
	}
	if err := os.Chmod(packs[0], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(packs[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	chunks, errs, err := walk(t, git.Options{Path: dir})
	t.Logf("Walk: %v; blob errors: %v", err, errs)
	for _, c := range "abde" {
		if len(places(chunks, "key=corrupt-"+string(c))) != 1 {
			t.Errorf("%c.txt not scanned", c)
		}
	}
	if len(places(chunks, "key=corrupt-c")) != 0 {
		t.Error("the damaged blob was emitted")
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), victim) || !strings.HasSuffix(errs[0].Path, ":c.txt") {
		t.Errorf("OnError got %v, want one error for %s", errs, victim)
	}
}

func TestReflogs(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	gittest.Git(t, dir, "config", "core.logAllRefUpdates", "true")
	ids := gittest.BuildRepo(t, dir, []gittest.Commit{
		{Files: map[string]string{"a.txt": "a"}},
		{Files: map[string]string{"oops.env": "KEY=dropped-28"}},
	})
	// A commit made and reset away, reachable only from reflogs.
	gittest.Git(t, dir, "update-ref", "-m", "reset", "refs/heads/main", ids[0])
	if p := places(mustWalk(t, dir), "dropped-28"); len(p) != 0 {
		t.Errorf("found %+v without Reflogs", p)
	}
	chunks, _, err := walk(t, git.Options{Path: dir, Reflogs: true})
	if err != nil {
		t.Fatal(err)
	}
	wantPlaces(t, places(chunks, "dropped-28"), source.Location{
		Path: "oops.env", Commit: ids[1], Class: source.ClassHistory, Blob: blobID(t, dir, ids[1]+":oops.env")})
}

// longText is a file of n numbered lines with line i replaced by edit[i].
func longText(n int, edit map[int]string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if s, ok := edit[i]; ok {
			b.WriteString(s + "\n")
		} else {
			b.WriteString("unchanged line " + strconv.Itoa(i) + " of a long file\n")
		}
	}
	return b.String()
}

// TestChangedVersionsEmitOnlyTheirChanges: a version replacing a known one
// is emitted as its changed lines with context, at their real lines, even
// when two branches edit the file in turn (so a version's predecessor is
// not the version read just before it).
func TestChangedVersionsEmitOnlyTheirChanges(t *testing.T) {
	dir := t.TempDir()
	var cs []gittest.Commit
	edits := map[int]string{}
	obsd := map[int]string{}
	cs = append(cs, gittest.Commit{Files: map[string]string{"f.c": longText(500, nil)}})
	cs = append(cs, gittest.Commit{Branch: "obsd", From: "main", Files: map[string]string{"o.c": "x\n"}})
	for v := 1; v <= 50; v++ {
		obsd[v*9] = "obsd edit " + strconv.Itoa(v)
		cs = append(cs, gittest.Commit{Branch: "obsd", Files: map[string]string{"f.c": longText(500, obsd)}})
		for k, s := range obsd {
			edits[k] = s
		}
		edits[v*9+1] = "main edit " + strconv.Itoa(v)
		if v == 30 {
			edits[250] = "key=added-in-the-middle-30"
		}
		cs = append(cs, gittest.Commit{Merge: []string{"obsd"}, Files: map[string]string{"f.c": longText(500, edits)}})
	}
	cs = append(cs, gittest.Commit{Files: map[string]string{"f.c": longText(500, map[int]string{0: "head"})}})
	ids := gittest.BuildRepo(t, dir, cs)
	whole := len(longText(500, nil))
	big, found := 0, 0
	for _, c := range mustWalk(t, dir) {
		if c.Loc.Path != "f.c" {
			continue
		}
		if len(c.Data) > whole/10 {
			big++ // the first version and HEAD's
		}
		if i := bytes.Index(c.Data, []byte("added-in-the-middle-30")); i >= 0 && c.Loc.Commit == ids[2+2*29+1] {
			found++
			if line, _ := source.Position(c.Data, i, c.Loc); line != 251 || c.Loc.Commit != ids[2+2*29+1] {
				t.Errorf("token at line %d in %s, want line 251 in %s", line, c.Loc.Commit, ids[2+2*29+1])
			}
		}
	}
	if found != 1 {
		t.Errorf("the token's version emitted it %d times, want once", found)
	}
	if big != 2 {
		t.Errorf("%d versions of f.c emitted whole, want 2 (the first and HEAD's)", big)
	}
}
