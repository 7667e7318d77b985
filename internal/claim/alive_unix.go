//go:build unix

package claim

import (
	"errors"
	"syscall"
)

// alive reports whether a process with this pid runs on this host. A pid
// reused by another program reads as alive: the heartbeat's age still
// frees the claim.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
