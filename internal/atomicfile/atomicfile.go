// Package atomicfile replaces a file's content atomically, keeping its
// owner, group and mode: a temporary file beside it, written, synced,
// given the original's owner and mode, renamed over it, the directory
// synced. Every failure leaves the original intact, and a file someone
// changed meanwhile is not overwritten. Deliveries of secrets into
// config files and the key-trust providers (authorized_keys) share it.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rekeyhq/rekey/internal/errs"
)

// ErrChanged: the file changed between reading it and replacing it.
var ErrChanged = errors.New("file changed while the new value was being written")

// Replace replaces the file at path (or, for a symlink, the file it
// points to) with data, provided it still holds was, keeping its owner,
// group and mode (mode&^clearMode: a caller may take permissions away,
// never add them). The original stays intact on every failure: nothing
// touches it before the rename. Errors are op's and name path.
func Replace(op, path string, data, was []byte, clearMode os.FileMode, beforeRename func() error) (err error) {
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
	if n := Links(fi); n > 1 {
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
	if err := tmp.Chmod(fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky) &^ clearMode); err != nil {
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
		return ErrChanged
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

// Write makes the file at path hold data: unchanged when it already does
// (changed is false), replaced with Replace when it exists (a file that
// changes meanwhile is read again, three tries), else created with mode
// through a temporary file linked into place, so a reader never sees it
// half written and a file created meanwhile is not overwritten.
func Write(op, path string, data []byte, mode, clearMode os.FileMode) (changed bool, err error) {
	for try := 0; ; try++ {
		was, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return true, create(op, path, data, mode)
		}
		if err != nil {
			return false, errs.FS(op, path, err)
		}
		if bytes.Equal(was, data) {
			return false, nil
		}
		err = Replace(op, path, data, was, clearMode, nil)
		if errors.Is(err, ErrChanged) && try < 2 {
			continue
		}
		if errors.Is(err, ErrChanged) {
			return false, errs.E(op, errs.Other, path, err)
		}
		return err == nil, err
	}
}

func create(op, path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".rekey-*")
	if err != nil {
		return errs.FS(op, path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil {
		return errs.FS(op, path, err)
	}
	return nil
}
