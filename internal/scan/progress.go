package scan

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/rekeyhq/rekey/internal/source"
)

// Progress counts what the workers have scanned. Report prints it to a
// terminal; when output is piped, callers simply do not start Report.
type Progress struct {
	files, bytes atomic.Int64
	start        time.Time
}

// NewProgress starts the clock.
func NewProgress() *Progress { return &Progress{start: time.Now()} }

func (p *Progress) chunk(ch source.Chunk) {
	// A file's first chunk starts at line 1, column 1; later chunks of a
	// split file do not, and must not count as files.
	if ch.Loc.Line <= 1 && ch.Loc.Column <= 1 {
		p.files.Add(1)
	}
	p.bytes.Add(int64(len(ch.Data) - ch.Tail))
}

// Files and Bytes are the totals so far.
func (p *Progress) Files() int64 { return p.files.Load() }
func (p *Progress) Bytes() int64 { return p.bytes.Load() }

// Elapsed is the time since NewProgress.
func (p *Progress) Elapsed() time.Duration { return time.Since(p.start) }

// Line is the one-line summary shown on a terminal.
func (p *Progress) Line() string {
	secs := p.Elapsed().Seconds()
	mb := float64(p.Bytes()) / 1e6
	rate := 0.0
	if secs > 0 {
		rate = mb / secs
	}
	return fmt.Sprintf("%d files, %.1f MB, %.1f MB/s", p.Files(), mb, rate)
}

// Report rewrites one status line on w every interval until stop is closed,
// then clears it.
func (p *Progress) Report(w io.Writer, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			fmt.Fprint(w, "\r\033[K")
			return
		case <-t.C:
			fmt.Fprintf(w, "\r\033[Kscanning: %s", p.Line())
		}
	}
}
