package file

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rekeyhq/rekey/internal/errs"
)

// errChanged: the file changed between reading it and replacing it.
var errChanged = errors.New("file changed while the new value was being written")

// writeAtomic replaces the file at path (or, for a symlink, the file it
// points to) with data, provided it still holds was. The original stays
// intact on every failure: nothing touches it before the rename.
func writeAtomic(path string, data, was []byte, beforeRename func() error) (err error) {
	const op = "deliver file"
	fail := func(err error) error {
		kind := errs.Other
		if errors.Is(err, os.ErrPermission) {
			kind = errs.Permission
		}
		return errs.E(op, kind, path, err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fail(err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fail(err)
	}
	if !fi.Mode().IsRegular() {
		return errs.New(op, errs.Unsupported, path, "not a regular file")
	}
	if n := links(fi); n > 1 {
		// A rename would leave the old secret in the other names.
		return errs.New(op, errs.Unsupported, path, fmt.Sprintf("has %d hard links; replacing it would leave the old secret under the other names", n))
	}
	dir := filepath.Dir(real)
	// CreateTemp makes the file 0600: the secret is never readable by
	// more users than the final file allows.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(real)+".rekey-*")
	if err != nil {
		return fail(fmt.Errorf("cannot create a temporary file beside it: %w", errors.Unwrap(err)))
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	// Owner before mode: chown clears set-id bits.
	if err := keepOwner(tmp, fi); err != nil {
		return errs.E(op, errs.Permission, path, err)
	}
	if err := tmp.Chmod(fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if beforeRename != nil {
		if err := beforeRename(); err != nil {
			return fail(err)
		}
	}
	// Someone (an operator, a config manager) edited the file since we
	// read it: replacing it now would undo their change.
	if cur, err := os.ReadFile(real); err != nil || !bytes.Equal(cur, was) {
		return errChanged
	}
	if err := os.Rename(tmp.Name(), real); err != nil {
		return fail(err)
	}
	renamed = true
	// The rename is durable once the directory entry is.
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fail(fmt.Errorf("sync directory: %w", err))
		}
	}
	return nil
}
