package errs

import (
	"errors"
	"io/fs"
)

// FS is E for a failed file operation: its kind from the cause (a missing
// file is NotFound, a refused one Permission, anything else Invalid) and
// the *fs.PathError unwrapped, so the path is said once, by path.
func FS(op, path string, err error) error {
	kind := Invalid
	switch {
	case errors.Is(err, fs.ErrNotExist):
		kind = NotFound
	case errors.Is(err, fs.ErrPermission):
		kind = Permission
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return E(op, kind, path, err)
}
