package cli

import (
	"context"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/detect/rules"
	"github.com/rekeyhq/rekey/internal/residency"
	"github.com/rekeyhq/rekey/internal/scan"
)

type scanOpts struct {
	in     inputFlags
	format string
	reveal bool
}

func newScanCmd(g *globals) *cobra.Command {
	o := &scanOpts{}
	c := &cobra.Command{
		Use:   "scan PATH…",
		Short: "Find secrets in directories, git history and chat or ticket exports",
		Long: `Scan finds credentials with rekey's rule set (written from providers'
documented formats) in every file under each PATH — dotfiles and git-ignored
files included — and, with --history, in every reachable blob of every ref of
the git repositories among them. The table groups copies by secret, because
the number of places one secret lives in is what a responder must see first.

Values are never printed: each secret is shown as a redacted preview and a
fingerprint (HMAC-SHA256 under this installation's key), unless --reveal.
Scan stores nothing: without an installation key in $REKEY_HOME (one is made
by the first incident), fingerprints use a key made for this run only, and
match no other run.

EXIT STATUS
  0  nothing found
  1  at least one secret found
  2  usage or input error (a PATH that does not exist, a bad flag, an unreadable export)`,
		Example: `  rekey scan .
  rekey scan --history ~/src/shop --source slack:/exports/slack --format json`,
		RunE: func(c *cobra.Command, args []string) error {
			return runScan(c.Context(), g, o, args, c.OutOrStdout())
		},
	}
	o.in.register(c)
	c.Flags().StringVar(&o.format, "format", "table", "output format: table, json (one finding per line) or sarif")
	c.Flags().BoolVar(&o.reveal, "reveal", false, "print secret values in clear (they are redacted otherwise)")
	return c
}

func runScan(ctx context.Context, g *globals, o *scanOpts, args []string, out io.Writer) error {
	if err := checkFormat(o.format, "table", "json", "sarif"); err != nil {
		return err
	}
	// The image pages the other commands' packages touched at start are
	// not the scan's: given back before the rule set is built, whose heap
	// would otherwise stack on them (internal/residency says why it is
	// safe). Best effort: where the advice is refused, the scan only
	// keeps more resident, which is no reason to fail it.
	_, _ = residency.ReleaseImage()
	leanHeap()
	det, err := detect.New(rules.All())
	if err != nil {
		return err
	}
	// Building the rule set leaves several times the detector's live size
	// as garbage: collected once, so the scan starts from the live heap.
	runtime.GC()
	fp, err := g.findingsFingerprinter()
	if err != nil {
		return err
	}
	m := &scan.Rules{Detector: det, Fingerprinter: fp, Reveal: o.reveal}
	return runFindings(ctx, g, &o.in, args, m, o.format, out, det)
}

// scanGCPercent replaces Go's default of 100 while scanning. The scan
// allocates more than it reads (decoded copies, joined lines) over a small
// live heap, so the heap between collections is mostly garbage: at 25 the
// peak heap is ~1.25x the live heap instead of ~2x. Affordable since file
// buffers are reused (internal/source/fs): ~10 MB less peak RSS on the Go
// tree than at 50 with fresh buffers, for ~5 % more CPU (docs/performance.md).
const scanGCPercent = 25

// leanHeap keeps the heap close to its live size while the rule set is
// built and the scan runs, unless the user chose GOGC. Set before the
// build: at Go's default the build's garbage took the heap to 30 MB on its
// own, as high as the scan's peak.
func leanHeap() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(scanGCPercent)
	}
}
