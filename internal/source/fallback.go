package source

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
)

// WalkDir walks the tree at root as filepath.WalkDir does, but reports an
// unreadable entry below root to onErr and goes on; only root itself
// failing ends the walk. fn sees only readable entries.
func WalkDir(root string, onErr ErrorFunc, fn func(p string, d iofs.DirEntry) error) error {
	return filepath.WalkDir(root, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return fmt.Errorf("%s: %w", root, UnwrapPathErr(err))
			}
			onErr(&FileError{Path: p, Err: UnwrapPathErr(err)})
			return nil
		}
		return fn(p, d)
	})
}

// UnwrapPathErr drops the *fs.PathError around err, whose path the caller
// names already.
func UnwrapPathErr(err error) error {
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Fallback scans the file at path as plain text after it could not be read
// as its source's format (err): the problem is reported to onErr as a
// warning, and the file's bytes are emitted whole, in chunks, with class,
// so a copy in a malformed or unexpected export is found rather than
// skipped. A Stop error, or one from emit, ends the walk as FileDone does.
func Fallback(path string, class Class, err error, onErr ErrorFunc, emit func(Chunk) error) error {
	var st Stop
	if errors.As(err, &st) {
		return st.Err
	}
	onErr(&FileError{Path: path, Err: fmt.Errorf("%w; scanned as plain text", err)})
	f, oerr := os.Open(path)
	if oerr != nil {
		return nil // the open error was the one reported
	}
	defer f.Close()
	loc := Location{Path: path, Line: 1, Column: 1, Class: class, AtHead: true}
	err = DefaultChunking.ReadChunks(f, loc, func(ch Chunk) error {
		if err := emit(ch); err != nil {
			return Stop{Err: err}
		}
		return nil
	})
	return FileDone(path, err, onErr)
}
