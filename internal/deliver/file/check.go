package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rekeyhq/rekey/internal/atomicfile"
	"github.com/rekeyhq/rekey/internal/errs"
)

// Check reads the target as a delivery will, changing nothing: the file
// exists and is a regular file with one name, it parses in its format and
// holds its key (and user key), and its directory takes the temporary
// file the atomic replacement writes. Each failure names the file.
func (t *Target) Check(ctx context.Context) error {
	const op = "deliver file"
	real, err := filepath.EvalSymlinks(t.cfg.Path)
	if err != nil {
		_, err = t.read() // the same error a delivery would give
		return err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return errs.FS(op, t.cfg.Path, err)
	}
	if !fi.Mode().IsRegular() {
		return errs.New(op, errs.Unsupported, t.cfg.Path, "not a regular file")
	}
	if n := atomicfile.Links(fi); n > 1 {
		return errs.New(op, errs.Unsupported, t.cfg.Path, fmt.Sprintf("has %d hard links; replacing it would leave the old secret under the other names", n))
	}
	if _, err := t.Current(ctx); err != nil {
		return err
	}
	if err := atomicfile.WritableDir(filepath.Dir(real)); err != nil {
		return errs.New(op, errs.Permission, t.cfg.Path, "its directory is not writable: the new file cannot be written beside it")
	}
	return nil
}
