// Package safefile opens and writes the files a user names on the command
// line or in an inventory without being tricked by what the path turns out
// to be. Reading refuses anything but a regular file, and checks without
// blocking: opening a named pipe (FIFO) for reading waits for a writer,
// forever and ignoring Ctrl-C, so a path that names one must be refused
// before it is read. Writing replaces a regular file atomically, writes in
// place to a character device or a named pipe (/dev/null must stay
// /dev/null), and refuses directories and symbolic links: a link as the
// last component may point out of the directory the user meant, and
// following it would write an incident report, or replace a file, there.
package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/rekeyhq/rekey/internal/errs"
)

// ErrNotRegular is wrapped by the error of OpenRegular for a path that
// exists but is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path for reading and returns an error naming the path
// unless it is a regular file (symbolic links are followed: a secret file
// is often a link into a secrets mount). The open itself does not block on
// a named pipe: it is made non-blocking, checked with fstat, and only then
// handed back in blocking mode. op names the operation in the error.
func OpenRegular(op, path string) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, errs.E(op, kindOf(err), path, err)
	}
	// Opening was the only step that could block; reads of a regular
	// file never do, and the descriptor is handed back in the mode every
	// other reader expects.
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, errs.E(op, errs.Invalid, path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errs.E(op, errs.Invalid, path, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, errs.E(op, errs.Invalid, path, fmt.Errorf("%w (%s)", ErrNotRegular, describeMode(fi.Mode())))
	}
	return f, nil
}

// CheckRegular says, without reading it or blocking, why path cannot be
// read as a regular file; nil when it can be.
func CheckRegular(op, path string) error {
	f, err := OpenRegular(op, path)
	if err != nil {
		return err
	}
	return f.Close()
}

// WriteFile writes data to path:
//   - a missing path or a regular file: a temporary file in the same
//     directory, synced, then renamed over it (a half-written file never
//     looks finished); the new file has mode perm;
//   - a character device or a named pipe: written in place, never replaced
//     (a pipe must have a reader already: rekey does not wait for one);
//   - a directory, a symbolic link, a socket or a block device: refused
//     with an error naming the path.
func WriteFile(op, path string, data []byte, perm fs.FileMode) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return replace(op, path, data, perm)
	case err != nil:
		return errs.E(op, kindOf(err), path, unwrapPath(err))
	}
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return replace(op, path, data, perm)
	case m&fs.ModeSymlink != 0:
		return errs.New(op, errs.Invalid, path, "is a symbolic link; rekey does not write through links (give the path it points to)")
	case m.IsDir():
		return errs.New(op, errs.Invalid, path, "is a directory; give a file name")
	case m&fs.ModeCharDevice != 0, m&fs.ModeNamedPipe != 0:
		return inPlace(op, path, data)
	}
	return errs.New(op, errs.Invalid, path, fmt.Sprintf("is %s; give a regular file, a character device or a named pipe", describeMode(m)))
}

// inPlace writes to a device or pipe without following a link put in its
// place since the Lstat, and without waiting for a pipe's reader.
func inPlace(op, path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|oNoFollow|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) {
			return errs.New(op, errs.Invalid, path, "is a named pipe that nothing is reading")
		}
		return errs.E(op, kindOf(err), path, unwrapPath(err))
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode()&(fs.ModeCharDevice|fs.ModeNamedPipe) == 0 {
		err = fmt.Errorf("changed while being opened (now %s)", describeMode(fi.Mode()))
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errs.E(op, errs.Invalid, path, unwrapPath(err))
	}
	return nil
}

// replace writes data next to path and renames it over path. rename never
// follows a link at path: a link put there since the Lstat is replaced,
// not written through.
func replace(op, path string, data []byte, perm fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return errs.E(op, kindOf(err), path, unwrapPath(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return errs.E(op, errs.Permission, path, unwrapPath(err))
	}
	if _, err := tmp.Write(data); err != nil {
		return errs.E(op, errs.Invalid, path, unwrapPath(err))
	}
	if err := tmp.Sync(); err != nil {
		return errs.E(op, errs.Invalid, path, unwrapPath(err))
	}
	if err := tmp.Close(); err != nil {
		return errs.E(op, errs.Invalid, path, unwrapPath(err))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return errs.E(op, kindOf(err), path, unwrapPath(err))
	}
	return nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

func kindOf(err error) errs.Kind {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errs.NotFound
	case errors.Is(err, fs.ErrPermission):
		return errs.Permission
	}
	return errs.Invalid
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
