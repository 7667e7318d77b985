// Package fs is the directory-tree source: every regular file under a root,
// dotfiles and git-ignored files included (that is where .env files hide),
// binaries and the user's excludes left out, read by several goroutines.
package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/rekeyhq/rekey/internal/source"
)

// Options configure a directory walk.
type Options struct {
	// Root is a directory or a single file.
	Root string
	// Exclude holds doublestar globs matched against the slash-separated
	// path relative to Root; a matching directory is not entered.
	Exclude []string
	// SkipGitTracked, when set, is asked for each relative path; true skips
	// the file. History scans use it so that a file whose content is
	// already covered by the repository's HEAD is not scanned twice.
	SkipGitTracked func(rel string) bool
	Chunking       source.Chunking
	// Readers is the number of goroutines reading files (default GOMAXPROCS).
	Readers int
	OnError source.ErrorFunc
	// Stat, when set, is told the size of each file about to be read, for
	// progress reporting.
	Stat func(path string, size int64)
}

// Source walks a directory tree.
type Source struct{ opts Options }

// New checks that Root exists and that the exclude patterns are valid.
func New(opts Options) (*Source, error) {
	if _, err := os.Stat(opts.Root); err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file or directory", opts.Root)
		}
		return nil, fmt.Errorf("%s: %w", opts.Root, err)
	}
	for _, p := range opts.Exclude {
		if !doublestar.ValidatePattern(p) {
			return nil, fmt.Errorf("exclude pattern %q is not a valid glob", p)
		}
	}
	if opts.Chunking.Size == 0 {
		opts.Chunking = source.DefaultChunking
	}
	if opts.Readers <= 0 {
		opts.Readers = runtime.GOMAXPROCS(0)
	}
	if opts.OnError == nil {
		opts.OnError = func(*source.FileError) {}
	}
	return &Source{opts: opts}, nil
}

// binaryExt are formats that never hold a credential in text form; skipping
// them by name saves opening thousands of files in asset-heavy trees.
var binaryExt = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".ico": true, ".webp": true, ".bmp": true, ".tiff": true,
	".mp3": true, ".mp4": true, ".mov": true, ".avi": true, ".wav": true, ".flac": true, ".ogg": true, ".webm": true,
	".woff": true, ".woff2": true, ".ttf": true, ".otf": true, ".eot": true,
	".zip": true, ".gz": true, ".tgz": true, ".bz2": true, ".xz": true, ".zst": true, ".7z": true, ".rar": true, ".jar": true,
	".a": true, ".o": true, ".so": true, ".dylib": true, ".dll": true, ".exe": true, ".class": true, ".pyc": true, ".wasm": true,
	".pdf": true, ".psd": true, ".iso": true, ".dmg": true,
}

// sniffLen is how much of a file decides whether it is binary, as git does.
const sniffLen = 8000

// Walk emits every text file's chunks. emit is called from several
// goroutines at once.
func (s *Source) Walk(ctx context.Context, emit func(source.Chunk) error) error {
	paths := make(chan string, 256)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for i := 0; i < s.opts.Readers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range paths {
				if ctx.Err() != nil {
					continue
				}
				if err := s.readFile(p, emit); err != nil {
					fail(err)
				}
			}
		}()
	}
	walkErr := s.walk(ctx, paths)
	close(paths)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if walkErr != nil {
		return walkErr
	}
	return ctx.Err()
}

func (s *Source) walk(ctx context.Context, paths chan<- string) error {
	root := s.opts.Root
	return filepath.WalkDir(root, func(p string, d iofs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if p == root {
				return fmt.Errorf("%s: %w", root, err)
			}
			s.opts.OnError(&source.FileError{Path: p, Err: source.UnwrapPathErr(err)})
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" && p != root {
				// Object files are compressed; the repository's history is
				// the git source's job. Its config can hold a remote URL with
				// a token, so that file alone is scanned.
				cfg := filepath.Join(p, "config")
				if _, err := os.Lstat(cfg); err == nil {
					paths <- cfg
				}
				return filepath.SkipDir
			}
			if rel != "." && s.excluded(rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || binaryExt[strings.ToLower(filepath.Ext(p))] {
			return nil
		}
		if rel != "." && s.excluded(rel) {
			return nil
		}
		if s.opts.SkipGitTracked != nil && s.opts.SkipGitTracked(rel) {
			return nil
		}
		select {
		case paths <- p:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	})
}

func (s *Source) excluded(rel string) bool {
	for _, p := range s.opts.Exclude {
		if ok, _ := doublestar.Match(p, rel); ok {
			return true
		}
		if ok, _ := doublestar.Match(p, filepath.Base(rel)); ok && !strings.Contains(p, "/") {
			return true
		}
	}
	return false
}

func (s *Source) readFile(p string, emit func(source.Chunk) error) error {
	f, err := os.Open(p)
	if err != nil {
		s.opts.OnError(&source.FileError{Path: p, Err: source.UnwrapPathErr(err)})
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.opts.OnError(&source.FileError{Path: p, Err: source.UnwrapPathErr(err)})
		return nil
	}
	loc := source.Location{Path: p, Line: 1, Column: 1, Class: source.Classify(filepath.ToSlash(p)), AtHead: true}
	size := st.Size()
	if size <= int64(s.opts.Chunking.Size) {
		// Most files fit one chunk: read them into a buffer of their own
		// size (one spare byte tells a file that grew while being read).
		buf, release := getBuf(int(size) + 1)
		n, err := io.ReadFull(f, buf)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			s.opts.OnError(&source.FileError{Path: p, Err: source.UnwrapPathErr(err)})
			putBack(release)
			return nil
		}
		if n <= int(size) {
			// Capacity cut to the file's bytes: nothing downstream can
			// append into the previous file's leftovers.
			buf = buf[:n:n]
			if n == 0 || bytes.IndexByte(buf[:min(n, sniffLen)], 0) >= 0 {
				putBack(release)
				return nil
			}
			if s.opts.Stat != nil {
				s.opts.Stat(p, size)
			}
			return emit(source.Chunk{Data: buf, Loc: loc, Release: release})
		}
		putBack(release)
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			s.opts.OnError(&source.FileError{Path: p, Err: source.UnwrapPathErr(err)})
			return nil
		}
	}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	head = head[:n]
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		s.opts.OnError(&source.FileError{Path: p, Err: source.UnwrapPathErr(err)})
		return nil
	}
	if n == 0 || bytes.IndexByte(head, 0) >= 0 {
		return nil
	}
	if s.opts.Stat != nil {
		s.opts.Stat(p, size)
	}
	r := io.MultiReader(bytes.NewReader(head), f)
	if err := s.opts.Chunking.ReadChunks(r, loc, emit); err != nil {
		if isReadErr(err) {
			s.opts.OnError(&source.FileError{Path: p, Err: source.UnwrapPathErr(err)})
			return nil
		}
		return err
	}
	return nil
}

func putBack(release func()) {
	if release != nil {
		release()
	}
}

// isReadErr tells an I/O failure of the file (reported, walk goes on) from
// an error returned by emit (the consumer stopped: the walk stops).
func isReadErr(err error) bool {
	var pe *iofs.PathError
	return errors.As(err, &pe)
}
