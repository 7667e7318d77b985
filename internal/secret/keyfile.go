package secret

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes data to path durably and all at once: into a temporary
// file (mode 0600) beside it, fsynced, then moved into place, then the
// directory fsynced. A crash or a failed write leaves either the old file
// or the new one, never a partial one, and a key or witness read after a
// power cut is the one that was written. With replace false an existing
// file is never overwritten (a hard link instead of a rename: it fails
// when path exists) and the error wraps fs.ErrExist.
func WriteFile(path string, data []byte, replace bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename or link, a no-op or the spare name
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// LoadKey reads the 32-byte key at path. A key file readable by others is
// refused rather than silently used.
func LoadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o lets others read the key; run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("%s: key is %d bytes, want 32", path, len(b))
	}
	return b, nil
}

// LoadOrCreateKey reads the 32-byte key stored in dir/name, creating the
// directory (0700) and the key (0600, from crypto/rand) on first use. Two
// processes creating it at once end with one key: the loser of the
// no-overwrite link reads the winner's.
func LoadOrCreateKey(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	b, err := LoadKey(path)
	switch {
	case err == nil:
		return b, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := WriteFile(path, key, false); errors.Is(err, fs.ErrExist) {
		return LoadKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	return key, nil
}

// DestroyFile overwrites the file at path with zeros, fsyncs it and
// removes it; a missing file is fine. The overwrite reaches the disk
// blocks on an ordinary filesystem that updates in place (ext4, xfs);
// on a copy-on-write or log-structured one (btrfs, zfs, an SSD's flash
// translation) old blocks may survive until reused, which is why what it
// destroys is a key and not the data itself.
func DestroyFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		_, err = f.WriteAt(make([]byte, st.Size()), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(path))
}
