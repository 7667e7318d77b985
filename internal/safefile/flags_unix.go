//go:build unix

package safefile

import "syscall"

// oNoFollow makes an open fail on a symbolic link as the last component.
const oNoFollow = syscall.O_NOFOLLOW
