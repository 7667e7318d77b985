// Package testutil holds helpers shared by tests: where the Go source tree
// is (a realistic corpus present on every machine that builds rekey).
package testutil

import (
	"os/exec"
	"strings"
	"sync"
	"testing"
)

var (
	gorootOnce sync.Once
	goroot     string
)

// GoRoot returns `go env GOROOT`, or skips the test when the go command is
// not available (runtime.GOROOT is deprecated: it names the build machine).
func GoRoot(t testing.TB) string {
	t.Helper()
	gorootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err == nil {
			goroot = strings.TrimSpace(string(out))
		}
	})
	if goroot == "" {
		t.Skip("go env GOROOT failed: no Go source tree to read")
	}
	return goroot
}
