// Package git scans the history of a git repository: every blob reachable
// from any ref (branches, tags, remotes, stash, notes, detached HEAD) is read
// once, however many commits and paths hold it, and emitted with the place
// it was first introduced and every other place it lives.
//
// It drives the git command line (log, ls-tree, cat-file), which is always
// present where a repository is and is far faster than replaying diffs: the
// cost is one tree walk over the history plus one read of each distinct
// blob, so a file carried unchanged through thousands of commits is read
// once. A version that replaced a known one at the same path is scanned
// only where it differs from it (its changed lines, found by a line diff of
// the two blobs, with context and whole key blocks); first versions, HEAD's
// versions and structured files are scanned whole (see history.base).
//
// A probed walk (WalkProbed, probe.go) first reads the repository's packs
// directly (internal/gitpack) and runs the caller's probe on what each
// version adds to the version its pack stores it against; only the blobs
// where the probe finds something, and those no pack gives, are then read
// and emitted as above.
//
// Paths in emitted locations are relative to the repository's top level,
// slash separated (Root says where that is); Commit is the full id of the
// commit that introduced the blob at that path.
package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/source"
)

// Options configure a history source.
type Options struct {
	// Path is the repository: the top of a work tree (or any directory in
	// it), a .git directory, or a bare repository.
	Path     string
	Chunking source.Chunking
	// OnError receives problems with single blobs (a missing or unreadable
	// object, a blob over MaxBlobSize); the walk goes on.
	OnError source.ErrorFunc
	// MaxBlobSize skips blobs larger than this many bytes (0: no limit).
	// Each skip is reported to OnError with ErrTooLarge.
	MaxBlobSize int64
	// Stat, when set, is told the path and size of each blob about to be
	// scanned, for progress reporting.
	Stat func(path string, size int64)
	// Reflogs also scans commits reachable only from reflogs: what a reset
	// or a force-push dropped locally but git has not yet expired. Off by
	// default, as reflogs are local to one clone.
	Reflogs bool
	// WholeVersions scans every version of a file whole instead of only
	// where it differs from the version it replaced: slower, and the
	// reference the change scan is tested against.
	WholeVersions bool
}

// ErrTooLarge is the error given to OnError for a blob over MaxBlobSize.
var ErrTooLarge = errors.New("blob larger than the size limit, not scanned")

// Source scans a repository's history. It implements source.Source; Walk
// may be called more than once and reads the repository afresh each time.
type Source struct {
	opts   Options
	gitDir string // absolute
	root   string // work tree top level, or gitDir when bare
	// firstParent: git can diff a merge against its first parent only
	// (--diff-merges, git 2.31); older versions diff against every parent.
	firstParent bool
}

var _ source.Source = (*Source)(nil)

// New checks that opts.Path is a git repository and returns a source for
// its history.
func New(opts Options) (*Source, error) {
	if opts.Path == "" {
		return nil, errors.New("git: no repository path")
	}
	if _, err := os.Stat(opts.Path); err != nil {
		return nil, fmt.Errorf("git: %w", err)
	}
	if opts.Chunking.Size <= opts.Chunking.Overlap {
		opts.Chunking = source.DefaultChunking
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := run(ctx, opts.Path, "rev-parse", "--absolute-git-dir", "--is-inside-work-tree")
	if errors.Is(err, exec.ErrNotFound) {
		return nil, fmt.Errorf("scanning the history of %s needs git on PATH: %w", opts.Path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not a git repository: %w", opts.Path, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return nil, fmt.Errorf("%s: unexpected git rev-parse output %q", opts.Path, out)
	}
	s := &Source{opts: opts, gitDir: lines[0], root: lines[0]}
	if lines[1] == "true" {
		top, err := run(ctx, opts.Path, "rev-parse", "--show-toplevel")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", opts.Path, err)
		}
		s.root = strings.TrimSpace(string(top))
	}
	ver, err := run(ctx, s.gitDir, "version")
	if err != nil {
		return nil, err
	}
	s.firstParent = versionAtLeast(string(ver), 2, 31)
	return s, nil
}

// Root is the directory paths in locations are relative to: the top level
// of the work tree, or the git directory of a bare repository.
func (s *Source) Root() string { return s.root }

// IsRepository reports whether dir is itself a repository: the top level of
// a work tree (it holds .git) or a git directory (bare or .git). A
// subdirectory of a work tree is not. repo is the path to give New. A
// directory that holds .git is a repository even when git refuses it (say,
// for its ownership), so that New reports why rather than its history
// being silently skipped.
func IsRepository(dir string) (repo string, ok bool) {
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		return dir, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := run(ctx, dir, "rev-parse", "--absolute-git-dir")
	if err != nil {
		return "", false
	}
	if sameDir(strings.TrimSpace(string(out)), dir) {
		return dir, true
	}
	return "", false
}

func sameDir(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// config that must hold whatever the repository's own config says: nothing
// here may run a program the repository names (gpg for signatures, an
// fsmonitor hook) or change the output we parse.
var safeConfig = []string{
	"-c", "log.showSignature=false",
	"-c", "log.showRoot=true",
	"-c", "core.fsmonitor=false",
	"-c", "core.quotePath=false",
	"-c", "diff.relative=false",
}

// command builds a git command run in dir. The variables that would point
// git at another repository are dropped from the environment; replace refs
// are ignored so that the objects scanned are the ones stored.
func command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append(append([]string{"--no-replace-objects"}, safeConfig...), args...)...)
	cmd.Dir = dir
	env := make([]string, 0, len(os.Environ())+4)
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
			"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
			"GIT_PREFIX", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "LC_ALL", "LANGUAGE":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env, "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C", "LANGUAGE=C")
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a short git command and returns its stdout; a failure carries
// git's own message.
func run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := command(ctx, dir, args...)
	var stderr tailBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, gitError(args[0], err, &stderr)
	}
	return out, nil
}

// gitError describes a failed git command by its subcommand and what it
// printed on stderr; it wraps the process error (an *exec.ExitError).
func gitError(sub string, err error, stderr *tailBuffer) error {
	return &commandError{sub: sub, msg: strings.TrimSpace(stderr.String()), err: err}
}

type commandError struct {
	sub, msg string
	err      error
}

func (e *commandError) Error() string {
	if e.msg != "" {
		return "git " + e.sub + ": " + e.msg
	}
	return "git " + e.sub + ": " + e.err.Error()
}

func (e *commandError) Unwrap() error { return e.err }

// tailBuffer keeps the last few KiB written to it: enough for git's error
// message, bounded whatever git prints.
type tailBuffer struct{ b []byte }

const tailMax = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > tailMax {
		p = p[len(p)-tailMax:]
	}
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return n, nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// versionAtLeast parses "git version 2.39.5" (with any suffix).
func versionAtLeast(v string, major, minor int) bool {
	f := strings.Fields(v)
	if len(f) < 3 {
		return false
	}
	parts := strings.SplitN(f[2], ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// splitNUL splits NUL-terminated records, dropping the empty tail.
func splitNUL(b []byte) [][]byte {
	recs := bytes.Split(b, []byte{0})
	if n := len(recs); n > 0 && len(recs[n-1]) == 0 {
		recs = recs[:n-1]
	}
	return recs
}

// Enclosing returns the top level of the work tree that dir lies inside,
// when dir is a subdirectory of one, so a caller can say where the history
// is instead of silently scanning files only.
func Enclosing(dir string) (top string, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := run(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", false
	}
	top = strings.TrimSpace(string(out))
	return top, top != "" && !sameDir(top, dir)
}
