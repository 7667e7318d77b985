//go:build unix

package atomicfile

import (
	"fmt"
	"os"
	"syscall"
)

// keepOwner gives tmp the owner and group of the original. Only root can
// give a file away; anyone else whose file it is not gets an error rather
// than a file the consumer may no longer be able to read.
func keepOwner(tmp *os.File, orig os.FileInfo) error {
	st, ok := orig.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	uid, gid := int(st.Uid), int(st.Gid)
	if uid == os.Geteuid() && gid == os.Getegid() {
		return nil
	}
	if err := tmp.Chown(uid, gid); err != nil {
		return fmt.Errorf("cannot keep its owner %d:%d (run as root or as its owner): %w", uid, gid, err)
	}
	return nil
}

// Links is how many names the file has: replacing one name of a file with
// several would leave the old content under the others.
func Links(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// WritableDir reports whether this process may create a file in dir (the
// atomic replacement's temporary file), as the kernel would judge it.
func WritableDir(dir string) error { return syscall.Access(dir, 0x2 /* W_OK */) }
