package git

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// history is every (blob, path) pair reachable from any ref, each with the
// commit that introduced it.
type history struct {
	commits []string // full ids; an occurrence refers to one by index
	times   []int64  // committer time of each commit, unix seconds
	blobs   []*blob  // in the order first seen: oldest introduction first
	byID    map[string]*blob
	seen    map[pairKey]struct{}
	paths   map[string]string // interned: a path is stored once however many blobs it held
	head    map[string]string // path → blob id in HEAD's tree
	lines   lineCache
	buf     []byte // the blob being read, reused
}

type blob struct {
	id  string
	occ []occurrence
	// need is what a probed walk needs of the blob; an unprobed one
	// scans every blob.
	need need
}

type need uint8

const (
	needScan  need = iota // scanned: the probe found something, or could not look
	needNone              // the probe found nothing in it
	needLines             // read only for its lines: a kept version replaced it
)

type occurrence struct {
	path   string
	commit int32 // index in history.commits, or -1: reachable from a ref that is not a commit
	ref    string
	atHead bool
	// prev is the blob this one replaced at path in the commit that
	// introduced it; nil for a new path (an add, either side of a rename)
	// or when the old entry was not a regular file.
	prev *blob
}

type pairKey struct {
	b    *blob
	path string
}

func newHistory() *history {
	return &history{
		byID:  map[string]*blob{},
		seen:  map[pairKey]struct{}{},
		paths: map[string]string{},
		head:  map[string]string{},
	}
}

// add records that commit (or ref) holds blob id at path, unless the pair
// was seen before: the first sighting is the introduction, because the log
// is read oldest first.
func (h *history) add(id, path []byte, commit int32, ref string, prevID []byte) {
	b := h.byID[string(id)]
	p, ok := h.paths[string(path)]
	if !ok {
		p = string(path)
		h.paths[p] = p
	}
	if b == nil {
		b = &blob{id: string(id)}
		h.byID[b.id] = b
		h.blobs = append(h.blobs, b)
	} else if _, dup := h.seen[pairKey{b, p}]; dup {
		return
	}
	h.seen[pairKey{b, p}] = struct{}{}
	var prev *blob
	if prevID != nil {
		prev = h.byID[string(prevID)]
	}
	b.occ = append(b.occ, occurrence{path: p, commit: commit, ref: ref, atHead: h.head[p] == b.id, prev: prev})
}

// base returns the blob that b can be scanned as a change of: the one it
// replaced, when every place b was introduced replaced that same blob. A
// blob with no such base (the first version of a path, a copy at a new
// path) or with a copy at HEAD is scanned whole: the HEAD copy is what
// tells a finding it is still present, wherever it sits in the file. So
// are the structured files the scanner decodes (wholeFile).
func (h *history) base(b *blob) *blob {
	var base *blob
	for _, o := range b.occ {
		if o.atHead || o.prev == nil || base != nil && o.prev != base || wholeFile(o.path) {
			return nil
		}
		base = o.prev
	}
	return base
}

// regular reports whether a tree entry mode is a file whose content can be
// scanned: not a symlink (120000), submodule (160000) or tree.
func regular(mode []byte) bool {
	return len(mode) == 6 && bytes.HasPrefix(mode, []byte("100"))
}

// readHead fills h.head from HEAD's tree; an unborn HEAD (an empty
// repository, a new orphan branch) has no tree and leaves it empty.
func (s *Source) readHead(ctx context.Context, h *history) error {
	out, err := run(ctx, s.gitDir, "rev-parse", "--verify", "--quiet", "HEAD^{tree}")
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// --verify --quiet exits 1, silently, when HEAD has no commit.
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 1 {
			return nil
		}
		return err
	}
	return s.lsTree(ctx, string(bytes.TrimSpace(out)), func(id, path []byte) {
		h.head[string(path)] = string(id)
	})
}

// lsTree calls fn for every regular file in a tree, recursively.
func (s *Source) lsTree(ctx context.Context, tree string, fn func(id, path []byte)) error {
	out, err := run(ctx, s.gitDir, "ls-tree", "-r", "-z", "--full-tree", tree)
	if err != nil {
		return err
	}
	for _, rec := range splitNUL(out) {
		// <mode> SP <type> SP <object> TAB <path>
		meta, path, ok := bytes.Cut(rec, []byte{'\t'})
		f := bytes.Fields(meta)
		if !ok || len(f) != 3 {
			return fmt.Errorf("git ls-tree %s: unexpected output %q", tree, rec)
		}
		if regular(f[0]) && string(f[1]) == "blob" {
			fn(f[2], path)
		}
	}
	return nil
}

// readLog reads the whole history oldest first and records each (blob,
// path) pair at the first commit that shows it.
//
// Why this finds every reachable pair, each at its introducing commit: with
// --reverse --date-order every commit comes after all its parents, and each
// commit is diffed against its first parent (a root against the empty
// tree). A commit's tree is its first parent's tree plus that diff, so by
// induction every pair in every commit's tree has been seen by the time the
// commit is read. A pair that a side branch brought into a merge was seen
// on the side branch, earlier; a pair that first appears in a merge (a
// conflict resolution) is in the merge's diff against its first parent and
// is attributed to the merge.
func (s *Source) readLog(ctx context.Context, h *history) error {
	args := []string{"log", "--all", "--reverse", "--date-order",
		"--format=%H %ct", "--raw", "-z", "--no-abbrev", "--no-renames",
		"--no-color", "--no-ext-diff", "--no-textconv", "--no-notes", "--no-show-signature"}
	if s.opts.Reflogs {
		args = append(args, "--reflog")
	}
	if s.firstParent {
		args = append(args, "--diff-merges=first-parent")
	} else {
		args = append(args, "-m")
	}
	cmd := command(ctx, s.gitDir, args...)
	var stderr tailBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git log: %w", err)
	}
	perr := parseLog(bufio.NewReaderSize(stdout, 256<<10), h)
	if perr != nil {
		// Stop git rather than wait for it to write what nobody reads.
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if werr != nil {
		return gitError("log", werr, &stderr)
	}
	return perr
}

// parseLog reads `git log --format='%H %ct' --raw -z` output: NUL-terminated
// tokens, each either a commit id and its committer time (possibly after a
// newline), a raw diff
// header ":<old mode> <new mode> <old id> <new id> <status>", or the path
// that always follows a raw header.
func parseLog(r *bufio.Reader, h *history) error {
	commit := int32(-1)
	var tok, path []byte
	for {
		var err error
		tok, err = readToken(r, tok[:0])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		t := bytes.TrimLeft(tok, "\n")
		if len(t) == 0 {
			continue
		}
		if t[0] != ':' {
			id, ts, _ := bytes.Cut(t, []byte(" "))
			if !isHex(id) {
				return fmt.Errorf("git log: unexpected output %q", truncate(t))
			}
			if n := len(h.commits); n == 0 || h.commits[n-1] != string(id) {
				when, _ := strconv.ParseInt(string(ts), 10, 64)
				h.commits = append(h.commits, string(id))
				h.times = append(h.times, when)
			}
			commit = int32(len(h.commits) - 1)
			continue
		}
		f := bytes.Fields(t[1:])
		if len(f) != 5 || commit < 0 {
			return fmt.Errorf("git log: unexpected raw line %q", truncate(t))
		}
		oldMode, newMode, oldID, newID, status := f[0], f[1], f[2], f[3], f[4]
		if path, err = readToken(r, path[:0]); err != nil {
			return fmt.Errorf("git log: truncated output: %w", err)
		}
		if regular(newMode) && status[0] != 'D' {
			var prev []byte
			if regular(oldMode) && status[0] == 'M' {
				prev = oldID
			}
			h.add(newID, path, commit, "", prev)
		}
	}
}

// readToken reads one NUL-terminated token into buf (without the NUL).
func readToken(r *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		frag, err := r.ReadSlice(0)
		if err == nil {
			return append(buf, frag[:len(frag)-1]...), nil
		}
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(buf) > 0 {
			return buf, nil
		}
		return buf, err
	}
}

func isHex(b []byte) bool {
	if len(b) != 40 && len(b) != 64 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func truncate(b []byte) []byte {
	if len(b) > 120 {
		return b[:120]
	}
	return b
}

// readRefs adds the blobs of refs that point (directly or through tags) at
// a tree or a blob rather than a commit: git log --all skips them. Such a
// blob has no commit; its occurrence names the ref.
func (s *Source) readRefs(ctx context.Context, h *history) error {
	out, err := run(ctx, s.gitDir, "for-each-ref",
		"--format=%(objecttype) %(objectname) %(*objecttype) %(*objectname) %(refname)")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.SplitN(line, " ", 5)
		if len(f) != 5 {
			continue
		}
		typ, id, ref := f[0], f[1], f[4]
		if typ == "tag" {
			typ, id = f[2], f[3]
			if typ == "tag" { // a tag of a tag: peel to the end
				if typ, id, err = s.peel(ctx, ref); err != nil {
					return err
				}
			}
		}
		switch typ {
		case "tree":
			err = s.lsTree(ctx, id, func(blob, path []byte) { h.add(blob, path, -1, ref, nil) })
		case "blob":
			h.add([]byte(id), []byte(ref), -1, ref, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Source) peel(ctx context.Context, ref string) (typ, id string, err error) {
	out, err := run(ctx, s.gitDir, "rev-parse", "--verify", ref+"^{}")
	if err != nil {
		return "", "", err
	}
	id = strings.TrimSpace(string(out))
	out, err = run(ctx, s.gitDir, "cat-file", "-t", id)
	return strings.TrimSpace(string(out)), id, err
}
