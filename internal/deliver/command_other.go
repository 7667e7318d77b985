//go:build !unix

package deliver

import "os/exec"

func setProcessGroup(*exec.Cmd) {}
