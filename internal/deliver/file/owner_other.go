//go:build !unix

package file

import "os"

func keepOwner(*os.File, os.FileInfo) error { return nil }

func links(os.FileInfo) uint64 { return 1 }

// writableDir cannot be told here; the delivery itself reports it.
func writableDir(string) error { return nil }
