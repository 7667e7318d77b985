package remediate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// gitEnv is the environment every git command here runs with: nothing
// inherited that would point git at another repository or index, no
// prompts, and C messages (they are shown to the user as they are).
func gitEnv(extra ...string) []string {
	env := make([]string, 0, len(os.Environ())+len(extra)+3)
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
			"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
			"GIT_PREFIX", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "LC_ALL", "LANGUAGE":
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "LANGUAGE=C"), extra...)
}

// git runs one git command in dir and returns its stdout. A failure
// carries git's message: git never prints blob contents in errors, so it
// cannot hold the secret.
func runGit(ctx context.Context, dir string, env []string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--no-replace-objects", "-c", "core.fsmonitor=false", "-c", "core.quotePath=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(env...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 400 {
			msg = msg[:400] + "…"
		}
		return out, fmt.Errorf("git %s: %w: %s", args[0], err, msg)
	}
	return out, nil
}

// treeEntry is one file of a commit's tree.
type treeEntry struct {
	mode, blob, path string
}

// lsTree lists the files (blobs, not submodules) of rev's tree.
func lsTree(ctx context.Context, repo, rev string) ([]treeEntry, error) {
	out, err := runGit(ctx, repo, nil, nil, "ls-tree", "-r", "-z", "--full-tree", rev)
	if err != nil {
		return nil, err
	}
	var es []treeEntry
	for _, rec := range bytes.Split(out, []byte{0}) {
		meta, path, ok := bytes.Cut(rec, []byte{'\t'})
		if !ok {
			continue
		}
		f := strings.Fields(string(meta))
		if len(f) != 3 || f[1] != "blob" {
			continue
		}
		es = append(es, treeEntry{mode: f[0], blob: f[2], path: string(path)})
	}
	return es, nil
}

// readBlobs reads the blobs named by es through one git cat-file --batch
// and calls fn with each one's content. Blobs over maxBlob bytes are
// skipped.
func readBlobs(ctx context.Context, repo string, es []treeEntry, fn func(treeEntry, []byte) error) error {
	const maxBlob = 32 << 20
	cmd := exec.CommandContext(ctx, "git", "--no-replace-objects", "cat-file", "--batch")
	cmd.Dir = repo
	cmd.Env = gitEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		w := bufio.NewWriter(in)
		for _, e := range es {
			fmt.Fprintln(w, e.blob)
		}
		w.Flush()
		in.Close()
	}()
	r := bufio.NewReaderSize(outp, 1<<16)
	var ferr error
	for _, e := range es {
		hdr, err := r.ReadString('\n')
		if err != nil {
			ferr = fmt.Errorf("git cat-file: %w", err)
			break
		}
		f := strings.Fields(hdr)
		if len(f) != 3 {
			ferr = fmt.Errorf("git cat-file: object %s: %s", e.blob, strings.TrimSpace(hdr))
			break
		}
		size, _ := strconv.Atoi(f[2])
		if size > maxBlob {
			if _, err := io.CopyN(io.Discard, r, int64(size)+1); err != nil {
				ferr = err
				break
			}
			continue
		}
		buf := make([]byte, size+1)
		if _, err := io.ReadFull(r, buf); err != nil {
			ferr = err
			break
		}
		if ferr = fn(e, buf[:size]); ferr != nil {
			break
		}
	}
	if ferr != nil {
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if ferr != nil {
		return ferr
	}
	return werr
}

// revParse resolves rev to an object id; ok is false when it does not
// exist.
func revParse(ctx context.Context, repo, rev string) (string, bool) {
	out, err := runGit(ctx, repo, nil, nil, "rev-parse", "--verify", "-q", rev)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(out)), true
}

// commitOnBranch writes files (repo path → content; mode from base or
// 100644) on top of base's tree and points refs/heads/<branch> at a
// commit of that tree whose parent is base, through a temporary index:
// the user's index, working tree and checked-out branch are not touched.
// When the branch already holds exactly that tree on top of base, nothing
// is written and changed is false.
func commitOnBranch(ctx context.Context, repo, base, branch string, modes map[string]string, files map[string][]byte, message string) (commit string, changed bool, err error) {
	tmp, err := os.MkdirTemp("", "rekey-index-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(tmp)
	idx := []string{"GIT_INDEX_FILE=" + tmp + "/index"}
	if _, err := runGit(ctx, repo, idx, nil, "read-tree", base); err != nil {
		return "", false, err
	}
	var info strings.Builder
	for _, p := range sortedKeys(files) {
		out, err := runGit(ctx, repo, nil, bytes.NewReader(files[p]), "hash-object", "-w", "--stdin")
		if err != nil {
			return "", false, err
		}
		mode := modes[p]
		if mode == "" {
			mode = "100644"
		}
		fmt.Fprintf(&info, "%s %s\t%s\n", mode, strings.TrimSpace(string(out)), p)
	}
	if _, err := runGit(ctx, repo, idx, strings.NewReader(info.String()), "update-index", "--add", "--index-info"); err != nil {
		return "", false, err
	}
	out, err := runGit(ctx, repo, idx, nil, "write-tree")
	if err != nil {
		return "", false, err
	}
	tree := strings.TrimSpace(string(out))
	ref := "refs/heads/" + branch
	old, exists := revParse(ctx, repo, ref+"^{commit}")
	if exists {
		oldTree, _ := revParse(ctx, repo, ref+"^{tree}")
		parent, _ := revParse(ctx, repo, ref+"^")
		if oldTree == tree && parent == base {
			return old, false, nil
		}
	}
	var ident []string
	if _, err := runGit(ctx, repo, nil, nil, "var", "GIT_COMMITTER_IDENT"); err != nil {
		// No identity configured: name the tool rather than fail.
		ident = []string{"GIT_AUTHOR_NAME=rekey", "GIT_AUTHOR_EMAIL=rekey@localhost",
			"GIT_COMMITTER_NAME=rekey", "GIT_COMMITTER_EMAIL=rekey@localhost"}
	}
	out, err = runGit(ctx, repo, ident, strings.NewReader(message), "commit-tree", tree, "-p", base)
	if err != nil {
		return "", false, err
	}
	commit = strings.TrimSpace(string(out))
	args := []string{"update-ref", "-m", "rekey remediate", ref, commit}
	if exists {
		args = append(args, old)
	}
	if _, err := runGit(ctx, repo, nil, nil, args...); err != nil {
		return "", false, err
	}
	return commit, true, nil
}
