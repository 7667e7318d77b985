package cli

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is rekey's version, set at build time with
// -ldflags "-X github.com/rekeyhq/rekey/internal/cli.Version=v1.2.3";
// without it the module version from the build info is used.
var Version = ""

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print rekey's version, the Go version and the commit it was built from",
		Long: `Version prints rekey's version (set at build time, else the module's), the Go
version that built it and the version control revision, with "+dirty" when
the tree had uncommitted changes.

EXIT STATUS
  0  printed`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return writeVersion(c.OutOrStdout(), Version, debug.ReadBuildInfo)
		},
	}
}

// versionOf is rekey's version, Go version and revision from the build
// information (read may fail: a binary built without module support).
func versionOf(set string, read func() (*debug.BuildInfo, bool)) (version, goVersion, revision string) {
	version, goVersion, revision = set, "unknown", "unknown"
	bi, ok := read()
	if !ok {
		if version == "" {
			version = "(devel)"
		}
		return
	}
	goVersion = bi.GoVersion
	if version == "" {
		version = bi.Main.Version
	}
	if version == "" {
		version = "(devel)"
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && revision != "unknown" {
		revision += "+dirty"
	}
	return
}

func writeVersion(out io.Writer, set string, read func() (*debug.BuildInfo, bool)) error {
	v, gov, rev := versionOf(set, read)
	_, err := fmt.Fprintf(out, "rekey %s\ngo %s\nrevision %s\n", v, gov, rev)
	return err
}
