package sshtrust

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rekeyhq/rekey/internal/keys/keytest"
	"github.com/rekeyhq/rekey/internal/provider"
)

// Preflight reads each trust file the globs match and checks its
// directory takes the replacement; a file that cannot be opened (a
// dangling link) is a problem naming it and the steps.
func TestPreflightOfTrustFiles(t *testing.T) {
	dir := t.TempDir()
	keytest.WriteFile(t, filepath.Join(dir, "deploy"), []byte("# none\n"), 0o600)
	req := provider.PreflightRequest{Needs: []provider.Need{provider.NeedRotate}, Steps: map[provider.Need][]string{provider.NeedRotate: {"revoke:bastion/k"}}}
	s := sshSystem(t, filepath.Join(dir, "*"))
	if res, err := s.Preflight(context.Background(), req); err != nil || len(res.Problems) != 0 {
		t.Errorf("readable files: %+v %v", res, err)
	}
	keytest.Must(t, os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "ops")))
	res, err := s.Preflight(context.Background(), req)
	if err != nil || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], filepath.Join(dir, "ops")+" cannot be read") || !strings.Contains(res.Problems[0], "revoke:bastion/k") {
		t.Errorf("a dangling link: %+v %v", res, err)
	}
}
