package git

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// CleanTracked returns the files of repo's work tree whose content is
// exactly their blob at HEAD, so a directory scan that runs beside the
// history scan can skip them: the history already covers those bytes.
// Keys are slash-separated paths relative to the top of the work tree.
//
// It errs on the side of scanning twice: a file is left out when git is
// not sure it is unchanged (a stale index), when git is told not to look
// (assume-unchanged, skip-worktree), when it is not a regular file, and
// when a filter attribute means the work tree holds other bytes than the
// blob (git-crypt, LFS).
func CleanTracked(repo string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	top, err := run(ctx, repo, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repo, err)
	}
	repo = string(bytes.TrimSpace(top))
	if _, err := run(ctx, repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err != nil {
		// An unborn HEAD has no blobs: nothing is covered.
		return map[string]bool{}, nil
	}
	// Entries tagged H are plain cached files (lowercase: assume-unchanged,
	// S: skip-worktree, M: unmerged…). Format: "H <mode> <id> <stage>\t<path>".
	out, err := run(ctx, repo, "ls-files", "-z", "-s", "-v", "--full-name")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repo, err)
	}
	clean := map[string]bool{}
	var paths bytes.Buffer
	for _, rec := range splitNUL(out) {
		meta, path, ok := bytes.Cut(rec, []byte{'\t'})
		f := bytes.Fields(meta)
		if !ok || len(f) != 4 || string(f[0]) != "H" || !regular(f[1]) || string(f[3]) != "0" {
			continue
		}
		clean[string(path)] = true
		paths.Write(path)
		paths.WriteByte(0)
	}
	if len(clean) == 0 {
		return clean, nil
	}
	// Files that differ from HEAD, in the index or in the work tree.
	out, err = run(ctx, repo, "diff", "HEAD", "--name-only", "-z", "--no-renames",
		"--no-ext-diff", "--no-textconv", "--ignore-submodules", "--no-relative")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repo, err)
	}
	for _, p := range splitNUL(out) {
		delete(clean, string(p))
	}
	cmd := command(ctx, repo, "check-attr", "-z", "--stdin", "filter")
	cmd.Stdin = &paths
	var stderr tailBuffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repo, gitError("check-attr", err, &stderr))
	}
	// <path> NUL filter NUL <value> NUL
	recs := splitNUL(out)
	for i := 0; i+2 < len(recs); i += 3 {
		if v := string(recs[i+2]); v != "unspecified" && v != "unset" {
			delete(clean, string(recs[i]))
		}
	}
	return clean, nil
}
