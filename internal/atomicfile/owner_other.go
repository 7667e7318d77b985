//go:build !unix

package atomicfile

import "os"

func keepOwner(*os.File, os.FileInfo) error { return nil }

// Links cannot be told here; one name is assumed.
func Links(os.FileInfo) uint64 { return 1 }

// WritableDir cannot be told here; the delivery itself reports it.
func WritableDir(string) error { return nil }
