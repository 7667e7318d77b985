//go:build !unix

package policy

import "os"

// stampOf is size and modification time where there are no inodes.
func stampOf(fi os.FileInfo) fileStamp { return fileStamp{mtime: fi.ModTime(), size: fi.Size()} }
