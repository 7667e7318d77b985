package file

import "github.com/rekeyhq/rekey/internal/atomicfile"

// errChanged: the file changed between reading it and replacing it.
var errChanged = atomicfile.ErrChanged

// writeAtomic replaces the file at path with data, provided it still
// holds was, keeping its owner and mode (package atomicfile).
func writeAtomic(path string, data, was []byte, beforeRename func() error) error {
	return atomicfile.Replace("deliver file", path, data, was, 0, beforeRename)
}
